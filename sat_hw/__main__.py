"""``python -m sat_hw`` (what torchrun launches) is the ``sat_hw`` command."""

from sat_hw.flow.cli import main

raise SystemExit(main())
