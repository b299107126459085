"""Whole generated accelerators under Verilator, every output `==` golden.

Small MobileNetV1 variants (width 0.25, 16 px, seeded and calibrated) at several bit settings and
one mixed per-layer configuration, a synthetic graph with every node type (max pool included),
hostile neighbours (idle input cycles and output backpressure), the watchdog naming a stalled
layer, and folding errors. Each case is one Verilator build (cached by content).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sat_hw.codegen.rtl import render_rtl
from sat_hw.flow.config import load_config, model_from_config
from sat_hw.graph import synthetic as sy
from sat_hw.graph.golden import run_golden
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.rtlsim import StallError, simulate

pytestmark = pytest.mark.rtl


def small_mbv1(wbits: int, abits: int, layers: dict | None = None, resolution: int = 16,
               seed: int = 0):
    from sat_hw.nn.lower import lower
    from sat_hw.nn.models import calibrate

    cfg = load_config(None, {"model": {"width": 0.25, "resolution": resolution},
                             "quant": {"wbits": wbits, "abits": abits,
                                       "layers": layers or {}}})
    model = model_from_config(cfg, seed=seed)
    rng = np.random.default_rng(seed)
    calibrate(model, rng.integers(0, 256, (32, 1, resolution, resolution), dtype=np.uint8))
    return lower(model)


def every_node_graph(seed: int = 0, abits: int = 3):
    """conv 3x3 (8-bit input, 3 channels), max pool 3x3/2, depthwise 3x3 stride 2 on an odd
    size, pointwise, global average pool, fc."""
    rng = np.random.default_rng(seed)
    a = sy.conv(rng, "conv0", (3, 9, 9), 8, wbits=8, abits=8, out_bits=abits)
    m = sy.maxpool("max1", a.out_shape, kernel=3, stride=2, pad=1, abits=abits)
    d = sy.conv(rng, "dw2", m.out_shape, 8, stride=2, groups=8, wbits=2, abits=abits,
                out_bits=abits)
    p = sy.conv(rng, "pw2", d.out_shape, 16, kernel=1, wbits=3, abits=abits, out_bits=abits)
    g = sy.avgpool(rng, "pool", p.out_shape, abits=abits, out_bits=abits)
    f = sy.linear(rng, "fc", 16, 5, wbits=8, abits=abits)
    return sy.chain([a, m, d, p, g, f])


def run(graph, folding, images: int = 4, seed: int = 1, **kw):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (images, *graph.input.shape), dtype=np.uint8)
    golden = run_golden(graph, x, keep_codes=False).outputs
    plan = hardware_plan(graph, folding)
    res = simulate(render_rtl(plan, "test"), plan, x, golden,
                   progress=False, **kw)
    np.testing.assert_array_equal(res.outputs, golden)
    assert res.sim["mismatches"] == 0
    return res


@pytest.mark.parametrize("wbits, abits, layers", [
    (1, 2, None), (2, 2, None), (3, 4, None), (4, 4, None), (8, 8, None),
    (4, 4, {"pw3": {"wbits": 2, "abits": 3}, "dw5": {"wbits": 1}, "fc": {"wbits": 3}}),
])
def test_mbv1_matches_golden(wbits, abits, layers):
    g = small_mbv1(wbits, abits, layers)
    f = resolve_folding(g, {"fc": {"mult": "dsp"}} if wbits == 4 and layers is None else None,
                        max_lanes=192)
    res = run(g, f)
    # back-to-back images: the pipeline interval is its slowest layer's, within 2 %
    assert res.sim["interval_cycles"] <= 1.02 * res.sim["expected_interval_cycles"] + 8


def test_every_node_type_with_idle_input_and_backpressure():
    g = every_node_graph()
    f = resolve_folding(g, {"conv0": {"pe": 4, "simd": 27}, "dw2": {"pe": 2, "simd": 3}},
                        max_lanes=96)
    run(g, f, images=3, valid_pct=55, ready_pct=40)


def test_watchdog_names_the_stalled_layer():
    """A chain of these blocks cannot deadlock (each buffers what it needs: the window
    generator refuses ROWS < K at elaboration), so the hang is made by hand: the average pool
    is told one pixel more than arrives, waits for it forever, and the watchdog names it."""
    g = every_node_graph(seed=2)
    f = resolve_folding(g, None, max_lanes=64)
    plan = hardware_plan(g, f)
    files = render_rtl(plan, "test")
    pixels = g.node("pool").in_shape[1] * g.node("pool").in_shape[2]
    top = files["sat_accel.sv"]
    assert top.count(f".PIXELS({pixels})") == 1
    files["sat_accel.sv"] = top.replace(f".PIXELS({pixels})", f".PIXELS({pixels + 1})")
    x = np.random.default_rng(0).integers(0, 256, (2, *g.input.shape), dtype=np.uint8)
    golden = run_golden(g, x, keep_codes=False).outputs
    with pytest.raises(StallError, match="layer pool took all .* input beats but emitted"):
        simulate(files, plan, x, golden, progress=False, watchdog=2000)


@pytest.mark.parametrize("explicit, needle", [
    ({"pw2": {"pe": 5}}, "fold.pw2.pe 5 does not divide 16"),
    ({"dw2": {"simd": 2}}, "fold.dw2.simd 2 does not divide 9"),
    ({"pool": {"mult": "dsp"}}, "fold.pool.mult dsp"),
    ({"pw9": {"pe": 2}}, "fold.pw9: the graph has no layer"),
])
def test_folding_errors_name_layer_and_divisors(explicit, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        resolve_folding(every_node_graph(), explicit)


def test_fold_dataclass_defaults():
    assert Fold() == Fold(1, 1, "lut")


def test_main_job_on_the_shipped_w3a4_model(tmp_path, capsys):
    """The README's main job on real test images: the zoo's trained W3A4 model through the RTL;
    PyTorch, golden and the RTL give the same top-1 against the labels; then `sat_hw sim DIR`
    re-runs the build's simulation on fewer images and updates the folder in place."""
    from sat_hw.flow.cli import main

    out = tmp_path / "mj"
    assert main(["build", "--model", "mbv1", "--wbits", "3", "--abits", "4", "--images", "8",
                 "--backend", "rtl", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "using the zoo model mbv1_fm_sat_w3a4.pt" in err
    r = json.loads((out / "report.json").read_text())
    assert r["sim"]["images"] == 8 and r["sim"]["mismatches"] == 0
    assert r["sim"]["torch_mismatches"] == 0
    acc = r["accuracy"]["labels"]
    assert set(acc) == {"torch", "golden", "rtl"} and len(set(acc.values())) == 1
    assert acc["rtl"] >= 0.75  # a trained model (92 % top-1 on the whole test set)
    np.testing.assert_array_equal(np.load(out / "sim/rtl_outputs.npy"),
                                  np.load(out / "sim/golden.npy"))
    assert main(["sim", str(out), "--images", "3"]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["sim"]["images"] == 3 and r["sim"]["mismatches"] == 0
    assert np.load(out / "sim/rtl_outputs.npy").shape == (3, 10)
    assert main(["sim", str(out), "--images", "9"]) == 2
    assert "--images must be 1..8" in capsys.readouterr().err
