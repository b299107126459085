"""The last layer's scale adjustment rule (quant.fc_scale, issue 25): fan_in gives Var(Q*) =
1/in_features, fan_out (the paper's, and every checkpoint's that names none) 1/out_features;
lowering, checkpoints, the zoo and the build follow the model's rule."""

from __future__ import annotations

import pytest
import torch

from sat_hw.flow import config
from sat_hw.flow.build import _check_file_against_checkpoint
from sat_hw.nn import quant, zoo
from sat_hw.nn.checkpoint import checkpoint_blob, load_checkpoint
from sat_hw.nn.lower import lower
from sat_hw.nn.models import MobileNetV1, QLinear

from test_graph_lower import assert_exact_against_float64, make_model


@pytest.mark.parametrize("fan,n", [("fan_in", 256), ("fan_out", 10)])
def test_scaled_fc_weights_have_variance_one_over_n(fan, n):
    torch.manual_seed(0)
    fc = QLinear(256, 10, wbits=4, method="sat", scaled=True, fan=fan)
    assert fc.scale_n == n
    q = fc.qweight().detach().double()
    assert q.var().item() == pytest.approx(1 / n, rel=1e-6)
    w, factor = fc.integer_weight()  # the integer form lowering uses (its scale in float64)
    torch.testing.assert_close((w.double() * factor).float(), fc.qweight().detach(), rtol=1e-6,
                               atol=0)


def test_bad_rule_is_refused():
    with pytest.raises(ValueError, match="fc_scale must be one of fan_in, fan_out, got 'fan'"):
        QLinear(8, 2, wbits=4, method="sat", scaled=True, fan="fan")
    with pytest.raises(ValueError, match="quant.fc_scale"):
        config.load_config(None, {"quant": {"fc_scale": "out"}})


def test_fan_in_model_lowers_exactly():
    model, x = make_model(fc_scale="fan_in", seed=3)
    fc = model.layers["fc"]
    g = lower(model)
    s = quant.weight_scale(quant.quantize_weight(fc.fc.weight, 8), fc.fc.in_features)
    assert g.node("fc").scale == pytest.approx(s / 255 * fc.act.alpha.item() / 15, rel=1e-12)
    assert_exact_against_float64(model, g, x)


def test_checkpoints_keep_the_rule_and_older_ones_read_as_fan_out(tmp_path):
    m = MobileNetV1(width=0.25, resolution=16, in_channels=1, classes=10, fc_scale="fan_in")
    blob = checkpoint_blob(m)
    torch.save(blob, tmp_path / "new.pt")
    assert load_checkpoint(tmp_path / "new.pt").layers["fc"].fc.scale_n == 256
    old = dict(blob, config={k: v for k, v in blob["config"].items() if k != "fc_scale"})
    torch.save(old, tmp_path / "old.pt")
    back = load_checkpoint(tmp_path / "old.pt")
    assert back.config["fc_scale"] == "fan_out" and back.layers["fc"].fc.scale_n == 10


def test_zoo_models_match_whatever_the_configured_rule():
    e = zoo.entries()
    if not e:
        pytest.skip("no zoo installed")
    want = dict(e[0]["config"], fc_scale="fan_in")
    assert zoo.find(want, e[0]["data"])["file"] == e[0]["file"]


def test_a_config_file_may_not_contradict_the_checkpoints_rule():
    ckpt = {"method": "sat", "scale_all_convs": False, "bits": {}}  # an older checkpoint
    _check_file_against_checkpoint(ckpt, {"quant": {"fc_scale": "fan_out"}}, "f.toml")
    with pytest.raises(ValueError, match=r"f\.toml: quant\.fc_scale = 'fan_in' contradicts the "
                       r"checkpoint's fc_scale 'fan_out'"):
        _check_file_against_checkpoint(ckpt, {"quant": {"fc_scale": "fan_in"}}, "f.toml")


def test_resume_reads_an_older_checkpoint_as_the_papers_rule():
    from sat_hw.flow.train import _same_model

    now = MobileNetV1(width=0.25, resolution=16, in_channels=1, classes=10).config
    older = {k: v for k, v in now.items() if k != "fc_scale"}
    assert now["fc_scale"] == "fan_out" and _same_model(older, now)
    assert not _same_model(older, dict(now, fc_scale="fan_in"))
    fp = dict(now, method="fp", fc_scale="fan_in")  # FP: the rule scales nothing
    assert _same_model(dict(older, method="fp"), fp)
