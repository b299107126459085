"""Lowering a torch model to the IR, and agreement of the golden executor with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sat_hw.graph import AvgPool, Conv, Linear, agreement, run_golden, run_naive, tie_analysis
from sat_hw.graph.passes import BIAS_FRAC_BITS
from sat_hw.nn import quant
from sat_hw.nn.lower import float64_twin, lower, read_model, torch_codes
from sat_hw.nn.models import MobileNetV1, calibrate, default_bits, mbv1_specs

RES, WIDTH = 16, 0.25


def make_model(wbits=4, abits=4, seed=0, res=RES, method="sat", bits=None, in_ch=1, classes=10,
               **kw) -> tuple[MobileNetV1, np.ndarray]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    m = MobileNetV1(width=WIDTH, resolution=res, in_channels=in_ch, classes=classes, bits=bits,
                    method=method, wbits=wbits, abits=abits, **kw)
    calib = rng.integers(0, 256, (16, in_ch, res, res), dtype=np.uint8)
    calibrate(m, torch.from_numpy(calib))
    return m, rng.integers(0, 256, (8, in_ch, res, res), dtype=np.uint8)


@pytest.fixture(scope="module")
def model_and_images():
    return make_model()


def assert_exact_against_float64(model, graph, x):
    """The float64 twin of the model computes the real-valued model the lowering integerised.

    Every code agrees, but where the pool's mean lies exactly on a rounding boundary of fc's
    quantizer (calibration puts fc's alpha on the lattice of pool means, so such exact ties are
    common): there torch's result is float rounding noise, the golden's half to even. Nothing else
    may differ, and fc's integers give torch's top-1 on torch's own fc input codes."""
    golden = run_golden(graph, x)
    tc = torch_codes(model, x, precision="float64")
    a = agreement(tc, golden, graph=graph)
    assert all(r == 1.0 for name, r in a["layers"].items() if name != "fc"), a["mismatches"]
    iso = a["isolated"]
    assert iso["mismatches"] == iso["layers"]["pool"]["mismatches"] == a["mismatches"]["fc"]
    if iso["mismatches"]:
        assert iso["max_margin_lsb"] < 1e-9  # exact ties, up to float64 rounding
    # top-1 can differ only where the golden's outputs for the two classes are within the fixed-
    # point bias's rounding (2 * 2^-(F+1) steps) of each other, equal integers included
    f = graph.nodes[-1].bias_frac_bits
    assert iso["fc"]["top1_max_gap_scale"] <= 2.0**-f + 1e-9
    return golden, iso


def test_lowered_graph_mirrors_the_model(model_and_images):
    model, _ = model_and_images
    g = lower(model)
    specs = mbv1_specs(WIDTH, RES, 1, 10)
    assert [n.name for n in g.layers] == [s.name for s in specs] == list(model.layers)
    assert (g.name, g.width, g.resolution, g.in_channels, g.classes) == ("mbv1", WIDTH, RES, 1, 10)
    assert g.input.bits == 8 and g.meta["method"] == "sat"
    for n, s in zip(g.layers, specs, strict=True):
        assert n.op == s.op and n.in_shape[0] == s.in_ch and n.out_shape[0] == s.out_ch
        assert n.in_shape[1:] == (s.in_size,) * 2 and n.out_shape[1:] == (s.out_size,) * 2
        b = model.config["bits"][s.name]
        assert n.abits == b["abits"] and getattr(n, "wbits", 0) == b["wbits"]
        if isinstance(n, Conv):
            assert (n.kernel, n.stride, n.pad) == (s.kernel, s.stride, s.kernel // 2)
            assert n.groups == (s.in_ch if s.op == "dw" else 1)
            k = quant.weight_levels(model.layers[s.name].conv.weight, n.wbits).numpy()
            np.testing.assert_array_equal(n.weights, 2 * k - (2**n.wbits - 1))
    assert isinstance(g.node("pool"), AvgPool) and isinstance(g.node("fc"), Linear)


def test_sat_last_layer_scale_and_bias_are_folded(model_and_images):
    model, x = model_and_images
    fc = model.layers["fc"]
    with torch.no_grad():
        fc.fc.bias.copy_(torch.linspace(-0.3, 0.3, fc.fc.bias.numel()))
    try:
        g = lower(model)
        node = g.node("fc")
        q = quant.quantize_weight(fc.fc.weight, 8)
        s = quant.weight_scale(q, fc.fc.out_features)
        assert node.scale == pytest.approx(s / 255 * fc.act.alpha.item() / 15, rel=1e-12)
        assert node.bias_frac_bits == BIAS_FRAC_BITS == 8
        f = node.bias_frac_bits
        np.testing.assert_array_equal(node.bias, np.rint(fc.fc.bias.detach().double().numpy()
                                                         / node.scale * 2.0**f))
        assert len(set(node.bias.tolist())) == node.bias.size  # linspace: no two biases equal
        _, iso = assert_exact_against_float64(model, g, x)
        # logits = scale * (acc * 2^F + round(bias/scale * 2^F)) / 2^F: off by at most 2^-(F+1)
        # of a step (bias rounding), plus float64 noise
        assert iso["fc"]["max_logit_error_scale"] <= 2.0 ** -(f + 1) + 1e-9
    finally:
        with torch.no_grad():
            fc.fc.bias.zero_()


def test_agreement_with_float32_pytorch_and_ties(model_and_images):
    model, x = model_and_images
    g = lower(model)
    tc = torch_codes(model, x)
    assert set(tc) == {*model.layers, "logits"}
    assert tc["dw1"].dtype == np.uint8 and tc["fc"].shape == (8, g.node("fc").in_shape[0], 1, 1)
    golden = run_golden(g, x)
    a = agreement(tc, golden, graph=g)
    assert a["images"] == 8 and set(a["layers"]) == set(list(model.layers)[1:])
    assert a["code_match_rate"] >= 0.999, a["mismatches"]
    assert a["top1_match_rate"] >= 0.9
    iso = a["isolated"]
    # every difference left when each layer gets torch's own inputs is a float32 rounding tie
    assert iso["ties"] == iso["mismatches"]
    assert iso["max_margin_lsb"] < 1e-3
    assert iso["fc"]["top1_mismatches"] == iso["fc"]["top1_ties"]  # zero biases: equal accs
    assert iso["code_match_rate"] >= 0.9999


def test_golden_equals_naive_on_a_lowered_model(model_and_images):
    model, x = model_and_images
    g = lower(model)
    a, b = run_golden(g, x[:2]), run_naive(g, x[:2])
    for name in a.codes:
        np.testing.assert_array_equal(a.codes[name], b.codes[name], err_msg=name)
    np.testing.assert_array_equal(a.outputs, b.outputs)


def test_negative_slope_zero_variance_and_zero_gamma_channels():
    model, x = make_model(seed=1)
    with torch.no_grad():
        for name in ("conv0", "dw1", "pw1", "dw5", "pw13"):
            bn = model.layers[name].bn
            c = bn.num_features
            bn.weight[: c // 3] *= -1                 # negative slope
            bn.bias[: c // 3] += 1.0
            bn.running_var[c // 3: c // 3 + 2] = 0.0  # zero variance: g = gamma / sqrt(eps)
            bn.running_mean[c // 3: c // 3 + 2] += 0.01
            bn.weight[-2:] = 0.0                      # zero slope: constant code from beta
            bn.bias[-2:] = torch.tensor([0.3, 100.0])
    g = lower(model)
    for name in ("conv0", "dw1", "pw1", "dw5", "pw13"):
        n = g.node(name)
        c = n.out_shape[0]
        assert np.all(n.direction[: c // 3] == -1) and np.all(n.direction[c // 3:] == 1)
        assert np.all(np.diff(n.thresholds, axis=1) >= 0)
        assert np.all(n.thresholds[-1] == -n.acc_bound)  # beta 100 > alpha: always the top code
        assert np.all(np.isin(n.thresholds[-2], [-n.acc_bound, n.acc_bound + 1]))
    golden, _ = assert_exact_against_float64(model, g, x)
    for consumer in ("dw1", "pw1", "dw2"):  # outputs of conv0, dw1, pw1
        assert np.all(golden.codes[consumer][:, -1] == 15)
        const = golden.codes[consumer][:, -2]
        assert np.all(const == const.flat[0])
    a = agreement(torch_codes(model, x), golden, graph=g)
    assert a["isolated"]["ties"] == a["isolated"]["mismatches"]


@pytest.mark.parametrize("plan", ["uniform1", "uniform8", "mixed0", "mixed1"])
def test_every_bit_width_lowers_exactly(plan):
    """Uniform 1 and 8 bits, and two per-layer mixes in which every bit width 1..8 occurs as the
    weights and as the activations of several conv, dw and pw layers."""
    specs = mbv1_specs(WIDTH, RES, 1, 10)
    if plan.startswith("uniform"):
        u = int(plan[-1])
        b = default_bits(specs, u, u, first_wbits=u, last_wbits=u)
    else:
        s = int(plan[-1])
        b = {sp.name: {"wbits": 0 if sp.op == "pool" else (i // 2 + s) % 8 + 1,
                       "abits": 8 if i == 0 else (3 * (i // 2) + i % 2 + s) % 8 + 1}
             for i, sp in enumerate(specs)}
    model, x = make_model(bits=b, seed=len(plan) + 3)
    g = lower(model)
    for n in g.layers:
        assert n.abits == b[n.name]["abits"] and getattr(n, "wbits", 0) == b[n.name]["wbits"]
    if plan.startswith("mixed"):
        for op in ("dw", "pw"):
            assert {n.wbits for n in g.layers if n.op == op} == set(range(1, 9))
            assert {n.abits for n in g.layers if n.op == op} == set(range(1, 9))
    assert_exact_against_float64(model, g, x)


@pytest.mark.parametrize("method,scale_all", [("pact", False), ("cgpact", False), ("sat", True)])
def test_methods_lower_exactly(method, scale_all):
    model, x = make_model(method=method, scale_all_convs=scale_all, seed=7, in_ch=3, res=20)
    g = lower(model)
    assert g.meta == {"method": method, "scale_all_convs": scale_all}
    assert_exact_against_float64(model, g, x[:8])


def test_full_precision_models_are_refused():
    model = MobileNetV1(width=WIDTH, resolution=RES, in_channels=1, classes=10, method="fp")
    with pytest.raises(ValueError, match="'fp'"):
        lower(model)
    m, x = make_model()
    m.layers["pw3"].act.method = "fp"
    with pytest.raises(ValueError, match="layer pw3: activation method 'fp'"):
        read_model(m)
    with pytest.raises(ValueError, match="layer pw3"):
        torch_codes(m, x)


def test_bad_alpha_is_refused():
    m, _ = make_model()
    with torch.no_grad():
        m.layers["dw4"].act.alpha.fill_(0.0)
    with pytest.raises(ValueError, match="layer dw4: alpha must be finite and > 0"):
        lower(m)


def test_float64_twin_leaves_the_model_alone(model_and_images):
    model, x = model_and_images
    before = {k: v.clone() for k, v in model.state_dict().items()}
    twin = float64_twin(model)
    assert next(twin.parameters()).dtype == torch.float64
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert tie_analysis(lower(model), torch_codes(model, x, precision="float64"))["mismatches"] == 0
