"""Cycles of the blocks and of the network, free flowing (numpy-free, torch-free).

A block's steady-state rate (:func:`block_rate`), its pipeline delay (:func:`pipe_delay`) and its
fill (:func:`block_delay`) come from its parameters as the RTL blocks' preambles state them; the
network's timeline (:func:`network_timeline`) chains the layers' costs
(:class:`sat_hw.hw.cost.LayerCost`). Blocks are :class:`sat_hw.hw.blocks.Block` (anything with
``module`` and ``params``): this module imports nothing from :mod:`sat_hw.hw.cost`, which imports
it.
"""

from __future__ import annotations

from sat_hw.graph.ir import AvgPool, Layer
from sat_hw.hw.fold import needs_window


def tree_stages(n: int) -> int:
    """Register stages of a ``sat_mvu_tree`` over ``n`` values: L // 2 + 1, L = ceil(log2 n)
    adder levels (0 for one value)."""
    lv = (n - 1).bit_length()
    return lv // 2 + 1 if lv else 0


def mvu_latency(p: dict) -> int:
    """sat_mvu's LAT, cycles from issuing a fold's last beat to its output beat offered: ROOT + 3
    (the accumulator and sat_outq's 2), ROOT = 4 + max(TS, 1) for MULT "lut", TS the stages of
    the tree over the SIMD * WB partial products (WB = WBITS, +1 for "signed"), and 7 + TS for
    MULT "dsp", TS the stages of the tree over the SIMD products (the block's localparams: the
    ROM address, the ROM word and its two copies, 4; the DSP's 3)."""
    if p.get("MULT") == "dsp":
        return 10 + tree_stages(p["SIMD"])
    wb = p["WBITS"] + (p.get("ENCODING", "k") != "k")
    return 7 + max(tree_stages(p["SIMD"] * wb), 1)


def vvu_latency(p: dict) -> int:
    """sat_vvu's LAT: 6 + TS, TS = max(tree stages of the SIMD * UB partial products, tree
    stages of the SIMD codes + 1), a tree of N values having L // 2 + 1 stages (0 for N = 1),
    L = ceil(log2(N)); UB = WBITS ("k") or WBITS + 1 ("signed") (the block's localparams: the
    input register, the trees, the dot product, the accumulator and sat_outq's 2)."""
    ub = p["WBITS"] + (p.get("ENCODING", "k") != "k")
    return 6 + max(tree_stages(p["SIMD"] * ub), tree_stages(p["SIMD"]) + 1)


def thresholds_latency(p: dict) -> int:
    """sat_thresholds' LAT: 2*OUT_BITS + 2 + DEEP for the binary search (a memory read and a
    compare cycle per code bit, one more read cycle for each of the DEEP stages j whose memory
    has more than 64 words, (CH/PE) * 2^j > 64, and sat_outq's 2); 4 for the parallel compare
    (CH == PE and OUT_BITS <= 4: the input register, the compares, sat_outq's 2)."""
    g, b = p["CH"] // p["PE"], p["OUT_BITS"]
    if g == 1 and b <= 4:
        return 4
    return 2 * b + 2 + sum((g << j) > 64 for j in range(b))


def pipe_delay(b) -> int:
    """Cycles from the input beat that completes an output to that output, free flowing (the
    blocks' preambles: "a beat taken in cycle t is offered in cycle t + d")."""
    p, m = b.params, b.module
    if m == "sat_mvu":
        return mvu_latency(p)
    if m == "sat_vvu":
        return vvu_latency(p)
    if m == "sat_thresholds":
        return thresholds_latency(p)
    if m == "sat_dwc":
        return 0 if p["IN_N"] == p["OUT_N"] else 1
    return {"sat_fifo": 2, "sat_bias": 2, "sat_avgpool": 2, "sat_maxpool": 1,
            "sat_skid": 1, "sat_swg": 4}.get(m, 1)


def block_rate(b) -> tuple[int, int, int]:
    """``(cycles, in beats, out beats)`` per item of a block in steady state, free flowing: an
    item is a vector (``sat_mvu``), an output pixel (``sat_vvu``, ``sat_thresholds``,
    ``sat_bias``, ``sat_maxpool``), an image (``sat_swg``, ``sat_avgpool``) or one input beat
    (``sat_dwc``, ``sat_fifo``, ``sat_skid``)."""
    p, m = b.params, b.module
    if m == "sat_mvu":
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        return sf * nf, sf, nf
    if m == "sat_vvu":
        g, s = p["CH"] // p["PE"], p["K2"] // p["SIMD"]
        return g * s, g * s, g
    if m == "sat_swg":
        g = p["CH"] // p["SIMD"]
        ho = (p["IN_H"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
        wo = (p["IN_W"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
        return max(p["IN_H"] * p["IN_W"], ho * wo) * g, p["IN_H"] * p["IN_W"] * g, ho * wo * g
    if m in ("sat_thresholds", "sat_bias", "sat_maxpool"):
        g = p["CH"] // p["PE"]
        return g, g, g
    if m == "sat_avgpool":
        g = p["CH"] // p["PE"]
        return p["PIXELS"] * g, p["PIXELS"] * g, g
    if m == "sat_dwc":
        r = max(p["IN_N"], p["OUT_N"]) // min(p["IN_N"], p["OUT_N"])
        return (r, 1, r) if p["IN_N"] > p["OUT_N"] else (1, 1, 0)
    return 1, 1, 1


def block_delay(b) -> int:
    """Cycles from the block's first input beat to its first output beat, free flowing."""
    p, m = b.params, b.module
    if m == "sat_swg":
        rows = min(p["K"] - p["PAD"], p["IN_H"])
        return rows * p["IN_W"] * (p["CH"] // p["SIMD"]) + pipe_delay(b)
    if m == "sat_vvu":
        return p["K2"] // p["SIMD"] - 1 + pipe_delay(b)
    if m == "sat_mvu":  # the first vector is buffered whole before its fold 0 issues
        return 2 * (p["MW"] // p["SIMD"]) - 1 + pipe_delay(b)
    if m == "sat_avgpool":
        return (p["PIXELS"] - 1) * (p["CH"] // p["PE"]) + pipe_delay(b)
    if m == "sat_dwc" and p["OUT_N"] > p["IN_N"]:
        return p["OUT_N"] // p["IN_N"] - 1 + pipe_delay(b)
    return pipe_delay(b)


def _need_and_tail(node: Layer, c) -> tuple[float, int]:
    """Share of its input a layer needs before its first output, and its own cycles after its
    last input (the last output row of a windowed layer, the last pixel of a pointwise one, the
    whole output of a global pool)."""
    _, h, _ = node.in_shape
    _, ho, wo = node.out_shape
    if needs_window(node):
        rows = min(node.kernel - node.pad, h)
        return rows / h, -(-c.cycles // max(1, ho))
    if isinstance(node, AvgPool):
        return 1.0, node.out_shape[0] // c.fold.pe
    return 1.0 / max(1, h * node.in_shape[2]), -(-c.cycles // max(1, ho * wo))


def network_timeline(graph, costs: list) -> list[tuple[int, int]]:
    """``(first input, last output)`` cycle of each layer for one image alone in a free flowing
    pipeline (the input offered one beat per cycle from cycle 0). A layer's first output comes
    after its own fill (``delay``, at full input rate) or once the share of its input it needs
    has arrived at the producer's pace, whichever is later; its last output after its own work
    at its pace or its tail after the last input, whichever is later. An estimate: the
    simulation's per-layer first-in/last-out are the measurement."""
    out = []
    first_in, last_in = 0, None
    for node, c in zip(graph.layers, costs):
        pipe = sum(pipe_delay(b) for b in c.blocks)
        need, tail = _need_and_tail(node, c)
        span_in = (last_in - first_in) if last_in is not None else 0
        first_out = first_in + max(c.delay, int(need * span_in) + pipe)
        last_out = max(first_in + c.cycles + pipe - 1,
                       (last_in if last_in is not None else 0) + tail + pipe)
        last_out = max(last_out, first_out)
        out.append((first_in, last_out))
        first_in, last_in = first_out + 1, last_out + 1
    return out


def network_latency(graph, costs: list) -> int:
    """Cycles from the first input beat of an image to its last output beat
    (:func:`network_timeline`)."""
    return network_timeline(graph, costs)[-1][1] + 1
