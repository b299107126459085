"""The integer layer graph: frozen, typed nodes (``verify`` in :mod:`sat_hw.graph.checks`).

A :class:`Graph` is a DAG in topological order, ``Input -> layers ... -> Linear``: a node consumes
the output of the node before it unless its ``inputs`` names its producers (an :class:`Add` names
two; a tensor may be read by several consumers: a fork). Everything that crosses a node boundary is
an unsigned activation code ``0..2^bits-1`` held in ``uint8``; shapes are ``(C, H, W)`` per image.
A chain (no ``inputs`` anywhere) is the MobileNetV1 case.

Arithmetic, per node (all exact integers, see DESIGN.md "Arithmetic contract"):

- ``Conv`` (kxk, depthwise, pointwise):
  ``acc[co] = sum w[co, ci, i, j] * a[ci, y*s+i-pad, x*s+j-pad]``
  over the group of ``co``, padding with code 0. Weights are odd integers ``w = 2k - (2^wbits-1)``,
  ``|w| <= 2^wbits-1``. Then thresholds (below).
- ``MaxPool``: max of codes over the window (padding never wins: codes are >= 0 and each window
  holds at least one real pixel). ``out_bits == abits``, no thresholds.
- ``AvgPool`` (global): ``acc[c] = sum over H x W of the codes``, then thresholds.
- ``Add`` (residual sum of two code tensors ``a``, ``b`` of one shape, each with its own scale):
  ``acc[c, y, x] = mul_a[c] * a[c, y, x] + mul_b[c] * b[c, y, x]`` with integer multipliers
  ``|mul| <= 2^16`` (the operands' real scales as fixed-point factors on a common grid, see
  docs/residual.md), then thresholds.
- ``Linear`` (last node only), with the bias in fixed point, ``F = bias_frac_bits`` (0..16)::

      acc[o]    = sum w[o, i] * a[i]                      (integer; one step is worth ``scale``)
      out[o]    = acc[o] * 2^F + bias[o]                  (int64: the network's output)
      logits[o] = scale * out[o] / 2^F  = out_scale * out[o]

  ``scale`` keeps its meaning, the real value of one accumulator step; ``out_scale = scale * 2^-F``
  is that of one output step. ``bias = round(b_float / scale * 2^F)`` (half to even) holds the float
  bias to within ``2^-(F+1)`` of an accumulator step, so two classes with equal ``acc`` tie only if
  their float biases agree to ``2^-F`` steps (with ``F = 0`` it is the old integer bias, whose
  rounding made such ties common). Shifting by ``F`` multiplies every output by the same power of
  two, so argmax over ``out`` is argmax over ``acc + b_float / scale`` up to that rounding.

Thresholds (``Conv``, ``AvgPool``): ``thresholds`` is int64 ``(C, 2^out_bits - 1)``, each row sorted
ascending; ``direction[c]`` is +1 or -1::

    direction +1:  code = #{k : acc >= T[c, k]}
    direction -1:  code = #{k : acc <= T[c, k]}      (a channel with a negative slope)

The count does not depend on the order of a row, so rows are stored ascending for both directions.

Accumulator width: ``acc_bound = fan_in * (2^wbits - 1) * (2^abits - 1)`` bounds ``|acc|`` and
every partial sum, whatever the weights (so hardware estimates agree with it).
``acc_bits = acc_bits_for(acc_bound)`` is the signed two's complement width that holds
``[-(bound+1), bound+1]``: the accumulator and every threshold (a threshold that is always or
never met is clamped to ``-bound`` / ``bound + 1``, or ``bound`` / ``-bound - 1`` for direction -1).
For ``Linear``, ``acc_bits`` is the width of the output instead: ``out_bound = acc_bound * 2^F +
max|bias|`` bounds ``|out|`` (and ``|acc|``, and every partial sum of an accumulator that starts
at ``bias`` and adds ``w * a * 2^F``), and ``acc_bits >= acc_bits_for(out_bound)``. ``verify``
requires every ``acc_bound`` and ``out_bound`` below ``2^53``, which makes the golden executor's
float BLAS exact and the output exact as a float64.

Optional float provenance (``slope``, ``offset``, ``out_alpha``, ``out_zero``): the real value the
thresholds quantize is ``y = slope[c] * acc + offset[c]``, and the next layer's quantizer emits
``round((2^out_bits-1) * clip(y, 0, out_alpha) / out_alpha)`` (``out_zero = 0``, unsigned), or for a
signed quantizer (``out_zero = 2^(out_bits-1)``, the code of real 0) ``out_zero + clamp(round(y /
step), -out_zero, out_zero - 1)`` with ``step = out_alpha / (out_zero - 1)``; in both cases
``step = out_alpha / (2^out_bits - 1 - out_zero)`` (:func:`out_step`). They document where the thresholds
came from and explain rounding ties; the integer path never reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

FLOAT_EXACT_BOUND = 2**53
"""Integers of magnitude below this are exact in float64 (and every partial sum of them)."""

MAX_BIAS_FRAC_BITS = 16
"""Largest ``Linear.bias_frac_bits`` ``verify`` accepts (2^-17 of a step is far below float32's
resolution of any logit; more bits would only widen the output)."""


def levels(bits: int) -> int:
    """Largest code / weight magnitude at ``bits``: ``2^bits - 1``."""
    return (1 << bits) - 1


def acc_bound(fan_in: int, wbits: int, abits: int, bias: int = 0) -> int:
    """Bound on ``|acc|`` and every partial sum: ``fan_in * (2^wbits-1) * (2^abits-1) + |bias|``.

    ``wbits = 0`` means no weights (a sum of codes, as in the average pool).
    """
    wmax = levels(wbits) if wbits > 0 else 1
    return fan_in * wmax * levels(abits) + abs(int(bias))


def acc_bits_for(bound: int) -> int:
    """Signed width holding ``[-(bound+1), bound+1]``: the accumulator and clamped thresholds."""
    return int(bound + 1).bit_length() + 1


def _shape(v) -> tuple[int, int, int]:
    t = tuple(int(x) for x in v)
    if len(t) != 3:
        raise ValueError(f"shape must be (C, H, W), got {v!r}")
    return t


def _frozen(a) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


class _Node:
    """Normalises shapes to int tuples and makes arrays read-only copies."""

    _SHAPES: tuple[str, ...] = ("in_shape", "out_shape")
    _ARRAYS: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self._SHAPES:
            object.__setattr__(self, name, _shape(getattr(self, name)))
        for name in self._ARRAYS:
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _frozen(v))
        if hasattr(self, "inputs"):
            v = self.inputs
            if isinstance(v, str) or not isinstance(v, (tuple, list)):
                raise ValueError(f"inputs must be a list of node names, got {v!r}")
            object.__setattr__(self, "inputs", tuple(v))


@dataclass(frozen=True, eq=False)
class Input(_Node):
    """The image: ``shape = (C, H, W)`` codes at ``bits`` (8 for pixels)."""

    name: str
    shape: tuple[int, int, int]
    bits: int

    _SHAPES = ("shape",)
    op = "input"

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def out_bits(self) -> int:
        return self.bits


@dataclass(frozen=True, eq=False)
class Conv(_Node):
    """kxk / depthwise / pointwise convolution followed by per-channel thresholds.

    ``weights``: integer ``(out_ch, in_ch // groups, kernel, kernel)``, odd, ``|w| <= 2^wbits-1``.
    ``thresholds``: int64 ``(out_ch, 2^out_bits - 1)``, rows ascending;
    ``direction``: int8 ``(out_ch,)``.
    """

    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    stride: int
    pad: int
    groups: int
    wbits: int
    abits: int
    out_bits: int
    weights: np.ndarray
    thresholds: np.ndarray
    direction: np.ndarray
    acc_bits: int
    slope: np.ndarray | None = None
    offset: np.ndarray | None = None
    out_alpha: float | None = None
    out_zero: int = 0
    inputs: tuple[str, ...] = ()

    _ARRAYS = ("weights", "thresholds", "direction", "slope", "offset")

    @property
    def op(self) -> str:
        """``dw``, ``pw`` or ``conv`` (the model's layer kinds)."""
        c = self.in_shape[0]
        if self.groups > 1 and self.groups == c == self.out_shape[0]:
            return "dw"
        return "pw" if self.kernel == 1 else "conv"

    @property
    def fan_in(self) -> int:
        return self.in_shape[0] // self.groups * self.kernel * self.kernel

    @property
    def acc_bound(self) -> int:
        return acc_bound(self.fan_in, self.wbits, self.abits)

    @property
    def macs(self) -> int:
        return self.fan_in * self.out_shape[0] * self.out_shape[1] * self.out_shape[2]

    @property
    def weight_memory_bits(self) -> int:
        return int(self.weights.size) * self.wbits

    @property
    def threshold_memory_bits(self) -> int:
        return int(self.thresholds.size) * self.acc_bits


@dataclass(frozen=True, eq=False)
class MaxPool(_Node):
    """Max over ``kernel x kernel`` windows of codes; ``out_bits == abits``, no thresholds."""

    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int
    stride: int
    pad: int
    abits: int
    out_bits: int
    inputs: tuple[str, ...] = ()

    op = "maxpool"
    wbits = 0
    macs = 0
    weight_memory_bits = 0
    threshold_memory_bits = 0


@dataclass(frozen=True, eq=False)
class AvgPool(_Node):
    """Global average pool: sum of codes over H x W (``acc``), then per-channel thresholds.

    ``out_shape == (C, 1, 1)``; the 1/(H*W) and the scales live in the thresholds.
    """

    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    abits: int
    out_bits: int
    thresholds: np.ndarray
    direction: np.ndarray
    acc_bits: int
    slope: np.ndarray | None = None
    offset: np.ndarray | None = None
    out_alpha: float | None = None
    out_zero: int = 0
    inputs: tuple[str, ...] = ()

    _ARRAYS = ("thresholds", "direction", "slope", "offset")
    op = "pool"
    wbits = 0
    macs = 0
    weight_memory_bits = 0

    @property
    def threshold_memory_bits(self) -> int:
        return int(self.thresholds.size) * self.acc_bits

    @property
    def fan_in(self) -> int:
        return self.in_shape[1] * self.in_shape[2]

    @property
    def acc_bound(self) -> int:
        return acc_bound(self.fan_in, 0, self.abits)


@dataclass(frozen=True, eq=False)
class Linear(_Node):
    """Fully connected last layer: ``out = (w @ a) * 2^F + bias`` (int64), ``F = bias_frac_bits``;
    ``logits = scale * out / 2^F``.

    ``in_shape == (in_features, 1, 1)``, ``out_shape == (out_features, 1, 1)``;
    ``weights`` integer ``(out_features, in_features)``; ``bias`` int64 ``(out_features,)`` with
    ``F`` fraction bits (``round(b_float / scale * 2^F)``); ``scale`` the real value of one step of
    ``w @ a``; ``acc_bits`` the signed width of ``out`` (``>= acc_bits_for(out_bound)``).
    """

    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    wbits: int
    abits: int
    weights: np.ndarray
    bias: np.ndarray
    scale: float
    bias_frac_bits: int
    acc_bits: int
    inputs: tuple[str, ...] = ()

    _ARRAYS = ("weights", "bias")
    op = "fc"

    @property
    def fan_in(self) -> int:
        return self.in_shape[0]

    @property
    def acc_bound(self) -> int:
        """Bound on ``|w @ a|`` and its partial sums (no bias, no shift)."""
        return acc_bound(self.fan_in, self.wbits, self.abits)

    @property
    def out_bound(self) -> int:
        """Bound on ``|out| = |acc * 2^F + bias|``: ``acc_bound * 2^F + max|bias|``."""
        b = int(np.abs(self.bias.astype(np.int64)).max()) if self.bias.size else 0
        return (self.acc_bound << int(self.bias_frac_bits)) + b

    @property
    def out_scale(self) -> float:
        """Real value of one output step: ``scale * 2^-F`` (exact: a power-of-two factor)."""
        return math.ldexp(self.scale, -int(self.bias_frac_bits))

    @property
    def bias_bits(self) -> int:
        """Signed two's complement width of the widest bias (1 for all zero)."""
        if not self.bias.size:
            return 1
        b = self.bias.astype(np.int64)
        return max(max(int(b.max()), 0).bit_length(), max(int(-b.min() - 1), 0).bit_length()) + 1

    @property
    def macs(self) -> int:
        return self.fan_in * self.out_shape[0]

    @property
    def weight_memory_bits(self) -> int:
        """Weights at wbits plus the bias at ``bias_bits``."""
        return int(self.weights.size) * self.wbits + int(self.bias.size) * self.bias_bits

    threshold_memory_bits = 0


MAX_ADD_MUL = 1 << 16
"""Largest ``|mul_a|``, ``|mul_b|`` of an :class:`Add` that ``verify`` accepts."""


@dataclass(frozen=True, eq=False)
class Add(_Node):
    """Residual sum: ``acc = mul_a[c] * a + mul_b[c] * b`` (int64), then per-channel thresholds.

    ``inputs = (a, b)``: the producers of the two operands, ``a`` at ``abits`` (the main branch),
    ``b`` at ``bbits`` (the skip: a fork of an earlier tensor, or a projection conv);
    ``in_shape == out_shape``. ``mul_a``, ``mul_b``: int64 ``(C,)``. ``thresholds``/``direction``
    as for :class:`Conv`.
    """

    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    abits: int
    bbits: int
    out_bits: int
    mul_a: np.ndarray
    mul_b: np.ndarray
    thresholds: np.ndarray
    direction: np.ndarray
    acc_bits: int
    slope: np.ndarray | None = None
    offset: np.ndarray | None = None
    out_alpha: float | None = None
    out_zero: int = 0
    inputs: tuple[str, ...] = ()

    _ARRAYS = ("mul_a", "mul_b", "thresholds", "direction", "slope", "offset")
    op = "add"
    wbits = 0
    macs = 0
    weight_memory_bits = 0

    @property
    def fan_in(self) -> int:
        return 2

    @property
    def acc_bound(self) -> int:
        """``max|mul_a| * (2^abits-1) + max|mul_b| * (2^bbits-1)``."""
        ma = int(np.abs(self.mul_a.astype(np.int64)).max()) if self.mul_a.size else 0
        mb = int(np.abs(self.mul_b.astype(np.int64)).max()) if self.mul_b.size else 0
        return ma * levels(self.abits) + mb * levels(self.bbits)

    @property
    def threshold_memory_bits(self) -> int:
        return int(self.thresholds.size) * self.acc_bits


Node = Input | Conv | MaxPool | AvgPool | Linear | Add
Layer = Conv | MaxPool | AvgPool | Linear | Add


def out_step(node) -> float:
    """Real value of one output code step of a thresholding node (from its provenance):
    ``out_alpha / (2^out_bits - 1 - out_zero)``."""
    return float(node.out_alpha) / (levels(node.out_bits) - int(node.out_zero))


@dataclass(frozen=True, eq=False)
class Graph:
    """A verified DAG of nodes in topological order plus the model it came from.

    ``nodes[0]`` is the :class:`Input`, ``nodes[-1]`` the :class:`Linear` whose integers are the
    network's output; :meth:`producers` / :meth:`consumers` give the edges. Layer names are the
    model's (``conv0``, ``dw1``, ..., ``pool``, ``fc``).
    """

    name: str
    width: float
    resolution: int
    in_channels: int
    classes: int
    nodes: tuple[Node, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))

    @property
    def input(self) -> Input:
        return self.nodes[0]

    @property
    def layers(self) -> tuple[Layer, ...]:
        """Every node but the input, in order."""
        return self.nodes[1:]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"graph has no node {name!r}")

    @cached_property
    def _producer_map(self) -> dict[str, tuple[str, ...]]:
        """``{node name: its producers}`` of every node at once (the graph is immutable)."""
        nodes = self.nodes
        return {n.name: () if isinstance(n, Input) else
                getattr(n, "inputs", ()) or (nodes[i - 1].name,) for i, n in enumerate(nodes)}

    @cached_property
    def _consumer_map(self) -> dict[str, tuple[Node, ...]]:
        out: dict[str, list] = {n.name: [] for n in self.nodes}
        for n in self.layers:
            for p in self._producer_map[n.name]:
                out.setdefault(p, []).append(n)
        return {k: tuple(v) for k, v in out.items()}

    def producers(self, node: Node | str) -> tuple[str, ...]:
        """Names of the nodes whose outputs ``node`` consumes, in operand order: its ``inputs``,
        else the node before it (none for the Input)."""
        name = node if isinstance(node, str) else node.name
        if name not in self._producer_map:
            raise KeyError(f"graph has no node {name!r}")
        return self._producer_map[name]

    def consumers(self, name: str) -> tuple[Node, ...]:
        """The nodes that read ``name``'s output (two or more: a fork), in graph order."""
        return self._consumer_map.get(name, ())

    @property
    def is_chain(self) -> bool:
        """True when every node consumes the node before it (no fork, no Add)."""
        return all(self.producers(n) == (p.name,) for p, n in zip(self.nodes, self.nodes[1:]))

    def replace_node(self, node: Node) -> Graph:
        """A copy with the node of the same name replaced (for passes and tests)."""
        self.node(node.name)
        nodes = tuple(node if n.name == node.name else n for n in self.nodes)
        return Graph(self.name, self.width, self.resolution, self.in_channels, self.classes,
                     nodes, dict(self.meta))


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


__all__ = ["FLOAT_EXACT_BOUND", "MAX_ADD_MUL", "MAX_BIAS_FRAC_BITS", "Add", "AvgPool", "Conv", "Graph", "Input", "Layer",
           "Linear", "MaxPool", "Node", "acc_bits_for", "acc_bound", "conv_out", "levels", "out_step"]
