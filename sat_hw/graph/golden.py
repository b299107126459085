"""Bit-exact golden executor of the integer graph (numpy, vectorised).

Semantics are those of :mod:`sat_hw.graph.ir`. Internally activations are NHWC; results are NCHW.

Exactness of the float BLAS path: every product ``w * a`` and every partial sum of a node's
accumulator is an integer of magnitude ``<= node.acc_bound`` (``fan_in * max|w| * max a``), whatever
the summation order or fused multiply-add the BLAS uses. Integers below ``2^24`` are exact in
float32 and below ``2^53`` in float64, so the products and sums are computed in float32 when
``acc_bound < 2^24`` and in float64 otherwise; ``verify`` (run first) guarantees
``acc_bound < 2^53``. The fc accumulator is then shifted by ``bias_frac_bits`` and its bias added
in int64 (``|out| <= out_bound < 2^53``, so the float64 logits see the exact integer). Thresholds
compare in int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.ir import FLOAT_EXACT_BOUND, Add, AvgPool, Conv, Graph, Linear, MaxPool, Node

FLOAT32_EXACT_BOUND = 2**24


@dataclass(frozen=True, eq=False)
class GoldenResult:
    """``codes``: ``{layer name: uint8 codes it consumes, (N, C, H, W)}`` in layer order (the
    first layer's entry is the input; an Add's second operand under ``"<name>.b"``, see
    :func:`code_keys`; empty when run with ``keep_codes=False``);
    ``outputs``: the last layer's integers ``acc * 2^F + bias``, int64 ``(N, classes)``;
    ``logits``: ``out_scale * outputs`` (``= scale * outputs / 2^F``) in float64."""

    codes: dict[str, np.ndarray]
    outputs: np.ndarray
    logits: np.ndarray


def _dtype(bound: int) -> type:
    if bound >= FLOAT_EXACT_BOUND:
        raise ValueError(f"accumulator bound {bound} reaches 2^53: float64 would not be exact")
    return np.float32 if bound < FLOAT32_EXACT_BOUND else np.float64


def _taps(x: np.ndarray, k: int, s: int, p: int, ho: int, wo: int):
    """``(i, j, x[:, i::s, j::s, :])`` windows of the zero-padded NHWC array, each (N,ho,wo,C)."""
    if p:
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    for i in range(k):
        for j in range(k):
            yield i, j, x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :]


def window_taps(x: np.ndarray, k: int, stride: int, pad: int) -> np.ndarray:
    """NCHW codes -> ``(N, Ho, Wo, k*k, C)``: every output pixel's window, tap ``t = ky*k + kx``,
    0 outside the image (the order the sliding-window generators emit)."""
    h, w = x.shape[2:]
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    taps = _taps(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), k, stride, pad, ho, wo)
    return np.stack([t for _, _, t in taps], axis=3)


def _conv_acc(node: Conv, x: np.ndarray) -> np.ndarray:
    """NHWC codes -> int64 accumulators (N, Ho, Wo, Co)."""
    n, _, _, c = x.shape
    co, ho, wo = node.out_shape
    k, g = node.kernel, node.groups
    dt = _dtype(node.acc_bound)
    w = node.weights.astype(dt)
    taps = list(_taps(x.astype(dt), k, node.stride, node.pad, ho, wo))
    cg, og = c // g, co // g
    if cg == 1 and og == 1:  # depthwise: one multiply-add per tap over all channels
        acc = np.zeros((n, ho, wo, c), dt)
        tmp = np.empty_like(acc)
        for i, j, t in taps:
            np.multiply(t, w[:, 0, i, j], out=tmp)
            acc += tmp
        return acc.astype(np.int64)
    out = np.empty((n * ho * wo, co), dt)
    for gi in range(g):
        cs = slice(gi * cg, (gi + 1) * cg)
        if len(taps) == 1:
            cols = taps[0][2][..., cs].reshape(-1, cg)
        else:  # im2col, columns ordered (i, j, channel)
            cols = np.concatenate([t[..., cs] for _, _, t in taps], axis=-1).reshape(-1, k * k * cg)
        wm = w[gi * og:(gi + 1) * og].transpose(2, 3, 1, 0).reshape(k * k * cg, og)
        out[:, gi * og:(gi + 1) * og] = cols @ wm
    return out.reshape(n, ho, wo, co).astype(np.int64)


def threshold_codes(acc: np.ndarray, thresholds: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``acc`` int64 ``(..., C)`` -> uint8 codes: ``#{k: acc >= T[c,k]}`` (direction +1) or
    ``#{k: acc <= T[c,k]}`` (direction -1).

    Flipping the sign of a -1 channel's accumulator and thresholds turns it into a +1 channel;
    then one ``searchsorted`` over all channels' thresholds, each channel shifted into its own
    disjoint integer range, counts the thresholds ``<=`` each accumulator.
    """
    c = thresholds.shape[0]
    nt = thresholds.shape[1]
    sign = direction.astype(np.int64)
    st = thresholds.astype(np.int64) * sign[:, None]
    st = np.where(sign[:, None] < 0, st[:, ::-1], st)  # ascending again
    sacc = acc.reshape(-1, c) * sign
    if nt == 0 or sacc.size == 0:
        return np.zeros(acc.shape, np.uint8)
    lo = min(int(st.min()), int(sacc.min()))
    span = max(int(st.max()), int(sacc.max())) - lo + 1
    if span * c < 2**62:
        base = np.arange(c, dtype=np.int64) * span - lo
        flat = (st + base[:, None]).ravel()
        idx = np.searchsorted(flat, sacc + base, side="right")
        codes = idx - np.arange(c, dtype=np.int64) * nt
    else:  # ranges too wide to shift apart: one searchsorted per channel
        codes = np.empty(sacc.shape, np.int64)
        for ch in range(c):
            codes[:, ch] = np.searchsorted(st[ch], sacc[:, ch], side="right")
    return codes.astype(np.uint8).reshape(acc.shape)


def _maxpool(node: MaxPool, x: np.ndarray) -> np.ndarray:
    _, ho, wo = node.out_shape
    out = None
    for _, _, t in _taps(x, node.kernel, node.stride, node.pad, ho, wo):
        out = t.copy() if out is None else np.maximum(out, t, out=out)
    return out


def _linear(node: Linear, x: np.ndarray) -> np.ndarray:
    """(N, 1, 1, C) codes -> int64 (N, classes) = (w @ a) * 2^F + bias."""
    dt = _dtype(node.acc_bound)
    a = x.reshape(x.shape[0], -1).astype(dt)
    acc = (a @ node.weights.astype(dt).T).astype(np.int64)
    return (acc << int(node.bias_frac_bits)) + node.bias.astype(np.int64)


def to_logits(node: Linear, outputs: np.ndarray) -> np.ndarray:
    """float64 ``out_scale * outputs``: exact integers times ``scale * 2^-F``."""
    return np.asarray(outputs, np.int64).astype(np.float64) * node.out_scale


def code_key(layer: str, operand: int = 0) -> str:
    """The key of the codes ``layer`` consumes as its ``operand``: its name for the (first)
    operand, ``"<name>.b"`` for an Add's second."""
    return f"{layer}.b" if operand else layer


def code_keys(graph: Graph) -> list[tuple[str, Node, int]]:
    """``(key, node, operand)`` for every tensor a layer consumes, in graph order
    (:func:`code_key`)."""
    return [(code_key(node.name, i), node, i) for node in graph.layers
            for i in range(2 if isinstance(node, Add) else 1)]


def _acc_nhwc(node: Node, x: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    if isinstance(node, Add):  # |acc| <= acc_bound < 2^53: exact in int64
        return x.astype(np.int64) * node.mul_a.astype(np.int64) \
            + b.astype(np.int64) * node.mul_b.astype(np.int64)
    if isinstance(node, Conv):
        return _conv_acc(node, x)
    if isinstance(node, AvgPool):
        return x.sum(axis=(1, 2), dtype=np.int64, keepdims=True)
    if isinstance(node, Linear):
        return _linear(node, x)
    raise ValueError(f"layer {node.name}: {type(node).__name__} has no accumulator")


def _step(node: Node, x: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """One node on NHWC codes (``b``: an Add's second operand): NHWC uint8 codes out, or int64
    (N, classes) for Linear."""
    if isinstance(node, MaxPool):
        return _maxpool(node, x)
    acc = _acc_nhwc(node, x, b)
    if isinstance(node, Linear):
        return acc
    return threshold_codes(acc, node.thresholds, node.direction)


def _nhwc(codes: np.ndarray | None) -> np.ndarray | None:
    return None if codes is None else np.ascontiguousarray(codes.transpose(0, 2, 3, 1))


def layer_acc(node: Node, codes: np.ndarray, codes_b: np.ndarray | None = None) -> np.ndarray:
    """The integers a Conv/AvgPool/Add computes before thresholds, int64 ``(N, C, H, W)``; for a
    Linear its outputs ``acc * 2^F + bias``, int64 ``(N, classes)``. ``codes``: uint8 NCHW input
    (``codes_b``: an Add's second operand)."""
    acc = _acc_nhwc(node, _nhwc(codes), _nhwc(codes_b))
    return acc if isinstance(node, Linear) else np.ascontiguousarray(acc.transpose(0, 3, 1, 2))


def requantize(node: Conv | AvgPool | Add, acc: np.ndarray) -> np.ndarray:
    """Accumulators int64 NCHW -> uint8 codes NCHW through the node's thresholds."""
    a = acc.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(
        threshold_codes(a, node.thresholds, node.direction).transpose(0, 3, 1, 2))


def run_node(node: Node, codes: np.ndarray, codes_b: np.ndarray | None = None) -> np.ndarray:
    """One layer on uint8 NCHW codes (``codes_b``: an Add's second operand): uint8 NCHW codes out
    (int64 (N, classes) for Linear)."""
    if isinstance(node, Add) and codes_b is None:
        raise ValueError(f"layer {node.name}: an Add takes two operands")
    y = _step(node, _nhwc(codes), _nhwc(codes_b))
    return y if isinstance(node, Linear) else np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def check_inputs(graph: Graph, inputs: np.ndarray) -> np.ndarray:
    """Inputs must be integer ``(N, C, H, W)`` codes ``0..2^bits-1`` of the graph's input."""
    x = np.asarray(inputs)
    inp = graph.input
    if x.ndim != 4 or x.shape[1:] != inp.shape:
        raise ValueError(f"inputs must have shape (N, {', '.join(map(str, inp.shape))}), "
                         f"got {x.shape}")
    if x.dtype.kind not in "iu":
        raise ValueError(f"inputs must be integer codes (uint8), got {x.dtype}")
    if x.size and (int(x.min()) < 0 or int(x.max()) > (1 << inp.bits) - 1):
        raise ValueError(f"input codes must be 0..{(1 << inp.bits) - 1}, got "
                         f"{int(x.min())}..{int(x.max())}")
    return x.astype(np.uint8, copy=False)


def run_golden(graph: Graph, inputs: np.ndarray, batch: int = 16,
               keep_codes: bool = True) -> GoldenResult:
    """Run the graph on uint8 ``(N, C, H, W)`` inputs, ``batch`` images at a time."""
    verify(graph)
    x_all = check_inputs(graph, inputs)
    keys = code_keys(graph)
    codes: dict[str, list[np.ndarray]] = {k: [] for k, _, _ in keys}
    slots = {(node.name, i): k for k, node, i in keys}
    producers = {n.name: graph.producers(n) for n in graph.layers}
    last_use = {p: n for n in producers for p in producers[n]}  # graph order: the last reader
    outputs = []
    for s in range(0, len(x_all), batch):
        outs = {graph.input.name: np.ascontiguousarray(x_all[s:s + batch].transpose(0, 2, 3, 1))}
        for node in graph.layers:
            ins = [outs[p] for p in producers[node.name]]
            if keep_codes:
                for i, x in enumerate(ins):
                    codes[slots[node.name, i]].append(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            outs[node.name] = _step(node, *ins)
            for p in producers[node.name]:
                if last_use[p] == node.name:
                    del outs[p]
        outputs.append(outs[graph.nodes[-1].name])
    last = graph.nodes[-1]
    out = np.concatenate(outputs) if outputs else np.zeros((0, last.out_shape[0]), np.int64)
    kept = {n: np.concatenate(v) for n, v in codes.items() if v}
    return GoldenResult(kept, out, to_logits(last, out))


__all__ = [
    "FLOAT32_EXACT_BOUND",
    "GoldenResult",
    "check_inputs",
    "code_key",
    "code_keys",
    "layer_acc",
    "requantize",
    "run_golden",
    "run_node",
    "threshold_codes",
    "to_logits",
    "window_taps",
]
