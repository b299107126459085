"""sat_thresholds and sat_bias under Verilator against the golden executor, `==` only.

One build holds every case side by side (a wrapper joins their streams: each instance takes its
slice of the input beat, all together, and its output goes through a FIFO into its slice of the
output beat), so one set of standard scenarios (idle cycles, backpressure, reset mid-stream, exact
count) exercises them all:

- thresholds at OUT_BITS 1, 2, 3, 4, 8; PE 1 and > 1; one channel group (CH == PE: the parallel
  compare at OUT_BITS <= 4, the search at 8) and several;
  random thresholds (``synthetic.random_thresholds``) with both directions and the degenerate
  channels (all equal, always met, never met); accumulators at and around the thresholds, at the
  bound, one past it and at the ends of ACC_BITS; reference ``golden.threshold_codes``;
- bias with FRAC 8, 0 and 3, accumulators from codes through weights (all-max, all-zero, random
  images; rows of all +max and all -max weights reach the bound), reference ``golden.run_node``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest

from sat_hw.codegen.layout import bias_rom, hex_lines, pack_words, threshold_files
from sat_hw.graph import golden, synthetic
from sat_hw.graph.ir import acc_bits_for, levels
from sat_hw.hw.cycles import thresholds_latency
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import cache_root
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl


def thr_latency(ch: int, pe: int, out_bits: int) -> int:
    """sat_thresholds: a beat taken in cycle t is offered in cycle t + 2*OUT_BITS + 2 (the binary
    search, a read and a compare cycle per bit, and sat_outq's 2), t + 4 where CH == PE and
    OUT_BITS <= 4 (the parallel compare) (``sat_hw.hw.cycles.thresholds_latency``)."""
    return thresholds_latency({"CH": ch, "PE": pe, "OUT_BITS": out_bits})


BIAS_LATENCY = 2
"""sat_bias: a beat taken in cycle t is offered in cycle t+2."""
JOIN_FIFO = 32
"""Depth of the FIFO after each instance in the joined wrapper (latency 2): it holds a fast
case's beats while the slowest case (thresholds at OUT_BITS 8, latency 18) fills, so the join
flows at one beat per cycle."""

# (CH, PE, OUT_BITS, bound): ACC_BITS = acc_bits_for(bound)
THR = [(3, 1, 1, 200), (6, 2, 2, 1000), (12, 3, 3, 5000), (16, 4, 4, 30000), (12, 2, 8, 1 << 20),
       (4, 1, 8, 3000), (3, 3, 8, 900),
       (5, 5, 4, 77), (4, 4, 2, 60)]   # CH == PE and OUT_BITS <= 4: the parallel compare
# (CH, PE, FRAC, in_features, wbits, abits, bias_max)
BIAS = [(10, 2, 8, 12, 8, 4, 1000), (3, 3, 0, 5, 2, 2, 5), (5, 1, 3, 7, 3, 8, 40)]
PIXELS = 4
"""Vectors per case: every case gets PIXELS * lcm(groups) beats."""


def thr_case(rng, ch: int, pe: int, out_bits: int, bound: int, n_beats: int, prefix: str):
    """Parameters, ROM files, input beats and expected output beats of one thresholds case."""
    acc_bits = acc_bits_for(bound)
    mean = rng.uniform(-bound / 2, bound / 2, ch)
    std = rng.uniform(1, bound / 3, ch)
    t, d = synthetic.random_thresholds(rng, mean, std, out_bits, bound)
    pix = n_beats * pe // ch
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    acc = rng.integers(-bound, bound + 1, (pix, ch))
    near = t[np.arange(ch), rng.integers(0, t.shape[1], (pix, ch))] + rng.integers(-1, 2, (pix, ch))
    acc = np.where(rng.random((pix, ch)) < 0.6, near, acc)
    edges = np.array([lo, hi, -bound - 1, -bound, bound, bound + 1, 0, -1, 1])
    acc = np.where(rng.random((pix, ch)) < 0.15, rng.choice(edges, (pix, ch)), acc)
    acc[0], acc[1], acc[2] = bound, -bound, 0          # all-max / all-min / all-zero vectors
    acc = np.clip(acc, lo, hi).astype(np.int64)
    codes = golden.threshold_codes(acc, t, d)
    params = {"CH": ch, "PE": pe, "ACC_BITS": acc_bits, "OUT_BITS": out_bits,
              "THRESH_PREFIX": prefix}
    return ("sat_thresholds", params, pe * acc_bits, pe * out_bits,
            threshold_files(t, d, acc_bits, pe, prefix),
            pack_words(acc.reshape(-1, pe), acc_bits), pack_words(codes.reshape(-1, pe), out_bits),
            thr_latency(ch, pe, out_bits))


def bias_case(rng, ch: int, pe: int, frac: int, fan_in: int, wbits: int, abits: int,
              bias_max: int, n_beats: int, name: str):
    node = synthetic.linear(rng, name, fan_in, ch, wbits=wbits, abits=abits, bias_max=bias_max,
                            bias_frac_bits=frac)
    w = node.weights.copy()
    w[0], w[1] = levels(wbits), -levels(wbits)          # rows that reach +-acc_bound
    node = dataclasses.replace(node, weights=w)
    vectors = n_beats * pe // ch
    x = rng.integers(0, levels(abits) + 1, (vectors, fan_in, 1, 1))
    x[0], x[1] = levels(abits), 0                       # all-max, all-zero inputs
    acc = x.reshape(vectors, fan_in).astype(np.int64) @ w.T.astype(np.int64)
    out = golden.run_node(node, x.astype(np.uint8))     # (vectors, ch) = acc * 2^F + bias
    assert np.abs(acc).max() == node.acc_bound
    in_bits = acc_bits_for(node.acc_bound)
    words, width = bias_rom(node.bias, pe)
    params = {"CH": ch, "PE": pe, "IN_BITS": in_bits, "OUT_BITS": node.acc_bits, "FRAC": frac,
              "BIAS_BITS": width // pe, "BIAS_FILE": f"{name}.hex"}
    return ("sat_bias", params, pe * in_bits, pe * node.acc_bits,
            {f"{name}.hex": hex_lines(words, width)}, pack_words(acc.reshape(-1, pe), in_bits),
            pack_words(out.reshape(-1, pe), node.acc_bits), BIAS_LATENCY)


def join_module(cases: list) -> tuple[str, object]:
    """A wrapper module running the cases' blocks side by side on slices of one stream."""
    in_w, out_w = sum(c[2] for c in cases), sum(c[3] for c in cases)
    lines, io, oo = [], 0, 0
    k = len(cases)
    for i, (mod, params, iw, ow, *_) in enumerate(cases):
        p = ", ".join(f".{n}({chr(34) + v + chr(34) if isinstance(v, str) else v})"
                      for n, v in params.items())
        block = (f"    {mod} #({p}) u_{i} (.clk, .rst, .s_axis_tdata(s_axis_tdata[{io} +: {iw}]),"
                 f" .s_axis_tvalid(s_axis_tvalid && all_r), .s_axis_tready(sr[{i}]),"
                 f" .m_axis_tdata(d_{i}), .m_axis_tvalid(v_{i}), .m_axis_tready(r_{i}));")
        fifo = (f"    sat_fifo #(.DATA_W({ow}), .DEPTH({JOIN_FIFO})) f_{i} (.clk, .rst,"
                f" .s_axis_tdata(d_{i}), .s_axis_tvalid(v_{i}), .s_axis_tready(r_{i}),"
                f" .m_axis_tdata(m_axis_tdata[{oo} +: {ow}]), .m_axis_tvalid(mv[{i}]),"
                f" .m_axis_tready(m_axis_tready && all_v), .count());")
        lines += [f"    logic [{ow - 1}:0] d_{i}; logic v_{i}, r_{i};", block, fifo]
        io, oo = io + iw, oo + ow
    body = f"""`timescale 1ns / 1ps
`default_nettype none
module MODULE (
    input  wire logic clk, rst,
    input  wire logic [{in_w - 1}:0] s_axis_tdata,
    input  wire logic s_axis_tvalid,
    output logic s_axis_tready,
    output logic [{out_w - 1}:0] m_axis_tdata,
    output logic m_axis_tvalid,
    input  wire logic m_axis_tready
);
    logic [{k - 1}:0] sr, mv;
    logic all_r, all_v;
    assign all_r = &sr;
    assign all_v = &mv;
    assign s_axis_tready = all_r;
    assign m_axis_tvalid = all_v;
{chr(10).join(lines)}
endmodule
"""
    tag = hashlib.sha256(body.encode()).hexdigest()[:12]
    path = cache_root() / "tb" / f"tb_join_{tag}.sv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(body.replace("MODULE", f"tb_join_{tag}"))
    return f"tb_join_{tag}", path


def joined(column: list[list[int]], widths: list[int]) -> list[int]:
    """Per-case beat lists -> the wrapper's beats (case 0 in the low bits)."""
    out = []
    for beats in zip(*column):
        v, off = 0, 0
        for b, w in zip(beats, widths):
            v |= b << off
            off += w
        out.append(v)
    return out


def test_thresholds_and_bias_match_golden():
    rng = np.random.default_rng(2024)
    groups = [c // pe for c, pe, *_ in THR] + [c // pe for c, pe, *_ in BIAS]
    n = PIXELS * math.lcm(*groups)
    cases = [thr_case(rng, *c, n, f"t{i}") for i, c in enumerate(THR)]
    cases += [bias_case(rng, *c, n, f"b{i}") for i, c in enumerate(BIAS)]
    files = {k: v for c in cases for k, v in c[4].items()}
    data = joined([c[5] for c in cases], [c[2] for c in cases])
    expected = joined([c[6] for c in cases], [c[3] for c in cases])
    mod, src = join_module(cases)
    res, _ = run_scenarios(mod, {}, sum(c[2] for c in cases), sum(c[3] for c in cases),
                           standard_scenarios(data, len(expected)),
                           deps=["sat_skid", "sat_fifo", "sat_thresholds", "sat_bias"],
                           files=files, module_src=src)
    for i, r in enumerate(res):
        assert not r.timed_out and r.extra == 0, f"scenario {i}"
        if r.outputs != expected:
            off = 0
            for (mod_i, params, _, ow, *_), e in zip(cases, [c[6] for c in cases]):
                got = [(v >> off) & ((1 << ow) - 1) for v in r.outputs]
                assert got == e, f"scenario {i}: {mod_i} {params}"
                off += ow
    # free flowing: one beat per cycle after the slowest case's latency (+ the FIFO's 2)
    latency = max(c[7] for c in cases) + 2
    assert res[0].first_out == latency and res[0].last_out == len(data) - 1 + latency


def search_model(files: dict[str, str], prefix: str, acc: np.ndarray, ch: int, pe: int,
                 acc_bits: int, out_bits: int) -> np.ndarray:
    """The binary search of sat_thresholds in numpy, reading the memory files."""
    def mem(p, j):
        return [int(x, 16) for x in files[f"{prefix}_p{p}_s{j}.hex"].split()]

    def signed(v, bits):
        v &= (1 << bits) - 1
        return v - (1 << bits) if v >> (bits - 1) else v

    codes = np.zeros(acc.shape, np.int64)
    for (i, c), a in np.ndenumerate(acc):
        g, p = divmod(c, pe)
        found, d = 0, 0
        for j in range(out_bits):
            w = mem(p, j)[(g << j) + found]
            if j == 0:
                d = w >> acc_bits
            t = signed(w, acc_bits)
            found = (found << 1) | int(2 * int(a) >= 2 * t + d)
        codes[i, c] = found ^ ((1 << out_bits) - 1 if d else 0)
    return codes


@pytest.mark.parametrize("out_bits", [1, 2, 5])
def test_threshold_files_layout(out_bits):
    """The memory layout of docs/hardware.md, read as the search reads it, gives the golden
    codes (no simulator: a quick check of threshold_files alone)."""
    rng = np.random.default_rng(out_bits)
    ch, pe, bound = 6, 3, 500
    acc_bits = acc_bits_for(bound)
    t, d = synthetic.random_thresholds(rng, np.zeros(ch), np.full(ch, 200.0), out_bits, bound)
    files = threshold_files(t, d, acc_bits, pe, "x")
    assert sorted(files) == sorted(f"x_p{p}_s{j}.hex" for p in range(pe) for j in range(out_bits))
    acc = rng.integers(-bound - 1, bound + 2, (50, ch))
    np.testing.assert_array_equal(search_model(files, "x", acc, ch, pe, acc_bits, out_bits),
                                  golden.threshold_codes(acc, t, d))


def test_threshold_files_refuses_bad_input():
    t = np.array([[-3, 0, 5]] * 4)
    d = np.array([1, -1, 1, 1])
    with pytest.raises(ValueError, match="2\\^B - 1"):
        threshold_files(t[:, :2], d, 8, 1, "x")
    with pytest.raises(ValueError, match="PE 3 must divide"):
        threshold_files(t, d, 8, 3, "x")
    with pytest.raises(ValueError, match="ascending"):
        threshold_files(t[:, ::-1], d, 8, 1, "x")
    with pytest.raises(ValueError, match="does not fit 3 signed bits"):
        threshold_files(t, d, 3, 1, "x")
    with pytest.raises(ValueError, match="directions"):
        threshold_files(t, np.zeros(4), 8, 1, "x")


def test_thresholds_and_bias_synthesize():
    """Yosys synth_xilinx at representative sizes: thresholds CH 64, PE 4, ACC_BITS 16,
    OUT_BITS 4 (4 comparators per lane, the 16 x (1,2,4,8) thresholds per lane in LUTs);
    bias CH 10, PE 2."""
    rng = np.random.default_rng(0)
    t, d = synthetic.random_thresholds(rng, np.zeros(64), np.full(64, 5000.0), 4, 30000)
    files = threshold_files(t, d, 16, 4, "thr")
    r = synth(rtl_sources("sat_skid", "sat_thresholds"), "sat_thresholds",
              {"CH": 64, "PE": 4, "ACC_BITS": 16, "OUT_BITS": 4, "THRESH_PREFIX": "thr"},
              files={**files, **{f"thresh_p0_s{j}.hex": "0\n" for j in range(4)}}, cache=True)
    assert r.dsp == 0 and r.bram18 == 0 and 0 < r.lut < 1200
    words, width = bias_rom(np.arange(-5, 5) * 300, 2)
    b = synth(rtl_sources("sat_skid", "sat_bias"), "sat_bias",
              {"CH": 10, "PE": 2, "IN_BITS": 18, "OUT_BITS": 27, "FRAC": 8,
               "BIAS_BITS": width // 2, "BIAS_FILE": "b.hex"},
              files={"b.hex": hex_lines(words, width), "bias.hex": "0\n"}, cache=True)
    assert b.dsp == 0 and b.lut < 200
