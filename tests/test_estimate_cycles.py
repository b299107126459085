"""The cost model's cycle formulas against Verilator, single blocks free flowing: cycles per item
in steady state (vectors, pixels or images back to back) and cycles from the first input beat to
the first output beat, both exact. The harness offers beat 0 in its cycle 0; a block whose
s_axis_tready is low for its first cycle after reset (sat_swg) takes it one cycle later."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sat_hw.graph.ir import acc_bits_for
from sat_hw.hw.cost import Block, memory_groups
from sat_hw.hw.cycles import block_delay, block_rate
from sat_hw.tools.streamtb import Scenario, run_scenarios

pytestmark = pytest.mark.rtl

LAG = {"sat_swg": 1}
"""Cycles after reset before the block takes its first beat (its preamble)."""


def _mvu(mh, mw, pe, simd, mult):
    return {"MH": mh, "MW": mw, "PE": pe, "SIMD": simd, "WBITS": 4, "ABITS": 4,
            "ACC_BITS": acc_bits_for(mw * 225), "ENCODING": "k", "MULT": mult}


CASES = [
    ("sat_mvu", _mvu(8, 16, 2, 4, "lut")),
    ("sat_mvu", _mvu(4, 24, 4, 8, "dsp")),
    ("sat_vvu", {"CH": 8, "K2": 9, "PE": 2, "SIMD": 3, "WBITS": 3, "ABITS": 4,
                 "ACC_BITS": acc_bits_for(9 * 7 * 15), "ENCODING": "k"}),
    ("sat_swg", {"CH": 4, "IN_H": 6, "IN_W": 6, "K": 3, "STRIDE": 1, "PAD": 1, "SIMD": 2,
                 "ELEM_W": 4, "ROWS": 4}),
    ("sat_swg", {"CH": 2, "IN_H": 7, "IN_W": 7, "K": 3, "STRIDE": 2, "PAD": 1, "SIMD": 2,
                 "ELEM_W": 3, "ROWS": 5}),
    ("sat_thresholds", {"CH": 8, "PE": 2, "ACC_BITS": 12, "OUT_BITS": 3}),
    ("sat_avgpool", {"CH": 8, "PIXELS": 9, "PE": 2, "ABITS": 4, "ACC_BITS": acc_bits_for(9 * 15)}),
    ("sat_dwc", {"ELEM_W": 4, "IN_N": 6, "OUT_N": 2}),
    ("sat_dwc", {"ELEM_W": 3, "IN_N": 2, "OUT_N": 8}),
]


def _widths(m: str, p: dict) -> tuple[int, int]:
    if m == "sat_mvu":
        return p["SIMD"] * p["ABITS"], p["PE"] * p["ACC_BITS"]
    if m == "sat_vvu":
        return p["SIMD"] * p["PE"] * p["ABITS"], p["PE"] * p["ACC_BITS"]
    if m == "sat_swg":
        return p["SIMD"] * p["ELEM_W"], p["K"] ** 2 * p["SIMD"] * p["ELEM_W"]
    if m == "sat_thresholds":
        return p["PE"] * p["ACC_BITS"], p["PE"] * p["OUT_BITS"]
    if m == "sat_dwc":
        return p["IN_N"] * p["ELEM_W"], p["OUT_N"] * p["ELEM_W"]
    return p["PE"] * p["ABITS"], p["PE"] * p["ACC_BITS"]


def _files(m: str, b: Block) -> tuple[dict, dict]:
    rng = random.Random(1)
    words = lambda d, w: "".join(f"{rng.getrandbits(w):0{-(-w // 4)}x}\n"
                                 for _ in range(d))
    groups = memory_groups(b)
    if m in ("sat_mvu", "sat_vvu"):
        _, d, w, *_ = groups[0]
        return {"w.hex": words(d, w)}, {"WEIGHT_FILE": "w.hex"}
    if m == "sat_thresholds":
        files = {}
        for j, (_, d, w, *_rest) in enumerate(groups):
            for lane in range(b.params["PE"]):
                files[f"t_p{lane}_s{j}.hex"] = words(d, w)
        return files, {"THRESH_PREFIX": "t"}
    return {}, {}


@pytest.mark.parametrize("module, params", CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_block_cycles_match_verilator(module, params):
    b = Block(module, params, "")
    per, n_in, n_out = block_rate(b)
    in_w, out_w = _widths(module, params)
    files, extra = _files(module, b)
    rng = np.random.default_rng(0)
    got = {}
    for items in (1, 3):
        data = [int(x) for x in rng.integers(0, 1 << min(in_w, 60), items * n_in)]
        res, _ = run_scenarios(module, {**params, **extra}, in_w, out_w,
                               [Scenario(data, items * n_out)], deps=["sat_skid"], files=files)
        r = res[0]
        assert not r.timed_out and r.received == items * n_out
        got[items] = r
    assert (got[3].last_out - got[1].last_out) == 2 * per          # steady state, exact
    assert got[1].first_out == LAG.get(module, 0) + block_delay(b)  # fill, exact
