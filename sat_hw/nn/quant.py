"""SAT quantizers: DoReFa weights, scale adjustment, CG-PACT / PACT activations.

Arithmetic (see DESIGN.md, "Arithmetic contract"):

- weights, ``b`` bits: ``W_hat = tanh(W) / max|tanh(W)|``,
  ``Q = 2 * round((2^b - 1) * (W_hat + 1) / 2) / (2^b - 1) - 1``. There are ``2^b`` levels on
  [-1, 1], none of them zero; the integer form is ``w = 2k - (2^b - 1)``, ``k in 0..2^b-1``.
  ``round`` is ``torch.round`` (half to even); the gradient passes straight through it.
- scale adjustment: ``Q* = Q / sqrt(n * Var(Q))`` with the unbiased variance, no gradient
  through the scale.
- activations, ``b`` bits: ``y = alpha * round((2^b - 1) * clip(x, 0, alpha) / alpha) / (2^b - 1)``,
  codes ``0..2^b-1``. ``dy/dx = 1`` on ``0 <= x < alpha`` (STE), else 0. ``dy/dalpha = 1`` where
  ``x >= alpha``; below alpha CG-PACT gives ``q(x~/alpha) - x~/alpha`` (``x~ = clip(x, 0, alpha)``),
  PACT gives 0.
- signed activations (residual networks' ReLU-free tensors, docs/residual.md), ``b >= 2`` bits:
  ``y = step * clamp(round(x / step), -z, z-1)``, ``z = 2^(b-1)``, ``step = alpha / (z-1)``, codes
  ``q + z`` in ``0..2^b-1``. Computed as the unsigned quantizer shifted by ``z * step`` with
  clipping level ``(2^b-1) * step``, so the gradients are CG-PACT's (or PACT's) on that range:
  ``dy/dalpha = 1`` above, ``-z/(z-1)`` below, the calibrated term in between.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sat_hw.nn import fused

METHODS = ("fp", "pact", "cgpact", "sat")
"""Training methods: full precision; PACT + DoReFa; CG-PACT + DoReFa; CG-PACT + DoReFa + scale."""


def check_bits(bits: int, what: str = "bits") -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f"{what} must be an integer 1..8, got {bits!r}")
    return bits


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        return g


def weight_levels(w: Tensor, bits: int) -> Tensor:
    """Integer level index ``k in 0..2^b-1`` of each weight (no gradient)."""
    n = 2**bits - 1
    with torch.no_grad():
        t = torch.tanh(w)
        w_hat = t / t.abs().max()
        return torch.round(n * (w_hat + 1) / 2)


def quantize_weight(w: Tensor, bits: int) -> Tensor:
    """SAT/DoReFa weight levels ``Q`` in [-1, 1] (before scale adjustment), STE through round."""
    check_bits(bits, "wbits")
    return _WeightQuant.apply(w, 2**bits - 1)


def _weight_quant_reference(w: Tensor, bits: int) -> Tensor:
    """:func:`quantize_weight` written plainly, differentiated by autograd (as first landed): the
    reference :class:`_WeightQuant` is tested against (identical values and gradients)."""
    n = 2**bits - 1
    t = torch.tanh(w)
    w_hat = t / t.abs().max()
    return 2 * _RoundSTE.apply(n * (w_hat + 1) / 2) / n - 1


class _WeightQuant(torch.autograd.Function):
    """:func:`_weight_quant_reference` as one autograd node (a step quantizes ~30 small weight
    tensors; the reference's ~20 autograd nodes each cost more than their arithmetic).

    The backward performs the very operations autograd derives for the reference, in its order:
    ``2*R/n - 1`` and ``n*(w_hat+1)/2`` with the STE give ``((g/n)*2/2)*n``, which is
    ``(g/n)*n`` exactly (scaling by 2 is exact); ``t/m`` gives ``g'/m`` to ``t`` and
    ``sum(-g' * ((t/m)/m))`` to ``m``; ``max`` hands that to the maximal ``|t|`` elements, split
    evenly, and ``abs`` multiplies by ``sgn(t)``; the two gradients of ``t`` add (the order of two
    addends does not matter); ``tanh``'s backward is ATen's ``tanh_backward``.
    """

    @staticmethod
    def forward(ctx, w: Tensor, n: int) -> Tensor:
        t = torch.tanh(w)
        ctx.n = n
        ctx.fused = w.device.type == "cpu" and fused.usable(t)
        if ctx.fused:  # the rest of the forward, and most of the backward, as C loops
            q, m = fused.weight_levels(t, n)
            ctx.save_for_backward(t, m)
            return q
        m = t.abs().max()
        ctx.save_for_backward(t, m)
        return 2 * torch.round(n * (t / m + 1) / 2) / n - 1

    @staticmethod
    def backward(ctx, g: Tensor):
        t, m = ctx.saved_tensors
        gt = fused.weight_grad(g, t, m, ctx.n) if ctx.fused else None
        if gt is None:
            gt = _WeightQuant._grad_t(g, t, m, ctx.n)
        return torch.ops.aten.tanh_backward(gt, t), None

    @staticmethod
    def _grad_t(g: Tensor, t: Tensor, m: Tensor, n: int) -> Tensor:
        """d loss/d t from d loss/d q, in ATen operations (as :func:`sat_hw.nn.fused.weight_grad`)."""
        a, w_hat = t.abs(), t / m
        g = g / n * 2 / 2 * n
        gt = g / m
        gm = -g * (w_hat / m)
        gm = gm.sum(list(range(gm.dim())), keepdim=True).reshape(m.shape)  # autograd's sum_to
        mask = a == m
        return gt + torch.zeros_like(a).masked_fill_(mask, gm / mask.sum()) * t.sgn()


def scale_adjust(q: Tensor, n: int) -> Tensor:
    """``Q / sqrt(n * Var(Q))`` (unbiased variance, scale detached), so ``Var = 1/n``; the paper's
    ``n`` is the layer's outputs (``n_out``), the fc's default here its inputs
    (:class:`sat_hw.nn.models.QLinear`, docs/training.md)."""
    scale = 1.0 / torch.sqrt(n * q.detach().var())
    return q * scale


def weight_scale(q: Tensor, n: int) -> float:
    """The scale factor :func:`scale_adjust` multiplies by, as a Python float (for lowering)."""
    return float(1.0 / torch.sqrt(n * q.detach().double().var()))


class _ActQuantReference(torch.autograd.Function):
    """The quantizer written plainly (as first landed): the reference that :class:`_ActQuant`
    is tested against (identical outputs and gradients) and the benchmark's baseline."""

    @staticmethod
    def forward(ctx, x: Tensor, alpha: Tensor, bits: int, calibrated: bool) -> Tensor:
        n = 2**bits - 1
        xc = torch.minimum(torch.clamp(x, min=0), alpha)
        q = torch.round(n * xc / alpha) / n
        ctx.save_for_backward(x, alpha, xc, q)
        ctx.calibrated = calibrated
        ctx.n = n
        return q * alpha

    @staticmethod
    def backward(ctx, g: Tensor):
        x, alpha, xc, q = ctx.saved_tensors
        inside = (x >= 0) & (x < alpha)
        gx = g * inside.to(g.dtype)
        above = (x >= alpha).to(g.dtype)
        if ctx.calibrated:
            da = above + (1 - above) * (q - xc / alpha)
        else:
            da = above
        ga = (g * da).sum().reshape(alpha.shape)
        return gx, ga, None, None


class _ActQuant(torch.autograd.Function):
    """The quantizer restructured for speed, with the reference's exact floating-point values.

    The forward does the backward's elementwise work while the tensors are at hand and saves
    only two tensors: ``inside`` (1.0 where ``0 <= x < alpha``) and ``da`` (d out/d alpha per
    element). Masks are float tensors written by comparisons with ``out=`` (bool masks and
    their conversions cost several times more on the CPU), and intermediates are updated in
    place. Every value equals the reference's: the same operations in the same order on the
    same operands (``da = (q - xc/alpha) * below + above`` is the reference's
    ``above + (1 - above) * (q - xc/alpha)`` with ``below = 1 - above`` and the sum's operands
    swapped). On the CPU alpha enters as a Python float (the CPU's float32 division by a scalar
    is a true division, as by the 0-dim tensor); on other devices it stays a tensor, since CUDA
    turns division by a host scalar into a multiply by its reciprocal. Without gradients
    (evaluation) nothing is saved and no mask is computed. Training on the CPU goes further:
    :mod:`sat_hw.nn.fused` computes the output in one C loop over ``x`` and the backward's
    terms in one more (the same values again).
    """

    @staticmethod
    def forward(ctx, x: Tensor, alpha: Tensor, bits: int, calibrated: bool) -> Tensor:
        n = 2**bits - 1
        grad = any(ctx.needs_input_grad[:2])
        ctx.alpha_shape, ctx.n, ctx.calibrated = alpha.shape, n, calibrated
        ctx.fused = grad and x.device.type == "cpu" and fused.usable(x)
        if ctx.fused:  # one C loop; the backward recomputes the masks from x
            ctx.save_for_backward(x, alpha)
            return fused.quant_out(x, alpha, n)
        out, inside, da = _eager_terms(x, alpha, n, calibrated, grad)
        if grad:
            ctx.save_for_backward(inside, da)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        if ctx.fused:
            x, alpha = ctx.saved_tensors
            res = fused.quant_grads(g, x, alpha, ctx.n, ctx.calibrated)
            if res is None:  # g in another layout than x: the eager terms, recomputed
                _, inside, da = _eager_terms(x, alpha, ctx.n, ctx.calibrated, True)
                res = g * inside, g * da
            gx, gda = res
        else:
            inside, da = ctx.saved_tensors
            gx, gda = g * inside, g * da
        return gx, gda.sum().reshape(ctx.alpha_shape), None, None


def _eager_terms(x: Tensor, alpha: Tensor, n: int, calibrated: bool, grad: bool):
    """The output, and with ``grad`` the two tensors the backward needs (else None)."""
    if x.device.type == "cpu":
        a = float(alpha)
        xc = x.clamp(0.0, a)
    else:
        a = alpha
        xc = torch.minimum(torch.clamp(x, min=0), alpha)
    q = (xc * n).div_(a).round_().div_(n)
    out = q * a
    if not grad:
        return out, None, None
    above = torch.ge(x, a, out=torch.empty_like(x))
    # 0 <= x < alpha: (x >= 0) - above, as above implies x >= 0 (alpha > 0)
    inside = torch.ge(x, 0, out=torch.empty_like(x)).sub_(above)
    if not calibrated:
        da = above
    elif x.device.type == "cpu":
        # r = q - xc/alpha is exactly 0 where x >= alpha (xc/alpha = alpha/alpha = 1 and
        # q = round(n*alpha/alpha)/n = 1, true divisions), so r + above = the reference's
        # above + (1 - above) * r without the multiply.
        da = q.sub_(xc.div_(a)).add_(above)
    else:  # there q may be 1 +- 1 ulp at x >= alpha (see above): mask r as the reference
        below = torch.lt(x, a, out=torch.empty_like(x))
        da = q.sub_(xc.div_(a)).mul_(below).add_(above)
    return out, inside, da


def quantize_act(x: Tensor, alpha: Tensor, bits: int, method: str = "cgpact") -> Tensor:
    """CG-PACT (default) or PACT activation quantizer; ``alpha`` is a (scalar) tensor."""
    check_bits(bits, "abits")
    if method not in ("cgpact", "pact", "sat"):
        raise ValueError(f"activation method must be cgpact, pact or sat, got {method!r}")
    if not torch.is_tensor(alpha):
        alpha = torch.tensor(float(alpha), dtype=x.dtype, device=x.device)
    return _ActQuant.apply(x, alpha, bits, method != "pact")


def act_codes(x: Tensor, alpha: float, bits: int) -> Tensor:
    """Integer activation codes ``0..2^b-1`` that :func:`quantize_act` represents (no gradient)."""
    n = 2**bits - 1
    with torch.no_grad():
        a = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
        if x.device.type == "cpu":  # the same values, fewer passes (see _ActQuant)
            a = float(a)
            return x.clamp(0.0, a).mul_(n).div_(a).round_()
        xc = torch.minimum(torch.clamp(x, min=0), a)
        return torch.round(n * xc / a)


def _signed_consts(bits: int) -> tuple[int, float, float]:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"signed abits must be an integer 2..8, got {bits!r}")
    z = 1 << (bits - 1)
    return z, z / (z - 1), ((1 << bits) - 1) / (z - 1)


def quantize_act_signed(x: Tensor, alpha: Tensor, bits: int, method: str = "cgpact") -> Tensor:
    """Signed activation quantizer (module doc): ``step * clamp(round(x/step), -z, z-1)``."""
    _, c, k = _signed_consts(bits)
    if not torch.is_tensor(alpha):
        alpha = torch.tensor(float(alpha), dtype=x.dtype, device=x.device)
    return quantize_act(x + c * alpha, k * alpha, bits, method) - c * alpha


def act_codes_signed(x: Tensor, alpha: float, bits: int) -> Tensor:
    """Codes ``z + clamp(round(x / step), -z, z-1)`` of :func:`quantize_act_signed` (no
    gradient), ``step = alpha / (z-1)``: the rule the thresholds implement."""
    z, _, _ = _signed_consts(bits)
    with torch.no_grad():
        step = float(alpha) / (z - 1)
        return torch.round(x / step).clamp_(-z, z - 1).add_(z)
