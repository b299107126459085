"""A deliberately naive reference executor: loops over every output element, int64 arithmetic.

It shares nothing with :mod:`sat_hw.graph.golden` but the IR and the result type, and is slow on
purpose (small graphs only). Tests check ``run_golden == run_naive`` element for element.
"""

from __future__ import annotations

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.golden import GoldenResult, check_inputs, code_key, code_keys
from sat_hw.graph.ir import Add, AvgPool, Conv, Graph, Linear, MaxPool


def _count(acc: int, row: np.ndarray, direction: int) -> int:
    """The threshold rule, literally: sum over k of [acc >= T_k] (or [acc <= T_k])."""
    if direction > 0:
        return sum(1 for t in row.tolist() if acc >= t)
    return sum(1 for t in row.tolist() if acc <= t)


def _conv(node: Conv, x: np.ndarray) -> np.ndarray:
    """x: int64 (C, H, W) of one image -> uint8 codes (Co, Ho, Wo)."""
    c, h, w = node.in_shape
    co, ho, wo = node.out_shape
    k, s, p, g = node.kernel, node.stride, node.pad, node.groups
    cg, og = c // g, co // g
    xp = np.zeros((c, h + 2 * p, w + 2 * p), np.int64)
    xp[:, p:p + h, p:p + w] = x
    wt = node.weights.astype(np.int64)
    out = np.zeros((co, ho, wo), np.uint8)
    for o in range(co):
        grp = o // og
        for y in range(ho):
            for xx in range(wo):
                patch = xp[grp * cg:(grp + 1) * cg, y * s:y * s + k, xx * s:xx * s + k]
                acc = int((wt[o] * patch).sum())
                out[o, y, xx] = _count(acc, node.thresholds[o], int(node.direction[o]))
    return out


def _maxpool(node: MaxPool, x: np.ndarray) -> np.ndarray:
    c, h, w = node.in_shape
    _, ho, wo = node.out_shape
    k, s, p = node.kernel, node.stride, node.pad
    out = np.zeros((c, ho, wo), np.uint8)
    for ch in range(c):
        for y in range(ho):
            for xx in range(wo):
                best = 0
                for i in range(k):
                    for j in range(k):
                        iy, ix = y * s + i - p, xx * s + j - p
                        if 0 <= iy < h and 0 <= ix < w:
                            best = max(best, int(x[ch, iy, ix]))
                out[ch, y, xx] = best
    return out


def _avgpool(node: AvgPool, x: np.ndarray) -> np.ndarray:
    out = np.zeros(node.out_shape, np.uint8)
    for ch in range(node.in_shape[0]):
        acc = int(x[ch].sum())
        out[ch, 0, 0] = _count(acc, node.thresholds[ch], int(node.direction[ch]))
    return out


def _add(node: Add, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    c, h, w = node.in_shape
    out = np.zeros((c, h, w), np.uint8)
    for ch in range(c):
        ma, mb = int(node.mul_a[ch]), int(node.mul_b[ch])
        for y in range(h):
            for xx in range(w):
                acc = ma * int(a[ch, y, xx]) + mb * int(b[ch, y, xx])
                out[ch, y, xx] = _count(acc, node.thresholds[ch], int(node.direction[ch]))
    return out


def _linear(node: Linear, x: np.ndarray) -> np.ndarray:
    a = x.reshape(-1)
    out = np.zeros(node.out_shape[0], np.int64)
    for o in range(node.out_shape[0]):
        acc = 0
        for i in range(a.shape[0]):
            acc += int(node.weights[o, i]) * int(a[i])
        out[o] = acc * 2 ** int(node.bias_frac_bits) + int(node.bias[o])
    return out


def run_naive(graph: Graph, inputs: np.ndarray) -> GoldenResult:
    """Same contract as :func:`sat_hw.graph.golden.run_golden`, one image and element at a time."""
    verify(graph)
    xs = check_inputs(graph, inputs)
    codes: dict[str, list[np.ndarray]] = {k: [] for k, _, _ in code_keys(graph)}
    outputs = []
    for img in xs:
        vals = {graph.input.name: img.astype(np.int64)}
        for node in graph.layers:
            ins = [vals[p] for p in graph.producers(node)]
            for i, v in enumerate(ins):
                codes[code_key(node.name, i)].append(v.astype(np.uint8))
            x = ins[0]
            if isinstance(node, Conv):
                y = _conv(node, x).astype(np.int64)
            elif isinstance(node, MaxPool):
                y = _maxpool(node, x).astype(np.int64)
            elif isinstance(node, AvgPool):
                y = _avgpool(node, x).astype(np.int64)
            elif isinstance(node, Add):
                y = _add(node, x, ins[1]).astype(np.int64)
            else:
                y = _linear(node, x)
            vals[node.name] = y
        outputs.append(vals[graph.nodes[-1].name])
    out = np.stack(outputs).astype(np.int64)
    scale = graph.nodes[-1].scale / 2 ** int(graph.nodes[-1].bias_frac_bits)
    return GoldenResult({n: np.stack(v) for n, v in codes.items()}, out,
                        out.astype(np.float64) * scale)


__all__ = ["run_naive"]
