"""Seeded random, valid IR nodes and graphs (numpy only), for tests of the executors and, later,
of generated hardware blocks.

Weights are uniform over the odd levels of their bit width; thresholds are sorted integers spread
around the accumulator's typical range for uniform random input codes (so every code occurs), with
a random direction per channel, and a few degenerate channels (every threshold equal, always met,
never met) mixed in. Every builder returns a node that passes ``verify`` in a chain.
"""

from __future__ import annotations

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.ir import (
    Add,
    AvgPool,
    Conv,
    Graph,
    Input,
    Linear,
    MaxPool,
    Node,
    acc_bits_for,
    acc_bound,
    conv_out,
    levels,
)
from sat_hw.graph.passes import BIAS_FRAC_BITS


def _weights(rng: np.random.Generator, shape: tuple, wbits: int) -> np.ndarray:
    n = levels(wbits)
    return (2 * rng.integers(0, n + 1, shape) - n).astype(np.int16)


def random_thresholds(rng: np.random.Generator, mean: np.ndarray, std: np.ndarray, out_bits: int,
                      bound: int, degenerate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Sorted int64 thresholds ``(C, 2^out_bits-1)`` around ``mean +- 2 std`` per channel, clamped
    to the accumulator range, and random directions; channels 0-2 degenerate if ``degenerate``."""
    c, n = len(mean), levels(out_bits)
    z = np.sort(rng.uniform(-2.0, 2.0, (c, n)), axis=1)
    t = np.rint(mean[:, None] + np.maximum(std[:, None], 1.0) * z).astype(np.int64)
    t = np.sort(np.clip(t, -bound - 1, bound + 1), axis=1)
    direction = rng.choice(np.array([-1, 1], np.int8), c)
    if degenerate and c >= 3:
        t[0] = t[0, n // 2]          # every threshold equal: codes 0 or 2^b-1 only
        t[1], direction[1] = -bound, 1   # always met: constant 2^b-1
        t[2], direction[2] = -bound - 1, -1  # never met: constant 0
    return t, direction


def conv(rng: np.random.Generator, name: str, in_shape: tuple, out_ch: int, kernel: int = 3,
         stride: int = 1, pad: int | None = None, groups: int = 1, wbits: int = 4, abits: int = 4,
         out_bits: int = 4, weights: np.ndarray | None = None, inputs: tuple = ()) -> Conv:
    """``weights`` (odd integers, ``(out_ch, C/groups, k, k)``): given instead of drawn;
    ``inputs``: its producer, when not the node before it."""
    c, h, w = in_shape
    pad = kernel // 2 if pad is None else pad
    if weights is None:
        weights = _weights(rng, (out_ch, c // groups, kernel, kernel), wbits)
    fan_in = c // groups * kernel * kernel
    bound = acc_bound(fan_in, wbits, abits)
    amean, avar = levels(abits) / 2, (levels(abits) + 1) ** 2 / 12
    wsum = weights.reshape(out_ch, -1).astype(np.float64)
    mean, std = wsum.sum(1) * amean, np.sqrt((wsum**2).sum(1) * avar)
    t, d = random_thresholds(rng, mean, std, out_bits, bound)
    out = (out_ch, conv_out(h, kernel, stride, pad), conv_out(w, kernel, stride, pad))
    return Conv(name, in_shape, out, kernel, stride, pad, groups, wbits, abits, out_bits, weights,
                t, d, acc_bits_for(bound), inputs=tuple(inputs))


def avgpool(rng: np.random.Generator, name: str, in_shape: tuple, abits: int = 4,
            out_bits: int = 4) -> AvgPool:
    c, h, w = in_shape
    bound = acc_bound(h * w, 0, abits)
    mean = np.full(c, h * w * levels(abits) / 2)
    std = np.full(c, np.sqrt(h * w) * (levels(abits) + 1) / np.sqrt(12))
    t, d = random_thresholds(rng, mean, std, out_bits, bound)
    return AvgPool(name, in_shape, (c, 1, 1), abits, out_bits, t, d, acc_bits_for(bound))


def maxpool(name: str, in_shape: tuple, kernel: int = 2, stride: int = 2, pad: int = 0,
            abits: int = 4) -> MaxPool:
    c, h, w = in_shape
    out = (c, conv_out(h, kernel, stride, pad), conv_out(w, kernel, stride, pad))
    return MaxPool(name, in_shape, out, kernel, stride, pad, abits, abits)


def linear(rng: np.random.Generator, name: str, in_features: int, out_features: int,
           wbits: int = 8, abits: int = 4, bias_max: int = 1000, scale: float = 0.01,
           bias_frac_bits: int = BIAS_FRAC_BITS, weights: np.ndarray | None = None) -> Linear:
    """Bias uniform over ``+-bias_max`` accumulator steps, in ``bias_frac_bits`` fixed point;
    ``weights`` (odd integers, ``(out_features, in_features)``): given instead of drawn."""
    if weights is None:
        weights = _weights(rng, (out_features, in_features), wbits)
    bmax = bias_max << bias_frac_bits
    bias = rng.integers(-bmax, bmax + 1, out_features).astype(np.int64)
    bound = (acc_bound(in_features, wbits, abits) << bias_frac_bits) + int(np.abs(bias).max())
    return Linear(name, (in_features, 1, 1), (out_features, 1, 1), wbits, abits, weights, bias,
                  float(scale), bias_frac_bits, acc_bits_for(bound))


def add(rng: np.random.Generator, name: str, shape: tuple, inputs: tuple[str, str],
        abits: int = 4, bbits: int = 4, out_bits: int = 4, mul_max: int = 1 << 10,
        out_zero: int = 0) -> Add:
    """A residual Add of two code tensors of ``shape``: random positive multipliers (one of the
    pair ``mul_max`` per channel, as lowering makes them), thresholds around the sum's range."""
    c = shape[0]
    big = np.full(c, mul_max, np.int64)
    small = rng.integers(1, mul_max + 1, c).astype(np.int64)
    swap = rng.random(c) < 0.5
    ma, mb = np.where(swap, small, big), np.where(swap, big, small)
    bound = int(ma.max()) * levels(abits) + int(mb.max()) * levels(bbits)
    mean = (ma * levels(abits) + mb * levels(bbits)) / 2.0
    std = np.sqrt((ma * levels(abits)) ** 2 + (mb * levels(bbits)) ** 2) / np.sqrt(12)
    t, d = random_thresholds(rng, mean, std, out_bits, bound)
    return Add(name, shape, shape, abits, bbits, out_bits, ma, mb, t, d, acc_bits_for(bound),
               out_zero=out_zero, inputs=inputs)


def chain(layers: list[Node], in_bits: int = 8, name: str = "synthetic") -> Graph:
    """An Input node (shape of the first layer's input) followed by ``layers`` (each reads the
    one before it unless its ``inputs`` say otherwise); verified."""
    c, h, w = layers[0].in_shape
    if h != w:
        raise ValueError(f"synthetic graphs take square inputs, got {layers[0].in_shape}")
    g = Graph(name, 1.0, h, c, layers[-1].out_shape[0], (Input("input", (c, h, w), in_bits),
                                                           *layers))
    return verify(g)


def small_graph(seed: int = 0, wbits: int = 4, abits: int = 4, in_ch: int = 3, size: int = 8,
                classes: int = 5) -> Graph:
    """Every node type once: conv 3x3 s1 (8-bit input), grouped 3x3 s2, max pool, depthwise 3x3,
    pointwise, global average pool, linear. ``wbits``/``abits`` for every inner layer."""
    rng = np.random.default_rng(seed)
    a = conv(rng, "conv0", (in_ch, size, size), 8, wbits=wbits, abits=8, out_bits=abits)
    b = conv(rng, "gconv1", a.out_shape, 8, stride=2, groups=2, wbits=wbits, abits=abits,
             out_bits=abits)
    m = maxpool("max2", b.out_shape, kernel=3, stride=1, pad=1, abits=abits)
    d = conv(rng, "dw3", m.out_shape, 8, groups=8, wbits=wbits, abits=abits, out_bits=abits)
    p = conv(rng, "pw3", d.out_shape, 16, kernel=1, wbits=wbits, abits=abits, out_bits=abits)
    g = avgpool(rng, "pool", p.out_shape, abits=abits, out_bits=abits)
    f = linear(rng, "fc", 16, classes, wbits=wbits, abits=abits)
    return chain([a, b, m, d, p, g, f])


def residual_graph(seed: int = 0, wbits: int = 4, abits: int = 4, in_ch: int = 3, size: int = 8,
                   classes: int = 5, channels: int = 8, signed: bool = False) -> Graph:
    """A small residual network: conv0; an identity block (3x3 -> 3x3, add of the block input);
    a projection block (3x3 stride 2 -> 1x1, add of a 1x1 stride-2 shortcut); an inverted-residual
    block (1x1 expand -> depthwise -> 1x1 project, add); pool; linear. With ``signed`` the adds and
    the projections emit signed codes (``out_zero``), read only by 1x1 layers and adds, as in
    MobileNetV2; ``abits`` for every inner tensor, so 1..8 all work (signed needs >= 2)."""
    rng = np.random.default_rng(seed)
    z = 1 << (abits - 1) if signed else 0
    c = channels

    def cv(name, shape, out_ch, **kw):
        return conv(rng, name, shape, out_ch, wbits=wbits, abits=abits, out_bits=abits, **kw)

    c0 = conv(rng, "conv0", (in_ch, size, size), c, wbits=wbits, abits=8, out_bits=abits)
    a1 = cv("b1_conv1", c0.out_shape, c)
    a2 = cv("b1_conv2", a1.out_shape, c)
    s1 = add(rng, "b1_add", a2.out_shape, ("b1_conv2", "conv0"), abits, abits, abits)
    p1 = cv("b2_conv1", s1.out_shape, 2 * c, stride=2)
    p2 = cv("b2_conv2", p1.out_shape, 2 * c, kernel=1)
    sc = cv("b2_short", s1.out_shape, 2 * c, kernel=1, stride=2, pad=0, inputs=("b1_add",))
    s2 = add(rng, "b2_add", p2.out_shape, ("b2_conv2", "b2_short"), abits, abits, abits,
             out_zero=z)
    e = cv("b3_expand", s2.out_shape, 4 * c, kernel=1)
    d = cv("b3_dw", e.out_shape, 4 * c, groups=4 * c)
    pr = cv("b3_project", d.out_shape, 2 * c, kernel=1)
    s3 = add(rng, "b3_add", pr.out_shape, ("b3_project", "b2_add"), abits, abits, abits,
             out_zero=z)
    f = cv("head", s3.out_shape, 2 * c, kernel=1)
    g = avgpool(rng, "pool", f.out_shape, abits=abits, out_bits=abits)
    fc = linear(rng, "fc", 2 * c, classes, wbits=wbits, abits=abits)
    return chain([c0, a1, a2, s1, p1, p2, sc, s2, e, d, pr, s3, f, g, fc],
                 name="synthetic_residual")


__all__ = ["add", "avgpool", "chain", "conv", "linear", "maxpool", "random_thresholds",
           "residual_graph", "small_graph"]
