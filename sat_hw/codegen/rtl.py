"""The whole-network Verilog accelerator: ``render_rtl(plan, graph_hash) -> {path: text}``.

Pure: the hardware plan in (:func:`sat_hw.hw.plan.hardware_plan`: every block instance, its
parameters and stream widths), file texts out (``rtl/`` of a build folder). The templates in
``templates/rtl/`` wire the plan's blocks between consecutive streams; this module adds the ROM
images the blocks name and the per-layer taps the testbench watches.

Files: ``sat_accel.sv`` (the core: ``s_axis`` = input pixels, ``in_beat`` 8-bit codes per beat;
``m_axis`` = the last layer's outputs, PE signed values per beat), ``sat_tb.sv`` (the simulation
wrapper: streams images from a file, captures outputs, per-layer counters, watchdog), one ROM
image per memory under ``mem/`` (``<layer>_w.hex``, ``<layer>_t_p<lane>_s<stage>.hex``,
``<layer>_b.hex``, named through the top's ``MEM_DIR`` parameter, default ``mem``: tools run in
``rtl/``), copies of the building blocks, ``filelist.f`` (compile order), and the integration
top ``sat_accel_axi.sv`` (AXI4-Stream with TLAST, ``ap_clk``/``ap_rst_n``; docs/vivado.md);
:func:`render_axi_tb` adds its self-contained testbench, data and ``filelist_axi.f``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import (
    WLOAD_BITS,
    WloadLayer,
    add_mul_rom,
    bias_rom,
    hex_lines,
    mvu_rom,
    threshold_files,
    vvu_rom,
    wload_layers,
    wload_lines,
)
from sat_hw.codegen.library import block_files
from sat_hw.codegen.wiring import Wiring, wire
from sat_hw.hw.plan import ENCODING, HardwarePlan, LayerPlan, runtime_layers

TOP = "sat_accel"
TB = "sat_tb"


@dataclass
class LayerTaps:
    """Streams of one layer the testbench watches: its input, its compute block's input, its
    output (before the FIFO), the FIFO count wire."""

    name: str
    op: str
    in_stream: int
    core_stream: int
    out_stream: int
    fifo_count: str
    fifo_depth: int


def layer_roms(lp: LayerPlan) -> dict[str, str]:
    """The ROM images the layer's blocks read, ``{path under rtl/: $readmemh text}``."""
    node, files = lp.node, {}
    for b in lp.blocks:
        p = b.params
        if b.module in ("sat_mvu", "sat_vvu") and "WEIGHT_FILE" in p:  # not loaded at run time
            words, width = (mvu_rom if b.module == "sat_mvu" else vvu_rom)(lp, p["ENCODING"])
            files[p["WEIGHT_FILE"]] = hex_lines(words, width)
        elif b.module == "sat_thresholds":
            files.update(threshold_files(node.thresholds, node.direction, p["ACC_BITS"], p["PE"],
                                         p["THRESH_PREFIX"]))
        elif b.module == "sat_bias":
            words, width = bias_rom(node.bias, p["PE"])
            files[p["BIAS_FILE"]] = hex_lines(words, width)
        elif b.module == "sat_add":
            words, width = add_mul_rom(node.mul_a, node.mul_b, p["PE"], p["MUL_BITS"])
            files[p["MUL_FILE"]] = hex_lines(words, width)
    return files


def taps(plan: HardwarePlan, w: Wiring | None = None) -> list[LayerTaps]:
    """Per layer the stream indices the testbench watches (:func:`sat_hw.codegen.wiring.wire`;
    an add's ``core_stream`` is its operand a's)."""
    w = w or wire(plan)
    out = []
    for lp in plan.layers:
        fifo = next(b for b in lp.blocks if b.role == "fifo")
        out.append(LayerTaps(lp.name, lp.node.op, w.layer_in[lp.name], w.core_in[lp.name][0],
                             w.fifo_in[lp.name], dict(fifo.ports)["count"],
                             fifo.params["DEPTH"]))
    return out


def _starve(w: Wiring, name: str) -> str:
    """The testbench's condition "the layer's compute block is ready for input that has not
    arrived" (either operand, for an add)."""
    terms = [f"u_accel.s{s}_tready && !u_accel.s{s}_tvalid" for s in w.core_in[name]]
    return terms[0] if len(terms) == 1 else "(" + " || ".join(terms) + ")"


def fork_taps(plan: HardwarePlan, w: Wiring | None = None) -> list[dict]:
    """Per forked layer what the testbench watches: its skip FIFO's input (``skip``) and fill
    count (``count``, ``depth``), its main stream (``main``), and the add its skip reaches
    (``add``, through a projection conv if any) with that add's two operand streams
    (``a``, ``b``)."""
    w = w or wire(plan)
    reads = {s: lp for lp in plan.layers for s in lp.sources}
    out = []
    for lp in plan.layers:
        skip = [b for b in lp.blocks if b.role == "skip"]
        if not skip:
            continue
        add = reads[(lp.name, "skip")]
        while add.node.op != "add":
            add = reads[(add.name, "")]
        count = skip[0].params["DEPTH"].bit_length()
        out.append({"name": lp.name, "add": add.name, "skip": w.ends[(lp.name, "skip")] - 1,
                    "main": w.ends[(lp.name, "main")], "count": f"{lp.name}_skip_count",
                    "count_w": max(1, count), "depth": skip[0].params["DEPTH"],
                    "a": w.core_in[add.name][0], "b": w.core_in[add.name][1]})
    return out


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(resource_path("templates") / "rtl")),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


ROM_PARAMS = ("WEIGHT_FILE", "BIAS_FILE", "THRESH_PREFIX", "MUL_FILE")
"""Block parameters that name ROM images (``mem/...`` in the plan): the top passes them as
``{MEM_DIR, "/<name>"}``, its ``MEM_DIR`` parameter the one place a tool points at the images."""


def sv_value(v, key: str = "") -> str:
    """A parameter value as SystemVerilog writes it (strings quoted, numbers as integers; a ROM
    image's ``mem/<name>`` as ``{MEM_DIR, "/<name>"}``)."""
    if key in ROM_PARAMS and isinstance(v, str) and v.startswith("mem/"):
        return f'{{MEM_DIR, "/{v[4:]}"}}'
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def _packed(values: list[int], bits: int) -> str:
    """SystemVerilog literal of ``values`` side by side, value ``i`` at ``[i*bits +: bits]``."""
    v = sum(int(x) << (i * bits) for i, x in enumerate(values))
    return f"{len(values) * bits}'h{v:0{-(-len(values) * bits // 4)}x}"


def wload_context(sections: list[WloadLayer]) -> dict | None:
    """The templates' view of the weight-load stream (None without run-time layers): the
    loader's parameters and, per layer, where its word sits in the loader's ``wdata``."""
    if not sections:
        return None
    maxb = max(s.beats for s in sections)
    return {"n": len(sections), "maxb": maxb,
            "depths": _packed([s.depth for s in sections], 32),
            "beats": _packed([s.beats for s in sections], 16),
            "layers": [{"index": s.index, "name": s.name, "depth": s.depth, "width": s.width,
                        "beats": s.beats, "lo": (maxb - s.beats) * WLOAD_BITS}
                       for s in sections],
            "stream_beats": sum(1 + s.depth * s.beats for s in sections),
            "table": ["index  layer            words   bits  beats/word",
                      *(f"{s.index:5d}  {s.name:<14s} {s.depth:7d} {s.width:6d}  {s.beats:10d}"
                        for s in sections)]}


def _ports(b, wl: dict | None) -> list[tuple[str, str]]:
    """A block's extra ports: the plan's, and the weight memory's write port: the loader's for
    a run-time memory, tied off (unread) for a ROM."""
    ports = list(b.ports)
    if b.role == "skip":  # the skip FIFO's fill count, for the testbench
        return [*ports, ("count", f"{b.layer}_skip_count")]
    if b.module not in ("sat_mvu", "sat_vvu"):
        return ports
    for s in (wl or {}).get("layers", []):
        if s["name"] == b.layer:
            return ports + [("wl_we", f"wl_we[{s['index']}]"), ("wl_addr", "wl_addr"),
                            ("wl_data", f"wl_data[{s['lo'] + s['width'] - 1}:{s['lo']}]")]
    return ports + [("wl_we", "1'b0"), ("wl_addr", "'0"), ("wl_data", "'0")]


def _block_names(plan: HardwarePlan, wload: bool) -> list[str]:
    """The block library files the design needs (the loader's too, with run-time layers)."""
    return block_files({b.module for b in plan.blocks} | ({"sat_wload"} if wload else set()))


def render_rtl(plan: HardwarePlan, graph_hash: str) -> dict[str, str]:
    """``{relative path: text}`` of the ``rtl/`` folder of the accelerator ``plan`` describes;
    with run-time layers (:func:`sat_hw.hw.plan.runtime_layers`) the core has the weight-load
    port (``sat_wload``) and ``tb/wload.hex`` holds the stream (:func:`wload_lines`). A residual
    graph's blocks are wired as :mod:`sat_hw.codegen.wiring` says (forks, skip FIFOs, adds)."""
    blocks = plan.blocks
    w = wire(plan)
    iface = plan.interface()
    sections = wload_layers(runtime_layers(plan))
    wl = wload_context(sections)
    ctx = {
        "hash": graph_hash, "top": TOP, "tb": TB, "name": plan.graph.name, "wl": wl,
        "streams": [{"index": i, "width": width} for i, width in enumerate(w.widths)],
        "stages": [{"module": b.module, "name": b.name, "index": i, "layer": b.layer,
                    "params": [(k, sv_value(v, k)) for k, v in b.params.items()],
                    "wires": ",\n        ".join(", ".join(
                        f".{p}_{x}(s{s}_{x})" for x in ("tdata", "tvalid", "tready"))
                        for p, s in w.conns[i]),
                    "ports": _ports(b, wl)} for i, b in enumerate(blocks)],
        "forks": fork_taps(plan, w),
        "layers": [{"name": t.name, "op": t.op, "in": t.in_stream, "core": t.core_stream,
                    "out": t.out_stream, "starve": _starve(w, t.name),
                    "count": t.fifo_count, "depth": t.fifo_depth,
                    "out_beats": lp.out_beats,
                    "count_w": max(1, t.fifo_depth.bit_length())}
                   for t, lp in zip(taps(plan, w), plan.layers)],
        "in_w": plan.in_width, "out_w": w.widths[w.out], "last": w.out,
        "in_beats": iface["in_beats_per_image"], "out_beats": iface["out_beats_per_image"],
    }
    elem_bytes = -(-iface["out_bits"] // 8)
    ctx.update(in_bytes=-(-plan.in_width // 8), in_ch=iface["in_channels_per_beat"],
               in_bits=iface["in_bits"], out_pe=iface["out_per_beat"],
               out_bits=iface["out_bits"], elem_bytes=elem_bytes,
               out_bytes=iface["out_per_beat"] * elem_bytes)
    env = _env()
    out = {f"{TOP}.sv": env.get_template("top.sv.j2").render(ctx),
           f"{TOP}_axi.sv": env.get_template("axi_top.sv.j2").render(ctx),
           f"{TB}.sv": env.get_template("tb.sv.j2").render(ctx)}
    for lp in plan.layers:
        out.update(layer_roms(lp))
    if sections:
        out["tb/wload.hex"] = wload_lines(sections)
    rtl = resource_path("rtl")
    names = _block_names(plan, bool(sections))
    for name in names:
        out[name] = (rtl / name).read_text()
    out["filelist.f"] = "".join(f"{n}\n" for n in names) + f"{TOP}.sv\n"
    return out


def beat_lines(values: np.ndarray, per_beat: int, bits: int, beat_bits: int) -> str:
    """Hex lines, one beat each: ``per_beat`` values of the rows of ``values`` (flattened in
    order), value ``i`` of a beat at ``[i*bits +: bits]`` (two's complement), the beat
    ``beat_bits`` wide."""
    flat = np.asarray(values, np.int64).reshape(-1, per_beat)
    mask, digits = (1 << bits) - 1, -(-beat_bits // 4)
    lines = []
    for row in flat.tolist():
        v = 0
        for i, e in enumerate(row):
            v |= (int(e) & mask) << (i * bits)
        lines.append(f"{v:0{digits}x}\n")
    return "".join(lines)


def image_lines(inputs: np.ndarray, per_beat: int, bits: int, beat_bits: int) -> str:
    """:func:`beat_lines` of images (NCHW codes) as the input stream carries them: pixel after
    pixel in raster order, a pixel's channels in order."""
    x = np.ascontiguousarray(np.asarray(inputs).transpose(0, 2, 3, 1))  # N H W C
    return beat_lines(x, per_beat, bits, beat_bits)


def render_axi_tb(plan: HardwarePlan, graph_hash: str, inputs: np.ndarray,
                  golden: np.ndarray, watchdog: int) -> dict[str, str]:
    """The self-contained testbench of the integration top (``{TOP}_axi_tb.sv``), its data
    (``tb/inputs.hex``: the images as s_axis beats; ``tb/expected.hex``: golden as m_axis
    beats) and ``filelist_axi.f`` (the blocks, the core, the integration top). ``watchdog``:
    cycles without a beat in or out after which the testbench calls the design stalled."""
    iface = plan.interface()
    in_bytes = -(-plan.in_width // 8)
    elem = -(-iface["out_bits"] // 8) * 8
    out_bytes = iface["out_per_beat"] * elem // 8
    wl = wload_context(wload_layers(runtime_layers(plan)))
    ctx = {"hash": graph_hash, "top": TOP, "in_bytes": in_bytes, "out_bytes": out_bytes,
           "in_beats": iface["in_beats_per_image"], "out_beats": iface["out_beats_per_image"],
           "n_images": len(inputs), "watchdog": int(watchdog), "wl": wl}
    names = _block_names(plan, wl is not None)
    return {f"{TOP}_axi_tb.sv": _env().get_template("axi_tb.sv.j2").render(ctx),
            "tb/inputs.hex": image_lines(inputs, iface["in_channels_per_beat"],
                                         iface["in_bits"], in_bytes * 8),
            "tb/expected.hex": beat_lines(golden, iface["out_per_beat"], elem, out_bytes * 8),
            "filelist_axi.f": "".join(f"{n}\n" for n in names) + f"{TOP}.sv\n{TOP}_axi.sv\n"}


__all__ = [
    "ENCODING",
    "ROM_PARAMS",
    "TB",
    "TOP",
    "LayerTaps",
    "beat_lines",
    "fork_taps",
    "image_lines",
    "layer_roms",
    "render_axi_tb",
    "render_rtl",
    "sv_value",
    "taps",
    "wload_context",
]
