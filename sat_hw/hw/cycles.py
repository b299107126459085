"""Cycles of the blocks and of the network, free flowing (numpy-free, torch-free).

A block's steady-state rate (:func:`block_rate`), its pipeline delay (:func:`pipe_delay`) and its
fill (:func:`block_delay`) come from its parameters as the RTL blocks' preambles state them; the
network's timeline (:func:`network_timeline`) follows one image through the layers' blocks
(:class:`sat_hw.hw.cost.LayerCost`) row by row. Blocks are :class:`sat_hw.hw.blocks.Block` (anything with
``module`` and ``params``): this module imports nothing from :mod:`sat_hw.hw.cost`, which imports
it.
"""

from __future__ import annotations

from sat_hw.hw.dag import FORK_ROLES, forks
from sat_hw.hw.fold import in_beat


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


def add_latency(p: dict) -> int:
    """sat_add's latency (rtl/sat_add.sv's preamble): ``RD + TS + 3``, RD the multiplier ROM's
    registers (2 above 64 words), TS the adder tree's stages over ABITS + BBITS partial
    products, 3 the operand skid and the output queue."""
    rd = 2 if p["CH"] // p["PE"] > 64 else 1
    return rd + tree_stages(p["ABITS"] + p["BBITS"]) + 3


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
    if m == "sat_add":
        return add_latency(p)
    if m == "sat_dwc":  # split: offered from t + 2; pack: the cycle after its last beat
        return 0 if p["IN_N"] == p["OUT_N"] else 2 if p["IN_N"] > p["OUT_N"] else 1
    if m == "sat_fifo":
        return 1 if p.get("DEPTH") == 2 else 2
    return {"sat_bias": 2, "sat_avgpool": 2, "sat_maxpool": 1, "sat_skid": 1,
            "sat_swg": 4, "sat_fork": 1}.get(m, 1)


def block_rate(b) -> tuple[int, int, int]:
    """``(cycles, in beats, out beats)`` per item of a block in steady state, free flowing: an
    item is a vector (``sat_mvu``), an output pixel (``sat_vvu``, ``sat_thresholds``,
    ``sat_bias``, ``sat_maxpool``, ``sat_add``: a beat of each operand), an image (``sat_swg``,
    ``sat_avgpool``), one input beat
    (``sat_fifo``, ``sat_skid``, a splitting ``sat_dwc``) or one output beat (a packing
    ``sat_dwc``)."""
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
    if m in ("sat_thresholds", "sat_bias", "sat_maxpool", "sat_add"):
        g = p["CH"] // p["PE"]
        return g, g, g
    if m == "sat_avgpool":
        g = p["CH"] // p["PE"]
        return p["PIXELS"] * g, p["PIXELS"] * g, g
    if m == "sat_dwc":
        r = max(p["IN_N"], p["OUT_N"]) // min(p["IN_N"], p["OUT_N"])
        return (r, 1, r) if p["IN_N"] > p["OUT_N"] else (r, r, 1)
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


def _dwc(rows: list, w: int, nb: int, span: int, n_in: int, n_out: int):
    """The stream after one width converter: ``rows`` of ``(first beat, last beat of the first
    pixel, last beat of the last pixel)``, ``w`` pixels a row, ``nb`` beats a pixel spread over
    ``span`` cycles. Pack (R = OUT_N/IN_N): a wide beat the cycle after its R-th narrow one.
    Split (R = IN_N/OUT_N): a wide beat taken in cycle t leaves as R beats from t + 2, one a
    cycle, so a pixel's last beat is R + 1 cycles later, or later still where the wide beats
    came faster than one every R cycles."""
    if n_in == n_out:
        return rows, nb, span
    if n_out > n_in:
        r = n_out // n_in
        step = span / (nb - 1) if nb > 1 else 0
        nb2 = nb // r
        return ([(int(s + (r - 1) * step) + 1, e0 + 1, e1 + 1) for s, e0, e1 in rows], nb2,
                int(span * (nb2 - 1) / (nb - 1)) if nb > 1 else 0)
    r = n_in // n_out
    nb2 = nb * r
    out, last = [], -(1 << 60)
    for s, e0, e1 in rows:
        e0 = max(e0 + r + 1, e0 - span + 1 + nb2, last + nb2)
        last = max(e1 + r + 1, e1 - span + 1 + nb2, e0 + (w - 1) * nb2)
        out.append((s + 2, e0, last))
    return out, nb2, max(span + r - 1, nb2 - 1)


def _rows_needed(p: dict, o: int) -> int:
    """Input rows a window generator's output row ``o`` needs whole (sat_swg's ``hi``)."""
    return min(o * p["STRIDE"] + p["K"], p["IN_H"] + p["PAD"]) - p["PAD"]


def _core_times(core, p: dict) -> tuple[int, int, int, int]:
    """``(cycles a pixel, beats it takes before its first issue, first output, last output)`` of
    a compute block, the outputs in cycles after the pixel's first issue (``sat_mvu``: fold 0's
    first beat, once the vector is held; the others: the first input beat taken)."""
    m = core.module
    if m == "sat_mvu":
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        lat = mvu_latency(p)
        return sf * nf, sf, sf - 1 + lat, sf * nf - 1 + lat
    if m == "sat_vvu":
        g, s = p["CH"] // p["PE"], p["K2"] // p["SIMD"]
        lat = vvu_latency(p)
        return g * s, 0, s - 1 + lat, g * s - 1 + lat
    g = p["CH"] // p["PE"]  # sat_maxpool: a window beat a channel group, out one cycle later
    return g, 0, 1, g


def _layer(c, rows: list, w: int, nb: int, span: int):
    """One layer's output stream from its input stream (see :func:`network_timeline`)."""
    blocks = c.blocks
    core = next(i for i, b in enumerate(blocks) if b.role in ("mvu", "vvu", "pool", "max"))
    post = sum(pipe_delay(b) for b in blocks[core + 1:] if b.role not in FORK_ROLES)
    swg = next((b for b in blocks[:core] if b.module == "sat_swg"), None)
    for b in blocks[:core]:
        if b.module == "sat_swg":
            break
        if b.module == "sat_dwc":
            rows, nb, span = _dwc(rows, w, nb, span, b.params["IN_N"], b.params["OUT_N"])
    cb, p = blocks[core], blocks[core].params
    if cb.module == "sat_avgpool":  # the last pixel's beats leave as they come, 2 cycles on
        e = rows[-1][2] + 2 + post
        return [(e - span, e, e)], 1, p["CH"] // p["PE"], span
    per, fill, first, last = _core_times(cb, p)
    nb_out = p["MH"] // p["PE"] if cb.module == "sat_mvu" else p["CH"] // p["PE"]
    span_out = last - first
    out, t = [], -(1 << 60)  # t: the last pixel's first issue
    if swg is not None:
        q = swg.params
        g = q["CH"] // q["SIMD"]
        ho = (q["IN_H"] + 2 * q["PAD"] - q["K"]) // q["STRIDE"] + 1
        wo = (q["IN_W"] + 2 * q["PAD"] - q["K"]) // q["STRIDE"] + 1
        per = max(per, g)
        win = sum(block_delay(b) for b in blocks[blocks.index(swg) + 1:core])
        for o in range(ho):
            # the window issues the cycle after its last row is in, is offered 4 later
            ready = rows[_rows_needed(q, o) - 1][2] + 1 + pipe_delay(swg) + win
            t0 = max(t + per, ready + fill)
            t = t0 + (wo - 1) * per
            out.append((t0 + first + post, t0 + last + post, t + last + post))
        return out, wo, nb_out, span_out
    vbuf = sum(pipe_delay(b) for b in blocks[:core] if b.role == "vbuf")
    for s, e0, e1 in rows:  # issue j = max(issue j-1 + per, arrival j + 1), arrivals linear
        a0, a1 = e0 + vbuf + 1, e1 + vbuf + 1
        t0 = max(t + per, a0)
        t = max(t + w * per, a0 + (w - 1) * per, a1)
        out.append((t0 + first + post, t0 + last + post, t + last + post))
    return out, w, nb_out, span_out


def _add_layer(c, a: tuple, b: tuple):
    """An add's output stream from its operands' streams (each through its own converters,
    roles ``dwc_a``/``dwc_b``): it takes a beat of each together, so a beat leaves the later
    of the two arrivals plus its pipeline and the thresholds' and FIFO's."""
    ops = []
    for role, (rows, w, nb, span) in (("dwc_a", a), ("dwc_b", b)):
        for blk in c.blocks:
            if blk.role == role:
                rows, nb, span = _dwc(rows, w, nb, span, blk.params["IN_N"], blk.params["OUT_N"])
        ops.append((rows, nb, span))
    core = next(i for i, blk in enumerate(c.blocks) if blk.role == "add")
    d = sum(pipe_delay(blk) for blk in c.blocks[core:] if blk.role not in FORK_ROLES)
    (ra, nb, sa), (rb, _, sb) = ops
    rows = [(max(x[0], y[0]) + d, max(x[1], y[1]) + d, max(x[2], y[2]) + d)
            for x, y in zip(ra, rb)]
    return rows, a[1], nb, max(sa, sb)


def _forked(stream: tuple, cost, branch: str) -> tuple:
    """A stream after the fork at the end of ``cost``'s layer: the fork's delay, and on the skip
    stream its FIFO's (``branch`` ``""``: not forked, unchanged)."""
    if not branch:
        return stream
    rows, w, nb, span = stream
    d = sum(pipe_delay(b) for b in cost.blocks
            if b.role == "fork" or (branch == "skip" and b.role == "skip"))
    return [(s + d, e0 + d, e1 + d) for s, e0, e1 in rows], w, nb, span


def network_timeline(graph, costs: list) -> list[tuple[int, int]]:
    """``(first input, last output)`` cycle of each layer for one image alone in a free flowing
    pipeline (the input offered one beat per cycle from cycle 0), output row by output row.

    A stream is, per row of the image, its first beat and the last beats of its first and last
    pixel (the pixels between evenly spread). A layer with a window generator issues an output
    row's first window the cycle after the last input row it needs is in (``sat_swg``), 4
    cycles on offered, then one pixel each ``max(unit's cycles a pixel, CH/SIMD)`` cycles; a
    pointwise or fully connected unit starts a pixel's vector once it is whole and the previous
    one is done (``t[j] = max(t[j-1] + cycles, arrival[j] + 1)``, closed form per row); the
    average pool's outputs follow its last pixel's beats. The width converters, FIFOs and
    thresholds add the cycles of their preambles (:func:`pipe_delay`). Backpressure is not
    modelled: each block runs as soon as its inputs are there, so a layer followed by a slower
    one ends earlier here than in the simulation (its output waits there), the slower one not.
    A layer's last output is the beat its output FIFO offers.

    A DAG (residual graph): each layer reads its producer's stream, after the fork's delay (and
    on the skip, its FIFO's: a FIFO deep enough never to stall, :mod:`sat_hw.hw.skip`); an add
    issues each beat when both operands' beats are in. ``costs`` are in graph order."""
    first = graph.layers[0]
    c0, h, w0 = first.in_shape
    nb = c0 // in_beat(first, costs[0].fold)
    rows = [(r * w0 * nb, r * w0 * nb + nb - 1, (r + 1) * w0 * nb - 1) for r in range(h)]
    state = {graph.input.name: (rows, w0, nb, nb - 1)}
    split = forks(graph)
    branch = {(t, x): k for t, cs in split.items() for x, k in zip(cs, ("main", "skip"))}
    by_name = {c.name: c for c in costs}
    out = []
    for c, node in zip(costs, graph.layers):
        ins = [_forked(state[p], by_name.get(p), branch.get((p, node.name), ""))
               for p in graph.producers(node)]
        first_in = min(s[0][0][0] for s in ins)
        state[node.name] = _add_layer(c, *ins) if len(ins) == 2 else _layer(c, *ins[0])
        out.append((first_in, state[node.name][0][-1][2]))
    return out


def network_latency(graph, costs: list) -> int:
    """Cycles from the first input beat of an image to its last output beat
    (:func:`network_timeline`)."""
    return network_timeline(graph, costs)[-1][1] + 1
