"""The whole-network Verilog accelerator: ``render_rtl(graph, folding, graph_hash) -> {path: text}``.

Pure: the graph and its folding in, file texts out (``rtl/`` of a build folder). Python prepares
the chain of stream stages (docs/hardware.md, "Folding": per layer an optional width converter,
the sliding-window generator, a splitting width converter, the compute block, the thresholds or
the bias, and a FIFO); the templates in ``templates/rtl/`` only wire it. Every stage has the same
stream ports, so the top level is a list of instances between consecutive streams.

Files: ``sat_accel.sv`` (the top: ``s_axis`` = input pixels, ``in_beat`` 8-bit codes per beat;
``m_axis`` = the last layer's outputs, PE signed values per beat), ``sat_tb.sv`` (the simulation
wrapper: streams images from a file, captures outputs, per-layer counters, watchdog), one ROM
image per memory under ``mem/`` (``<layer>_w.hex``, ``<layer>_t_p<lane>_s<stage>.hex``,
``<layer>_b.hex``, read by relative path: tools run in ``rtl/``), copies of the building blocks, and ``filelist.f``
(compile order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sat_hw.graph.ir import AvgPool, Conv, Graph, Linear, MaxPool, acc_bits_for
from sat_hw.hw.fold import (
    FIFO_DEPTH,
    Fold,
    Folding,
    dwc_chain,
    in_beat,
    is_mvu,
    needs_window,
    vector_fifo_depth,
    window_simd,
)
from sat_hw.hw.devices import dsp_a_width
from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import bias_rom, hex_lines, mvu_rom, threshold_files, vvu_rom

TOP = "sat_accel"
TB = "sat_tb"
ENCODING = "k"


@dataclass
class Stage:
    """One stream block between stream ``index`` and ``index + 1``."""

    module: str
    name: str
    params: dict
    out_w: int
    layer: str
    role: str
    ports: dict = field(default_factory=dict)  # extra outputs: port -> wire


@dataclass
class LayerTaps:
    """Streams of one layer the testbench watches: its input, its output (before the FIFO), the
    FIFO count wire."""

    name: str
    op: str
    in_stream: int
    core_stream: int
    out_stream: int
    fifo_count: str
    fifo_depth: int


def _dwc(stages: list, layer: str, elem_w: int, n_in: int, n_out: int, tag: str) -> None:
    """Width converters from ``n_in`` to ``n_out`` elements per beat (through the lcm when
    neither divides the other)."""
    for i, (a, b) in enumerate(dwc_chain(n_in, n_out)):
        stages.append(Stage("sat_dwc", f"{layer}_{tag}{i}",
                            {"ELEM_W": elem_w, "IN_N": a, "OUT_N": b}, b * elem_w, layer, "dwc"))


def _swg(node, s: int) -> dict:
    c, h, w = node.in_shape
    return {"CH": c, "IN_H": h, "IN_W": w, "K": node.kernel, "STRIDE": node.stride,
            "PAD": node.pad, "SIMD": s, "ELEM_W": node.abits,
            "ROWS": node.kernel + node.stride}


def _mvu_acc_bits(node: Conv | Linear) -> int:
    if isinstance(node, Linear):
        return acc_bits_for(node.acc_bound)
    return node.acc_bits


def layer_stages(node, fold: Fold, prev_beat: int, files: dict[str, str],
                 dsp_a_w: int = 27) -> list[Stage]:
    """The stages of one layer, its ROM images added to ``files`` (``dsp_a_w``: the DSP's wide
    port for ``mult = "dsp"``, :func:`sat_hw.hw.devices.dsp_a_width`)."""
    name, a = node.name, node.abits
    st: list[Stage] = []
    _dwc(st, name, a, prev_beat, in_beat(node, fold), "in")
    vdepth = vector_fifo_depth(node, fold)
    if vdepth is not None:  # the next input vector waits whole, at the unit's width
        st.append(Stage("sat_fifo", f"{name}_vbuf", {"DATA_W": fold.simd * a, "DEPTH": vdepth,
                                                     "RAM_STYLE": "distributed"},
                        fold.simd * a, name, "vbuf", {"count": ""}))
    if needs_window(node):
        s = window_simd(node, fold)
        k2 = node.kernel * node.kernel
        st.append(Stage("sat_swg", f"{name}_swg", _swg(node, s), k2 * s * a, name, "swg"))
        if isinstance(node, MaxPool):
            pass
        elif is_mvu(node):
            _dwc(st, name, a, k2 * s, fold.simd, "win")
        else:
            _dwc(st, name, a, k2 * fold.pe, fold.simd * fold.pe, "win")
    if isinstance(node, (Conv, Linear)):
        acc = _mvu_acc_bits(node)
        if is_mvu(node):
            words, width = mvu_rom(node, fold, ENCODING)
            rows, cols = node.out_shape[0], node.fan_in
            p = {"MH": rows, "MW": cols, "PE": fold.pe, "SIMD": fold.simd, "WBITS": node.wbits,
                 "ABITS": a, "ACC_BITS": acc, "WEIGHT_FILE": f"mem/{name}_w.hex",
                 "ENCODING": ENCODING, "MULT": fold.mult,
                 **({"DSP_A_W": dsp_a_w} if fold.mult == "dsp" else {})}
            st.append(Stage("sat_mvu", f"{name}_mvu", p, fold.pe * acc, name, "mvu"))
        else:
            words, width = vvu_rom(node, fold, ENCODING)
            p = {"CH": node.out_shape[0], "K2": node.kernel * node.kernel, "PE": fold.pe,
                 "SIMD": fold.simd, "WBITS": node.wbits, "ABITS": a, "ACC_BITS": acc,
                 "WEIGHT_FILE": f"mem/{name}_w.hex", "ENCODING": ENCODING}
            st.append(Stage("sat_vvu", f"{name}_vvu", p, fold.pe * acc, name, "vvu"))
        files[f"mem/{name}_w.hex"] = hex_lines(words, width)
    elif isinstance(node, AvgPool):
        c, h, w = node.in_shape
        p = {"CH": c, "PIXELS": h * w, "PE": fold.pe, "ABITS": a, "ACC_BITS": node.acc_bits}
        st.append(Stage("sat_avgpool", f"{name}_sum", p, fold.pe * node.acc_bits, name, "pool"))
    elif isinstance(node, MaxPool):
        p = {"CH": node.in_shape[0], "PE": fold.pe, "K2": node.kernel * node.kernel, "ABITS": a}
        st.append(Stage("sat_maxpool", f"{name}_max", p, fold.pe * a, name, "max"))
    if isinstance(node, (Conv, AvgPool)):
        files.update(threshold_files(node.thresholds, node.direction, node.acc_bits, fold.pe,
                                     f"mem/{name}_t"))
        p = {"CH": node.out_shape[0], "PE": fold.pe, "ACC_BITS": node.acc_bits,
             "OUT_BITS": node.out_bits, "THRESH_PREFIX": f"mem/{name}_t"}
        st.append(Stage("sat_thresholds", f"{name}_thr", p, fold.pe * node.out_bits, name,
                        "thr"))
    elif isinstance(node, Linear):
        words, width = bias_rom(node.bias, fold.pe)
        files[f"mem/{name}_b.hex"] = hex_lines(words, width)
        p = {"CH": node.out_shape[0], "PE": fold.pe, "IN_BITS": _mvu_acc_bits(node),
             "OUT_BITS": node.acc_bits, "FRAC": node.bias_frac_bits,
             "BIAS_BITS": width // fold.pe, "BIAS_FILE": f"mem/{name}_b.hex"}
        st.append(Stage("sat_bias", f"{name}_bias", p, fold.pe * node.acc_bits, name, "bias"))
    return st


def network_stages(graph: Graph, folding: Folding, dsp_a_w: int = 27
                   ) -> tuple[list[Stage], list[LayerTaps], dict[str, str], int]:
    """All stages in stream order, the per-layer taps, the ROM images, the input beat width."""
    files: dict[str, str] = {}
    stages: list[Stage] = []
    taps: list[LayerTaps] = []
    first = graph.layers[0]
    beat = in_beat(first, folding[first.name])
    in_w = beat * graph.input.bits
    for node in graph.layers:
        fold = folding[node.name]
        start = len(stages)
        mine = layer_stages(node, fold, beat, files, dsp_a_w)
        core = start + next(i for i, s in enumerate(mine) if s.role in ("mvu", "vvu", "pool", "max"))
        stages += mine
        out_stream = len(stages)
        width = stages[-1].out_w
        count = f"{node.name}_fifo_count"
        stages.append(Stage("sat_fifo", f"{node.name}_fifo",
                            {"DATA_W": width, "DEPTH": FIFO_DEPTH, "RAM_STYLE": "distributed"},
                            width, node.name, "fifo", {"count": count}))
        taps.append(LayerTaps(node.name, node.op, start, core, out_stream, count, FIFO_DEPTH))
        beat = fold.pe
    return stages, taps, files, in_w


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(resource_path("templates") / "rtl")),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def sv_value(v) -> str:
    """A parameter value as SystemVerilog writes it (strings quoted, numbers as integers)."""
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def render_rtl(graph: Graph, folding: Folding, graph_hash: str,
               family: str = "xcup") -> dict[str, str]:
    """``{relative path: text}`` of the ``rtl/`` folder for ``graph`` folded by ``folding``;
    ``family`` (``xc7`` or ``xcup``) sets how many products a DSP multiply packs."""
    stages, taps, files, in_w = network_stages(graph, folding, dsp_a_width(family))
    widths = [in_w] + [s.out_w for s in stages]
    iface = interface(graph, folding)
    ctx = {
        "hash": graph_hash, "top": TOP, "tb": TB, "name": graph.name,
        "streams": [{"index": i, "width": w} for i, w in enumerate(widths)],
        "stages": [{"module": s.module, "name": s.name, "index": i, "layer": s.layer,
                    "params": [(k, sv_value(v)) for k, v in s.params.items()],
                    "ports": list(s.ports.items())} for i, s in enumerate(stages)],
        "layers": [{"name": t.name, "op": t.op, "in": t.in_stream, "core": t.core_stream,
                    "out": t.out_stream,
                    "count": t.fifo_count, "depth": t.fifo_depth,
                    "out_beats": out_beats(graph.node(t.name), folding[t.name]),
                    "count_w": max(1, t.fifo_depth.bit_length())} for t in taps],
        "in_w": in_w, "out_w": widths[-1], "last": len(stages),
        "in_beats": iface["in_beats_per_image"], "out_beats": iface["out_beats_per_image"],
    }
    env = _env()
    out = {f"{TOP}.sv": env.get_template("top.sv.j2").render(ctx),
           f"{TB}.sv": env.get_template("tb.sv.j2").render(ctx)}
    out.update(files)
    modules = sorted({s.module for s in stages} | {"sat_skid"})  # the blocks' output buffer
    rtl = resource_path("rtl")
    for m in modules:
        out[f"{m}.sv"] = (rtl / f"{m}.sv").read_text()
    out["filelist.f"] = "".join(f"{m}.sv\n" for m in modules) + f"{TOP}.sv\n"
    return out


def out_beats(node, fold: Fold) -> int:
    """Beats a layer emits per image (``PE`` channels or outputs each)."""
    c, h, w = node.out_shape
    return h * w * c // fold.pe


def in_beats(node, fold: Fold) -> int:
    """Beats a layer takes per image (``in_beat`` channels each)."""
    c, h, w = node.in_shape
    return h * w * c // in_beat(node, fold)


def interface(graph: Graph, folding: Folding) -> dict:
    """What the top level's streams carry (for docs, the testbench and the report)."""
    first, last = graph.layers[0], graph.layers[-1]
    fin, flast = folding[first.name], folding[last.name]
    return {"in_channels_per_beat": in_beat(first, fin), "in_bits": graph.input.bits,
            "out_per_beat": flast.pe, "out_bits": last.acc_bits,
            "in_beats_per_image": graph.input.shape[1] * graph.input.shape[2] *
            graph.input.shape[0] // in_beat(first, fin),
            "out_beats_per_image": last.out_shape[0] // flast.pe}


__all__ = ["ENCODING", "FIFO_DEPTH", "TB", "TOP", "interface", "network_stages", "render_rtl"]
