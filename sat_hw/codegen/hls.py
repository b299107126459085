"""The HLS renderer: integer graph + folding -> Vitis-style HLS C++ (``{relative path: text}``).

Pure: no file I/O beyond reading the templates and the header library. The generated tree
(written under ``<build>/hls/`` by the build's writer):

- ``lib/sat_*.h``: a copy of the hand-written header library (``templates/hls/lib``);
- ``firmware/params.h``: one ``struct <layer>_cfg`` per layer, a nested struct per block;
- ``firmware/weights/<layer>.h`` / ``.cpp``: that layer's weight / threshold / bias tables
  (declared / defined), in the order :mod:`sat_hw.codegen.layout` gives the RTL ROMs, one lane
  per array element; each table in its own translation unit, so g++ parses them in parallel;
- ``firmware/sat_top.h``, ``firmware/sat_top.cpp``: the top function, one call per block,
  ``#pragma HLS DATAFLOW``; its ports are the RTL's packed buses (element ``i`` at
  ``[i*B +: B]``): input codes ``in_beat`` per beat, output ``PE`` integers per beat;
- ``tb/sat_tb.cpp``: a C testbench that reads ``inputs.npy`` and writes ``outputs.npy``;
- ``scripts/*.tcl`` and ``README.md``: Vitis HLS projects (csim, csynth, cosim, export).

Block chains per layer are those of docs/hardware.md; a width converter (``sat::dwc``, two in a
row through the least common multiple when neither width divides the other) joins two layers
whose beats differ. Widths are the graph's: codes ``ap_uint<bits>``, accumulators
``ap_int<acc_bits>`` (``acc_bits_for(acc_bound)`` for the fc accumulator before its bias), the
output ``ap_int<Linear.acc_bits>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jinja2
import numpy as np

from sat_hw.graph.ir import AvgPool, Conv, Graph, Linear, MaxPool, acc_bits_for
from sat_hw.hw.fold import Fold, Folding, in_beat, needs_window, window_simd
from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import mvu_lanes, threshold_lanes, vvu_lanes

TOP = "sat_top"
DEFAULT_PART = "xcu250-figd2104-2L-e"
LIB_FILES = ("sat.h", "sat_rom.h", "sat_common.h", "sat_swg.h", "sat_dwc.h", "sat_mvu.h",
             "sat_vvu.h", "sat_thresholds.h", "sat_pool.h", "sat_bias.h", "sat_npy.h")
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


class Chain:
    """Builds the stream chain of the top function: each block reads the current stream."""

    def __init__(self, head: str, elem: str, n: int):
        self.streams: list[dict] = []
        self.cur, self.elem, self.n = head, elem, n

    def new(self, name: str, elem: str, n: int) -> tuple[str, str]:
        """A new stream ``name`` of ``sat::vec<elem, n>``; returns ``(input, output)`` names."""
        self.streams.append({"name": name, "type": f"sat::vec<{elem}, {n}>"})
        src, self.cur, self.elem, self.n = self.cur, name, elem, n
        return src, name

    def convert(self, layer: Layer, to_n: int, beats_elems: int, tag: str) -> None:
        """Width converters from the current beat to ``to_n`` elements (``beats_elems`` elements
        per image); none if equal, two through the lcm if neither divides the other."""
        n = self.n
        if n == to_n:
            return
        steps = [to_n] if (n % to_n == 0 or to_n % n == 0) else [n * to_n // math.gcd(n, to_n),
                                                                 to_n]
        for i, m in enumerate(steps):
            n_in = self.n
            src, dst = self.new(f"{layer.name}_{tag}{i if len(steps) > 1 else ''}", self.elem, m)
            layer.calls.append(f"sat::dwc<{self.elem}, {n_in}, {m}, {beats_elems // n_in}>"
                               f"({src}, {dst});")


def _code(bits: int) -> str:
    return f"ap_uint<{bits}>"


def _acc(bits: int) -> str:
    return f"ap_int<{bits}>"


def _swg(layer: Layer, chain: Chain, node: Conv | MaxPool, s: int, bits: int) -> None:
    c, h, w = node.in_shape
    _, ho, wo = node.out_shape
    k = node.kernel
    layer.structs.append(("swg", [("CH", c), ("IN_H", h), ("IN_W", w), ("OUT_H", ho),
                                  ("OUT_W", wo), ("K", k), ("STRIDE", node.stride),
                                  ("PAD", node.pad), ("SIMD", s), ("BITS", bits)]))
    src, dst = chain.new(f"{node.name}_win", _code(bits), k * k * s)
    layer.calls.append(f"sat::swg<{node.name}_cfg::swg>({src}, {dst});")


def _thresholds(layer: Layer, chain: Chain, node: Conv | AvgPool, pe: int, pixels: int) -> None:
    t, down = threshold_lanes(node.thresholds, node.direction, pe)
    c = node.out_shape[0]
    layer.structs.append(("thr", [("CH", c), ("PE", pe), ("PIXELS", pixels),
                                  ("ACC_BITS", node.acc_bits), ("OUT_BITS", node.out_bits)]))
    layer.tables += [Table(f"{node.name}_t", node.acc_bits, True, t),
                     Table(f"{node.name}_down", 1, False, down)]
    src, dst = chain.new(f"{node.name}_out", _code(node.out_bits), pe)
    layer.calls.append(f"sat::thresholds<{node.name}_cfg::thr>({src}, {dst}, {node.name}_t, "
                       f"{node.name}_down);")


def _mvu(layer: Layer, chain: Chain, node: Conv | Linear, fold: Fold, acc_bits: int) -> None:
    w, wb = mvu_lanes(node, fold, "k")
    mh = node.out_shape[0]
    pixels = node.out_shape[1] * node.out_shape[2]
    layer.structs.append(("mvu", [("MH", mh), ("MW", node.fan_in), ("PE", fold.pe),
                                  ("SIMD", fold.simd), ("PIXELS", pixels), ("WBITS", wb),
                                  ("ABITS", node.abits), ("ACC_BITS", acc_bits),
                                  ("DSP", "true" if fold.mult == "dsp" else "false")]))
    layer.tables.append(Table(f"{node.name}_w", wb, False, w))
    src, dst = chain.new(f"{node.name}_acc", _acc(acc_bits), fold.pe)
    layer.calls.append(f"sat::mvu<{node.name}_cfg::mvu>({src}, {dst}, {node.name}_w);")


def _conv(node: Conv, fold: Fold, chain: Chain) -> Layer:
    layer = Layer(node.name, node.op)
    c = node.in_shape[0]
    k2 = node.kernel * node.kernel
    if node.op == "dw":
        if needs_window(node):
            _swg(layer, chain, node, fold.pe, node.abits)
            pixels = node.out_shape[1] * node.out_shape[2]
            chain.convert(layer, fold.simd * fold.pe, pixels * c * k2, "split")
        w_, wb = vvu_lanes(node, fold, "k")
        layer.structs.append(("vvu", [("CH", c), ("K2", k2), ("PE", fold.pe),
                                      ("SIMD", fold.simd),
                                      ("PIXELS", node.out_shape[1] * node.out_shape[2]),
                                      ("WBITS", wb), ("ABITS", node.abits),
                                      ("ACC_BITS", node.acc_bits)]))
        layer.tables.append(Table(f"{node.name}_w", wb, False, w_))
        src, dst = chain.new(f"{node.name}_acc", _acc(node.acc_bits), fold.pe)
        layer.calls.append(f"sat::vvu<{node.name}_cfg::vvu>({src}, {dst}, {node.name}_w);")
    else:
        if node.groups != 1:
            raise ValueError(f"layer {node.name}: grouped conv (groups {node.groups}) has no "
                             f"HLS block (conv, pw and dw only)")
        if needs_window(node):
            s = window_simd(node, fold)
            _swg(layer, chain, node, s, node.abits)
            pixels = node.out_shape[1] * node.out_shape[2]
            chain.convert(layer, fold.simd, pixels * node.fan_in, "split")
        _mvu(layer, chain, node, fold, node.acc_bits)
    _thresholds(layer, chain, node, fold.pe, node.out_shape[1] * node.out_shape[2])
    return layer


def _maxpool(node: MaxPool, fold: Fold, chain: Chain) -> Layer:
    layer = Layer(node.name, node.op)
    _swg(layer, chain, node, fold.pe, node.abits)
    pixels = node.out_shape[1] * node.out_shape[2]
    layer.structs.append(("pool", [("CH", node.in_shape[0]), ("PE", fold.pe),
                                   ("K2", node.kernel * node.kernel), ("PIXELS", pixels),
                                   ("ABITS", node.abits)]))
    src, dst = chain.new(f"{node.name}_out", _code(node.out_bits), fold.pe)
    layer.calls.append(f"sat::maxpool<{node.name}_cfg::pool>({src}, {dst});")
    return layer


def _avgpool(node: AvgPool, fold: Fold, chain: Chain) -> Layer:
    layer = Layer(node.name, node.op)
    c, h, w = node.in_shape
    layer.structs.append(("pool", [("CH", c), ("PE", fold.pe), ("PIXELS", h * w),
                                   ("ABITS", node.abits), ("ACC_BITS", node.acc_bits)]))
    src, dst = chain.new(f"{node.name}_acc", _acc(node.acc_bits), fold.pe)
    layer.calls.append(f"sat::avgpool<{node.name}_cfg::pool>({src}, {dst});")
    _thresholds(layer, chain, node, fold.pe, 1)
    return layer


def _linear(node: Linear, fold: Fold, chain: Chain) -> Layer:
    layer = Layer(node.name, node.op)
    acc_bits = acc_bits_for(node.acc_bound)
    _mvu(layer, chain, node, fold, acc_bits)
    classes = node.out_shape[0]
    layer.structs.append(("bias", [("CH", classes), ("PE", fold.pe), ("IN_BITS", acc_bits),
                                   ("OUT_BITS", node.acc_bits), ("FRAC", node.bias_frac_bits),
                                   ("BIAS_BITS", node.bias_bits)]))
    layer.tables.append(Table(f"{node.name}_b", node.bias_bits, True,
                              np.asarray(node.bias, np.int64).reshape(-1, fold.pe)))
    src, dst = chain.new(f"{node.name}_out", _acc(node.acc_bits), fold.pe)
    layer.calls.append(f"sat::bias<{node.name}_cfg::bias>({src}, {dst}, {node.name}_b);")
    return layer


def layer_blocks(node, fold: Fold, chain: Chain) -> Layer:
    """The blocks of one layer appended to ``chain``: a width converter from the chain's beat to
    the layer's input beat (if they differ), then the layer's chain of docs/hardware.md."""
    c, h, w = node.in_shape
    head = Layer(node.name, node.op)
    chain.convert(head, in_beat(node, fold), c * h * w, "in")
    if isinstance(node, Conv):
        layer = _conv(node, fold, chain)
    elif isinstance(node, MaxPool):
        layer = _maxpool(node, fold, chain)
    elif isinstance(node, AvgPool):
        layer = _avgpool(node, fold, chain)
    elif isinstance(node, Linear):
        layer = _linear(node, fold, chain)
    else:
        raise ValueError(f"layer {node.name}: no HLS block for {type(node).__name__}")
    layer.calls[:0] = head.calls
    return layer


def _layers(graph: Graph, folding: Folding) -> tuple[list[Layer], Chain, dict]:
    """Every layer's blocks in order, the chain of streams, and the top's port widths."""
    missing = [n.name for n in graph.layers if n.name not in folding]
    if missing:
        raise ValueError(f"folding has no entry for layer {missing[0]}")
    inp = graph.input
    first = graph.layers[0]
    s0 = in_beat(first, folding[first.name])
    chain = Chain("in_codes", _code(inp.bits), s0)
    layers: list[Layer] = []
    for node in graph.layers:
        fold = folding[node.name]
        if isinstance(node, Linear) and node is not graph.layers[-1]:
            raise ValueError(f"layer {node.name}: Linear must be the last layer")
        layers.append(layer_blocks(node, fold, chain))
    last = graph.layers[-1]
    pe_out = folding[last.name].pe
    ports = {"in_bits": inp.bits, "in_n": s0, "in_beats": inp.shape[0] * inp.shape[1]
             * inp.shape[2] // s0, "out_bits": last.acc_bits, "out_n": pe_out,
             "out_beats": last.out_shape[0] // pe_out}
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


def render_hls(graph: Graph, folding: Folding, graph_hash: str, part: str = DEFAULT_PART,
               fclk_mhz: float = 333.0) -> dict[str, str]:
    """``{path relative to hls/: text}`` for the graph at the given folding (see module doc)."""
    layers, chain, ports = _layers(graph, folding)
    inp = graph.input
    ctx = {
        "graph_hash": graph_hash, "top": TOP, "model": graph.name, "part": part,
        "clock_ns": f"{1000.0 / fclk_mhz:.3f}", "fclk_mhz": fclk_mhz,
        "weights": [ly.name for ly in layers if ly.tables],
        "layers": [{"name": ly.name, "op": ly.op, "calls": ly.calls,
                    "structs": [{"name": n, "params": p} for n, p in ly.structs],
                    "tables": [t.context() for t in ly.tables]} for ly in layers],
        "streams": chain.streams, "in_stream": "in_codes", "out_stream": chain.cur,
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


__all__ = ["DEFAULT_PART", "TOP", "Chain", "Layer", "Table", "layer_blocks", "library_files",
           "render_hls"]
