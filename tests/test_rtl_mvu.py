"""sat_mvu under Verilator against the golden executor, ``==`` only.

Each build is one parameter set and runs one simulation: random weights with one row at +max
and one at -max, and a stream of vectors back to back (random, all-max, all-zero; the all-max
vectors put those two rows' accumulators at both bounds) through the five standard scenarios
(idle input cycles, backpressure, both, a reset mid-stream; exact output count, nothing after).
ROM images come from ``sat_hw.codegen.layout.mvu_rom``; the reference is
``sat_hw.graph.golden.layer_acc`` of a pointwise conv (one pixel = one vector) or of a Linear
(``(out - bias) >> F``). Free flowing, the cycles per vector and the latency are asserted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import hex_lines, mvu_matrix, mvu_rom
from sat_hw.codegen.library import block_files, block_sources
from sat_hw.graph import golden, synthetic
from sat_hw.graph.ir import acc_bits_for, acc_bound, levels
from sat_hw.hw.blocks import Block
from sat_hw.hw.cycles import pipe_delay
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl


def mvu_latency(params: dict) -> int:
    """Cycles from the cycle that issues a fold's last beat to the cycle its output beat is
    offered, free flowing (the preamble's LAT, the cost model's)."""
    return pipe_delay(Block("sat_mvu", params, ""))


def make_node(rng, kind: str, mh: int, mw: int, wbits: int, abits: int):
    """A Linear (``mw -> mh``) or a pointwise conv (``mw`` channels)."""
    if kind == "fc":
        return synthetic.linear(rng, "fc", mw, mh, wbits=wbits, abits=abits)
    return synthetic.conv(rng, "pw", (mw, 1, 1), mh, kernel=1, wbits=wbits, abits=abits)


def with_weights(node, w: np.ndarray):
    return dataclasses.replace(node, weights=w.astype(node.weights.dtype))


def reference(node, x: np.ndarray) -> np.ndarray:
    """int64 ``(vectors, MH)`` accumulators of the vectors ``x`` (``(vectors, MW)`` codes)."""
    if node.op == "fc":
        out = golden.layer_acc(node, x.astype(np.uint8)[:, :, None, None])
        return (out - node.bias.astype(np.int64)) >> int(node.bias_frac_bits)
    n = len(x)
    node = dataclasses.replace(node, in_shape=(node.in_shape[0], n, 1),
                               out_shape=(node.out_shape[0], n, 1))
    img = x.T.astype(np.uint8)[None, :, :, None]                  # (1, MW, vectors, 1)
    return golden.layer_acc(node, img)[0, :, :, 0].T              # (vectors, MH)


def pack(rows: np.ndarray, per_beat: int, bits: int) -> list[int]:
    """Rows of values -> beats of ``per_beat`` elements, element ``i`` at ``[i*bits +: bits]``
    (two's complement)."""
    flat = np.asarray(rows, np.int64).reshape(-1, per_beat)
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (i * bits) for i, v in enumerate(r)) for r in flat]


def run_mvu(node, pe: int, simd: int, encoding: str = "k", mult: str = "lut",
            extra: dict | None = None, n_random: int = 6, seed: int = 0, acc_pad: int = 0):
    """The vector stream through the standard scenarios on one build; returns the free-flowing
    outcome, the parameters and the number of vectors. Rows 0 and 1 of the weights are every
    weight at +max and at -max, so the all-max vectors put those accumulators at both bounds."""
    mh, mw = node.out_shape[0], node.fan_in
    fold = Fold(pe, simd, mult)
    la, lw = levels(node.abits), levels(node.wbits)
    bound = acc_bound(mw, node.wbits, node.abits)
    acc_bits = acc_bits_for(bound) + acc_pad
    params = {"MH": mh, "MW": mw, "PE": pe, "SIMD": simd, "WBITS": node.wbits,
              "ABITS": node.abits, "ACC_BITS": acc_bits, "WEIGHT_FILE": "w.hex",
              "ENCODING": encoding, "MULT": mult, **(extra or {})}
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.integers(0, la + 1, (n_random, mw)), np.full((1, mw), la),
                        np.zeros((1, mw), np.int64), rng.integers(0, la + 1, (2, mw)),
                        np.full((1, mw), la)])
    w = node.weights.astype(np.int64).copy()
    w[0], w[1] = lw, -lw
    node = with_weights(node, w)
    words, width = mvu_rom(layer_plan(node, fold), encoding)
    acc = reference(node, x)
    np.testing.assert_array_equal(acc, x @ mvu_matrix(layer_plan(node, fold)).T)
    assert acc[:, 0].max() == bound and acc[:, 1].min() == -bound
    inputs = pack(x, simd, node.abits)
    expected = pack(acc, pe, acc_bits)
    res, _ = run_scenarios("sat_mvu", params, simd * node.abits, pe * acc_bits,
                           standard_scenarios(inputs, len(expected), seed=seed),
                           files={"w.hex": hex_lines(words, width)})
    for r in res:
        assert not r.timed_out and r.extra == 0
        assert r.outputs == expected
    return res[0], params, len(x)


def check_free_flow(r, params, n_vec: int, mult: str) -> None:
    """Back to back: one fold per MW/SIMD cycles, no bubbles. The first vector is buffered
    whole (beats in cycles 0 .. SF-1: the harness offers beat 0 in its cycle 0), its fold 0
    issues in cycles SF .. 2*SF-1, and its output follows the fixed latency later."""
    sf, nf = params["MW"] // params["SIMD"], params["MH"] // params["PE"]
    assert r.last_out - r.first_out == (n_vec * nf - 1) * sf
    assert r.first_out == (2 * sf - 1) + mvu_latency(params)


# (kind, MH, MW, PE, SIMD, wbits, abits, encoding, extra RTL parameters, ACC_BITS padding)
LUT_CASES = [
    ("pw", 8, 12, 2, 3, 4, 4, "k", {}, 0),         # NF 4, SF 4
    ("fc", 6, 10, 3, 5, 3, 2, "signed", {}, 3),    # signed at 3x2 bits, ACC_BITS wider than needed
    ("fc", 3, 5, 1, 1, 1, 8, "k", {}, 0),          # PE 1, SIMD 1, 1-bit weights
    ("pw", 8, 6, 4, 6, 8, 1, "k", {}, 0),          # SIMD = MW (two output registers)
    ("fc", 4, 16, 4, 4, 2, 3, "k", {}, 0),         # PE = MH (no vector buffer)
    ("pw", 4, 8, 2, 8, 8, 8, "signed", {}, 0),     # 8x8 signed, SIMD = MW
]

DSP_CASES = [
    ("fc", 16, 8, 8, 4, 4, 4, "k", {}, 0),                    # 4 lanes per DSP48E2 (LSB repair)
    ("fc", 20, 6, 10, 2, 2, 2, "k", {}, 0),                   # 9 + 1 lanes
    ("pw", 6, 4, 3, 1, 8, 8, "k", {}, 0),                     # 2 + 1 lanes, SIMD 1
    ("fc", 10, 9, 5, 3, 3, 3, "k", {"DSP_A_W": 25}, 0),       # DSP48E1: 5 lanes
    ("fc", 12, 6, 6, 6, 4, 4, "k", {"DSP_OVERLAP": 0}, 0),    # clean fields: 3 lanes, SF 1
]


@pytest.mark.parametrize("case", LUT_CASES, ids=lambda c: f"{c[7]}-w{c[5]}a{c[6]}-pe{c[3]}s{c[4]}")
def test_mvu_lut(case):
    kind, mh, mw, pe, simd, wb, ab, enc, extra, pad = case
    node = make_node(np.random.default_rng(mh * mw + wb), kind, mh, mw, wb, ab)
    r, params, n = run_mvu(node, pe, simd, enc, "lut", extra, acc_pad=pad)
    check_free_flow(r, params, n, "lut")


@pytest.mark.parametrize("case", DSP_CASES, ids=lambda c: f"w{c[5]}a{c[6]}-pe{c[3]}s{c[4]}")
def test_mvu_dsp(case):
    kind, mh, mw, pe, simd, wb, ab, enc, extra, pad = case
    node = make_node(np.random.default_rng(mh * mw + wb + 1), kind, mh, mw, wb, ab)
    r, params, n = run_mvu(node, pe, simd, enc, "dsp", extra, acc_pad=pad)
    check_free_flow(r, params, n, "dsp")


def test_mvu_synth():
    """Yosys synth_xilinx (xc7): the LUT unit has no DSP; the packed unit maps its multiplies to
    DSP48E1s, SIMD * ceil(PE/lanes) of them (5 lanes at 3x3 bits on a 25x18 multiplier)."""
    rng = np.random.default_rng(3)
    node = make_node(rng, "fc", 10, 16, 3, 3)
    base = {"MH": 10, "MW": 16, "PE": 5, "SIMD": 4, "WBITS": 3, "ABITS": 3,
            "ACC_BITS": acc_bits_for(acc_bound(16, 3, 3)), "WEIGHT_FILE": "w.hex",
            "ENCODING": "k"}
    for mult, dsp in (("lut", 0), ("dsp", 4)):
        words, width = mvu_rom(layer_plan(node, Fold(5, 4, mult)), "k")
        r = synth(rtl_sources("sat_mvu"), "sat_mvu",
                  {**base, "MULT": mult, "DSP_A_W": 25}, family="xc7",
                  files={"w.hex": hex_lines(words, width)}, cache=True)
        assert r.dsp == dsp and r.lut > 0 and r.ff > 0


def test_mvu_dsp_w7a1_pe16_simd16_regression():
    """Issue 18 (fuzz): pw7 at W7A1, PE 16, SIMD 16, MULT "dsp" gave wrong sums. At ABITS 1 a
    product field is WBITS bits wide and the LSB repair steps fields WBITS-1 apart, so k_j's
    cleared LSB shares a bit with k_(j-1)'s MSB; the packed operand was built by part-select
    assignments and the later field's zero overwrote the earlier field's MSB."""
    node = make_node(np.random.default_rng(18), "pw", 32, 32, 7, 1)
    r, params, n = run_mvu(node, 16, 16, "k", "dsp")
    check_free_flow(r, params, n, "dsp")


@pytest.mark.parametrize("wbits", range(1, 9))
def test_mvu_dsp_one_bit_activations(wbits):
    """DSP packing with 1-bit activations at every weight width, DSP48E1 and E2 ports in turn
    (the fields are narrowest there: S = WBITS)."""
    node = make_node(np.random.default_rng(100 + wbits), "fc", 12, 8, wbits, 1)
    extra = {"DSP_A_W": 25 if wbits % 2 else 27}
    r, params, n = run_mvu(node, 12, 4, "k", "dsp", extra)
    check_free_flow(r, params, n, "dsp")


def test_mvu_sources():
    """Issue 19: sat_mvu is four files, none over 500 lines (the products, LUT or DSP, and the
    adder trees are submodules); issue 20: its output leaves through sat_outq (a sat_fifo, which
    holds a sat_skid). A lone build gets them dependencies first and a design's file list all of
    them, sorted, with the blocks it always carries; issue 22: its weights in styles other than
    auto are a sat_wmem."""
    rtl = resource_path("rtl")
    parts = ["sat_mvu_dsp.sv", "sat_mvu_lut.sv", "sat_mvu_tree.sv"]
    queue = ["sat_skid.sv", "sat_fifo.sv", "sat_outq.sv"]
    assert [p.name for p in block_sources(rtl, "sat_mvu")] == [*parts, *queue, "sat_wmem.sv",
                                                                "sat_mvu.sv"]
    assert block_files({"sat_mvu", "sat_fifo"}) == sorted([*parts, *queue, "sat_wmem.sv",
                                                           "sat_mvu.sv"])
    assert block_files({"sat_swg"}) == ["sat_skid.sv", "sat_swg.sv"]
    assert all(len((rtl / n).read_text().splitlines()) <= 500 for n in [*parts, "sat_mvu.sv"])
