"""Residual networks (DAGs: forks, skip FIFOs, adds) through the RTL generator and Verilator,
every output `==` golden (issue 24).

``synthetic.residual_graph`` (an identity block, a stride-2 projection block, an inverted-residual
block) at 4 bits unsigned and 8 bits signed (2 bits is covered by the HLS and golden tests), and
the hand-built graph of tests/test_hls_residual.py with different bits in every layer and
converters on both operands of every add; w8a8s has two layers' weights loaded at run time. Each
design runs once at full rate (the interval within 2 % of the slowest layer's folding, no skip
FIFO ever full) and once under idle input cycles and output backpressure (the same Verilator
model). A skip FIFO made too shallow deadlocks, and the watchdog's report names it; one as deep
as the main branch's lookahead alone (without what it buffers) loses half the throughput. The
skip FIFO depths are the plan's analysis (sat_hw.hw.skip; tests/test_skip_depth.py). The whole
flow on ResNet-20 and MobileNetV2 (RTL == golden == HLS, `sat_hw svtb`) takes minutes per
network: benchmarks/rtl_residual.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_hls_residual import MIXED_FOLD, mixed_graph

from sat_hw.codegen.rtl import fork_taps, render_rtl
from sat_hw.graph import synthetic as syn
from sat_hw.graph.golden import run_golden
from sat_hw.hw.fold import default_folding
from sat_hw.hw.plan import HardwarePlan, hardware_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.rtlsim import StallError, simulate, stall_message

pytestmark = pytest.mark.rtl

IMAGES = 3
CONFIGS = {  # name: (wbits, abits, signed, MAC-lane budget of the default folding)
    "w4a4": (4, 4, False, 64),
    "w8a8s": (8, 8, True, 128),
    "mixed": None,
}
RUNTIME = {"w8a8s": ("b1_conv1", "b3_dw")}
"""Designs with layers whose weights are loaded at run time (the weight-load stream first)."""


def design(name: str) -> tuple[HardwarePlan, np.ndarray, np.ndarray]:
    if CONFIGS[name] is None:
        graph = mixed_graph()
        folding = resolve_folding(graph, {k: f.as_dict() for k, f in MIXED_FOLD.items()}, 64)
    else:
        w, a, signed, lanes = CONFIGS[name]
        graph = syn.residual_graph(len(name), w, a, signed=signed)
        folding = default_folding(graph, lanes)
        for layer in RUNTIME.get(name, ()):
            folding[layer] = replace(folding[layer], mem="external")
    x = np.random.default_rng(len(name)).integers(0, 256, (IMAGES, *graph.input.shape),
                                                  dtype=np.uint8)
    return hardware_plan(graph, folding), x, run_golden(graph, x, keep_codes=False).outputs


def test_rendered_dag_wiring():
    """The top instantiates a fork per forked tensor (main and skip streams), its skip FIFO, and
    an add per add node reading two streams; every add's multiplier ROM is written."""
    plan, _, _ = design("w4a4")
    files = render_rtl(plan, "feedbeef")
    top = files["sat_accel.sv"]
    forks = fork_taps(plan)
    assert [(f["name"], f["add"]) for f in forks] == [
        ("conv0", "b1_add"), ("b1_add", "b2_add"), ("b2_add", "b3_add")]
    for f in forks:
        assert top.count(f"u_{f['name']}_fork (") == 1
        assert top.count(f".m_axis_main_tdata(s{f['main']}_tdata)") == 1
        assert top.count(f".count({f['name']}_skip_count)") == 1
    for add in ("b1_add", "b2_add", "b3_add"):
        assert f'.MUL_FILE({{MEM_DIR, "/{add}_m.hex"}})' in top
        assert files[f"mem/{add}_m.hex"].strip()
    assert {"sat_fork.sv", "sat_add.sv"} <= set(files["filelist.f"].split())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_residual_rtl_matches_golden(name):
    plan, x, golden = design(name)
    files = render_rtl(plan, "feedbeef")
    res = simulate(files, plan, x, golden, progress=False)
    np.testing.assert_array_equal(res.outputs, golden)
    assert res.sim["mismatches"] == 0
    # back-to-back images: the interval is the slowest layer's, within 2 %
    assert res.sim["interval_cycles"] <= 1.02 * res.sim["expected_interval_cycles"] + 8
    for f in fork_taps(plan):  # the skip FIFO never filled: no stall from it
        assert res.layers[f["name"]]["skip_fifo_peak"] < f["depth"]
    assert ("wload_beats" in res.sim) == (name in RUNTIME)  # loaded before any image
    hostile = simulate(files, plan, x, golden, progress=False, valid_pct=55, ready_pct=40)
    np.testing.assert_array_equal(hostile.outputs, golden)


def test_shallow_skip_fifo_deadlocks_and_the_watchdog_names_it():
    """conv0's skip FIFO cut to 2 beats: the main branch (two 3x3 convs) needs rows of conv0's
    output before b1_add gets its first main beat, the fork stops on the full skip FIFO, and no
    beat moves; the report names the FIFO and the add."""
    plan, x, golden = design("w4a4")
    layers = list(plan.layers)
    lp = layers[0]
    assert lp.name == "conv0" and lp.blocks[-1].role == "skip"
    skip = replace(lp.blocks[-1], params={**lp.blocks[-1].params, "DEPTH": 2})
    layers[0] = replace(lp, blocks=(*lp.blocks[:-1], skip))
    shallow = replace(plan, layers=tuple(layers))
    with pytest.raises(StallError, match=r"the skip FIFO conv0_skip_fifo is full \(2 of 2 "
                                         r"beats\) and add b1_add waits for its main operand"):
        simulate(render_rtl(shallow, "feedbeef"), shallow, x[:1], golden[:1], progress=False,
                 watchdog=3000)


def test_lookahead_alone_loses_throughput():
    """The analysis counts what the main branch buffers, not only what it needs: conv0's skip FIFO
    cut to the main branch's lookahead (the two 3x3 windows need 3 rows of conv0's output, 8x8 at
    2 channels a beat, before b1_add's first main beat: 96 beats, less the fork's 2-beat drift)
    does not deadlock, but the FIFO fills while the main branch's FIFOs could still take beats
    and the interval doubles; at the computed depth (449 beats) it is the folding's, and the
    skip FIFO's peak (135 at full rate) stays below it."""
    plan, x, golden = design("w4a4")
    layers = list(plan.layers)
    lp = layers[0]
    c, h, w = lp.node.out_shape
    assert lp.blocks[-1].params["DEPTH"] == 449 and (c, w, lp.fold.pe) == (8, 8, 2)
    lookahead = 3 * w * c // lp.fold.pe - 2
    skip = replace(lp.blocks[-1], params={**lp.blocks[-1].params, "DEPTH": lookahead})
    layers[0] = replace(lp, blocks=(*lp.blocks[:-1], skip))
    shallow = replace(plan, layers=tuple(layers))
    res = simulate(render_rtl(shallow, "feedbeef"), shallow, x, golden, progress=False)
    np.testing.assert_array_equal(res.outputs, golden)
    assert res.layers["conv0"]["skip_fifo_peak"] == lookahead  # it filled
    assert res.sim["interval_cycles"] > 1.5 * res.sim["expected_interval_cycles"]


def test_stall_message_names_the_producer_in_a_dag():
    """A layer that holds input it does not take is reported with the layer it reads (a
    projection conv reads the fork of the add two layers before it), not the one listed before."""
    idle = {"in_valid": 0, "in_ready": 1, "out_valid": 0, "in_beats": 9, "out_beats": 9}
    stuck = {**idle, "in_valid": 1, "in_ready": 0, "out_beats": 0}
    stats = {"layers": {"b2_conv2": idle, "b2_short": stuck}, "forks": {}}
    msg = stall_message(stats, 100, None, {"b2_conv2": "b2_conv1", "b2_short": "b1_add"})
    assert "layer b2_short holds input it does not take and emits nothing (b1_add is " in msg


def test_the_build_plans_rtl_for_residual_models():
    """The flow's side (the whole ResNet-20 through RTL, HLS and svtb takes minutes:
    benchmarks/rtl_residual.py measures it)."""
    from sat_hw.flow.build import plan_phases

    plan = plan_phases({"model": {"name": "resnet20"}, "build": {"backend": "rtl,hls"}})
    assert plan["rtl"] is None and plan["hls"] is None and plan["sim"] is None
