"""ResNet-20 and MobileNetV2: names and shapes, the signed quantizer, lowering agreement with
golden, checkpoints, and the build's refusal of RTL (issue 23)."""

import numpy as np
import pytest
import torch

from sat_hw.graph import Add, agreement, run_golden
from sat_hw.nn.checkpoint import load_checkpoint, save_checkpoint
from sat_hw.nn.lower import lower, torch_codes
from sat_hw.nn.models import build_model, calibrate, default_bits, model_specs
from sat_hw.nn.quant import act_codes_signed, quantize_act_signed
from sat_hw.nn.residual import mbv2_specs, resnet20_specs, tensor_bits

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(("resolution", "sizes"), [(32, (32, 16, 8)), (28, (28, 14, 7))])
def test_resnet20_names_and_shapes(resolution, sizes):
    nodes = resnet20_specs(1.0, resolution, 3, 10)
    names = [n.name for n in nodes]
    assert names[0] == "conv0" and names[-2:] == ["pool", "fc"]
    assert [n for n in names if n.endswith("_short")] == ["b4_short", "b7_short"]
    assert sum(n.endswith("_add") for n in names) == 9 and len(names) == 32
    add = {n.name: n for n in nodes}
    assert add["b1_add"].inputs == ("b1_conv2", "conv0")
    assert add["b4_add"].inputs == ("b4_conv2", "b4_short") and add["b4_short"].inputs == ("b3_add",)
    assert [n.spec.out_size for n in nodes if n.name in ("b1_add", "b4_add", "b7_add")] == list(sizes)
    assert {n.name for n in nodes if n.signed} == {f"b{i}_conv2" for i in range(1, 10)} | {
        "b4_short", "b7_short"}
    assert sum(s.params for s in model_specs("resnet20", width=1.0, resolution=32,
                                             in_channels=3, classes=10)) == (
        3 * 16 * 9 + 6 * 16 * 16 * 9 + 16 * 32 * 9 + 5 * 32 * 32 * 9 + 16 * 32
        + 32 * 64 * 9 + 5 * 64 * 64 * 9 + 32 * 64 + 64 * 10 + 10)  # 270,906: 1x1 shortcuts


@pytest.mark.parametrize(("resolution", "last"), [(28, 4), (224, 7)])
def test_mbv2_names_and_shapes(resolution, last):
    nodes = mbv2_specs(1.0, resolution, 3, 1000)
    names = [n.name for n in nodes]
    assert names[:3] == ["conv0", "b1_dw", "b1_project"] and names[-3:] == ["head", "pool", "fc"]
    adds = [n for n in names if n.endswith("_add")]
    assert len(adds) == 10 and "b2_add" not in adds and "b3_add" in adds
    spec = {n.name: n.spec for n in nodes}
    assert spec["pool"].in_size == last and spec["head"].out_ch == 1280
    assert spec["conv0"].stride == (1 if resolution < 128 else 2)
    # signed tensors are read only by 1x1 convs and adds (no padding on signed codes)
    signed = {n.name for n in nodes if n.signed}
    for n in nodes:
        if any(p in signed for p in n.inputs):
            assert n.spec.op in ("pw", "add"), n.name


def test_signed_quantizer_codes_and_gradients():
    x = torch.linspace(-3, 3, 1201, requires_grad=True)
    alpha = torch.tensor(1.0, requires_grad=True)
    y = quantize_act_signed(x, alpha, 3)  # z = 4, step = 1/3: values -4/3 .. 1
    codes = act_codes_signed(x.detach(), 1.0, 3)
    assert codes.min() == 0 and codes.max() == 7
    assert torch.equal(torch.round(y.detach() * 3) + 4, codes)  # the codes, exactly
    torch.testing.assert_close(y.detach(), (codes - 4) / 3, atol=1e-6, rtol=0)  # float values
    (y * (x > 1.2)).sum().backward()
    assert alpha.grad.item() == pytest.approx(float((x > 1.2).sum()))  # d/dalpha = 1 above
    alpha.grad = None
    quantize_act_signed(x, alpha, 3)[x < -2].sum().backward()
    assert alpha.grad.item() == pytest.approx(-4 / 3 * float((x < -2).sum()))
    with pytest.raises(ValueError, match="signed abits must be an integer 2..8, got 1"):
        act_codes_signed(x, 1.0, 1)


def test_a_fork_has_one_set_of_codes():
    nodes = resnet20_specs(0.25, 28, 1, 10)
    bits = default_bits([n.spec for n in nodes], 4, 4)
    assert tensor_bits(nodes, bits)["conv0"] == 4
    bits["b1_conv1"]["abits"] = 3
    assert tensor_bits(nodes, bits)["conv0"] == 3  # the add reads it at 3 bits too
    bits["b4_short"]["abits"] = 2
    with pytest.raises(ValueError, match="bits.b4_short.abits 2: it reads b3_add's codes, which "
                                         "b4_conv1 reads at 4 bits"):
        tensor_bits(nodes, bits)


def _model(name, wbits, abits, seed=0, bits=None):
    m = build_model(name, seed=seed, width=0.25, resolution=28, in_channels=1, classes=10,
                    wbits=wbits, abits=abits, bits=bits)
    imgs = np.random.default_rng(seed).integers(0, 256, (48, 1, 28, 28), dtype=np.uint8)
    return calibrate(m, imgs), imgs


@pytest.mark.parametrize(("name", "wbits", "abits"), [
    ("resnet20", 4, 4), ("resnet20", 2, 2), ("mbv2", 4, 4), ("mbv2", 2, 3), ("mbv2", 8, 8)])
def test_lowered_graph_agrees_with_pytorch(name, wbits, abits):
    m, imgs = _model(name, wbits, abits)
    g = lower(m)
    adds = [s.name for s in model_specs(name, width=0.25, resolution=28, in_channels=1,
                                        classes=10) if s.op == "add"]
    assert not g.is_chain and [n.name for n in g.nodes if isinstance(n, Add)] == adds
    assert len(adds) == (9 if name == "resnet20" else 11)  # mbv2 at 0.25: b2's 8 = 8 channels
    gold = run_golden(g, imgs[:12])
    a = agreement(torch_codes(m, imgs[:12]), gold, g)
    iso = a["isolated"]
    assert iso["ties"] == iso["mismatches"], iso  # every difference a rounding tie
    assert a["top1_match_rate"] == 1.0
    spread = [np.unique(v).size for v in gold.codes.values()]
    assert min(spread) >= min(3, 2**abits), spread  # not a degenerate (all-zero) network
    signed = [n for n in g.nodes if getattr(n, "out_zero", 0)]
    assert signed and all(n.out_zero == 2 ** (n.out_bits - 1) for n in signed)


def test_mixed_bits_and_checkpoint_round_trip(tmp_path):
    bits = default_bits(model_specs("resnet20", width=0.25, resolution=28, in_channels=1,
                                    classes=10), 4, 4)
    bits["b2_conv1"] = {"wbits": 2, "abits": 3}
    bits["b5_add"]["abits"] = 6
    m, imgs = _model("resnet20", 4, 4, seed=3, bits=bits)
    g = lower(m)
    assert g.node("b5_add").abits == 6 and g.node("b4_add").out_bits == 4
    save_checkpoint(m, tmp_path / "r.pt")
    back = load_checkpoint(tmp_path / "r.pt")
    x = torch.from_numpy(imgs[:4].astype(np.float32))
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x), atol=0, rtol=0)
    a = agreement(torch_codes(back, imgs[:8]), run_golden(g, imgs[:8]), g)
    assert a["isolated"]["ties"] == a["isolated"]["mismatches"]
