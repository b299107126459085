"""Lowering passes between the torch model and the IR (numpy, float64, no torch).

:func:`sat_hw.nn.lower.read_model` turns the model into a list of :class:`LayerParams` (float64
copies of the trained parameters); the passes below each take and return that list, and
:func:`to_graph` emits the integer IR. The real-valued model they implement, per layer::

    input value  v = code * in_step            in_step = in_alpha / (2^abits - 1)  (1/255 for conv0)
    weight value q = w * wstep                 w = 2k - (2^wbits - 1), wstep = s / (2^wbits - 1)
    conv + BN    y = g * (acc * wstep * in_step - mean) + beta,  g = gamma / sqrt(var + eps)
                   = slope * acc + offset
    next code    = round((2^out_bits - 1) * clip(y, 0, out_alpha) / out_alpha)
                 = #{k in 1..2^out_bits-1 : y >= t_k}
    t_k          = (k - 1/2) * out_alpha / (2^out_bits - 1)

``s`` is SAT's scale-adjustment factor (1 when the layer is not scaled). The global average pool has
``slope = in_step / (H*W)``, ``offset = 0`` on the sum of codes; its thresholds are computed
exactly in rationals from the float alphas, since sums of codes often land exactly on a rounding
boundary. The last (fc) layer has ``logits = scale * (acc * 2^F + bias_int) / 2^F``,
``scale = wstep * in_step``, ``bias_int = round(bias / scale * 2^F)`` with ``F = BIAS_FRAC_BITS``
fraction bits (see :func:`fold_last_scale` for the choice of ``F``).

Rounding is half to even, as ``torch.round``: a value exactly on ``t_k`` reaches code ``k`` only
if ``k`` is even. "Exactly" means in float64 for the convolutions (real ties have measure zero
there, but float32 in torch can land on or across a boundary: see ``agreement.tie_analysis``) and
in exact rationals for the average pool, where ties are common (sums of codes over alphas that
calibration may have set to a multiple of the previous alpha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.ir import (
    FLOAT_EXACT_BOUND,
    Add,
    AvgPool,
    Conv,
    Graph,
    Input,
    Linear,
    acc_bits_for,
    acc_bound,
    levels,
)


@dataclass(frozen=True, eq=False)
class LayerParams:
    """One model layer between torch and the IR. ``op`` in conv, dw, pw, pool, fc.

    Read from the model: shapes, bits, ``in_alpha`` (the clipping level of the codes it consumes,
    1.0 for the first layer's 8-bit pixel codes), ``out_bits``/``out_alpha`` (the next layer's
    quantizer; None for the last layer), weight ``levels`` k, SAT ``wscale``, BatchNorm arrays,
    fc ``bias``. Filled in by the passes: ``weights``, ``wstep``, ``slope``, ``offset``, ``scale``,
    ``bias_int`` and ``bias_frac_bits`` (fc), ``acc_bound``, ``acc_bits``, ``thresholds``,
    ``direction``. For fc, ``acc_bound`` is the bound on ``|out| = |acc * 2^F + bias_int|`` that
    ``acc_bits`` holds (the IR's ``Linear.out_bound``).
    """

    name: str
    op: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    abits: int
    in_alpha: float
    out_bits: int | None = None
    out_alpha: float | None = None
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    groups: int = 1
    wbits: int = 0
    levels: np.ndarray | None = None
    wscale: float = 1.0
    bn_gamma: np.ndarray | None = None
    bn_beta: np.ndarray | None = None
    bn_mean: np.ndarray | None = None
    bn_var: np.ndarray | None = None
    bn_eps: float = 1e-5
    bias: np.ndarray | None = None
    weights: np.ndarray | None = None
    wstep: float | None = None
    slope: np.ndarray | None = None
    offset: np.ndarray | None = None
    scale: float | None = None
    bias_int: np.ndarray | None = None
    bias_frac_bits: int | None = None
    acc_bound: int | None = None
    acc_bits: int | None = None
    thresholds: np.ndarray | None = None
    direction: np.ndarray | None = None
    inputs: tuple[str, ...] = ()
    in_zero: int = 0
    out_zero: int = 0
    bbits: int = 0
    b_alpha: float | None = None
    b_zero: int = 0
    mul_a: np.ndarray | None = None
    mul_b: np.ndarray | None = None

    @property
    def in_step(self) -> float:
        """Real value of input code step: ``in_alpha / (2^abits - 1 - in_zero)`` (docs/residual.md:
        signed codes have the zero point ``in_zero``)."""
        return self.in_alpha / (levels(self.abits) - self.in_zero)

    @property
    def b_step(self) -> float:
        """An add's second operand's step, as :attr:`in_step`."""
        return self.b_alpha / (levels(self.bbits) - self.b_zero)


def _err(name: str, msg: str) -> ValueError:
    return ValueError(f"layer {name}: {msg}")


def integerise_weights(layers: list[LayerParams]) -> list[LayerParams]:
    """Levels ``k in 0..2^b-1`` -> odd integers ``w = 2k - (2^b-1)`` (int16);
    ``wstep = s / (2^b-1)``."""
    out = []
    for p in layers:
        if p.levels is not None:
            k = np.asarray(p.levels, dtype=np.float64)
            n = levels(p.wbits)
            if not np.all(np.isfinite(k)) or np.any(k != np.round(k)) or k.min() < 0 or k.max() > n:
                raise _err(p.name, f"weight levels must be integers 0..{n} (weights all zero?)")
            if not (np.isfinite(p.wscale) and p.wscale > 0):
                raise _err(p.name, f"SAT weight scale must be finite and > 0, got {p.wscale!r} "
                                   "(quantized weights with zero variance?)")
            p = replace(p, weights=(2 * k - n).astype(np.int16), wstep=float(p.wscale) / n)
        out.append(p)
    return out


def fold_batchnorm(layers: list[LayerParams]) -> list[LayerParams]:
    """Conv + BN -> ``y = slope * acc + offset`` per channel (the input's zero point in the
    offset); pool -> ``slope = in_step/(H*W)``; add -> :func:`add_multipliers`, ``slope = u``.

    A zero-variance channel is fine (``g = gamma/sqrt(eps)``); ``gamma = 0`` gives slope 0, a
    constant code; a negative ``gamma`` a negative slope.
    """
    out = []
    for p in layers:
        if p.op in ("conv", "dw", "pw"):
            var = np.asarray(p.bn_var, dtype=np.float64)
            if np.any(var < 0) or not np.all(np.isfinite(var)):
                raise _err(p.name, "BatchNorm running_var must be finite and >= 0")
            g = np.asarray(p.bn_gamma, dtype=np.float64) / np.sqrt(var + p.bn_eps)
            slope = g * (p.wstep * p.in_step)
            offset = np.asarray(p.bn_beta, np.float64) - g * np.asarray(p.bn_mean, np.float64)
            if p.in_zero:  # signed input codes: sum w * (a - z) = acc - z * sum(w)
                wsum = np.asarray(p.weights, np.float64).reshape(p.out_shape[0], -1).sum(1)
                offset = offset - slope * (p.in_zero * wsum)
            p = replace(p, slope=slope, offset=offset)
        elif p.op == "add":
            ma, mb, u = add_multipliers(p.in_step, p.b_step)
            c = p.out_shape[0]
            p = replace(p, mul_a=np.full(c, ma, np.int64), mul_b=np.full(c, mb, np.int64),
                        slope=np.full(c, u), offset=np.full(c, -u * (ma * p.in_zero
                                                                     + mb * p.b_zero)))
        elif p.op == "pool":
            c, h, w = p.in_shape
            p = replace(p, slope=np.full(c, p.in_step / (h * w)), offset=np.zeros(c))
        if p.slope is not None and not (np.all(np.isfinite(p.slope))
                                        and np.all(np.isfinite(p.offset))):
            raise _err(p.name, "folded BatchNorm slope/offset are not finite")
        out.append(p)
    return out


BIAS_FRAC_BITS = 8
"""Fraction bits ``F`` of the fc bias (see :func:`fold_last_scale`)."""
ADD_FRAC_BITS = 12
"""Fraction bits of an add's multipliers (docs/residual.md): the larger one is ``2^12``."""


def add_multipliers(step_a: float, step_b: float,
                    frac_bits: int = ADD_FRAC_BITS) -> tuple[int, int, float]:
    """``(mul_a, mul_b, u)``: the two operands' real steps on one fixed-point grid,
    ``u = max(step_a, step_b) / 2^F``, ``mul = round(step / u)`` (half to even; the larger is
    exactly ``2^F``). The add's sum is ``u * (mul_a * a + mul_b * b)`` less the zero points.
    The PyTorch model's eval mode calls this too, so both compute the same sum."""
    sa, sb = float(step_a), float(step_b)
    if not (np.isfinite(sa) and np.isfinite(sb) and sa > 0 and sb > 0):
        raise ValueError(f"add operand steps must be finite and > 0, got {sa!r}, {sb!r}")
    u = math.ldexp(max(sa, sb), -int(frac_bits))
    ma, mb = int(np.rint(sa / u)), int(np.rint(sb / u))
    return max(ma, 1), max(mb, 1), u


def fold_last_scale(layers: list[LayerParams],
                    bias_frac_bits: int = BIAS_FRAC_BITS) -> list[LayerParams]:
    """fc: ``logits = scale * (acc * 2^F + bias_int) / 2^F``, ``scale = wstep * in_step`` (SAT
    scale inside ``wstep``), ``bias_int = round(bias / scale * 2^F)`` half to even, ``F =
    bias_frac_bits``: error ``<= 2^-(F+1)`` of an accumulator step per logit.

    Why ``F = 8``: with an integer bias (``F = 0``) the rounding error reaches half a step, and two
    classes whose ``acc + bias/scale`` differ by less than that often end on the same integer
    (argmax then takes the first, torch the larger). At ``F = 8`` the error is ``<= 2^-9`` of a
    step, no more than one float32 ulp of any logit of magnitude ``>= 2^14`` steps (torch's own
    rounding noise on the logits it is compared with), and equal outputs need the float biases to
    agree to ``2^-8`` steps. It costs 8 bits on the fc output width and on each bias word (one per
    class); ``size_accumulators`` and ``verify`` keep ``|out|`` below ``2^53``. Measured on the
    trained Fashion-MNIST W4A4 model (10,000 test images): torch's float32 logits lie within 0.026
    steps of the golden's, the float64 twin's within 0.0016 (< 2^-9); top-1 ties from the bias
    rounding went from 2 to 0 (fc width 21 -> 29 bits).
    """
    f = int(bias_frac_bits)
    out = []
    for p in layers:
        if p.op == "fc":
            scale = float(p.wstep * p.in_step)
            bias = np.zeros(p.out_shape[0]) if p.bias is None else np.asarray(p.bias, np.float64)
            b = np.rint(bias / scale * 2.0**f)
            if not (np.isfinite(scale) and scale > 0) or not np.all(np.abs(b) < 2**52):
                raise _err(p.name, f"output scale {scale!r} / bias do not fit a {f}-fraction-bit "
                                   "integer bias")
            p = replace(p, scale=scale, bias_int=b.astype(np.int64), bias_frac_bits=f)
        out.append(p)
    return out


def size_accumulators(layers: list[LayerParams]) -> list[LayerParams]:
    """``acc_bound`` from fan_in, wbits, abits; ``acc_bits = acc_bits_for(bound)``.

    fc: the bound of the output, ``acc_bound * 2^F + max|bias_int|``."""
    out = []
    for p in layers:
        if p.op == "pool":
            bound = acc_bound(p.in_shape[1] * p.in_shape[2], 0, p.abits)
        elif p.op == "add":
            bound = int(p.mul_a.max()) * levels(p.abits) + int(p.mul_b.max()) * levels(p.bbits)
        elif p.op == "fc":
            bmax = int(np.abs(p.bias_int).max()) if p.bias_int.size else 0
            bound = (acc_bound(p.in_shape[0], p.wbits, p.abits) << p.bias_frac_bits) + bmax
        else:
            bound = acc_bound(p.in_shape[0] // p.groups * p.kernel**2, p.wbits, p.abits)
        if bound >= FLOAT_EXACT_BOUND:
            raise _err(p.name, f"accumulator bound {bound} reaches 2^53")
        out.append(replace(p, acc_bound=bound, acc_bits=acc_bits_for(bound)))
    return out


def integer_thresholds(slope: np.ndarray, offset: np.ndarray, out_alpha: float, out_bits: int,
                       bound: int, out_zero: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds int64 ``(C, 2^out_bits-1)`` (rows ascending) and direction int8 ``(C,)``.

    ``T[c, k]`` is, for slope > 0, the smallest integer ``acc`` with ``y = slope*acc + offset``
    above ``t_k``, or equal to it and ``k`` even (half to even), evaluated in float64
    (= ``ceil((t_k - offset)/slope)`` up to that tie rule), and for slope < 0 the largest such
    integer (``floor``; direction -1). Signed output codes (``out_zero = 2^(b-1)``, docs/residual.md)
    have ``t_k = (k - out_zero - 1/2) * step``, ``step = out_alpha / (2^b - 1 - out_zero)``, and the
    same tie rule (``out_zero`` is even). Found by bisection on the
    predicate itself over ``[-bound-1, bound+1]``, so float64 division can never put a threshold one
    off the float64 model. Slope 0 is direction +1 with every threshold ``-bound`` (always met) or
    ``bound + 1`` (never met).
    """
    slope = np.asarray(slope, np.float64)[:, None]
    offset = np.asarray(offset, np.float64)[:, None]
    n = levels(out_bits)
    t = (np.arange(1, n + 1, dtype=np.float64) - 0.5 - out_zero) * (float(out_alpha)
                                                                     / (n - out_zero))
    direction = np.where(slope[:, 0] < 0, -1, 1).astype(np.int8)
    sign = direction.astype(np.int64)[:, None]
    even = np.arange(1, n + 1) % 2 == 0
    # find the smallest u in [-bound, bound+1] with P(sign*u) (u = bound+1: never met)
    shape = (slope.shape[0], n)
    lo = np.full(shape, -bound, dtype=np.int64)
    hi = np.full(shape, bound + 1, dtype=np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        y = slope * (sign * mid).astype(np.float64) + offset
        ok = (y > t) | ((y == t) & even) | (mid == bound + 1)
        active = lo < hi
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)
    thresholds = sign * lo
    thresholds = np.where(sign < 0, thresholds[:, ::-1], thresholds)
    return np.ascontiguousarray(thresholds, dtype=np.int64), direction


def pool_thresholds(in_alpha: float, abits: int, fan_in: int, out_alpha: float, out_bits: int,
                    channels: int, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Average pool thresholds, exact: the smallest sum ``S`` with
    ``S * in_alpha / ((2^abits-1) * fan_in)`` above ``(k - 1/2) * out_alpha / (2^out_bits-1)``, or
    equal to it and ``k`` even (half to even), in rationals (float alphas are exact binary
    fractions), clamped to ``[0, bound + 1]``."""
    num = Fraction(out_alpha) * levels(abits) * fan_in
    den = 2 * Fraction(in_alpha) * levels(out_bits)
    row = []
    for k in range(1, levels(out_bits) + 1):
        x = (2 * k - 1) * num / den
        t = math.ceil(x) if x.denominator != 1 or k % 2 == 0 else int(x) + 1
        row.append(min(max(t, 0), bound + 1))
    return (np.tile(np.array(row, np.int64), (channels, 1)), np.ones(channels, np.int8))


def fuse_thresholds(layers: list[LayerParams]) -> list[LayerParams]:
    """Per-channel integer thresholds for every layer that feeds another (conv, dw, pw, pool)."""
    out = []
    for p in layers:
        if p.slope is not None and p.out_bits is not None:
            if not (np.isfinite(p.out_alpha) and p.out_alpha > 0):
                raise _err(p.name, f"next layer's alpha must be finite and > 0, "
                                   f"got {p.out_alpha!r}")
            if p.op == "pool":
                c, h, w = p.in_shape
                if p.in_zero or p.out_zero:
                    raise _err(p.name, "the average pool takes and emits unsigned codes")
                t, d = pool_thresholds(p.in_alpha, p.abits, h * w, p.out_alpha, p.out_bits, c,
                                       p.acc_bound)
            else:
                t, d = integer_thresholds(p.slope, p.offset, p.out_alpha, p.out_bits, p.acc_bound,
                                          p.out_zero)
            p = replace(p, thresholds=t, direction=d)
        out.append(p)
    return out


def to_graph(layers: list[LayerParams], name: str, width: float, resolution: int,
             in_channels: int, classes: int, meta: dict | None = None) -> Graph:
    """Emit the IR (an Input node named ``input``, then one node per layer) and verify it.

    A layer's ``inputs`` (its producers) go into the node only where they are not just the node
    before it, so a chain stays a chain."""
    first = layers[0]
    nodes: list = [Input("input", first.in_shape, first.abits)]
    for p in layers:
        ins = tuple(p.inputs)
        common = {"name": p.name, "in_shape": p.in_shape, "out_shape": p.out_shape,
                  "inputs": () if ins in ((), (nodes[-1].name,)) else ins}
        thr = {"thresholds": p.thresholds, "direction": p.direction, "acc_bits": p.acc_bits,
               "slope": p.slope, "offset": p.offset,
               "out_alpha": None if p.out_alpha is None else float(p.out_alpha),
               "out_zero": int(p.out_zero)}
        if p.op in ("conv", "dw", "pw"):
            nodes.append(Conv(**common, kernel=p.kernel, stride=p.stride, pad=p.pad,
                              groups=p.groups, wbits=p.wbits, abits=p.abits, out_bits=p.out_bits,
                              weights=p.weights, **thr))
        elif p.op == "pool":
            nodes.append(AvgPool(**common, abits=p.abits, out_bits=p.out_bits, **thr))
        elif p.op == "add":
            nodes.append(Add(**common, abits=p.abits, bbits=p.bbits, out_bits=p.out_bits,
                             mul_a=p.mul_a, mul_b=p.mul_b, **thr))
        elif p.op == "fc":
            nodes.append(Linear(**common, wbits=p.wbits, abits=p.abits, weights=p.weights,
                                bias=p.bias_int, scale=p.scale,
                                bias_frac_bits=p.bias_frac_bits, acc_bits=p.acc_bits))
        else:
            raise _err(p.name, f"cannot lower op {p.op!r}")
    return verify(Graph(name, float(width), int(resolution), int(in_channels), int(classes),
                        tuple(nodes), dict(meta or {})))


__all__ = [
    "ADD_FRAC_BITS",
    "BIAS_FRAC_BITS",
    "LayerParams",
    "add_multipliers",
    "fold_batchnorm",
    "fold_last_scale",
    "fuse_thresholds",
    "integer_thresholds",
    "integerise_weights",
    "pool_thresholds",
    "size_accumulators",
    "to_graph",
]
