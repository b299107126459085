"""Residual graphs (issue 23) in hardware: the plan, the estimate and the HLS C-simulation.

Small random residual networks (``synthetic.residual_graph``: an identity block, a projection
shortcut with stride 2, an inverted-residual block) at bits 1, 2, 4 and 8, signed and unsigned
block outputs, and one hand-built graph with different bits in every layer (a negative and a
2^16 multiplier among them), through ``hardware_plan`` and ``render_hls``, compiled by g++ and
compared with the golden executor element by element. The top keeps DATAFLOW legal (every
stream one writer and one reader), the skip stream is as deep as the plan's skip FIFO, and the
planner and the estimate run on it (the RTL of these graphs: tests/test_rtl_residual.py).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from sat_hw.codegen.hls import SKID_DEPTH, render_hls
from sat_hw.graph import synthetic as syn
from sat_hw.graph.golden import run_golden
from sat_hw.hw.cost import layer_rows, network_cost, summary
from sat_hw.hw.cycles import network_timeline
from sat_hw.hw.dag import forks
from sat_hw.hw.devices import get_device
from sat_hw.hw.fold import Fold, default_folding, layer_cycles
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.planner import plan, resolve_folding
from sat_hw.hw.skip import skip_depth
from sat_hw.tools.hlssim import compile_csim, run_csim

IMAGES = 3
CONFIGS = {  # name: (wbits, abits, signed, MAC-lane budget of the default folding)
    "w1a1": (1, 1, False, 32),
    "w2a2": (2, 2, False, 64),
    "w2a2s": (2, 2, True, 16),
    "w4a4": (4, 4, False, 128),
    "w4a4s": (4, 4, True, 64),
    "w8a8": (8, 8, False, 64),
    "w8a8s": (8, 8, True, 256),
    "mixed": None,
}
MIXED_FOLD = {  # each add's PE differs from both its producers': converters on both operands
    "conv0": Fold(8, 27), "b1_conv2": Fold(2, 8), "b1_add": Fold(4, 1),
    "b2_conv2": Fold(16, 4), "b2_short": Fold(1, 8), "b2_add": Fold(2, 1),
}


def mixed_graph(seed: int = 3):
    """The shape of ``residual_graph`` with different bits in every tensor and layer; b1_add's
    skip multipliers negative on even channels, b3_add's at the verify limit 2^16."""
    rng = np.random.default_rng(seed)
    conv = syn.conv
    c0 = conv(rng, "conv0", (3, 8, 8), 8, wbits=8, abits=8, out_bits=3)
    a1 = conv(rng, "b1_conv1", c0.out_shape, 8, wbits=2, abits=3, out_bits=5)
    a2 = conv(rng, "b1_conv2", a1.out_shape, 8, wbits=5, abits=5, out_bits=6)
    s1 = syn.add(rng, "b1_add", a2.out_shape, ("b1_conv2", "conv0"), 6, 3, 4)
    s1 = replace(s1, mul_b=np.where(np.arange(8) % 2 == 0, -s1.mul_b, s1.mul_b))
    p1 = conv(rng, "b2_conv1", s1.out_shape, 16, stride=2, wbits=3, abits=4, out_bits=2)
    p2 = conv(rng, "b2_conv2", p1.out_shape, 16, kernel=1, wbits=4, abits=2, out_bits=7)
    sc = conv(rng, "b2_short", s1.out_shape, 16, kernel=1, stride=2, pad=0, wbits=6, abits=4,
              out_bits=3, inputs=("b1_add",))
    s2 = syn.add(rng, "b2_add", p2.out_shape, ("b2_conv2", "b2_short"), 7, 3, 5, out_zero=16)
    e = conv(rng, "b3_expand", s2.out_shape, 32, kernel=1, wbits=7, abits=5, out_bits=4)
    d = conv(rng, "b3_dw", e.out_shape, 32, groups=32, wbits=1, abits=4, out_bits=2)
    pr = conv(rng, "b3_project", d.out_shape, 16, kernel=1, wbits=2, abits=2, out_bits=8)
    s3 = syn.add(rng, "b3_add", pr.out_shape, ("b3_project", "b2_add"), 8, 5, 3,
                 mul_max=1 << 16)
    f = conv(rng, "head", s3.out_shape, 16, kernel=1, wbits=3, abits=3, out_bits=6)
    g = syn.avgpool(rng, "pool", f.out_shape, abits=6, out_bits=2)
    fc = syn.linear(rng, "fc", 16, 5, wbits=5, abits=2)
    return syn.chain([c0, a1, a2, s1, p1, p2, sc, s2, e, d, pr, s3, f, g, fc],
                     name="mixed_residual")


def _design(name: str):
    if CONFIGS[name] is None:
        graph = mixed_graph()
        folding = resolve_folding(graph, {k: f.as_dict() for k, f in MIXED_FOLD.items()}, 64)
    else:
        w, a, signed, lanes = CONFIGS[name]
        graph = syn.residual_graph(len(name), w, a, signed=signed)
        folding = default_folding(graph, lanes)
    x = np.random.default_rng(len(name)).integers(0, 256, (IMAGES, 3, 8, 8), dtype=np.uint8)
    hw = hardware_plan(graph, folding)
    return graph, hw, x, render_hls(hw, "0123abcd")


@pytest.fixture(scope="module")
def designs():
    """Every configuration rendered, then compiled two at a time (one g++ each)."""
    out = {name: _design(name) for name in CONFIGS}
    with ThreadPoolExecutor(2) as pool:
        exes = dict(zip(out, pool.map(lambda d: compile_csim(d[3], jobs=1)[0], out.values())))
    return {name: (*out[name], exes[name]) for name in out}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_residual_network_matches_golden(designs, name):
    graph, _, x, _, exe = designs[name]
    outputs, _ = run_csim(exe, x, graph.layers[-1].out_shape[0])
    np.testing.assert_array_equal(outputs, run_golden(graph, x).outputs)


def test_mixed_graph_is_mixed(designs):
    graph, hw, _, files, _ = designs["mixed"]
    assert not graph.is_chain
    adds = {n.name: n for n in graph.layers if n.op == "add"}
    assert (adds["b1_add"].abits, adds["b1_add"].bbits) == (6, 3)
    assert (adds["b2_add"].out_zero, adds["b3_add"].abits, adds["b3_add"].bbits) == (16, 8, 5)
    assert (adds["b1_add"].mul_b < 0).any() and adds["b3_add"].mul_a.max() == 1 << 16
    assert "MUL_BITS = 18;" in files["firmware/params.h"]  # 2^16 and its sign
    # each add's operands are converted from their own producer's beat
    for lp in hw.layers:
        if lp.name in ("b1_add", "b2_add"):
            for role, (src, _) in zip(("dwc_a", "dwc_b"), lp.sources):
                dwc = [b for b in lp.blocks if b.role == role]
                assert dwc and dwc[0].params["IN_N"] == hw.layers[
                    [x.name for x in hw.layers].index(src)].fold.pe
                assert dwc[-1].params["OUT_N"] == lp.fold.pe


_CALL = re.compile(r"^    (sat::\w+)<.*>\((.*)\);$", re.MULTILINE)


@pytest.mark.parametrize("name", ["w4a4s", "mixed"])
def test_top_is_a_legal_dataflow(designs, name):
    """Every stream of the top is written by one call and read by one (DATAFLOW's rule, why a
    forked tensor goes through sat::fork); the skip streams are as deep as the plan's skip FIFOs
    (sat_hw.hw.skip's analysis), the main streams the skid's 2."""
    graph, hw, _, files, _ = designs[name]
    top = files["firmware/sat_top.cpp"]
    declared = re.findall(r"^    hls::stream<.*> (\w+)\(\"\1\"\);$", top, re.MULTILINE)
    depth = {k: int(v) for k, v in re.findall(
        r"^#pragma HLS STREAM variable = (\w+) depth = (\d+)$", top, re.MULTILINE)}
    uses = {s: 0 for s in declared}
    for _, args in _CALL.findall(top):
        for a in (a.strip() for a in args.split(",")):
            if a in uses:
                uses[a] += 1
    assert uses and all(n == 2 for n in uses.values()), {s: n for s, n in uses.items() if n != 2}
    split = forks(graph)
    assert set(split) == {"conv0", "b1_add", "b2_add"}
    assert split["b1_add"] == ("b2_conv1", "b2_short")  # the projection is the skip
    for t in split:
        lp = next(lp for lp in hw.layers if lp.name == t)
        sd = skip_depth({x.name: x for x in hw.layers}, graph, t, lp.fold.pe)
        skip = next(b for b in lp.blocks if b.role == "skip")
        assert depth[f"{t}_skip"] == skip.params["DEPTH"] == sd.depth  # the analysis's
        assert depth[f"{t}_main"] == SKID_DEPTH
        assert f"sat::fork<ap_uint<{lp.node.out_bits}>, {lp.fold.pe}, {lp.out_beats}>(" \
               f"{t}_out, {t}_main, {t}_skip);" in top
    assert top.count("sat::add<") == 3
    _, b = re.search(r"sat::add<b3_add_cfg::add>\((\w+), (\w+),", top).groups()
    assert b == "b2_add_skip" or f"(b2_add_skip, {b});" in top  # the skip, maybe converted


def test_plan_and_estimate_cover_every_layer():
    """Fold, cycles (pixels * C / PE for an add), blocks and costs for every layer, the fork
    and skip FIFO among the forked layer's blocks; the estimate is calibrated (sat_add and
    sat_fork fitted to Yosys since issue 24); the planner, resolve_folding and the timeline run
    on the DAG."""
    graph = syn.residual_graph(2, 4, 4, signed=True)
    folding = default_folding(graph, 128)
    hw = hardware_plan(graph, folding)
    assert [lp.name for lp in hw.layers] == [n.name for n in graph.layers]
    costs = network_cost(hw)
    for lp, c in zip(hw.layers, costs):
        assert lp.cycles == layer_cycles(lp.node, lp.fold) > 0 and c.cycles == lp.cycles
        assert c.resources.lut > 0 and c.resources.ff > 0
        mods = [b.module for b in lp.blocks]
        if lp.node.op == "add":
            c_, h, w = lp.node.out_shape
            assert lp.fold.simd == 1 and lp.cycles == h * w * c_ // lp.fold.pe
            core = mods.index("sat_add")
            assert lp.core == core and mods[core + 1:core + 3] == ["sat_thresholds", "sat_fifo"]
        if lp.name in ("conv0", "b1_add", "b2_add"):
            assert mods[-2:] == ["sat_fork", "sat_fifo"] and lp.blocks[-1].role == "skip"
            fork_cost = c.block_resources[mods.index("sat_fork")]
            assert fork_cost.ff > 0
        else:
            assert "sat_fork" not in mods
    est = summary(graph, costs, get_device("u250"), 333.0)
    assert est["calibrated"] is True
    assert est["latency_cycles"] > est["interval_cycles"] == max(c.cycles for c in costs)
    rows = layer_rows(costs)
    assert {b["module"] for r in rows for b in r["blocks"]} >= {"sat_add", "sat_fork"}
    tl = dict(zip([n.name for n in graph.layers], network_timeline(graph, costs)))
    for a in ("b1_add", "b2_add", "b3_add"):  # an add ends after both of its operands
        for p in graph.producers(a):
            assert tl[a][1] > tl[p][1]
    p = plan(graph, "u250", 333.0)
    assert p.estimate["fits"] and set(p.folding) == set(folding)
    assert p.folding["b1_add"].simd == 1
    f2 = resolve_folding(graph, {"b2_add": {"pe": 4}}, 64, target_cycles=300)
    assert f2["b2_add"].pe == 4
    f3 = resolve_folding(graph, {}, fps=1e6, fclk_mhz=333.0)
    assert hardware_plan(graph, f3).interval <= 333


def test_chain_plan_has_no_fork():
    chain = syn.chain(list(_tiny_chain()))
    hw = hardware_plan(chain, default_folding(chain, 16))
    assert chain.is_chain and forks(chain) == {}
    assert all(b.role not in ("fork", "skip", "add") for b in hw.blocks)
    assert [lp.sources for lp in hw.layers][1:] == [((n.name, ""),) for n in chain.nodes[1:-1]]


def _tiny_chain():
    rng = np.random.default_rng(5)
    a = syn.conv(rng, "conv0", (3, 6, 6), 4, wbits=3, abits=8, out_bits=3)
    p = syn.conv(rng, "pw1", a.out_shape, 8, kernel=1, pad=0, wbits=3, abits=3, out_bits=3)
    g = syn.avgpool(rng, "pool", p.out_shape, abits=3, out_bits=3)
    f = syn.linear(rng, "fc", 8, 3, wbits=3, abits=3)
    return a, p, g, f
