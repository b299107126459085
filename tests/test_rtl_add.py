"""sat_add under Verilator against the golden executor's Add, `==` only.

One build holds every case side by side (as tests/test_rtl_thresholds.py): the wrapper splits
each case's slice of the input beat into operand a and operand b, each through its own FIFO and a
random valid gate into the block, and the block's output through a random ready gate and a FIFO
into its slice of the output beat. The gates' percentages come from ``gate.hex``, read by the
simulator at start (one build, several runs): random valid on each operand and backpressure on
the output of every case, on top of the standard scenarios' idle input, backpressure and reset
mid-stream; all gates open for the full-throughput check.

Cases: operand bits 1+1, 2+2, 4+4, 8+8 and mixed (3+7, 8+5); PE 1 and > 1; one channel group
and a ROM deeper than 64 words (its second read register); multipliers of both signs, +-2^16
(``MAX_ADD_MUL``: 18-bit MUL_BITS) and a channel pair that reaches the accumulator bound in both
directions. Reference: ``golden.layer_acc`` of random Add nodes (``synthetic.add``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest

from sat_hw.codegen.layout import add_mul_rom, hex_lines, pack_words
from sat_hw.graph import golden, synthetic
from sat_hw.graph.ir import MAX_ADD_MUL, acc_bits_for, levels
from sat_hw.hw.plan import mul_bits
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import cache_root, first_error
from sat_hw.tools.yosys import synth
from tests.test_rtl_fork import comb_paths
from tests.test_rtl_memstyle import _lint as lint

pytestmark = pytest.mark.rtl

# (CH, PE, ABITS, BBITS, mul_max)
CASES = [(3, 1, 1, 1, 4096), (4, 2, 2, 2, 4096), (8, 4, 4, 4, 4096), (6, 3, 8, 8, 4096),
         (4, 1, 3, 7, MAX_ADD_MUL), (2, 2, 8, 5, MAX_ADD_MUL), (66, 1, 4, 2, 300)]
PIXELS = 3
"""Pixels per case's block of the stream: every case gets PIXELS * lcm(groups) beats."""
FIFO = 32
"""Depth of the wrapper's FIFOs around each block (latency 2 each)."""
GATES_ON = (70, 60, 55)
"""Percent of cycles operand a's valid, operand b's valid and the output's ready are let
through by the wrapper's gates (each its own random sequence)."""


def add_latency(ch: int, pe: int, abits: int, bbits: int) -> int:
    """sat_add (its preamble): a pair taken at the ports in cycle t is offered in t + RD + TS + 3;
    RD = 2 where the ROM has more than 64 words, TS = floor(L/2) + 1 tree stages,
    L = ceil(log2(ABITS + BBITS))."""
    rd = 2 if ch // pe > 64 else 1
    return rd + (abits + bbits - 1).bit_length() // 2 + 1 + 3


def add_case(rng, ch: int, pe: int, abits: int, bbits: int, mul_max: int, n_beats: int,
             name: str):
    """Parameters, ROM file, input beats ({b, a}, a in the low bits) and expected beats."""
    node = synthetic.add(rng, name, (ch, 1, 1), ("x", "y"), abits=abits, bbits=bbits,
                         mul_max=mul_max)
    ma = node.mul_a * np.where(rng.random(ch) < 0.5, -1, 1)
    mb = node.mul_b * np.where(rng.random(ch) < 0.5, -1, 1)
    ma[0], mb[0] = mul_max, mul_max               # the all-max pixel reaches +bound here ...
    if ch > 1:
        ma[1], mb[1] = -mul_max, -mul_max         # ... and -bound here
    node = dataclasses.replace(node, mul_a=ma, mul_b=mb)
    node = dataclasses.replace(node, acc_bits=acc_bits_for(node.acc_bound))
    pix = n_beats * pe // ch
    a = rng.integers(0, levels(abits) + 1, (pix, ch, 1, 1))
    b = rng.integers(0, levels(bbits) + 1, (pix, ch, 1, 1))
    a[0], b[0], a[1], b[1] = levels(abits), levels(bbits), 0, 0     # all-max, all-zero pixels
    acc = golden.layer_acc(node, a.astype(np.uint8), b.astype(np.uint8)).reshape(pix, ch)
    assert np.abs(acc).max() == node.acc_bound
    mbits = mul_bits(node)
    words, width = add_mul_rom(ma, mb, pe, mbits)
    params = {"CH": ch, "PE": pe, "ABITS": abits, "BBITS": bbits, "MUL_BITS": mbits,
              "ACC_BITS": node.acc_bits, "MUL_FILE": f"{name}_m.hex"}
    beats_a = pack_words(a.reshape(-1, pe), abits)
    beats_b = pack_words(b.reshape(-1, pe), bbits)
    data = [x | y << (pe * abits) for x, y in zip(beats_a, beats_b)]
    return (params, pe * (abits + bbits), pe * node.acc_bits,
            {f"{name}_m.hex": hex_lines(words, width)}, data,
            pack_words(acc.reshape(-1, pe), node.acc_bits), add_latency(ch, pe, abits, bbits))


GATE = """module tb_gate_TAG #(parameter logic [31:0] SEED = 1) (
    input  wire logic clk, rst,
    input  wire logic [31:0] pct,
    output logic on
);
    logic [31:0] x, y, z;        // xorshift32
    assign y = x ^ (x << 13);
    assign z = y ^ (y >> 17);
    assign on = (x % 100) < pct;
    always_ff @(posedge clk) begin
        x <= z ^ (z << 5);
        if (rst) x <= SEED * 32'h9e3779b9;
    end
endmodule
"""


CASE = """    logic [{aw1}:0] a_{i}; logic [{bw1}:0] b_{i}; logic [{ow1}:0] d_{i};
    logic av_{i}, ar_{i}, bv_{i}, br_{i}, dv_{i}, dr_{i}, ga_{i}, gb_{i}, go_{i};
    tb_gate_TAG #(.SEED({sa})) ua_{i} (.clk, .rst, .pct(cfg[0]), .on(ga_{i}));
    tb_gate_TAG #(.SEED({sb})) ub_{i} (.clk, .rst, .pct(cfg[1]), .on(gb_{i}));
    tb_gate_TAG #(.SEED({so})) uo_{i} (.clk, .rst, .pct(cfg[2]), .on(go_{i}));
    sat_fifo #(.DATA_W({aw}), .DEPTH({depth})) fa_{i} (.clk, .rst,
        .s_axis_tdata(s_axis_tdata[{ia} +: {aw}]), .s_axis_tvalid(s_axis_tvalid && all_r),
        .s_axis_tready(sr[{ra}]),
        .m_axis_tdata(a_{i}), .m_axis_tvalid(av_{i}), .m_axis_tready(ar_{i} && ga_{i}), .count());
    sat_fifo #(.DATA_W({bw}), .DEPTH({depth})) fb_{i} (.clk, .rst,
        .s_axis_tdata(s_axis_tdata[{ib} +: {bw}]), .s_axis_tvalid(s_axis_tvalid && all_r),
        .s_axis_tready(sr[{rb}]),
        .m_axis_tdata(b_{i}), .m_axis_tvalid(bv_{i}), .m_axis_tready(br_{i} && gb_{i}), .count());
    sat_add #({params}) u_{i} (.clk, .rst,
        .s_axis_a_tdata(a_{i}), .s_axis_a_tvalid(av_{i} && ga_{i}), .s_axis_a_tready(ar_{i}),
        .s_axis_b_tdata(b_{i}), .s_axis_b_tvalid(bv_{i} && gb_{i}), .s_axis_b_tready(br_{i}),
        .m_axis_tdata(d_{i}), .m_axis_tvalid(dv_{i}), .m_axis_tready(dr_{i} && go_{i}));
    sat_fifo #(.DATA_W({ow}), .DEPTH({depth})) fo_{i} (.clk, .rst,
        .s_axis_tdata(d_{i}), .s_axis_tvalid(dv_{i} && go_{i}), .s_axis_tready(dr_{i}),
        .m_axis_tdata(m_axis_tdata[{io} +: {ow}]), .m_axis_tvalid(mv[{i}]),
        .m_axis_tready(m_axis_tready && all_v), .count());
"""
"""One case in the wrapper: operand FIFOs, gates, the block, the output FIFO."""


def add_wrapper(cases: list) -> tuple[str, object]:
    """The wrapper module: every case's block between gated FIFOs, side by side."""
    in_w, out_w = sum(c[1] for c in cases), sum(c[2] for c in cases)
    k, ii, oo, lines = len(cases), 0, 0, []
    for i, (params, iw, ow, *_) in enumerate(cases):
        aw = params["PE"] * params["ABITS"]
        p = ", ".join(f".{n}({chr(34) + v + chr(34) if isinstance(v, str) else v})"
                      for n, v in params.items())
        lines.append(CASE.format(i=i, aw=aw, bw=iw - aw, ow=ow, aw1=aw - 1, bw1=iw - aw - 1,
                                 ow1=ow - 1, sa=3 * i + 1, sb=3 * i + 2, so=3 * i + 3,
                                 depth=FIFO, ia=ii, ib=ii + aw, ra=2 * i, rb=2 * i + 1,
                                 io=oo, params=p))
        ii, oo = ii + iw, oo + ow
    body = f"""`timescale 1ns / 1ps
`default_nettype none
{GATE}
module tb_add_TAG (
    input  wire logic clk, rst,
    input  wire logic [{in_w - 1}:0] s_axis_tdata,
    input  wire logic s_axis_tvalid,
    output logic s_axis_tready,
    output logic [{out_w - 1}:0] m_axis_tdata,
    output logic m_axis_tvalid,
    input  wire logic m_axis_tready
);
    logic [31:0] cfg [3];
    initial $readmemh("gate.hex", cfg);
    logic [{2 * k - 1}:0] sr;
    logic [{k - 1}:0] mv;
    logic all_r, all_v;
    assign all_r = &sr;
    assign all_v = &mv;
    assign s_axis_tready = all_r;
    assign m_axis_tvalid = all_v;
{''.join(lines)}endmodule
"""
    tag = hashlib.sha256(body.encode()).hexdigest()[:12]
    path = cache_root() / "tb" / f"tb_add_{tag}.sv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(body.replace("TAG", tag))
    return f"tb_add_{tag}", path


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


def test_add_matches_golden():
    rng = np.random.default_rng(2025)
    n = PIXELS * math.lcm(*[c // pe for c, pe, *_ in CASES])
    cases = [add_case(rng, *c, n, f"m{i}") for i, c in enumerate(CASES)]
    files = {k: v for c in cases for k, v in c[3].items()}
    data = joined([c[4] for c in cases], [c[1] for c in cases])
    expected = joined([c[5] for c in cases], [c[2] for c in cases])
    mod, src = add_wrapper(cases)
    in_w, out_w = sum(c[1] for c in cases), sum(c[2] for c in cases)

    def run(gates, scenarios):
        cfg = "".join(f"{g:08x}\n" for g in gates)
        return run_scenarios(mod, {}, in_w, out_w, scenarios, deps=["sat_fifo", "sat_add"],
                             files={**files, "gate.hex": cfg}, module_src=src)[0]

    for gates in (GATES_ON, (100, 100, 100)):
        for i, r in enumerate(run(gates, standard_scenarios(data, len(expected)))):
            assert not r.timed_out and r.extra == 0, f"gates {gates}, scenario {i}"
            if r.outputs != expected:
                off = 0
                for (params, _, ow, *_), e in zip(cases, [c[5] for c in cases]):
                    got = [(v >> off) & ((1 << ow) - 1) for v in r.outputs]
                    assert got == e, f"gates {gates}, scenario {i}: {params}"
                    off += ow
            if gates == (100, 100, 100) and i == 0:
                # free flowing: one beat per cycle once the slowest case's pipeline is full
                # (each case between two FIFOs of latency 2)
                latency = max(c[6] for c in cases) + 4
                assert r.first_out == latency and r.last_out == len(data) - 1 + latency


def test_add_mul_rom_layout():
    ma, mb = np.array([1, -2, 3, -4]), np.array([-(1 << 16), 5, 1 << 16, 0])
    words, width = add_mul_rom(ma, mb, 2, 18)
    assert width == 72 and len(words) == 2
    mask = (1 << 18) - 1
    for g, w in enumerate(words):
        lanes = [(w >> (18 * i)) & mask for i in range(4)]
        want = [ma[2 * g], ma[2 * g + 1], mb[2 * g], mb[2 * g + 1]]
        assert lanes == [int(v) & mask for v in want]
    with pytest.raises(ValueError, match="does not fit 17 signed bits"):
        add_mul_rom(ma, mb, 2, 17)
    with pytest.raises(ValueError, match="PE 3 must divide"):
        add_mul_rom(ma, mb, 3, 18)
    with pytest.raises(ValueError, match="one shape"):
        add_mul_rom(ma, mb[:3], 1, 18)


def test_add_synthesizes():
    """Yosys synth_xilinx at a representative size: CH 64, PE 4, 4+4 bits, 14-bit multipliers
    (lowering's 2^12), 18-bit accumulators: LUTs and flip-flops, no latch, no DSP, no RAM."""
    rng = np.random.default_rng(0)
    ma, mb = rng.integers(-4096, 4097, 64), rng.integers(-4096, 4097, 64)
    words, width = add_mul_rom(ma, mb, 4, 14)
    r = synth(rtl_sources("sat_add"), "sat_add",
              {"CH": 64, "PE": 4, "ABITS": 4, "BBITS": 4, "MUL_BITS": 14, "ACC_BITS": 18,
               "MUL_FILE": "m.hex"},
              files={"m.hex": hex_lines(words, width), "mul.hex": "0\n"}, cache=True)
    assert not any(c.startswith(("LD", "$_DLATCH", "$dlatch")) for c in r.cells), r.cells
    assert r.lut > 0 and r.ff > 0 and r.dsp == 0 and r.bram18 == 0


def test_add_has_no_combinational_ready_path():
    """No input's tready depends in the same cycle on m_axis_tready or on either input's tvalid
    (each operand has its own skid buffer)."""
    params = {"CH": 6, "PE": 2, "ABITS": 3, "BBITS": 5, "MUL_BITS": 9, "ACC_BITS": 14}
    words, width = add_mul_rom(np.arange(6), -np.arange(6), 2, 9)
    pairs = [(src, f"s_axis_{x}_tready") for x in "ab"
             for src in ("m_axis_tready", "s_axis_a_tvalid", "s_axis_b_tvalid")]
    pairs.append(("m_axis_tready", "u_out.pop"))     # the check does see through logic
    hits = comb_paths(rtl_sources("sat_add"), "sat_add", params, pairs,
                      files={"mul.hex": hex_lines(words, width)})
    assert hits == [("m_axis_tready", "u_out.pop")]


@pytest.mark.parametrize("params, message", [
    ({"PE": 3}, "sat_add: PE must divide CH"),
    ({"BBITS": 9}, "sat_add: ABITS and BBITS must be 1..8"),
    ({"MUL_BITS": 41}, "sat_add: MUL_BITS must be 2..40"),
    ({"ACC_BITS": 63}, "sat_add: ACC_BITS must be 2..62")])
def test_bad_parameters_stop_verilator_with_their_message(params, message):
    r = lint("sat_add", params)
    assert r.returncode != 0 and message in r.stderr, first_error(r.stderr)
    ok = lint("sat_add", {})
    assert ok.returncode == 0, first_error(ok.stderr)
