"""SAT quantizers: weight levels, scale adjustment, CG-PACT / PACT gradients, STE."""

import pytest
import torch

from sat_hw.nn.quant import act_codes, quantize_act, quantize_weight, scale_adjust, weight_levels

BITS = range(1, 9)


def _weights(seed: int = 0, n: int = 4096) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64) * 0.8


@pytest.mark.parametrize("bits", BITS)
def test_weight_levels_and_values(bits):
    n = 2**bits - 1
    w = torch.cat([torch.linspace(-3, 3, 20001, dtype=torch.float64), _weights()])
    q = quantize_weight(w, bits)
    levels = torch.unique(q)
    assert len(levels) == 2**bits
    expected = (2 * torch.arange(n + 1, dtype=torch.float64) - n) / n
    torch.testing.assert_close(levels, expected, rtol=0, atol=1e-12)
    assert not (levels == 0).any(), "SAT weights have no zero level"
    ints = q * n  # integer form w = 2k - n: odd integers in -n..n
    assert torch.equal(ints.round(), ints.round().clamp(-n, n))
    torch.testing.assert_close(ints, ints.round(), rtol=0, atol=1e-9)
    assert (ints.round().long() % 2 == 1).all()
    k = weight_levels(w, bits)
    torch.testing.assert_close(2 * k - n, ints.round(), rtol=0, atol=0)
    assert q.min() == -1 and q.max() == 1  # max|W_hat| = 1 lands on the end levels


def test_weight_bits_validated():
    with pytest.raises(ValueError, match="wbits.*9"):
        quantize_weight(torch.zeros(3), 9)
    with pytest.raises(ValueError, match="abits.*0"):
        quantize_act(torch.zeros(3), torch.tensor(1.0), 0)


def test_weight_ste():
    w = _weights().requires_grad_()
    q = quantize_weight(w, 3)
    g = torch.randn_like(q)
    q.backward(g)
    # gradient through round is the identity, so it equals the gradient of the unrounded map
    w2 = w.detach().clone().requires_grad_()
    t = torch.tanh(w2)
    smooth = 2 * (7 * (t / t.abs().max() + 1) / 2) / 7 - 1
    smooth.backward(g)
    torch.testing.assert_close(w.grad, w2.grad)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (10, 256), (32, 1, 3, 3)])
def test_scale_adjust_variance(bits, shape):
    w = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(bits))
    n_out = shape[0] * (shape[2] * shape[3] if len(shape) == 4 else 1)
    qs = scale_adjust(quantize_weight(w, bits), n_out)
    torch.testing.assert_close(qs.var(), torch.tensor(1.0 / n_out, dtype=torch.float64))


def test_scale_adjust_no_gradient_through_scale():
    w = _weights().requires_grad_()
    q = quantize_weight(w, 4)
    scale = 1 / torch.sqrt(10 * q.detach().var())
    g = torch.randn_like(q)
    scale_adjust(q, 10).backward(g)
    w2 = w.detach().clone().requires_grad_()
    (quantize_weight(w2, 4) * scale).backward(g)
    torch.testing.assert_close(w.grad, w2.grad)


def _act_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, generator=g, dtype=torch.float64) * 2
    return x, torch.randn(2000, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_cgpact_alpha_gradient_closed_form(bits):
    x, g = _act_inputs()
    n = 2**bits - 1
    grads = {}
    for method in ("cgpact", "pact"):
        alpha = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
        quantize_act(x, alpha, bits, method).backward(g)
        grads[method] = alpha.grad.item()
    a = 1.7
    xc = x.clamp(0, a)
    q = torch.round(n * xc / a) / n
    above = x >= a
    closed = (g * torch.where(above, torch.ones_like(x), q - xc / a)).sum().item()
    pact = g[above].sum().item()
    assert grads["cgpact"] == pytest.approx(closed, rel=1e-12, abs=1e-12)
    assert grads["pact"] == pytest.approx(pact, rel=1e-12, abs=1e-12)
    assert abs(grads["cgpact"] - grads["pact"]) > 1e-3


def test_sat_uses_cgpact_gradient():
    x, g = _act_inputs()
    grads = []
    for method in ("sat", "cgpact"):
        alpha = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
        quantize_act(x, alpha, 3, method).backward(g)
        grads.append(alpha.grad.item())
    assert grads[0] == grads[1]


@pytest.mark.parametrize("method", ["cgpact", "pact"])
def test_act_ste_for_x(method):
    x, g = _act_inputs()
    x = x.requires_grad_()
    alpha = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    quantize_act(x, alpha, 4, method).backward(g)
    inside = (x.detach() >= 0) & (x.detach() < 1.5)
    torch.testing.assert_close(x.grad, torch.where(inside, g, torch.zeros_like(g)), rtol=0, atol=0)


@pytest.mark.parametrize("bits", BITS)
def test_act_codes_range_and_values(bits):
    n = 2**bits - 1
    x = torch.linspace(-2, 5, 7001, dtype=torch.float64)
    alpha = 2.5
    y = quantize_act(x, torch.tensor(alpha, dtype=torch.float64), bits)
    codes = act_codes(x, alpha, bits)
    assert codes.min() == 0 and codes.max() == n
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=0)
    assert len(torch.unique(codes)) == n + 1
    torch.testing.assert_close(y, alpha * codes / n, rtol=0, atol=1e-12)
    assert (y[x <= 0] == 0).all() and (y[x >= alpha] == alpha).all()


def test_act_accepts_float_alpha():
    x = torch.linspace(0, 3, 31)
    torch.testing.assert_close(quantize_act(x, 2.0, 2), quantize_act(x, torch.tensor(2.0), 2))
    with pytest.raises(ValueError, match="'bogus'"):
        quantize_act(x, 2.0, 2, "bogus")


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("method", ["cgpact", "pact"])
def test_fast_act_quantizer_equals_the_reference(bits, method, monkeypatch):
    """The restructured quantizer, eager and fused, gives the reference's outputs and gradients
    exactly, in both memory layouts."""
    from sat_hw.nn import fused as fused_mod
    from sat_hw.nn.quant import _ActQuant, _ActQuantReference

    g = torch.Generator().manual_seed(bits)
    x0 = torch.randn(16, 8, 7, 7, generator=g) * 3
    alpha = 2.5
    flat = x0.view(-1)
    flat[:40] = alpha  # exactly at alpha, at zero and -0.0, and on rounding boundaries
    flat[40:50] = 0.0
    flat[50:60] = -0.0
    n = 2**bits - 1
    flat[60:80] = (torch.arange(20) % n + 0.5) * alpha / n
    grad = torch.randn(x0.shape, generator=g)
    got = []
    layouts = [x0, x0.contiguous(memory_format=torch.channels_last)]
    runs = [(_ActQuantReference, x0, True), (_ActQuant, x0, False)] \
        + [(_ActQuant, xl, True) for xl in layouts]  # the fused (compiled) kernel, 2 layouts
    for fn, xin, fused in runs:
        monkeypatch.setattr(fused_mod, "ENABLED", fused)
        x = xin.clone(memory_format=torch.preserve_format).requires_grad_()
        a = torch.tensor(alpha, requires_grad=True)
        y = fn.apply(x, a, bits, method != "pact")
        y.backward(grad)
        got.append((y.detach(), x.grad, a.grad))
        assert y.stride() == xin.stride() and x.grad.stride() == xin.stride()
    assert fused_mod.ENABLED, "the fused kernels failed to compile (see the warning)"
    for run in got[1:]:
        for ref, new in zip(got[0], run):
            assert torch.equal(ref, new)
    with torch.no_grad():  # evaluation: the same values, nothing saved
        y = _ActQuant.apply(x0, torch.tensor(alpha), bits, True)
    assert torch.equal(y, got[0][0])
    assert torch.equal(act_codes(x0, alpha, bits), torch.round(n * torch.minimum(
        torch.clamp(x0, min=0), torch.tensor(alpha)) / alpha))


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("shape", [(8, 4, 3, 3), (16, 1, 3, 3), (10, 32), (7,)])
@pytest.mark.parametrize("c_loops", [True, False])
def test_weight_quantizer_node_equals_autograd(bits, shape, c_loops, monkeypatch):
    """quantize_weight's single autograd node (C loops or ATen operations) gives the reference's
    values and weight gradients bit for bit, also with a tie for max|tanh(w)| (the gradient is
    split between the two)."""
    from sat_hw.nn import fused
    from sat_hw.nn.quant import _weight_quant_reference

    monkeypatch.setattr(fused, "ENABLED", c_loops)

    g = torch.Generator().manual_seed(bits * 100 + len(shape))
    w0 = torch.randn(shape, generator=g) * 0.3
    flat = w0.view(-1)
    i = int(flat.abs().argmax())
    flat[(i + 3) % flat.numel()] = -flat[i]  # a second maximal |w|, of the other sign
    grad = torch.randn(shape, generator=g)
    got = []
    for fn in (_weight_quant_reference, quantize_weight):
        w = w0.clone().requires_grad_()
        q = fn(w, bits)
        (q * 0.7).backward(grad)
        got.append((q.detach(), w.grad))
    assert torch.equal(got[0][0], got[1][0]) and torch.equal(got[0][1], got[1][1])
    assert fused.ENABLED == c_loops, "the C loops failed to compile (see the warning)"


def test_fused_kernels_fall_back_without_a_compiler(monkeypatch, tmp_path):
    """No C compiler: one warning, the kernels turn off, and training runs the eager path."""
    from sat_hw.nn import fused

    monkeypatch.setattr(fused, "_lib", None)
    monkeypatch.setattr(fused, "ENABLED", True)
    monkeypatch.setattr(fused, "CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("SAT_HW_CACHE", str(tmp_path / "cache"))
    x = torch.linspace(-1, 3, 40, requires_grad=True)
    with pytest.warns(UserWarning, match="fused activation quantizer off"):
        y = quantize_act(x, torch.tensor(2.0, requires_grad=True), 3)
    assert not fused.ENABLED and not (tmp_path / "cache" / "fused").exists()
    y.sum().backward()
    assert torch.equal(y.detach(), quantize_act(x.detach(), 2.0, 3))
