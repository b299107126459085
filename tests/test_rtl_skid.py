"""sat_skid under Verilator: every beat through, in order, under idle cycles, backpressure and a
reset mid-stream; full throughput when free flowing. Also the runner's cache."""

from __future__ import annotations

import numpy as np
import pytest

from sat_hw.tools.streamtb import run_scenarios, standard_scenarios

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("width", [1, 8, 77])
def test_skid_passes_every_beat(width):
    rng = np.random.default_rng(width)
    data = [int(x) for x in rng.integers(0, 1 << min(width, 62), 300)]
    res, b = run_scenarios("sat_skid", {"DATA_W": width}, width, width,
                           standard_scenarios(data, len(data)))
    for r in res:
        assert not r.timed_out and r.extra == 0
        assert r.outputs == data
    assert res[0].last_out - res[0].first_out == len(data) - 1  # one beat per cycle
    _, again = run_scenarios("sat_skid", {"DATA_W": width}, width, width,
                             standard_scenarios(data[:10], 10))
    assert again.cached and again.seconds < 1.0
