"""Where sat_hw keeps what it compiles once and reuses (Verilator models, HLS C-simulations,
Yosys counts, the training kernels): ``$SAT_HW_CACHE``, else ``$XDG_CACHE_HOME/sat_hw``, else
``~/.cache/sat_hw``. Each user keys its entries by a hash of everything that makes them."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("SAT_HW_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sat_hw"
