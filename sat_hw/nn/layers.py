"""The building blocks the models share: layer shapes, SAT quantized layers, exact integer eval.

``LayerSpec`` (a layer's shape, torch-free), ``ActQ`` (activation quantizer, unsigned or signed),
``QConv2d``/``QLinear`` (SAT weights), ``default_bits``, and the helpers that make eval mode exact
(``_exact``) and calibration reproducible (``_sample``, ``ALPHA_NUDGE``). MobileNetV1
(:mod:`sat_hw.nn.models`) and the residual networks (:mod:`sat_hw.nn.residual`) build on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sat_hw.nn.quant import (
    act_codes,
    check_bits,
    quantize_act,
    quantize_act_signed,
    quantize_weight,
    scale_adjust,
    weight_levels,
    weight_scale,
)


@dataclass(frozen=True)
class LayerSpec:
    """Shape of one layer, independent of torch: ``op`` in conv, dw, pw, pool, fc, add."""

    name: str
    op: str
    in_ch: int
    out_ch: int
    kernel: int
    stride: int
    in_size: int
    out_size: int

    @property
    def params(self) -> int:
        if self.op in ("pool", "add"):
            return 0
        if self.op == "dw":
            return self.out_ch * self.kernel * self.kernel
        bias = self.out_ch if self.op == "fc" else 0
        return self.in_ch * self.out_ch * self.kernel * self.kernel + bias

    @property
    def macs(self) -> int:
        if self.op in ("pool", "add"):
            return 0
        weights = self.params - (self.out_ch if self.op == "fc" else 0)
        return weights * self.out_size * self.out_size


def _channels(c: int, width: float) -> int:
    return max(8, round(c * width / 8) * 8)


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


FC_SCALES = ("fan_in", "fan_out")
"""The last layer's scale adjustment: Var(Q*) = 1/in_features or 1/out_features (the paper's)."""


class ActQ(nn.Module):
    """Activation quantizer with a learnable clipping level ``alpha`` (ReLU for method fp).

    ``signed`` (residual networks' ReLU-free tensors, docs/residual.md): codes with a zero point,
    :func:`~sat_hw.nn.quant.quantize_act_signed` (identity for method fp)."""

    def __init__(self, bits: int, method: str, alpha: float = 8.0, signed: bool = False):
        super().__init__()
        self.bits, self.method, self.signed = check_bits(bits, "abits"), method, bool(signed)
        if signed and method != "fp" and bits < 2:
            raise ValueError(f"signed activations need abits >= 2, got {bits}")
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    @property
    def zero(self) -> int:
        """The code of real 0: ``2^(bits-1)`` when signed, else 0."""
        return 1 << (self.bits - 1) if self.signed else 0

    def forward(self, x: Tensor) -> Tensor:
        if self.method == "fp":
            return x if self.signed else F.relu(x)
        if self.signed:
            return quantize_act_signed(x, self.alpha, self.bits, self.method)
        return quantize_act(x, self.alpha, self.bits, self.method)


class _SATWeight:
    """What QConv2d and QLinear share: ``wbits``/``method``/``scaled`` and the quantized weight."""

    scale_n: int
    weight: Tensor

    def _init_quant(self, wbits: int, method: str, scaled: bool) -> None:
        self.wbits, self.method, self.scaled = check_bits(wbits, "wbits"), method, scaled

    def qweight(self) -> Tensor:
        """The weight the forward uses: float for fp, else SAT levels (scale-adjusted if scaled)."""
        if self.method == "fp":
            return self.weight
        q = quantize_weight(self.weight, self.wbits)
        return scale_adjust(q, self.scale_n) if self.scaled else q

    @torch.no_grad()
    def integer_weight(self) -> tuple[Tensor, float]:
        """Odd integer weights ``2k - (2^b-1)`` (as floats) and the factor that makes them
        :meth:`qweight`: ``scale / (2^b-1)``, with the SAT scale taken in float64 as lowering
        takes it."""
        n = 2**self.wbits - 1
        scale = weight_scale(quantize_weight(self.weight, self.wbits), self.scale_n) \
            if self.scaled else 1.0
        return 2 * weight_levels(self.weight, self.wbits) - n, scale / n


class QConv2d(_SATWeight, nn.Conv2d):
    """Conv2d (incl. depthwise) with SAT weights; n_out = out_channels * kh * kw."""

    def __init__(self, *args, wbits: int, method: str, scaled: bool = False, **kw):
        super().__init__(*args, **kw)
        self._init_quant(wbits, method, scaled)

    @property
    def n_out(self) -> int:
        return self.out_channels * self.kernel_size[0] * self.kernel_size[1]

    @property
    def scale_n(self) -> int:
        """The ``n`` of the scale adjustment ``Q / sqrt(n * Var(Q))``: n_out, as the paper."""
        return self.n_out

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.qweight(), self.bias)


class QLinear(_SATWeight, nn.Linear):
    """Linear with SAT weights; n_out = out_features. ``fan`` ("fan_out" or "fan_in") picks the
    ``n`` of the scale adjustment: out_features (the paper's rule) or in_features
    (``quant.fc_scale``; docs/training.md says why fan_in is the default)."""

    def __init__(self, *args, wbits: int, method: str, scaled: bool = False,
                 fan: str = "fan_out", **kw):
        super().__init__(*args, **kw)
        self._init_quant(wbits, method, scaled)
        if fan not in FC_SCALES:
            raise ValueError(f"fc_scale must be one of {', '.join(FC_SCALES)}, got {fan!r}")
        self.fan = fan

    @property
    def n_out(self) -> int:
        return self.out_features

    @property
    def scale_n(self) -> int:
        """The ``n`` of the scale adjustment ``Q / sqrt(n * Var(Q))``."""
        return self.in_features if self.fan == "fan_in" else self.out_features

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.qweight(), self.bias)


EXACT_FLOAT32 = 2**24
"""Integers below this, and every sum of them below it, are exact in float32."""


def _codes(act: ActQ, x: Tensor) -> tuple[Tensor, float]:
    """The quantizer's codes for ``x`` (integer-valued floats) and their step ``alpha/(2^b-1)``.

    The codes are ``round((2^b-1) * clip(x, 0, alpha) / alpha)``, the quantizer's own rounding
    (:func:`sat_hw.nn.quant.act_codes`). When the quantizer module has forward hooks (they capture
    its input), the module itself runs, and the integers are recovered from its output
    ``code * alpha / (2^b-1)`` (a few ulps from them): the same codes.
    """
    n = 2**act.bits - 1
    alpha = float(act.alpha.detach())
    if act._forward_hooks or act._forward_pre_hooks:
        return torch.round(act(x) * (n / alpha)), alpha / n
    return act_codes(x, act.alpha.detach(), act.bits), alpha / n


def _exact(fn, codes: Tensor, w: Tensor, bound: int, scale: float, dtype: torch.dtype) -> Tensor:
    """``fn(codes, w) * scale`` with the integer sums exact: float32 when every partial sum stays
    below 2^24, else float64."""
    if bound >= EXACT_FLOAT32:
        codes, w = codes.double(), w.double()
    return (fn(codes, w.to(codes.dtype)) * scale).to(dtype)


def default_bits(specs: list[LayerSpec], wbits: int, abits: int, first_wbits: int = 8,
                 last_wbits: int = 8) -> dict[str, dict[str, int]]:
    """Per-layer bits before overrides: conv0 8-bit weights on 8-bit codes, fc 8-bit weights;
    pool and add have no weights (wbits 0)."""
    bits = {}
    for s in specs:
        first = s is specs[0]
        w = first_wbits if first else last_wbits if s.op == "fc" else wbits
        a = 8 if first else abits
        bits[s.name] = {"wbits": 0 if s.op in ("pool", "add") else w, "abits": a}
    return bits


def _sample(x: Tensor, k: int = 1 << 20) -> Tensor:
    x = x.detach().flatten()
    if x.numel() > k:
        x = x[torch.randint(0, x.numel(), (k,), generator=torch.Generator().manual_seed(0))]
    return x


ALPHA_NUDGE = 1 + 2**-12
"""Calibrated alphas are the percentile times this (see :func:`calibrate`)."""


def check_shape(width: float, resolution: int, in_channels: int, classes: int) -> None:
    """The model shape every network takes (one-line errors)."""
    if not 0 < width <= 4:
        raise ValueError(f"width must be in (0, 4], got {width!r}")
    if not 8 <= resolution <= 1024:
        raise ValueError(f"resolution must be 8..1024, got {resolution!r}")
    if not 1 <= in_channels <= 16:
        raise ValueError(f"in_channels must be 1..16, got {in_channels!r}")
    if not 2 <= classes <= 100000:
        raise ValueError(f"classes must be 2..100000, got {classes!r}")


def init_weights(model: nn.Module) -> None:
    """Kaiming (fan out) convolutions, unit BN, ``N(0, 1/fan_in)`` linear layers, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            # std 1/sqrt(fan_in): DoReFa's max-normalisation divides the gradient by max|W|,
            # so the reference's N(0, 0.01) made the first steps of a quantized fc explode.
            nn.init.normal_(m.weight, 0, m.in_features ** -0.5)
            nn.init.zeros_(m.bias)


__all__ = ["ALPHA_NUDGE", "EXACT_FLOAT32", "FC_SCALES", "ActQ", "LayerSpec", "QConv2d", "QLinear",
           "check_shape", "default_bits", "init_weights"]
