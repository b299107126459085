"""The folding planner: divisibility, the device budget, the target, explicit folds, clear errors,
and the balance of the plans it makes."""

from __future__ import annotations

import pytest

from sat_hw.flow.config import load_config
from sat_hw.flow.estimate import config_graph
from sat_hw.hw.devices import get_device
from sat_hw.hw.fold import Fold, check_fold, fold_limits, layer_cycles
from sat_hw.hw.planner import LIMITS, Planner, plan, resolve_folding


def mbv1(width=0.25, resolution=32, wbits=4, abits=4, classes=10, in_channels=1):
    cfg = load_config(None, {"model": {"width": width, "resolution": resolution,
                                       "classes": classes, "in_channels": in_channels},
                             "quant": {"wbits": wbits, "abits": abits}})
    return config_graph(cfg)


@pytest.fixture(scope="module")
def small():
    return mbv1()


def _check(graph, p, limits=LIMITS):
    for node in graph.layers:
        f = p.folding[node.name]
        check_fold(node, f)  # raises unless PE and SIMD divide
        n_pe, n_simd = fold_limits(node)
        assert n_pe % f.pe == 0 and n_simd % f.simd == 0
    u = p.estimate["utilisation"]
    for k, lim in limits.items():
        assert u[k] <= lim + 1e-9, (k, u[k])
    assert p.estimate["interval_cycles"] == max(layer_cycles(n, p.folding[n.name])
                                                for n in graph.layers)


@pytest.mark.parametrize("device, fps", [("pynq-z1", 2000), ("zcu104", 20000), ("u250", 50000)])
def test_plan_meets_fps_within_budget(small, device, fps):
    p = plan(small, device, 200.0, fps=fps)
    _check(small, p)
    assert p.estimate["fps"] >= fps
    assert p.estimate["interval_cycles"] <= 200e6 / fps
    assert p.mode == "fps" and set(p.why) == {n.name for n in small.layers}


def test_plan_is_cheapest_balanced(small):
    slow, fast = plan(small, "u250", 200.0, fps=500), plan(small, "u250", 200.0, fps=20000)
    assert slow.estimate["lut"] < fast.estimate["lut"]
    assert slow.estimate["mac_lanes"] < fast.estimate["mac_lanes"]
    # every layer slows down to just under the target: the lanes stay busy
    assert fast.estimate["balance"] >= 0.8


def test_fastest_fits_and_nothing_faster_fits(small):
    pl = Planner(small, "pynq-z1", 100.0)
    p = pl.fastest()
    _check(small, p)
    assert p.mode == "budget"
    faster = [t for t in pl.targets() if t < p.target_cycles]
    if faster:
        assert pl.quick(int(faster[-1])) is None


def test_impossible_fps_names_the_fastest(small):
    with pytest.raises(ValueError, match=r"fastest folding takes [\d,]+ .*frames/s"):
        plan(small, "u250", 100.0, fps=1e9)


def test_over_budget_names_the_resource(small):
    with pytest.raises(ValueError, match=r"does not fit xc7z020.*lut [\d,]+ > 0% of 53,200"):
        plan(small, "pynq-z1", 100.0, limits={"lut": 1e-6})
    p = Planner(small, "pynq-z1", 100.0, limits={"lut": 1e-6}).fastest(must_fit=False)
    assert p.estimate["fits"] is False and "lut" in p.estimate["note"]


def test_explicit_fold_wins(small):
    p = plan(small, "zcu104", 200.0, fps=5000, explicit={"pw3": {"pe": 2, "simd": 4},
                                                          "conv0": {"mult": "dsp"}})
    assert (p.folding["pw3"].pe, p.folding["pw3"].simd) == (2, 4)
    assert p.folding["conv0"].mult == "dsp"
    with pytest.raises(ValueError, match="fold.pw3.pe 3 does not divide"):
        plan(small, "zcu104", 200.0, fps=5000, explicit={"pw3": {"pe": 3}})
    with pytest.raises(ValueError, match="no layer 'pw99'"):
        plan(small, "zcu104", 200.0, explicit={"pw99": {"pe": 1}})


def test_no_uram_weights_on_7_series(small):
    p = plan(small, "pynq-z1", 100.0)
    assert p.estimate["uram"] == 0 and all(f.mem != "uram" for f in p.folding.values())


def test_resolve_folding_calls_the_planner_for_a_target(small):
    old = resolve_folding(small, {}, 64)  # the lane budget: unchanged behaviour
    assert sum(f.pe * f.simd for n, f in old.items() if small.node(n).op != "pool") <= 64
    f = resolve_folding(small, {"pw1": {"pe": 1, "simd": 1}}, fps=500, fclk_mhz=100.0,
                        device="pynq-z1")
    assert (f["pw1"].pe, f["pw1"].simd) == (1, 1)
    others = {n: v for n, v in f.items() if n != "pw1"}
    ref = plan(small, "pynq-z1", 100.0, fps=500, explicit={"pw1": {"pe": 1, "simd": 1}})
    assert others == {n: v for n, v in ref.folding.items() if n != "pw1"}
    b = resolve_folding(small, {}, budget=True, device="pynq-z1", fclk_mhz=100.0)
    assert b == plan(small, "pynq-z1", 100.0).folding


@pytest.mark.parametrize("device, fclk, fps", [("u250", 333.0, 3300), ("zcu104", 200.0, 900)])
@pytest.mark.parametrize("wbits", [4, 3])
def test_finn_anchor_targets(device, fclk, fps, wbits):
    """MobileNetV1 1.0/224, W4A4 (and W3A4), 8-bit first/last weights: the issue's targets by the
    calibrated model (benchmarks/estimate_finn.py prints the figures)."""
    g = mbv1(1.0, 224, wbits, 4, 1000, 3)
    p = plan(g, device, fclk, fps=fps)
    _check(g, p)
    assert p.estimate["fps"] >= fps and p.estimate["balance"] >= 0.95
    if wbits == 3:
        w4 = plan(mbv1(1.0, 224, 4, 4, 1000, 3), device, fclk, fps=fps)
        assert p.estimate["interval_cycles"] == w4.estimate["interval_cycles"]
        # cheaper, not dominated: since issue 20's refit the W3A4 U250 plan takes LUT products
        # where W4A4 takes packed DSPs (54 DSPs against 1,398), so fewer LUTs alone no longer
        # holds there; W3A4 never costs more of every resource
        keys = ("lut", "ff", "bram18", "uram", "dsp")
        assert any(p.estimate[k] < w4.estimate[k] for k in keys)
        assert not all(p.estimate[k] >= w4.estimate[k] for k in keys)


def test_device_families():
    assert get_device("pynq-z1").family == "xc7" and get_device("u250").family == "xcup"
    assert Fold(2, 3).as_dict() == {"pe": 2, "simd": 3, "mult": "lut"}
    assert Fold(2, 3, mem="bram").as_dict()["mem"] == "bram"


def test_fastest_is_not_a_bisection():
    """Whether the planner's reweighting finds a fitting plan is not monotone in the interval:
    MobileNetV1 224 px W4A4 with 8-bit last-layer weights on the ZCU104 at 185 MHz fits at
    200,704 cycles and not at 401,408 (block RAM and URAM take turns over the budget), where a
    bisection settled on 802,816 (issue 21). The fastest plan is the first interval that fits,
    and a looser target takes a tighter plan when its own search fails."""
    from sat_hw.hw.planner import Planner

    p = Planner(mbv1(1.0, 224, 4, 4, 1000, 3), "zcu104", 185.0)
    assert not p._solve(401_408)[1], "the case this test stands on has gone: find another"
    first = next(int(t) for t in p.targets() if p._solve(int(t))[1])
    best = p.fastest()
    assert best.estimate["interval_cycles"] == first == 200_704
    loose = p.at(401_408)
    assert loose.estimate["interval_cycles"] <= 401_408 and loose.estimate["fits"]


def test_rtl_builds_plan_with_uram():
    """The RTL loads URAM weights at run time (issue 22), so an RTL build plans as an HLS-only
    one: MobileNetV1 224 px W4A4 on the ZCU104 at 900 frames/s puts weights (pw12, pw13 and the
    fc) in URAM whatever the backend."""
    from sat_hw.flow.build import build_folding

    over = {"model": {"width": 1.0, "resolution": 224, "in_channels": 3, "classes": 1000},
            "quant": {"wbits": 4, "abits": 4},
            "hw": {"device": "zcu104", "fclk_mhz": 200.0, "fps": 900.0}}
    hls = load_config(None, {**over, "build": {"backend": "hls"}})
    rtl = load_config(None, {**over, "build": {"backend": "rtl,hls"}})
    with_uram = build_folding(hls, config_graph(hls))
    assert any(f.mem == "uram" for f in with_uram.values())
    assert build_folding(rtl, config_graph(rtl)) == with_uram
