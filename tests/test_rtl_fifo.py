"""sat_fifo and sat_dwc under Verilator: every beat through, in order, under idle input cycles,
backpressure and a reset mid-stream; full throughput and the stated latencies when free flowing.

Few builds: each test chains several instances in one wrapper (``module_src``). The FIFO chain
covers depths 2, 3, 5 (non-powers of two too), 37 and 300 in all four RAM styles, and checks every
FIFO's ``count`` cycle by cycle in HDL against the beats that went in and out (and that
``s_axis_tready == count < DEPTH``); the flags ride on every output beat. The width converter
chains cover split, pack, and the wire, with odd element widths and ratios.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import cache_root
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl

def fifo_latency(depth: int) -> int:
    """sat_fifo: a beat taken in cycle t is offered in cycle t+2 (t+1 at DEPTH 2, a skid)."""
    return 1 if depth == 2 else 2
SPLIT_LATENCY = 2
"""sat_dwc split: the first piece of a beat taken in cycle t is offered in cycle t+2."""
PACK_LATENCY = 1
"""sat_dwc pack: an output beat is offered the cycle after its last input beat."""


def write_module(name: str, body: str) -> tuple[str, object]:
    """A test wrapper module named after its text's hash, written once to the build cache."""
    tag = hashlib.sha256(body.encode()).hexdigest()[:12]
    mod = f"{name}_{tag}"
    path = cache_root() / "tb" / f"{mod}.sv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(body.replace("MODULE", mod))
    return mod, path


def chain_module(name: str, stages: list[tuple[str, dict, int, int]], extra: str = "",
                 flags_w: int = 0) -> tuple[str, object]:
    """Blocks one after another: ``(module, params, in_w, out_w)``; ``extra`` is HDL placed in
    the module (it sees stream ``i``'s ``d_i``, ``v_i``, ``r_i``); ``flags_w`` bits of ``flags``
    go out above the last stream's data."""
    in_w, out_w = stages[0][2], stages[-1][3]
    lines = [f"    logic [{w - 1}:0] d_{i}; logic v_{i}, r_{i};"
             for i, w in enumerate([in_w] + [s[3] for s in stages])]
    for i, (mod, params, _, _) in enumerate(stages):
        p = ", ".join(f".{k}({v if not isinstance(v, str) else chr(34) + v + chr(34)})"
                      for k, v in params.items())
        count = f", .count(count_{i})" if mod == "sat_fifo" else ""
        if count:
            cw = max(1, int(params["DEPTH"]).bit_length())
            lines.append(f"    logic [{cw - 1}:0] count_{i};")
        lines.append(f"    {mod} #({p}) u_{i} (.clk, .rst, .s_axis_tdata(d_{i}), "
                     f".s_axis_tvalid(v_{i}), .s_axis_tready(r_{i}), .m_axis_tdata(d_{i + 1}), "
                     f".m_axis_tvalid(v_{i + 1}), .m_axis_tready(r_{i + 1}){count});")
    n = len(stages)
    fl = f"    logic [{flags_w - 1}:0] flags;\n" if flags_w else ""
    out = f"{{flags, d_{n}}}" if flags_w else f"d_{n}"
    body = f"""`timescale 1ns / 1ps
`default_nettype none
module MODULE (
    input  wire logic clk, rst,
    input  wire logic [{in_w - 1}:0] s_axis_tdata,
    input  wire logic s_axis_tvalid,
    output logic s_axis_tready,
    output logic [{out_w + flags_w - 1}:0] m_axis_tdata,
    output logic m_axis_tvalid,
    input  wire logic m_axis_tready
);
{chr(10).join(lines)}
{fl}    assign d_0 = s_axis_tdata;
    assign v_0 = s_axis_tvalid;
    assign s_axis_tready = r_0;
    assign m_axis_tdata = {out};
    assign m_axis_tvalid = v_{n};
    assign r_{n} = m_axis_tready;
{extra}endmodule
"""
    return write_module(name, body)


# ------------------------------------------------------------------------------------- FIFO

FIFOS = [(2, "registers"), (3, "auto"), (5, "distributed"), (37, "registers"), (300, "block"),
         (4, "block")]
"""(DEPTH, RAM_STYLE) of the chain, input first."""
FIFO_W = 11


def fifo_checkers(fifos: list[tuple[int, str]]) -> str:
    """Per FIFO i: a reference count (beats in minus beats out) that `count_i` must equal every
    cycle, with `r_i == count_i < DEPTH` (so it never passes DEPTH); sticky error flag
    `flags[i]`, and `flags[n+i]` once the FIFO was full since the last reset."""
    n = len(fifos)
    fulls = ", ".join(f"full_{i}" for i in reversed(range(n)))
    errs = ", ".join(f"err_{i}" for i in reversed(range(n)))
    out = ["    logic armed = 1'b0;",
           "    always_ff @(posedge clk) if (rst) armed <= 1'b1;",
           f"    assign flags = {{{fulls}, {errs}}};"]
    for i, (depth, _) in enumerate(fifos):
        cw = max(1, depth.bit_length())
        push, pop = f"{cw}'(v_{i} && r_{i})", f"{cw}'(v_{i + 1} && r_{i + 1})"
        bad = f"count_{i} != ref_{i} || r_{i} != (count_{i} < {cw}'({depth}))"
        out += [f"    logic [{cw - 1}:0] ref_{i};",
                f"    logic err_{i} = 1'b0, full_{i};",
                "    always_ff @(posedge clk) begin",
                f"        ref_{i} <= ref_{i} + {push} - {pop};",
                f"        if (count_{i} == {cw}'({depth})) full_{i} <= 1'b1;",
                f"        if (armed && !rst && ({bad})) err_{i} <= 1'b1;",
                f"        if (rst) begin ref_{i} <= '0; full_{i} <= 1'b0; end",
                "    end"]
    return "\n".join(out) + "\n"


def test_fifo_chain_every_depth_and_style():
    n = len(FIFOS)
    stages = [("sat_fifo", {"DATA_W": FIFO_W, "DEPTH": d, "RAM_STYLE": s}, FIFO_W, FIFO_W)
              for d, s in FIFOS]
    mod, src = chain_module("tb_fifo_chain", stages, fifo_checkers(FIFOS), 2 * n)
    rng = np.random.default_rng(6)
    data = [int(x) for x in rng.integers(0, 1 << FIFO_W, 900)]
    data[:4] = [0, (1 << FIFO_W) - 1, 0, (1 << FIFO_W) - 1]
    res, _ = run_scenarios(mod, {}, FIFO_W, FIFO_W + 2 * n, standard_scenarios(data, len(data)),
                           deps=["sat_skid", "sat_fifo"], module_src=src)
    mask = (1 << FIFO_W) - 1
    for i, r in enumerate(res):
        assert not r.timed_out and r.extra == 0, f"scenario {i}"
        assert [v & mask for v in r.outputs] == data, f"scenario {i}"
        assert all((v >> FIFO_W) & ((1 << n) - 1) == 0 for v in r.outputs), \
            f"scenario {i}: a count disagreed with the beats held"
    # backpressure (35 % ready, input always valid) fills every FIFO of the chain
    assert (res[2].outputs[-1] >> (FIFO_W + n)) == (1 << n) - 1
    # free flowing: one beat per cycle after the chain's latency
    latency = sum(fifo_latency(d) for d, _ in FIFOS)
    assert res[0].first_out == latency and res[0].last_out == len(data) - 1 + latency


# ------------------------------------------------------------------------------------- DWC

def elements(beats: list[int], n: int, w: int) -> list[int]:
    """Beats of ``n`` elements of ``w`` bits -> the elements in stream order (element 0 first)."""
    return [(b >> (i * w)) & ((1 << w) - 1) for b in beats for i in range(n)]


def beats_of(elems: list[int], n: int, w: int) -> list[int]:
    return [sum(e << (i * w) for i, e in enumerate(elems[k:k + n]))
            for k in range(0, len(elems), n)]


@pytest.mark.parametrize("kind", ["split", "pack"])
def test_dwc_chain(kind):
    """split: 12 -> 4 -> 4 (wire) -> 1 elements of 3 bits; pack: 1 -> 3 -> 3 (wire) -> 12
    elements of 5 bits (one element per beat on the narrow side)."""
    ew = 3 if kind == "split" else 5
    ns = [12, 4, 4, 1] if kind == "split" else [1, 3, 3, 12]
    stages = [("sat_dwc", {"ELEM_W": ew, "IN_N": a, "OUT_N": b}, a * ew, b * ew)
              for a, b in itertools.pairwise(ns)]
    mod, src = chain_module(f"tb_dwc_{kind}", stages)
    rng = np.random.default_rng(len(kind))
    elems = [int(x) for x in rng.integers(0, 1 << ew, 12 * 60)]
    elems[:24] = [(1 << ew) - 1] * 12 + [0] * 12                 # all-max, all-zero beats
    data, expected = beats_of(elems, ns[0], ew), beats_of(elems, ns[-1], ew)
    res, _ = run_scenarios(mod, {}, ns[0] * ew, ns[-1] * ew,
                           standard_scenarios(data, len(expected)), deps=["sat_dwc"],
                           module_src=src)
    for i, r in enumerate(res):
        assert not r.timed_out and r.extra == 0, f"scenario {i}"
        assert r.outputs == expected, f"scenario {i}"
    # element order: the expected beats are the input's elements regrouped, element 0 first
    assert elements(res[0].outputs, ns[-1], ew) == elems
    r = res[0]
    if kind == "split":       # the narrow output side sends one beat per cycle
        assert r.first_out == 2 * SPLIT_LATENCY and r.last_out - r.first_out == len(expected) - 1
    else:                     # the narrow input side takes one beat per cycle
        assert r.first_out == 11 + 2 * PACK_LATENCY
        assert r.last_out - r.first_out == 12 * (len(expected) - 1)


# ------------------------------------------------------------------------------------- Yosys

def test_fifo_and_dwc_synthesize():
    """Yosys synth_xilinx: the RAM style lands where asked (1024 x 16 "block" in one BRAM18), and
    a split converter is registers and small muxes."""
    f = synth(rtl_sources("sat_skid", "sat_fifo"), "sat_fifo",
              {"DATA_W": 16, "DEPTH": 1024, "RAM_STYLE": "block"}, cache=True)
    assert f.bram18 == 1 and f.lutram == 0 and f.lut < 100
    d = synth(rtl_sources("sat_dwc"), "sat_dwc", {"ELEM_W": 4, "IN_N": 8, "OUT_N": 2}, cache=True)
    assert d.bram18 == 0 and d.ff >= 2 * 32 and d.lut < 64
