"""MobileNetV1: layer names and shapes, checkpoints, calibration, per-layer bits from flow.toml."""

import itertools

import pytest
import torch

from sat_hw.flow import config
from sat_hw.nn import models
from sat_hw.nn.checkpoint import load_checkpoint, save_checkpoint
from sat_hw.nn.models import ALPHA_NUDGE, MobileNetV1, calibrate, mbv1_specs

NAMES = ["conv0"] + [f"{k}{i}" for i in range(1, 14) for k in ("dw", "pw")] + ["pool", "fc"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("resolution, last", [(28, 4), (32, 4), (224, 7)])
def test_layer_names_and_shapes(resolution, last):
    specs = mbv1_specs(0.25, resolution, 3, 1000)
    assert [s.name for s in specs] == NAMES
    assert [s.op for s in specs[:3]] == ["conv", "dw", "pw"]
    for a, b in itertools.pairwise(specs):  # shapes chain
        assert a.out_ch == b.in_ch
        assert a.out_size == b.in_size
    assert specs[0].stride == (1 if resolution < 128 else 2)
    assert specs[-2].in_size == last and specs[-1].in_ch == 256 and specs[-1].out_ch == 1000
    strided = [s.name for s in specs if s.stride == 2]
    small = ["dw2", "dw4", "dw6"]
    assert strided == (small if resolution < 128 else ["conv0"] + small + ["dw12"])


@pytest.mark.parametrize("resolution", [28, 32, 224])
def test_forward_shape(resolution):
    m = MobileNetV1(width=0.25, resolution=resolution, in_channels=3, classes=12).eval()
    x = torch.randint(0, 256, (2, 3, resolution, resolution)).float()
    with torch.no_grad():
        assert m(x).shape == (2, 12)
    assert list(m.layers) == NAMES


def test_bad_shape_arguments():
    with pytest.raises(ValueError, match="width.*0"):
        mbv1_specs(width=0)
    with pytest.raises(ValueError, match="resolution.*4"):
        mbv1_specs(resolution=4)
    with pytest.raises(ValueError, match="method.*'int8'"):
        MobileNetV1(method="int8")


def _calibrated(method: str = "sat") -> MobileNetV1:
    torch.manual_seed(0)
    m = MobileNetV1(width=0.25, resolution=16, in_channels=1, classes=10, method=method,
                    wbits=3, abits=3)
    images = torch.randint(0, 256, (32, 1, 16, 16), generator=torch.Generator().manual_seed(1))
    return calibrate(m, images.to(torch.uint8), percentile=99.0)


def test_calibrate_sets_alphas_and_bn():
    m = _calibrated()
    alphas = {n: a.alpha.item() for n, a in m.act_quantizers()}
    assert set(alphas) == set(NAMES[1:])  # every layer but conv0 has an input quantizer
    assert all(0 < a < 8.0 for a in alphas.values())
    assert len(set(alphas.values())) > 10
    bn = m.layers.conv0.bn
    assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    assert bn.num_batches_tracked.item() == 1
    assert not m.training


def test_calibrate_alpha_is_percentile_of_input():
    torch.manual_seed(0)
    m = MobileNetV1(width=0.25, resolution=16, in_channels=1, classes=10, wbits=4, abits=4)
    images = torch.randint(0, 256, (16, 1, 16, 16), generator=torch.Generator().manual_seed(2))
    calibrate(m, images, percentile=90.0)
    with torch.no_grad():
        y = m.layers.conv0(images.float() / 255.0)  # dw1's input: conv0 + BN (calibrated)
    want = torch.quantile(y.flatten(), 0.9).item() * ALPHA_NUDGE
    assert m.layers.dw1.act.alpha.item() == pytest.approx(want, rel=1e-5)
    assert ALPHA_NUDGE == 1 + 2**-12  # off the input's grid, by less than 0.03 %


def test_calibrate_bn_false_keeps_bn():
    m = _calibrated()
    before = {k: v.clone() for k, v in m.state_dict().items() if "bn" in k}
    images = torch.randint(0, 256, (8, 1, 16, 16), generator=torch.Generator().manual_seed(3))
    calibrate(m, images, percentile=50.0, bn=False)
    after = m.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


@pytest.mark.parametrize("method", ["fp", "pact", "sat"])
def test_checkpoint_round_trip(tmp_path, method):
    m = _calibrated(method)
    path = tmp_path / "m.pt"
    save_checkpoint(m, path, meta={"epoch": 3, "top1": 0.5})
    back = load_checkpoint(path)
    assert not back.training
    assert back.config == m.config and back.meta == {"epoch": 3, "top1": 0.5}
    x = torch.randint(0, 256, (4, 1, 16, 16)).float()
    with torch.no_grad():
        assert torch.equal(m(x), back(x))
    for k, v in m.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": 1}, bad)
    with pytest.raises(ValueError, match="not a sat_hw checkpoint"):
        load_checkpoint(bad)


def _cfg(tmp_path, text: str) -> dict:
    p = tmp_path / "flow.toml"
    p.write_text(text)
    return config.load_config(p)


def test_per_layer_override(tmp_path):
    cfg = _cfg(tmp_path, "[quant]\nwbits = 4\nabits = 3\n[quant.layers.pw3]\nwbits = 2\n"
                         "[quant.layers.fc]\nabits = 6\n[quant.layers.conv0]\nwbits = 5\n")
    bits = config.layer_bits(cfg)
    assert bits["pw3"] == {"wbits": 2, "abits": 3}
    assert bits["fc"] == {"wbits": 8, "abits": 6}
    assert bits["conv0"] == {"wbits": 5, "abits": 8}
    assert bits["pw4"] == {"wbits": 4, "abits": 3}
    m = config.model_from_config(cfg)
    assert m.layers.pw3.conv.wbits == 2 and m.layers.pw3.act.bits == 3
    assert m.layers.fc.act.bits == 6 and m.layers.conv0.conv.wbits == 5
    # flags override the file
    cfg2 = config.load_config(tmp_path / "flow.toml", {"quant": {"abits": 2, "wbits": None}})
    assert config.layer_bits(cfg2)["pw4"] == {"wbits": 4, "abits": 2}
    assert config.layer_bits(cfg2)["pw3"] == {"wbits": 2, "abits": 2}


@pytest.mark.parametrize("text, match", [
    ("[quant.layers.pw99]\nwbits = 2\n", "pw99"),
    ("[quant.layers.pw3]\nwbits = 9\n", "quant.layers.pw3.wbits.*9"),
    ("[quant.layers.pw3]\nabits = 0\n", "quant.layers.pw3.abits.*0"),
    ("[quant.layers.pw3]\nbits = 2\n", "unknown key quant.layers.pw3.bits"),
    ("[quant.layers.pw3]\nwbits = \"2\"\n", "quant.layers.pw3.wbits.*'2'"),
    ("[quant.layers.pw3]\nwbits = 2.0\n", "quant.layers.pw3.wbits.*2.0"),
    ("[quant.layers.pool]\nwbits = 2\n", "pool"),
    ("[quant]\nwidth = 2\n", "unknown key quant.width"),
    ("[quant]\nwbits = true\n", "quant.wbits.*True"),
    ("[train]\nlr = -1\n", "train.lr.*-1"),
])
def test_per_layer_override_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        _cfg(tmp_path, text)


def test_model_specs_unknown_model():
    with pytest.raises(ValueError, match="'resnet'"):
        models.model_specs("resnet")


@pytest.mark.parametrize("method", ["pact", "sat"])
def test_integer_eval_computes_the_fake_quant_values(method):
    """Eval's integer-grid arithmetic and the training graph compute the same model: identical
    where no value sits within float32 rounding of a rounding boundary."""
    m = _calibrated(method)
    x = torch.randint(0, 256, (32, 1, 16, 16), generator=torch.Generator().manual_seed(5)).float()
    with torch.no_grad():
        exact = m(x)
        for mod in m.modules():
            if hasattr(mod, "integer_eval"):
                mod.integer_eval = False
        plain = m(x)
    assert torch.isfinite(exact).all() and exact.shape == (32, 10)
    assert not torch.equal(exact, plain)  # two different computations...
    close = torch.isclose(exact, plain, rtol=1e-4, atol=1e-4).all(dim=1)
    assert close.float().mean() >= 0.9  # ...of the same values (a rare code flip moves a row)
