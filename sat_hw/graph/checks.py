"""The invariants of the integer layer graph, checked by ``verify`` (see :mod:`sat_hw.graph.ir`).

Every failure is one ``ValueError("layer <name>: <what> ..., got <value>")`` line.
"""

from __future__ import annotations

import math

import numpy as np

from sat_hw.graph.ir import (
    FLOAT_EXACT_BOUND,
    MAX_ADD_MUL,
    MAX_BIAS_FRAC_BITS,
    Add,
    AvgPool,
    Conv,
    Graph,
    Input,
    Linear,
    MaxPool,
    acc_bits_for,
    conv_out,
    levels,
)


def _fail(node: str, msg: str) -> None:
    raise ValueError(f"layer {node}: {msg}")


def _check_bits(node: str, what: str, b, lo: int = 1) -> None:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not lo <= b <= 8:
        _fail(node, f"{what} must be {lo}..8, got {b!r}")


def _check_int_array(node: str, what: str, a: np.ndarray, shape: tuple) -> None:
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu":
        _fail(node, f"{what} must be an integer array, got {getattr(a, 'dtype', type(a))}")
    if a.shape != tuple(shape):
        _fail(node, f"{what} shape must be {tuple(shape)}, got {a.shape}")


def _check_weights(n: Conv | Linear, shape: tuple) -> None:
    _check_int_array(n.name, "weights", n.weights, shape)
    w = n.weights.astype(np.int64)
    m = levels(n.wbits)
    if w.size and int(np.abs(w).max()) > m:
        _fail(n.name, f"weights must satisfy |w| <= {m} at wbits {n.wbits}, "
                      f"got {int(np.abs(w).max())}")
    if w.size and np.any(w % 2 == 0):
        _fail(n.name, f"weights must be odd integers 2k-(2^wbits-1), got {int(w[w % 2 == 0][0])}")


def _check_acc(n, bound: int, what: str = "accumulator") -> None:
    if bound >= FLOAT_EXACT_BOUND:
        _fail(n.name, f"{what} bound {bound} reaches 2^53: float64 golden would not be exact")
    need = acc_bits_for(bound)
    if isinstance(n.acc_bits, bool) or not isinstance(n.acc_bits, (int, np.integer)):
        _fail(n.name, f"acc_bits must be an integer, got {n.acc_bits!r}")
    if not need <= n.acc_bits <= 64:
        _fail(n.name, f"acc_bits {n.acc_bits} too narrow: {what} bound {bound} needs {need}..64")


def _check_thresholds(n: Conv | AvgPool | Add) -> None:
    c = n.out_shape[0]
    _check_int_array(n.name, "thresholds", n.thresholds, (c, levels(n.out_bits)))
    if n.thresholds.dtype != np.int64:
        _fail(n.name, f"thresholds must be int64, got {n.thresholds.dtype}")
    _check_int_array(n.name, "direction", n.direction, (c,))
    bad = ~np.isin(n.direction, (-1, 1))
    if bad.any():
        _fail(n.name, f"direction must be +1 or -1, got {int(n.direction[bad][0])} "
                      f"at channel {int(np.argmax(bad))}")
    t = n.thresholds
    if t.shape[1] > 1:
        unsorted = np.any(np.diff(t, axis=1) < 0, axis=1)
        if unsorted.any():
            ch = int(np.argmax(unsorted))
            _fail(n.name, f"thresholds of channel {ch} are not ascending: {t[ch].tolist()[:8]}")
    lo, hi = -(1 << (n.acc_bits - 1)), (1 << (n.acc_bits - 1)) - 1
    if t.size and (int(t.min()) < lo or int(t.max()) > hi):
        v = int(t.min()) if int(t.min()) < lo else int(t.max())
        _fail(n.name, f"threshold {v} does not fit the {n.acc_bits}-bit accumulator")
    for what in ("slope", "offset"):
        v = getattr(n, what)
        if v is not None and (v.shape != (c,) or not np.all(np.isfinite(v))):
            _fail(n.name, f"{what} must be finite float of shape ({c},), got {v.shape}")
    if n.out_alpha is not None and not (isinstance(n.out_alpha, float)
                                        and math.isfinite(n.out_alpha) and n.out_alpha > 0):
        _fail(n.name, f"out_alpha must be finite and > 0, got {n.out_alpha!r}")
    z = n.out_zero
    if isinstance(z, bool) or not isinstance(z, (int, np.integer)) \
            or z not in (0, 1 << (n.out_bits - 1)) or (z and n.out_bits < 2):
        _fail(n.name, f"out_zero must be 0 (unsigned codes) or 2^(out_bits-1) (signed, "
                      f"out_bits >= 2), got {z!r}")


def _check_geometry(n: Conv | MaxPool, names: tuple[str, ...]) -> None:
    for what in (*names, "pad"):
        v = getattr(n, what)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (what != "pad"):
            _fail(n.name, f"{what} must be a {'positive' if what != 'pad' else 'non-negative'} "
                          f"integer, got {v!r}")


def _verify_conv(n: Conv) -> None:
    c, h, w = n.in_shape
    _check_geometry(n, ("kernel", "stride", "groups"))
    if not 0 <= n.pad < n.kernel:
        _fail(n.name, f"pad must be 0..kernel-1, got {n.pad}")
    co = n.out_shape[0]
    if c % n.groups or co % n.groups:
        _fail(n.name, f"groups {n.groups} must divide in channels {c} and out channels {co}")
    want = (co, conv_out(h, n.kernel, n.stride, n.pad), conv_out(w, n.kernel, n.stride, n.pad))
    if n.out_shape != want:
        _fail(n.name, f"out_shape must be {want} for this kernel/stride/pad, got {n.out_shape}")
    _check_bits(n.name, "wbits", n.wbits)
    _check_weights(n, (co, c // n.groups, n.kernel, n.kernel))
    _check_acc(n, n.acc_bound)
    _check_thresholds(n)


def _verify_maxpool(n: MaxPool) -> None:
    c, h, w = n.in_shape
    _check_geometry(n, ("kernel", "stride"))
    if not 0 <= n.pad <= n.kernel // 2:
        _fail(n.name, f"pad must be 0..kernel//2, got {n.pad}")
    want = (c, conv_out(h, n.kernel, n.stride, n.pad), conv_out(w, n.kernel, n.stride, n.pad))
    if n.out_shape != want:
        _fail(n.name, f"out_shape must be {want}, got {n.out_shape}")
    if n.out_bits != n.abits:
        _fail(n.name, f"max pool passes codes through: out_bits must equal abits {n.abits}, "
                      f"got {n.out_bits}")


def _verify_avgpool(n: AvgPool) -> None:
    if n.out_shape != (n.in_shape[0], 1, 1):
        _fail(n.name, f"global average pool out_shape must be ({n.in_shape[0]}, 1, 1), "
                      f"got {n.out_shape}")
    _check_acc(n, n.acc_bound)
    _check_thresholds(n)


def _verify_linear(n: Linear) -> None:
    if n.in_shape[1:] != (1, 1) or n.out_shape[1:] != (1, 1):
        _fail(n.name, f"linear shapes must be (C, 1, 1), got {n.in_shape} -> {n.out_shape}")
    _check_bits(n.name, "wbits", n.wbits)
    _check_weights(n, (n.out_shape[0], n.in_shape[0]))
    _check_int_array(n.name, "bias", n.bias, (n.out_shape[0],))
    if n.bias.dtype != np.int64:
        _fail(n.name, f"bias must be int64, got {n.bias.dtype}")
    if not (isinstance(n.scale, float) and math.isfinite(n.scale) and n.scale > 0):
        _fail(n.name, f"scale must be a finite float > 0, got {n.scale!r}")
    f = n.bias_frac_bits
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) \
            or not 0 <= f <= MAX_BIAS_FRAC_BITS:
        _fail(n.name, f"bias_frac_bits must be an integer 0..{MAX_BIAS_FRAC_BITS}, got {f!r}")
    _check_acc(n, n.acc_bound)
    _check_acc(n, n.out_bound, "output")


def _verify_add(n: Add) -> None:
    if n.out_shape != n.in_shape:
        _fail(n.name, f"add out_shape must equal in_shape {n.in_shape}, got {n.out_shape}")
    _check_bits(n.name, "bbits", n.bbits)
    for what in ("mul_a", "mul_b"):
        m = getattr(n, what)
        _check_int_array(n.name, what, m, (n.in_shape[0],))
        if m.size and int(np.abs(m.astype(np.int64)).max()) > MAX_ADD_MUL:
            _fail(n.name, f"{what} must satisfy |m| <= {MAX_ADD_MUL}, "
                          f"got {int(np.abs(m.astype(np.int64)).max())}")
    _check_acc(n, n.acc_bound)
    _check_thresholds(n)


def _verify_edges(graph: Graph, i: int, index: dict[str, int]) -> tuple[str, ...]:
    """Node ``i``'s operands: earlier nodes (topological order), one (two for an Add), shapes and
    bits as they emit, an unpadded reader for signed codes. Returns the producers' names."""
    nodes = graph.nodes
    n = nodes[i]
    if isinstance(n, Input):
        _fail(n.name, "an Input node may only come first")
    if not all(isinstance(p, str) for p in getattr(n, "inputs", ())):
        _fail(n.name, f"inputs must be node names, got {list(n.inputs)!r}")
    prods = graph.producers(n)
    want = 2 if isinstance(n, Add) else 1
    if len(prods) != want or len(set(prods)) != len(prods):
        _fail(n.name, f"{type(n).__name__} takes {want} distinct input(s), got {list(prods)}")
    for slot, p in enumerate(prods):
        j = index.get(p)
        if j is None or j >= i:
            _fail(n.name, f"input {p!r} must be a node before it (graph order is topological)")
        prev = nodes[j]
        if isinstance(prev, Linear):
            _fail(prev.name, "Linear must be the last node (nothing may read it)")
        if n.in_shape != prev.out_shape:
            _fail(n.name, f"in_shape {n.in_shape} != {prev.name} out_shape {prev.out_shape}")
        what = ("abits", "bbits")[slot]
        bits = getattr(n, what)
        _check_bits(n.name, what, bits)
        if bits != prev.out_bits:
            _fail(n.name, f"{what} {bits} != bits {prev.out_bits} that {prev.name} emits")
        if isinstance(n, (Conv, MaxPool)) and n.pad and getattr(prev, "out_zero", 0):
            _fail(n.name, f"pads with code 0, but {prev.name} emits signed codes (zero point "
                          f"{prev.out_zero}); only unpadded layers may read them")
    if not isinstance(n, Linear):
        _check_bits(n.name, "out_bits", n.out_bits)
    return prods


def verify(graph: Graph) -> Graph:
    """Check every invariant; raise ``ValueError("layer <name>: ...")`` on the first broken one.

    Edges (:meth:`Graph.producers`) in topological order, one input per node and two per Add, no
    dead ends; shapes and bits 1..8 along every edge (``abits``/``bbits`` what the producer
    emits; an unpadded reader for signed codes), weights odd
    integers with ``|w| <= 2^wbits-1``, thresholds int64 rows ascending that fit ``acc_bits``,
    directions +-1, ``acc_bits >= acc_bits_for(acc_bound)`` and ``acc_bound < 2^53`` (for Linear:
    ``bias_frac_bits`` 0..16, ``out_bound`` in place of ``acc_bound``), Linear last.
    Returns the graph, so passes can end with ``return verify(graph)``.
    """
    if not isinstance(graph.name, str) or not graph.name:
        raise ValueError(f"graph: name must be a non-empty string, got {graph.name!r}")
    if isinstance(graph.width, bool) or not isinstance(graph.width, (int, float)) \
            or not graph.width > 0:
        raise ValueError(f"graph: width must be a number > 0, got {graph.width!r}")
    for what in ("resolution", "in_channels", "classes"):
        v = getattr(graph, what)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"graph: {what} must be a positive integer, got {v!r}")
    nodes = graph.nodes
    if len(nodes) < 2 or not isinstance(nodes[0], Input) or not isinstance(nodes[-1], Linear):
        raise ValueError("graph must be Input, layers..., Linear; got "
                         + ", ".join(type(n).__name__ for n in nodes))
    names = [n.name for n in nodes]
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or name in names[:i]:
            raise ValueError(f"node {i}: names must be unique non-empty strings, got {name!r}")
    inp = nodes[0]
    _check_bits(inp.name, "bits", inp.bits)
    want = (graph.in_channels, graph.resolution, graph.resolution)
    if inp.shape != want:
        _fail(inp.name, f"shape must be (in_channels, resolution, resolution) = {want}, "
                        f"got {inp.shape}")
    if nodes[-1].out_shape[0] != graph.classes:
        _fail(nodes[-1].name, f"out features {nodes[-1].out_shape[0]} != classes {graph.classes}")
    index = {n.name: i for i, n in enumerate(nodes)}
    read: set[str] = set()
    for i, n in enumerate(nodes[1:], start=1):
        read.update(_verify_edges(graph, i, index))
        if isinstance(n, Conv):
            _verify_conv(n)
        elif isinstance(n, MaxPool):
            _verify_maxpool(n)
        elif isinstance(n, AvgPool):
            _verify_avgpool(n)
        elif isinstance(n, Linear):
            _verify_linear(n)
        elif isinstance(n, Add):
            _verify_add(n)
        else:
            _fail(getattr(n, "name", "?"), f"unknown node type {type(n).__name__}")
    dead = [n.name for n in nodes[:-1] if n.name not in read]
    if dead:
        _fail(dead[0], "its output is read by no node (every node but the last must feed one)")
    return graph


__all__ = ["verify"]
