"""The hardware plan: (graph, folding) -> every block instance of the accelerator, in stream order.

The one place that decides what the hardware is. Per layer (docs/hardware.md, "Folding"):

1. width converters (``sat_dwc``) from the producer's beat to the layer's input beat, two through
   the lcm when neither divides the other;
2. before a matrix-vector unit fed without a window (pointwise, fc) a FIFO holding one whole input
   vector (``sat_fifo``, role ``vbuf``);
3. the sliding-window generator (``sat_swg``) where the layer reads a window, then converters
   that split its window beat into the compute unit's beat;
4. the compute block: ``sat_mvu`` (kxk, pointwise, fc), ``sat_vvu`` (depthwise), ``sat_avgpool``,
   ``sat_maxpool``;
5. the requantizing thresholds (``sat_thresholds``) or the fc's bias (``sat_bias``);
6. the FIFO after the layer (``sat_fifo``, role ``fifo``; its fill count goes to the testbench);
7. where two layers read the layer's output (a residual graph's fork, :mod:`sat_hw.hw.dag`):
   the fork (``sat_fork``, role ``fork``: one stream in, the main and the skip stream out) and
   the skip FIFO (``sat_fifo``, role ``skip``), as deep as :func:`sat_hw.hw.skip.skip_depth`
   computes from the planned main branch (the beats it can hold, plus the fork's drift; its
   reason in :attr:`LayerPlan.skip_reason`).

An ``Add`` takes each operand through its own converters (roles ``dwc_a``, ``dwc_b``, from that
operand's producer's beat to ``PE``), then ``sat_add`` (role ``add``: ``mul_a*a + mul_b*b`` per
channel, the multipliers a ROM) and thresholds. :attr:`LayerPlan.sources` says which stream each
operand reads: the producer's output, or the main or skip stream of its fork.

Every block has the same stream ports, so the accelerator is the list of blocks between
consecutive streams. Each :class:`~sat_hw.hw.blocks.Block` carries its module, instance name,
parameters (those of the RTL module, ROM file names included), its output stream width and the
style of its weight memory. ``codegen.rtl`` renders the plan, ``codegen.hls`` follows its chain,
``hw.cost`` prices it and ``hw.cycles`` times it: nothing else derives a stream width or a block
parameter from the folding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sat_hw.graph.ir import Add, AvgPool, Conv, Graph, Layer, Linear, MaxPool, acc_bits_for
from sat_hw.hw.blocks import Block
from sat_hw.hw.dag import FORK_ROLES, forks
from sat_hw.hw.devices import dsp_a_width
from sat_hw.hw.fold import (
    FIFO_DEPTH,
    RUNTIME_MEMS,
    Fold,
    Folding,
    dwc_chain,
    fold_limits,
    in_beat,
    is_mvu,
    layer_cycles,
    needs_window,
    vector_fifo_depth,
    window_simd,
)
from sat_hw.hw.skip import skip_depth

ENCODING = "k"
"""Weight encoding of the ROMs: SAT's unsigned codes ``k = (w + 2^b - 1) / 2``."""
CORE_ROLES = ("mvu", "vvu", "pool", "max", "add")


@dataclass(frozen=True)
class LayerPlan:
    """One layer's blocks (the FIFO after it last), its fold, the channels per beat it takes
    (``in_beat``), the channels per word of its window generator (``group``: the order of a kxk
    conv's weight columns, docs/hardware.md), its steady-state cycles per image and, per operand,
    the stream it reads (``sources``: ``(producer, branch)``, branch ``""`` for the producer's
    output, ``"main"`` or ``"skip"`` for a stream of its fork; ``("input", "")`` for the first
    layer; empty for a plan made of one layer alone); for a forked layer, why its skip FIFO is
    as deep as it is (``skip_reason``, :class:`sat_hw.hw.skip.SkipDepth`)."""

    node: Layer
    fold: Fold
    blocks: tuple[Block, ...]
    in_beat: int
    group: int
    cycles: int
    sources: tuple[tuple[str, str], ...] = ()
    skip_reason: str = ""

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def core(self) -> int:
        """Index in :attr:`blocks` of the compute block."""
        return next(i for i, b in enumerate(self.blocks) if b.role in CORE_ROLES)

    @property
    def out_beats(self) -> int:
        """Beats the layer emits per image (``PE`` channels or outputs each)."""
        c, h, w = self.node.out_shape
        return h * w * c // self.fold.pe

    @property
    def in_beats(self) -> int:
        """Beats the layer takes per image (:attr:`in_beat` channels each)."""
        c, h, w = self.node.in_shape
        return h * w * c // self.in_beat


@dataclass(frozen=True)
class HardwarePlan:
    """The whole accelerator: the graph, its layers' plans in stream order, the DSP family the
    products are packed for, and the input stream's width."""

    graph: Graph
    layers: tuple[LayerPlan, ...]
    family: str

    @property
    def blocks(self) -> list[Block]:
        return [b for lp in self.layers for b in lp.blocks]

    @property
    def in_width(self) -> int:
        """Bits of the accelerator's input beat (``in_beat`` codes)."""
        return self.layers[0].in_beat * self.graph.input.bits

    @property
    def interval(self) -> int:
        """Cycles per image of the whole pipeline: its slowest layer."""
        return max(lp.cycles for lp in self.layers)

    def interface(self) -> dict:
        """What the top level's streams carry (for docs, the testbench and the report)."""
        first, last = self.layers[0], self.layers[-1]
        return {"in_channels_per_beat": first.in_beat, "in_bits": self.graph.input.bits,
                "out_per_beat": last.fold.pe, "out_bits": last.node.acc_bits,
                "in_beats_per_image": first.in_beats,
                "out_beats_per_image": last.node.out_shape[0] // last.fold.pe}


def _mvu_acc_bits(node: Conv | Linear) -> int:
    return acc_bits_for(node.acc_bound) if isinstance(node, Linear) else node.acc_bits


def _dwcs(layer: str, elem_w: int, n_in: int, n_out: int, tag: str) -> list[Block]:
    return [Block("sat_dwc", {"ELEM_W": elem_w, "IN_N": a, "OUT_N": b}, "dwc",
                  name=f"{layer}_{tag}{i}", layer=layer, out_w=b * elem_w)
            for i, (a, b) in enumerate(dwc_chain(n_in, n_out))]


def _weights(name: str, fold: Fold) -> dict:
    """The weight memory's image ``WEIGHT_FILE``; none for a memory loaded at run time
    (:data:`~sat_hw.hw.fold.RUNTIME_MEMS`: the bitstream does not initialise it)."""
    return {} if fold.mem in RUNTIME_MEMS else {"WEIGHT_FILE": f"mem/{name}_w.hex"}


def _styled(fold: Fold) -> dict:
    """The weight memory's ``MEM_STYLE`` (the fold's ``mem``), passed only where it is not
    ``auto``: the RTL blocks' default, so a plan without styles gives the same parameters as
    before."""
    return {} if fold.mem == "auto" else {"MEM_STYLE": fold.mem}


def mul_bits(node: Add) -> int:
    """Signed width of an add's multipliers (both tables): holds ``max |mul_a|, |mul_b|``."""
    m = max([abs(int(v)) for v in node.mul_a] + [abs(int(v)) for v in node.mul_b] + [1])
    return m.bit_length() + 1


def _compute(node: Layer, fold: Fold, dsp_a_w: int) -> Block:
    name, a = node.name, node.abits
    if isinstance(node, Add):
        p = {"CH": node.out_shape[0], "PE": fold.pe, "ABITS": a, "BBITS": node.bbits,
             "MUL_BITS": mul_bits(node), "ACC_BITS": node.acc_bits,
             "MUL_FILE": f"mem/{name}_m.hex"}
        return Block("sat_add", p, "add", name=f"{name}_add", layer=name,
                     out_w=fold.pe * node.acc_bits)
    if is_mvu(node):
        acc = _mvu_acc_bits(node)
        p = {"MH": node.out_shape[0], "MW": node.fan_in, "PE": fold.pe, "SIMD": fold.simd,
             "WBITS": node.wbits, "ABITS": a, "ACC_BITS": acc, **_weights(name, fold),
             "ENCODING": ENCODING, "MULT": fold.mult,
             **({"DSP_A_W": dsp_a_w} if fold.mult == "dsp" else {}), **_styled(fold)}
        return Block("sat_mvu", p, "mvu", fold.mem, f"{name}_mvu", name, fold.pe * acc)
    if isinstance(node, Conv):
        p = {"CH": node.out_shape[0], "K2": node.kernel * node.kernel, "PE": fold.pe,
             "SIMD": fold.simd, "WBITS": node.wbits, "ABITS": a, "ACC_BITS": node.acc_bits,
             **_weights(name, fold), "ENCODING": ENCODING, **_styled(fold)}
        return Block("sat_vvu", p, "vvu", fold.mem, f"{name}_vvu", name, fold.pe * node.acc_bits)
    if isinstance(node, AvgPool):
        c, h, w = node.in_shape
        p = {"CH": c, "PIXELS": h * w, "PE": fold.pe, "ABITS": a, "ACC_BITS": node.acc_bits}
        return Block("sat_avgpool", p, "pool", name=f"{name}_sum", layer=name,
                     out_w=fold.pe * node.acc_bits)
    if isinstance(node, MaxPool):
        p = {"CH": node.in_shape[0], "PE": fold.pe, "K2": node.kernel * node.kernel, "ABITS": a}
        return Block("sat_maxpool", p, "max", name=f"{name}_max", layer=name, out_w=fold.pe * a)
    raise ValueError(f"layer {name}: no hardware block for {type(node).__name__}")


def _output(node: Layer, fold: Fold) -> list[Block]:
    name = node.name
    if isinstance(node, (Conv, AvgPool, Add)):
        p = {"CH": node.out_shape[0], "PE": fold.pe, "ACC_BITS": node.acc_bits,
             "OUT_BITS": node.out_bits, "THRESH_PREFIX": f"mem/{name}_t"}
        return [Block("sat_thresholds", p, "thr", name=f"{name}_thr", layer=name,
                      out_w=fold.pe * node.out_bits)]
    if isinstance(node, Linear):
        p = {"CH": node.out_shape[0], "PE": fold.pe, "IN_BITS": _mvu_acc_bits(node),
             "OUT_BITS": node.acc_bits, "FRAC": node.bias_frac_bits,
             "BIAS_BITS": node.bias_bits, "BIAS_FILE": f"mem/{name}_b.hex"}
        return [Block("sat_bias", p, "bias", name=f"{name}_bias", layer=name,
                      out_w=fold.pe * node.acc_bits)]
    return []


def check_memories(folding: Folding, device, explicit: dict | None = None) -> None:
    """One line (``ValueError``) for a fold whose weights ``device`` (a
    :class:`~sat_hw.hw.devices.Device`) cannot hold: ``mem = "uram"`` on a part without
    UltraRAM (7 series, ECP5). ``explicit``: the ``[fold.<layer>]`` tables, to say where a URAM
    came from. URAM and ``external`` weights are loaded at run time (the RTL's weight-load
    stream, docs/vivado.md)."""
    if device.uram:
        return
    for name, f in folding.items():
        if f.mem == "uram":
            why = "" if (explicit or {}).get(name, {}).get("mem") == "uram" else " (planned)"
            raise ValueError(f"fold.{name}.mem uram{why}: {device.name} ({device.family}) has no "
                             f"UltraRAM; set [fold.{name}] mem = \"external\" (block RAM loaded "
                             f"at run time) or \"bram\"")


def runtime_layers(plan: HardwarePlan) -> list[LayerPlan]:
    """The layers whose weights are loaded at run time (their fold's ``mem`` in
    :data:`~sat_hw.hw.fold.RUNTIME_MEMS`), in stream order: the weight-load stream's layer
    index is the position in this list."""
    return [lp for lp in plan.layers if lp.fold.mem in RUNTIME_MEMS]


def layer_plan(node: Layer, fold: Fold, prev_beat: int | tuple | None = None,
               dsp_a_w: int = 27, fifo_depth: int = FIFO_DEPTH,
               sources: tuple[tuple[str, str], ...] = ()) -> LayerPlan:
    """The blocks of one layer fed ``prev_beat`` channels per beat (its own input beat when
    None: no converter; for an ``Add`` one per operand, a tuple); ``dsp_a_w`` is the DSP's wide
    port for ``mult = "dsp"`` (:func:`sat_hw.hw.devices.dsp_a_width`); ``sources`` as
    :attr:`LayerPlan.sources`."""
    name, a = node.name, node.abits
    fold_limits(node)  # one line for a layer no block computes (a grouped conv)
    beat = in_beat(node, fold)
    group = window_simd(node, fold)
    if isinstance(node, Add):
        pa, pb = prev_beat if isinstance(prev_beat, tuple) else (prev_beat, prev_beat)
        out = [replace(b, role="dwc_a") for b in _dwcs(name, a, pa or beat, beat, "a_in")]
        out += [replace(b, role="dwc_b") for b in _dwcs(name, node.bbits, pb or beat, beat,
                                                        "b_in")]
        out.append(_compute(node, fold, dsp_a_w))
        out += _output(node, fold)
        out.append(_out_fifo(name, out[-1].out_w, fifo_depth))
        return LayerPlan(node, fold, tuple(out), beat, group, layer_cycles(node, fold),
                         sources)
    if isinstance(prev_beat, tuple):
        (prev_beat,) = prev_beat
    out = _dwcs(name, a, beat if prev_beat is None else prev_beat, beat, "in")
    vdepth = vector_fifo_depth(node, fold)
    if vdepth is not None:  # the next input vector waits whole, at the unit's width
        out.append(Block("sat_fifo", {"DATA_W": fold.simd * a, "DEPTH": vdepth,
                                      "RAM_STYLE": "distributed"}, "vbuf", name=f"{name}_vbuf",
                         layer=name, out_w=fold.simd * a, ports=(("count", ""),)))
    if needs_window(node):
        c, h, w = node.in_shape
        k2 = node.kernel * node.kernel
        out.append(Block("sat_swg", {"CH": c, "IN_H": h, "IN_W": w, "K": node.kernel,
                                     "STRIDE": node.stride, "PAD": node.pad, "SIMD": group,
                                     "ELEM_W": a, "ROWS": node.kernel + node.stride}, "swg",
                         name=f"{name}_swg", layer=name, out_w=k2 * group * a))
        if is_mvu(node):
            out += _dwcs(name, a, k2 * group, fold.simd, "win")
        elif isinstance(node, Conv):
            out += _dwcs(name, a, k2 * fold.pe, fold.simd * fold.pe, "win")
    out.append(_compute(node, fold, dsp_a_w))
    out += _output(node, fold)
    out.append(_out_fifo(name, out[-1].out_w, fifo_depth))
    return LayerPlan(node, fold, tuple(out), beat, group, layer_cycles(node, fold), sources)


def _out_fifo(name: str, width: int, depth: int) -> Block:
    return Block("sat_fifo", {"DATA_W": width, "DEPTH": depth, "RAM_STYLE": "distributed"},
                 "fifo", name=f"{name}_fifo", layer=name, out_w=width,
                 ports=(("count", f"{name}_fifo_count"),))


def fork_blocks(lp: LayerPlan, depth: int = 2) -> tuple[Block, ...]:
    """The fork after ``lp``'s FIFO and the FIFO of ``depth`` beats on its skip stream (module
    doc, step 7)."""
    name, width = lp.name, lp.blocks[-1].out_w
    return (Block("sat_fork", {"DATA_W": width}, "fork", name=f"{name}_fork", layer=name,
                  out_w=width),
            Block("sat_fifo", {"DATA_W": width, "DEPTH": depth, "RAM_STYLE": "auto"}, "skip",
                  name=f"{name}_skip_fifo", layer=name, out_w=width))


def hardware_plan(graph: Graph, folding: Folding, family: str = "xcup",
                  fifo_depth: int = FIFO_DEPTH) -> HardwarePlan:
    """The accelerator for ``graph`` folded by ``folding`` on a device of ``family`` (``xc7``
    or ``xcup``: how many products a DSP multiply packs)."""
    missing = [n.name for n in graph.layers if n.name not in folding]
    if missing:
        raise ValueError(f"folding has no entry for layer {missing[0]}")
    for n in graph.layers[:-1]:
        if isinstance(n, Linear):
            raise ValueError(f"layer {n.name}: Linear must be the last layer")
    dsp_a_w = dsp_a_width(family)
    split = forks(graph)  # {tensor: (main consumer, skip consumer)}
    branch = {(t, c): kind for t, cs in split.items() for c, kind in zip(cs, ("main", "skip"))}
    beats: dict[str, int | None] = {graph.input.name: None}
    layers = []
    for node in graph.layers:
        prods = graph.producers(node)
        srcs = tuple((p, branch.get((p, node.name), "")) for p in prods)
        lp = layer_plan(node, folding[node.name], tuple(beats[p] for p in prods), dsp_a_w,
                        fifo_depth, srcs)
        layers.append(lp)
        beats[node.name] = lp.fold.pe
    by_name = {lp.name: lp for lp in layers}
    for i, lp in enumerate(layers):  # the skip FIFOs, from the main branches just planned
        if lp.name in split:
            sd = skip_depth(by_name, graph, lp.name, lp.fold.pe)
            layers[i] = replace(lp, blocks=lp.blocks + fork_blocks(lp, sd.depth),
                                skip_reason=sd.reason)
    return HardwarePlan(graph, tuple(layers), family)


__all__ = ["CORE_ROLES", "ENCODING", "FIFO_DEPTH", "FORK_ROLES", "HardwarePlan", "LayerPlan",
           "check_memories", "fork_blocks", "hardware_plan", "layer_plan", "mul_bits",
           "runtime_layers"]
