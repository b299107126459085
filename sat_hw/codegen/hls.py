"""The HLS renderer: the hardware plan -> Vitis-style HLS C++ (``{relative path: text}``).

Pure: no file I/O beyond reading the templates and the header library. The generated tree
(written under ``<build>/hls/`` by the build's writer):

- ``lib/sat_*.h``: a copy of the hand-written header library (``templates/hls/lib``);
- ``firmware/params.h``: one ``struct <layer>_cfg`` per layer, a nested struct per block;
- ``firmware/weights/<layer>.h`` / ``.cpp``: that layer's weight / threshold / bias tables
  (declared / defined), in the order :mod:`sat_hw.codegen.layout` gives the RTL ROMs, one lane
  per array element; each table in its own translation unit, so g++ parses them in parallel;
- ``firmware/sat_top.h``, ``firmware/sat_top.cpp``: the top function, one call per block,
  ``#pragma HLS DATAFLOW``; AXI4-Stream ports with TLAST (``ap_axiu``, element ``i`` in TDATA
  lane ``i`` of 8/16/32/64 bits: input codes ``in_beat`` per beat, output ``PE`` integers per
  beat), a ``status`` word of the input frame's length check, ``ap_ctrl_chain`` and ``status``
  on one ``s_axilite`` bundle (docs/hls.md, "Ports");
- ``tb/sat_tb.cpp``: a C testbench that reads ``inputs.npy``, writes ``outputs.npy`` and checks
  every image's TLAST and status, then that a short and a long frame are flagged;
- ``scripts/*.tcl`` and ``README.md``: Vitis HLS projects (csim, csynth, cosim, export).

Each layer is the chain of blocks of the hardware plan (:mod:`sat_hw.hw.plan`, the one the RTL
instantiates), one call per block; the dataflow streams take their depths from the plan's FIFOs.
A residual graph (a DAG) is the same, each layer reading the stream its plan names
(``LayerPlan.sources``): a forked layer ends in ``sat::fork`` (streams ``<layer>_main`` and
``<layer>_skip``, the skip stream as deep as the plan's skip FIFO), an add reads two streams,
so every stream keeps one producer and one consumer, as ``DATAFLOW`` requires.
Widths are the plan's: codes ``ap_uint<bits>``, accumulators ``ap_int<ACC_BITS>``, the output
``ap_int<Linear.acc_bits>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

import jinja2
import numpy as np

from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import mvu_lanes, threshold_lanes, vvu_lanes
from sat_hw.hw.plan import HardwarePlan, LayerPlan

TOP = "sat_top"
DEFAULT_PART = "xcu250-figd2104-2L-e"
LIB_FILES = ("sat.h", "sat_rom.h", "sat_common.h", "sat_axis.h", "sat_swg.h", "sat_dwc.h",
             "sat_mvu.h", "sat_vvu.h", "sat_thresholds.h", "sat_pool.h", "sat_bias.h", "sat_add.h",
             "sat_npy.h")
VALUES_PER_LINE = 32


@dataclass
class Table:
    """A constant array: ``sat::rom<bits, signed>::t name[dims] = {values}``."""

    name: str
    bits: int
    signed: bool
    values: np.ndarray

    def context(self) -> dict:
        v = np.asarray(self.values, np.int64)
        lo, hi = (-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1) if self.signed else \
            (0, (1 << self.bits) - 1)
        if v.size and (int(v.min()) < lo or int(v.max()) > hi):
            raise ValueError(f"table {self.name}: values {int(v.min())}..{int(v.max())} do not "
                             f"fit {self.bits} {'signed' if self.signed else 'unsigned'} bits")
        flat = v.ravel().tolist()
        lines = [", ".join(map(str, flat[i:i + VALUES_PER_LINE]))
                 for i in range(0, len(flat), VALUES_PER_LINE)]
        return {"name": self.name, "ctype": f"sat::rom<{self.bits}, "
                f"{'true' if self.signed else 'false'}>::t",
                "dims": "".join(f"[{d}]" for d in v.shape), "lines": lines}


@dataclass
class Layer:
    """What one layer contributes: nested config structs, tables, streams and calls."""

    name: str
    op: str
    structs: list[tuple[str, list[tuple[str, int | str]]]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    """The streams its output leaves on: ``{"": stream}``, or ``{"main": ..., "skip": ...}``
    after a fork (the branches of ``LayerPlan.sources``)."""


SKID_DEPTH = 2
"""Depth of a stream on which the plan puts no FIFO: that of the two-entry skid buffer
(``sat_skid``) that ends an RTL block, written out rather than left to the tool's default."""


class Chain:
    """Builds the stream chain of the top function: each block reads the current stream. The
    head stream is the first of :attr:`streams`; each stream records the plan's FIFOs on it."""

    def __init__(self, head: str, elem: str, n: int):
        self.streams: list[dict] = []
        self.cur, self.elem, self.n = None, elem, n
        self.new(head, elem, n)

    def new(self, name: str, elem: str, n: int) -> tuple[str, str]:
        """A new stream ``name`` of ``sat::vec<elem, n>``; returns ``(input, output)`` names."""
        self.streams.append({"name": name, "type": f"sat::vec<{elem}, {n}>", "fifos": [],
                             "elem": elem, "n": n})
        src, self.cur, self.elem, self.n = self.cur, name, elem, n
        return src, name

    def seek(self, name: str) -> None:
        """Make the existing stream ``name`` the current one (a layer of a DAG reads the stream
        its plan names, not necessarily the last one made)."""
        st = next((s for s in self.streams if s["name"] == name), None)
        if st is None:
            raise ValueError(f"no stream {name!r} to read")
        self.cur, self.elem, self.n = name, st["elem"], st["n"]

    def fifo(self, name: str, depth: int) -> None:
        """The plan's FIFO ``name`` of ``depth`` beats sits on the current stream."""
        self.streams[-1]["fifos"].append((name, depth))

    def dwc(self, layer: Layer, name: str, n_in: int, n_out: int, elems: int) -> None:
        """A width converter from the current beat (``n_in`` elements) to ``n_out`` elements
        into a new stream ``name``; ``elems`` elements per image pass through it."""
        if n_in != self.n:
            raise ValueError(f"stream {self.cur} carries {self.n} elements per beat, not {n_in}")
        src, dst = self.new(name, self.elem, n_out)
        layer.calls.append(f"sat::dwc<{self.elem}, {n_in}, {n_out}, {elems // n_in}>"
                           f"({src}, {dst});")


def stream_depth(stream: dict) -> int:
    """Beats a stream holds: the sum of the plan's FIFOs on it (two in series hold as one), else
    :data:`SKID_DEPTH`."""
    return sum(d for _, d in stream["fifos"]) or SKID_DEPTH


def lane_bits(bits: int) -> int:
    """Bits of the TDATA lane of a ``bits``-bit element: 8, 16, 32 or 64 (``sat::lane_bits``)."""
    for lane in (8, 16, 32, 64):
        if bits <= lane:
            return lane
    raise ValueError(f"a {bits}-bit element does not fit a 64-bit AXI4-Stream lane")


def _code(bits: int) -> str:
    return f"ap_uint<{bits}>"


def _acc(bits: int) -> str:
    return f"ap_int<{bits}>"


def _swg(layer: Layer, chain: Chain, node, p: dict) -> None:
    _, ho, wo = node.out_shape
    layer.structs.append(("swg", [("CH", p["CH"]), ("IN_H", p["IN_H"]), ("IN_W", p["IN_W"]),
                                  ("OUT_H", ho), ("OUT_W", wo), ("K", p["K"]),
                                  ("STRIDE", p["STRIDE"]), ("PAD", p["PAD"]), ("SIMD", p["SIMD"]),
                                  ("BITS", p["ELEM_W"])]))
    src, dst = chain.new(f"{node.name}_win", _code(p["ELEM_W"]), p["K"] ** 2 * p["SIMD"])
    layer.calls.append(f"sat::swg<{node.name}_cfg::swg>({src}, {dst});")


def _thresholds(layer: Layer, chain: Chain, node, p: dict) -> None:
    pe = p["PE"]
    t, down = threshold_lanes(node.thresholds, node.direction, pe)
    layer.structs.append(("thr", [("CH", p["CH"]), ("PE", pe),
                                  ("PIXELS", node.out_shape[1] * node.out_shape[2]),
                                  ("ACC_BITS", p["ACC_BITS"]), ("OUT_BITS", p["OUT_BITS"])]))
    layer.tables += [Table(f"{node.name}_t", p["ACC_BITS"], True, t),
                     Table(f"{node.name}_down", 1, False, down)]
    src, dst = chain.new(f"{node.name}_out", _code(p["OUT_BITS"]), pe)
    layer.calls.append(f"sat::thresholds<{node.name}_cfg::thr>({src}, {dst}, {node.name}_t, "
                       f"{node.name}_down);")


def _unit(layer: Layer, chain: Chain, lp: LayerPlan, p: dict, mvu: bool) -> None:
    """``sat::mvu`` or ``sat::vvu`` and its weight table."""
    node = lp.node
    w, wb = (mvu_lanes if mvu else vvu_lanes)(lp, p["ENCODING"])
    pixels = node.out_shape[1] * node.out_shape[2]
    shape = [("MH", p["MH"]), ("MW", p["MW"])] if mvu else [("CH", p["CH"]), ("K2", p["K2"])]
    dsp = [("DSP", "true" if p["MULT"] == "dsp" else "false")] if mvu else []
    kind = "mvu" if mvu else "vvu"
    layer.structs.append((kind, shape + [("PE", p["PE"]), ("SIMD", p["SIMD"]),
                                         ("PIXELS", pixels), ("WBITS", wb),
                                         ("ABITS", p["ABITS"]), ("ACC_BITS", p["ACC_BITS"])]
                          + dsp))
    layer.tables.append(Table(f"{node.name}_w", wb, False, w))
    src, dst = chain.new(f"{node.name}_acc", _acc(p["ACC_BITS"]), p["PE"])
    layer.calls.append(f"sat::{kind}<{node.name}_cfg::{kind}>({src}, {dst}, {node.name}_w);")


def _avgpool(layer: Layer, chain: Chain, node, p: dict) -> None:
    layer.structs.append(("pool", [("CH", p["CH"]), ("PE", p["PE"]), ("PIXELS", p["PIXELS"]),
                                   ("ABITS", p["ABITS"]), ("ACC_BITS", p["ACC_BITS"])]))
    src, dst = chain.new(f"{node.name}_acc", _acc(p["ACC_BITS"]), p["PE"])
    layer.calls.append(f"sat::avgpool<{node.name}_cfg::pool>({src}, {dst});")


def _maxpool(layer: Layer, chain: Chain, node, p: dict) -> None:
    pixels = node.out_shape[1] * node.out_shape[2]
    layer.structs.append(("pool", [("CH", p["CH"]), ("PE", p["PE"]), ("K2", p["K2"]),
                                   ("PIXELS", pixels), ("ABITS", p["ABITS"])]))
    src, dst = chain.new(f"{node.name}_out", _code(node.out_bits), p["PE"])
    layer.calls.append(f"sat::maxpool<{node.name}_cfg::pool>({src}, {dst});")


def _bias(layer: Layer, chain: Chain, node, p: dict) -> None:
    pe = p["PE"]
    layer.structs.append(("bias", [("CH", p["CH"]), ("PE", pe), ("IN_BITS", p["IN_BITS"]),
                                   ("OUT_BITS", p["OUT_BITS"]), ("FRAC", p["FRAC"]),
                                   ("BIAS_BITS", p["BIAS_BITS"])]))
    layer.tables.append(Table(f"{node.name}_b", p["BIAS_BITS"], True,
                              np.asarray(node.bias, np.int64).reshape(-1, pe)))
    src, dst = chain.new(f"{node.name}_out", _acc(p["OUT_BITS"]), pe)
    layer.calls.append(f"sat::bias<{node.name}_cfg::bias>({src}, {dst}, {node.name}_b);")


def _add(layer: Layer, chain: Chain, node, p: dict, a: str, b: str) -> None:
    """``sat::add`` of streams ``a`` and ``b`` and its two multiplier tables."""
    pe = p["PE"]
    layer.structs.append(("add", [("CH", p["CH"]), ("PE", pe),
                                  ("PIXELS", node.out_shape[1] * node.out_shape[2]),
                                  ("ABITS", p["ABITS"]), ("BBITS", p["BBITS"]),
                                  ("MUL_BITS", p["MUL_BITS"]), ("ACC_BITS", p["ACC_BITS"])]))
    for tag, mul in (("ma", node.mul_a), ("mb", node.mul_b)):
        layer.tables.append(Table(f"{node.name}_{tag}", p["MUL_BITS"], True,
                                  np.asarray(mul, np.int64).reshape(-1, pe)))
    _, dst = chain.new(f"{node.name}_acc", _acc(p["ACC_BITS"]), pe)
    layer.calls.append(f"sat::add<{node.name}_cfg::add>({a}, {b}, {dst}, {node.name}_ma, "
                       f"{node.name}_mb);")


def _fork(layer: Layer, chain: Chain, lp: LayerPlan) -> None:
    """``sat::fork`` of the current stream into ``<layer>_main`` and ``<layer>_skip`` (made
    last, so the plan's skip FIFO that follows sits on it)."""
    name, elem, n, src = lp.name, chain.elem, chain.n, chain.cur
    main = chain.new(f"{name}_main", elem, n)[1]
    skip = chain.new(f"{name}_skip", elem, n)[1]
    layer.calls.append(f"sat::fork<{elem}, {n}, {lp.out_beats}>({src}, {main}, {skip});")
    layer.outputs = {"main": main, "skip": skip}


def _operands(layer: Layer, chain: Chain, lp: LayerPlan, sources: list[str]) -> list[str]:
    """An add's operand streams: each source through its own converters (roles ``dwc_a``,
    ``dwc_b``) into ``<layer>_a_in`` / ``<layer>_b_in`` (numbered when two)."""
    c, h, w = lp.node.in_shape
    out = []
    for role, tag, src in (("dwc_a", "a_in", sources[0]), ("dwc_b", "b_in", sources[-1])):
        chain.seek(src)
        run = [b for b in lp.blocks if b.role == role]
        for i, b in enumerate(run):
            chain.dwc(layer, f"{lp.name}_{tag}{i if len(run) > 1 else ''}", b.params["IN_N"],
                      b.params["OUT_N"], c * h * w)
        out.append(chain.cur)
    return out


def layer_blocks(lp: LayerPlan, chain: Chain, sources: list[str] | None = None) -> Layer:
    """The HLS calls of one layer of the hardware plan, appended to ``chain``: its blocks in
    the plan's order; its FIFOs give the depth of the stream they sit on (:func:`stream_depth`).
    Width converters before the window generator make streams ``<layer>_in``, after it
    ``<layer>_split`` (numbered when two go through the lcm). ``sources``: the stream each
    operand reads (default: the current stream)."""
    node = lp.node
    layer = Layer(node.name, node.op)
    c, h, w = node.in_shape
    _, ho, wo = node.out_shape
    windowed = False
    blocks = list(lp.blocks)
    operands: list[str] = []
    if any(b.module == "sat_add" for b in blocks):
        operands = _operands(layer, chain, lp, sources or [chain.cur])
        blocks = [b for b in blocks if b.role not in ("dwc_a", "dwc_b")]
    elif sources:
        chain.seek(sources[0])
    for is_dwc, run in groupby(blocks, key=lambda b: b.module == "sat_dwc"):
        run = list(run)
        if is_dwc:  # elements per image through the converters: the input, or the windows
            tag, elems = ("split", ho * wo * node.kernel ** 2 * c) if windowed else ("in", c * h * w)
            for i, b in enumerate(run):
                chain.dwc(layer, f"{node.name}_{tag}{i if len(run) > 1 else ''}",
                          b.params["IN_N"], b.params["OUT_N"], elems)
            continue
        for b in run:
            p = b.params
            if b.module == "sat_swg":
                _swg(layer, chain, node, p)
                windowed = True
            elif b.module in ("sat_mvu", "sat_vvu"):
                _unit(layer, chain, lp, p, b.module == "sat_mvu")
            elif b.module == "sat_thresholds":
                _thresholds(layer, chain, node, p)
            elif b.module == "sat_avgpool":
                _avgpool(layer, chain, node, p)
            elif b.module == "sat_maxpool":
                _maxpool(layer, chain, node, p)
            elif b.module == "sat_bias":
                _bias(layer, chain, node, p)
            elif b.module == "sat_add":
                _add(layer, chain, node, p, *operands)
            elif b.module == "sat_fork":
                _fork(layer, chain, lp)
            elif b.module == "sat_fifo":
                chain.fifo(b.name, b.params["DEPTH"])
            else:
                raise ValueError(f"layer {node.name}: no HLS block for {b.module}")
    if not layer.outputs:
        layer.outputs = {"": chain.cur}
    return layer


def _layers(plan: HardwarePlan) -> tuple[list[Layer], Chain, dict]:
    """Every layer's blocks in order, the chain of streams, and the top's port widths."""
    inp = plan.graph.input
    iface = plan.interface()
    chain = Chain("in_codes", _code(inp.bits), iface["in_channels_per_beat"])
    streams = {(inp.name, ""): "in_codes"}  # (producer, branch) -> stream
    layers = []
    for lp in plan.layers:
        srcs = [streams[s] for s in lp.sources] if lp.sources else None
        ly = layer_blocks(lp, chain, srcs)
        streams |= {(lp.name, k): v for k, v in ly.outputs.items()}
        layers.append(ly)
    ports = {"in_bits": inp.bits, "in_n": iface["in_channels_per_beat"],
             "in_beats": iface["in_beats_per_image"], "out_bits": iface["out_bits"],
             "out_n": iface["out_per_beat"], "out_beats": iface["out_beats_per_image"],
             "in_lane": lane_bits(inp.bits), "out_lane": lane_bits(iface["out_bits"])}
    return layers, chain, ports


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_path("templates") / "hls")),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


def library_files() -> dict[str, str]:
    """The header library, ``{"lib/<name>": text}``."""
    lib = resource_path("templates") / "hls" / "lib"
    return {f"lib/{n}": (lib / n).read_text() for n in LIB_FILES}


def render_hls(plan: HardwarePlan, graph_hash: str, part: str = DEFAULT_PART,
               fclk_mhz: float = 333.0) -> dict[str, str]:
    """``{path relative to hls/: text}`` of the accelerator ``plan`` describes (module doc)."""
    graph = plan.graph
    layers, chain, ports = _layers(plan)
    inp = graph.input
    ctx = {
        "graph_hash": graph_hash, "top": TOP, "model": graph.name, "part": part,
        "clock_ns": f"{1000.0 / fclk_mhz:.3f}", "fclk_mhz": fclk_mhz,
        "weights": [ly.name for ly in layers if ly.tables],
        "layers": [{"name": ly.name, "op": ly.op, "calls": ly.calls,
                    "structs": [{"name": n, "params": p} for n, p in ly.structs],
                    "tables": [t.context() for t in ly.tables]} for ly in layers],
        "streams": [{**st, "depth": stream_depth(st), "why": " + ".join(
            f"{n} ({d})" for n, d in st["fifos"]) or "no FIFO in the plan: the RTL's skid, 2 beats"}
            for st in chain.streams],
        "in_stream": chain.streams[0]["name"], "out_stream": chain.cur,
        "in_c": inp.shape[0], "in_h": inp.shape[1], "in_w": inp.shape[2],
        "classes": graph.layers[-1].out_shape[0], **ports,
    }
    env = _env()
    files = library_files()
    files["firmware/params.h"] = env.get_template("params.h.j2").render(ctx)
    for ly in ctx["layers"]:
        if ly["tables"]:
            for ext in ("h", "cpp"):
                files[f"firmware/weights/{ly['name']}.{ext}"] = env.get_template(
                    f"weights.{ext}.j2").render({**ctx, "layer": ly})
    for path, tpl in (("firmware/sat_top.h", "sat_top.h.j2"),
                      ("firmware/sat_top.cpp", "sat_top.cpp.j2"),
                      ("tb/sat_tb.cpp", "sat_tb.cpp.j2"),
                      ("scripts/project.tcl", "project.tcl.j2"),
                      ("scripts/csim.tcl", "csim.tcl.j2"),
                      ("scripts/csynth.tcl", "csynth.tcl.j2"),
                      ("scripts/cosim.tcl", "cosim.tcl.j2"),
                      ("scripts/export.tcl", "export.tcl.j2"),
                      ("README.md", "README.md.j2")):
        files[path] = env.get_template(tpl).render(ctx)
    return files


__all__ = ["DEFAULT_PART", "SKID_DEPTH", "TOP", "Chain", "Layer", "Table", "lane_bits",
           "layer_blocks", "library_files", "render_hls", "stream_depth"]
