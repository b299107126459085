"""Run-time weight loading (issue 22): weights in URAM or ``external`` block RAM reach the
accelerator through its weight-load stream before any image is taken.

One mixed design (kxk conv and pointwise in URAM: sat_mvu; depthwise ``external``: sat_vvu; the
fc in a LUT ROM) is simulated through the core (cocotb, ``sat_tb`` loads ``wload.hex`` first)
and through the integration top (the self-contained SV testbench), every output ``==`` golden;
its RTL carries the plan's memory styles, and Yosys maps them to URAM and block RAM. A corrupt
stream is caught; the configuration is checked in one line.
"""

from __future__ import annotations

import numpy as np
import pytest

from sat_hw.codegen.layout import WloadLayer, wload_beats, wload_layers, wload_lines
from sat_hw.codegen.rtl import render_axi_tb, render_rtl
from sat_hw.flow.synthesis import DEFAULT_ROMS, top_instances
from sat_hw.graph import synthetic as sy
from sat_hw.graph.golden import run_golden
from sat_hw.hw.cost import network_cost
from sat_hw.hw.memory import memory
from sat_hw.hw.plan import hardware_plan, runtime_layers
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.rtlsim import simulate
from sat_hw.tools.streamtb import rtl_sources
from sat_hw.tools.svtb import run_axi_tb
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl
MEMS = {"conv0": "uram", "dw1": "external", "pw1": "uram", "fc": "lut"}


def mixed():
    """The graph, its plan with :data:`MEMS`, three images and their golden outputs."""
    rng = np.random.default_rng(0)
    a = sy.conv(rng, "conv0", (3, 8, 8), 8, wbits=4, abits=8)
    d = sy.conv(rng, "dw1", a.out_shape, 8, groups=8, wbits=3, abits=4)
    p = sy.conv(rng, "pw1", d.out_shape, 16, kernel=1, wbits=4, abits=4)
    g = sy.avgpool(rng, "pool", p.out_shape, abits=4, out_bits=4)
    f = sy.linear(rng, "fc", 16, 4, wbits=4, abits=4)
    graph = sy.chain([a, d, p, g, f])
    folding = resolve_folding(graph, {n: {"mem": m} for n, m in MEMS.items()}, max_lanes=64)
    x = np.random.default_rng(1).integers(0, 256, (3, *graph.input.shape), dtype=np.uint8)
    return graph, hardware_plan(graph, folding), x, run_golden(graph, x, keep_codes=False).outputs


def test_stream_packing():
    """Header {count, index}, then each word LSB first in 32-bit beats, TLAST per section."""
    s = [WloadLayer("a", 0, 2, 40, (0x12_3456_789A, 0x1)), WloadLayer("b", 1, 1, 8, (0xAB,))]
    assert wload_beats(s) == [(0x200, False), (0x3456_789A, False), (0x12, False), (1, False),
                              (0, True), (0x101, False), (0xAB, True)]
    assert wload_lines(s).splitlines()[-1] == "1000000ab"


def test_rtl_carries_the_plans_memory_styles():
    _graph, plan, _x, _gold = mixed()
    rtl = render_rtl(plan, "t")
    top = top_instances(rtl["sat_accel.sv"])
    units = {b.layer: b for b in plan.blocks if b.module in ("sat_mvu", "sat_vvu")}
    assert [lp.name for lp in runtime_layers(plan)] == ["conv0", "dw1", "pw1"]
    for layer, b in units.items():
        assert top[b.name][1].get("MEM_STYLE") == f'"{MEMS[layer]}"'
        # a run-time memory has no image (the bitstream leaves it empty)
        assert (f"mem/{layer}_w.hex" in rtl) == (MEMS[layer] == "lut")
    wmem = rtl["sat_wmem.sv"]
    for style, attr in (("uram", '(* ram_style = "ultra" *)'), ("external", '(* ram_style = "block" *)'),
                        ("lut", '(* rom_style = "distributed", rom_block = "logic" *)')):
        branch = wmem[wmem.index(f'MEM_STYLE == 64\'("{style}")) begin'):]
        assert branch[:branch.index("end")].count(attr) == 1, style
    assert "sat_wload" in rtl["filelist.f"] and "s_axis_wload_tdata" in rtl["sat_accel_axi.sv"]
    sections = wload_layers(runtime_layers(plan))
    assert rtl["tb/wload.hex"] == wload_lines(sections)
    # the estimate: URAM for the uram layers, external priced as block RAM
    cost = {c.name: c for c in network_cost(plan)}
    assert cost["conv0"].resources.uram >= 1 and cost["pw1"].resources.uram >= 1
    dw = next(m for m in cost["dw1"].memories() if m["what"] == "weights")
    assert dw["style"] == "external" and dw["bram18"] >= 1
    assert memory(512, 36, "external") == memory(512, 36, "bram")


@pytest.mark.parametrize("style, cell", [("uram", "URAM288"), ("external", "RAMB18E2")])
def test_yosys_maps_the_run_time_memories(style, cell):
    r = synth(rtl_sources("sat_wmem"), "sat_wmem",
              {"DEPTH": 512, "WIDTH": 36, "MEM_STYLE": style}, family="xcup", files=DEFAULT_ROMS)
    assert r.cells.get(cell, 0) + (r.cells.get("RAMB36E2", 0) if style == "external" else 0) \
        >= 1, r.cells
    assert r.lut < 40 and r.lutram == 0, r.as_dict()


def test_mixed_build_matches_golden_through_the_core():
    """cocotb: the wrapper loads the stream (idle cycles on it and the images), images refused
    until then, every output == golden."""
    _graph, plan, x, gold = mixed()
    rtl = render_rtl(plan, "t")
    for pct in (100, 45):
        res = simulate(rtl, plan, x, gold, progress=False, valid_pct=pct, ready_pct=70)
        np.testing.assert_array_equal(res.outputs, gold)
        assert res.sim["mismatches"] == 0
        assert res.sim["wload_beats"] == len(rtl["tb/wload.hex"].split())


def test_mixed_build_matches_golden_through_the_axi_top(tmp_path):
    _graph, plan, x, gold = mixed()
    files = {**render_rtl(plan, "t"), **render_axi_tb(plan, "t", x, gold, 50_000)}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    r = run_axi_tb(tmp_path, valid_pct=50, ready_pct=60, seed=3)
    assert r["passed"] and r["mismatches"] == 0, r
    assert r["early_beats"] == 0 and r["wload_beats"] == r["wload_expected"] > 0, r
    assert r["status"] == 0x4, r


def test_a_corrupt_stream_is_caught():
    """A flipped weight bit gives outputs that differ; a wrong header count sets wload_error
    and the images are never taken."""
    from sat_hw.base.errors import VerificationError
    from sat_hw.tools.rtlsim import StallError

    _graph, plan, x, gold = mixed()
    rtl = render_rtl(plan, "t")
    lines = rtl["tb/wload.hex"].splitlines()
    flipped = lines.copy()
    flipped[1] = f"{int(flipped[1], 16) ^ 0x10:09x}"
    res = simulate({**rtl, "tb/wload.hex": "\n".join(flipped) + "\n"}, plan, x, gold,
                   progress=False)
    assert res.sim["mismatches"] > 0
    bad = lines.copy()
    bad[0] = f"{int(bad[0], 16) + 0x100:09x}"  # one word too many in conv0's header
    with pytest.raises((VerificationError, StallError)):
        simulate({**rtl, "tb/wload.hex": "\n".join(bad) + "\n"}, plan, x, gold, progress=False,
                 watchdog=3000)


def test_bad_memory_style_is_one_line(tmp_path, capsys):
    from sat_hw.flow.cli import main

    cfg = tmp_path / "bad.toml"
    cfg.write_text('[fold.pw13]\nmem = "foo"\n')
    argv = ["build", "--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "3",
            "--wbits", "3", "--abits", "4", "--config", str(cfg), "--out", str(tmp_path / "b")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fold.pw13.mem" in err[0] and "external" in err[0], err
    assert not (tmp_path / "b").exists()
