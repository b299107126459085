"""Folding: how many MAC lanes each layer gets (PE x SIMD), and the stream widths that follow.

One :class:`Fold` per layer of the graph, keyed by layer name. The meaning of PE and SIMD by op
(``node.op``), and what each must divide (see docs/hardware.md for the block diagrams):

=========  =========================================  ===========================================
op         PE                                         SIMD
=========  =========================================  ===========================================
``conv``   output channels in parallel (``| C_out``)   inputs of the window per cycle (``| fan_in``)
``pw``     output channels in parallel (``| C_out``)   input channels per cycle (``| C_in``)
``fc``     outputs in parallel (``| classes``)         inputs per cycle (``| in_features``)
``dw``     channels in parallel (``| C``)             kernel taps per cycle (``| k*k``)
``pool``   channels per cycle (``| C``)               1
``maxpool`` channels per cycle (``| C``)              1
``add``    channels per cycle (``| C``)               1
=========  =========================================  ===========================================

Streams between layers carry whole pixels in raster order, channels in order within a pixel,
``beat`` channels per transfer. A layer emits ``PE`` channels per beat and takes
:func:`in_beat` channels per beat; the generator puts a width converter between two layers that
differ (an ``add`` takes both operands at ``PE`` channels a beat, each through its own
converters). A kxk conv reads its window through the sliding-window generator, which stores
``gcd(SIMD, C_in)`` channels per word, so SIMD may exceed C_in (``conv0`` with one input channel
can take all 9 taps per cycle).

Cycles (:func:`layer_cycles`) are the steady-state initiation interval of one image, the larger of
what the compute unit needs and what the input stream delivers at one beat per cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sat_hw.graph.ir import Add, AvgPool, Conv, Graph, Layer, Linear, MaxPool

MULTS = ("lut", "dsp")
MEMS = ("auto", "lut", "bram", "uram", "external")
"""Weight memory styles (``[fold.<layer>] mem``): ``auto`` leaves it to synthesis (LUTs for small
ROMs, block RAM for large ones); ``lut`` and ``bram`` force a ROM into LUTs or block RAM. The
:data:`RUNTIME_MEMS` get their weights at run time through the accelerator's weight-load stream:
``uram`` (UltraRAM, which a bitstream cannot initialise on UltraScale+) and ``external`` (block
RAM that the bitstream leaves empty, priced as ``bram``)."""
RUNTIME_MEMS = ("uram", "external")
"""Memory styles whose weights are loaded at run time (docs/vivado.md, "Weight loading")."""
DEFAULT_LANES = 1024
"""MAC-lane budget of the default folding (``hw.lanes`` in flow.toml)."""


@dataclass(frozen=True)
class Fold:
    """PE and SIMD of one layer, how its multiplies map (``mult``: ``lut`` or ``dsp``) and where
    its weights live (``mem``, one of :data:`MEMS`; ``auto`` is left out of :meth:`as_dict`)."""

    pe: int = 1
    simd: int = 1
    mult: str = "lut"
    mem: str = "auto"

    def as_dict(self) -> dict:
        d = {"pe": self.pe, "simd": self.simd, "mult": self.mult}
        if self.mem != "auto":
            d["mem"] = self.mem
        return d


Folding = dict[str, Fold]


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def fold_limits(node: Layer) -> tuple[int, int]:
    """``(n_pe, n_simd)``: the numbers that PE and SIMD must divide for this layer."""
    if isinstance(node, Conv):
        if node.op == "dw":
            return node.out_shape[0], node.kernel * node.kernel
        if node.groups != 1:
            raise ValueError(f"layer {node.name}: grouped convolution (groups {node.groups}) has "
                             f"no hardware block; only dense and depthwise convolutions do")
        return node.out_shape[0], node.fan_in
    if isinstance(node, Linear):
        return node.out_shape[0], node.in_shape[0]
    if isinstance(node, (AvgPool, MaxPool, Add)):
        return node.out_shape[0], 1
    raise ValueError(f"layer {node.name}: no folding for {type(node).__name__}")


def is_mvu(node: Layer) -> bool:
    """A matrix-vector unit computes this layer (kxk conv, pointwise or fully connected)."""
    return isinstance(node, Linear) or (isinstance(node, Conv) and node.op != "dw")


def needs_window(node: Layer) -> bool:
    """The layer reads through a sliding-window generator (all but 1x1/stride-1/unpadded)."""
    if isinstance(node, MaxPool):
        return True
    if isinstance(node, Conv):
        return not (node.kernel == 1 and node.stride == 1 and node.pad == 0)
    return False


def window_simd(node: Layer, fold: Fold) -> int:
    """Channels per word of the layer's sliding-window generator (and per input beat)."""
    if isinstance(node, Conv) and node.op != "dw":
        return math.gcd(fold.simd, node.in_shape[0])
    return fold.pe


def in_beat(node: Layer, fold: Fold) -> int:
    """Channels per beat the layer takes on its input stream."""
    if needs_window(node):
        return window_simd(node, fold)
    if is_mvu(node):
        return fold.simd
    return fold.pe  # AvgPool, Add (each operand)


def out_beat(node: Layer, fold: Fold) -> int:
    """Channels (or outputs) per beat the layer emits."""
    return fold.pe


def check_fold(node: Layer, fold: Fold) -> None:
    """Raise one line naming the layer, the value and what would divide."""
    n_pe, n_simd = fold_limits(node)
    for what, v, n, unit in (("pe", fold.pe, n_pe, _pe_unit(node)),
                             ("simd", fold.simd, n_simd, _simd_unit(node))):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"fold.{node.name}.{what} must be a positive integer, got {v!r}")
        if n % v:
            raise ValueError(f"fold.{node.name}.{what} {v} does not divide {n} {unit} "
                             f"(use one of {', '.join(map(str, divisors(n)))})")
    if fold.mult not in MULTS:
        raise ValueError(f"fold.{node.name}.mult must be one of {', '.join(MULTS)}, "
                         f"got {fold.mult!r}")
    if fold.mult == "dsp" and not is_mvu(node):
        raise ValueError(f"fold.{node.name}.mult dsp: only conv, pw and fc layers have a "
                         f"matrix-vector unit that maps to DSPs, {node.name} is {node.op}")
    if fold.mem not in MEMS:
        raise ValueError(f"fold.{node.name}.mem must be one of {', '.join(MEMS)}, "
                         f"got {fold.mem!r}")
    if fold.mem != "auto" and node.wbits == 0:
        raise ValueError(f"fold.{node.name}.mem {fold.mem}: {node.name} ({node.op}) has no "
                         f"weights")


def _pe_unit(node: Layer) -> str:
    return "outputs" if isinstance(node, Linear) else "channels"


def _simd_unit(node: Layer) -> str:
    if isinstance(node, Conv):
        return "kernel taps" if node.op == "dw" else "inputs per output (k*k*C_in)"
    if isinstance(node, Linear):
        return "inputs"
    return "(no SIMD in this layer)"


def compute_cycles(node: Layer, fold: Fold) -> int:
    """Cycles per image the compute unit needs (one beat of PE x SIMD lanes per cycle)."""
    n_pe, n_simd = fold_limits(node)
    _, ho, wo = node.out_shape
    if isinstance(node, AvgPool):
        _, h, w = node.in_shape
        return h * w * (n_pe // fold.pe)
    return ho * wo * (n_pe // fold.pe) * (n_simd // fold.simd)


def input_cycles(node: Layer, fold: Fold) -> int:
    """Cycles per image to receive the input at one beat per cycle."""
    c, h, w = node.in_shape
    return h * w * (c // in_beat(node, fold))


def layer_cycles(node: Layer, fold: Fold) -> int:
    """Steady-state cycles per image: the slower of compute and input."""
    return max(compute_cycles(node, fold), input_cycles(node, fold))


def lanes(node: Layer, fold: Fold) -> int:
    """MAC lanes (multipliers) the layer uses: PE x SIMD for MVU/VVU layers, 0 otherwise (an
    add's two constant multiplies per channel are not MAC lanes)."""
    if isinstance(node, (AvgPool, MaxPool, Add)):
        return 0
    return fold.pe * fold.simd


def _cheapest(node: Layer, target: int, mult: str) -> Fold:
    """The fold with the fewest lanes whose cycles are <= target (ties: more SIMD, fewer PE: a PE lane carries its own thresholds, a SIMD lane only a product and an adder);
    the fastest fold if none reaches it."""
    n_pe, n_simd = fold_limits(node)
    best = None
    for pe in divisors(n_pe):
        for simd in divisors(n_simd):
            f = Fold(pe, simd, mult if is_mvu(node) else "lut")
            key = (layer_cycles(node, f) > target, pe * simd, layer_cycles(node, f), pe)
            if best is None or key < best[0]:
                best = (key, f)
    return best[1]


def fold_for_cycles(graph: Graph, target: int, mult: str = "lut") -> Folding:
    """Per layer the cheapest fold that reaches ``target`` cycles per image (or its fastest)."""
    return {n.name: _cheapest(n, target, mult) for n in graph.layers}


def interval(graph: Graph, folding: Folding) -> int:
    """Cycles per image of the whole pipeline: its slowest layer."""
    return max(layer_cycles(n, folding[n.name]) for n in graph.layers)


def dwc_chain(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """``(IN_N, OUT_N)`` of the width converters from ``n_in`` to ``n_out`` elements per beat:
    none when equal, one when either divides the other, else two through the lcm."""
    if n_in == n_out:
        return []
    if n_in % n_out == 0 or n_out % n_in == 0:
        return [(n_in, n_out)]
    mid = n_in * n_out // math.gcd(n_in, n_out)
    return [(n_in, mid), (mid, n_out)]


FIFO_DEPTH = 32
"""Depth of the FIFO after each layer (LUTRAM); the simulation reports each one's peak."""


def vector_fifo_depth(node: Layer, fold: Fold) -> int | None:
    """Depth in the unit's own beats of the FIFO before a matrix-vector unit fed without a window
    (pointwise conv, Linear); None for other layers. Such a unit replays its held input vector
    for every output fold and takes the next one only while its last fold runs, SIMD codes a
    cycle: the next vector waits there whole, so neither the producer nor the width converter's
    pace ever holds the unit up."""
    if not is_mvu(node) or needs_window(node):
        return None
    return node.fan_in // fold.simd + 4


def default_folding(graph: Graph, max_lanes: int = DEFAULT_LANES, mult: str = "lut") -> Folding:
    """The balanced folding with the shortest interval whose lanes (sum of PE x SIMD) fit
    ``max_lanes``: binary search over the target interval, each layer at its cheapest fold."""
    lo = 1
    hi = max(layer_cycles(n, Fold()) for n in graph.layers)
    best = fold_for_cycles(graph, hi, mult)
    while lo < hi:
        mid = (lo + hi) // 2
        f = fold_for_cycles(graph, mid, mult)
        if sum(lanes(n, f[n.name]) for n in graph.layers) <= max_lanes and \
                interval(graph, f) <= mid:
            best, hi = f, mid
        else:
            lo = mid + 1
    return best


__all__ = ["DEFAULT_LANES", "FIFO_DEPTH", "MEMS", "MULTS", "RUNTIME_MEMS", "Fold", "Folding", "check_fold", "compute_cycles",
           "default_folding", "divisors", "dwc_chain", "fold_for_cycles", "fold_limits", "in_beat",
           "input_cycles", "interval", "is_mvu", "lanes", "layer_cycles", "needs_window",
           "out_beat", "vector_fifo_depth", "window_simd"]
