"""Skip FIFO depths by analysis of the hardware plan (issue 24; numpy-free, torch-free).

A fork (:mod:`sat_hw.hw.dag`) feeds the main branch and the skip FIFO with the same beats, and
the add takes the ``j``-th main beat and the ``j``-th skip beat together. So the skip FIFO holds
the beats the fork has sent on that the add has not yet paired: never more than what the main
branch holds between the fork and the add, plus the fork's drift between its outputs.

**Formula** (docs/hardware.md, "Skip FIFO depth"): for a fork of a tensor of ``B`` beats per
image (its producer's ``PE`` channels a beat),

    depth = ceil(B * sum_k  held_k / per_image_k) + 2

summed over every block ``k`` of the main branch (the layers from the fork's main consumer to
the add, and the add's operand-``a`` converters and input skid): ``held_k`` the elements the
block can hold at most, ``per_image_k`` the elements of one image of the stream it holds them
in (its input or output tensor, or the window stream of a window generator), so
``held_k / per_image_k`` is the share of an image that block can hold back. The capacities come
from the blocks' preambles (rtl/): a FIFO ``DEPTH`` beats; a width converter 2 of its wider
beats; a window generator its ``ROWS`` row slots (one row more where ``OUT_H * STRIDE != IN_H``:
the two grids' rows do not map one to one) and 6 window beats in its pipeline and output skid;
a matrix-vector unit two input vectors (its buffer's two halves) and its output queue's ``QD``
credits; a vector unit 2 input beats and ``QD + 1`` output beats; thresholds ``QD`` beats; a
global pool one image; the add's operand skid 2 beats. The ``+ 2``: the fork's outputs drift
at most two beats apart (each has a two-entry slice).

**Why it is enough.** Let the fork have sent ``n`` beats on the main stream and the add have
taken ``m`` pairs. A block cannot take a beat it has no room for, so the main branch holds at
most ``C = ceil(B * sum held/per_image)`` beats' worth of the forked tensor (each block's
input runs ahead of its output by at most what it holds, in shares of an image): ``n - m <=
C``. The skip FIFO holds at most the skip beats the fork sent (``<= n + 2``) less the ``m``
the add took (beats after the FIFO, in converters, a projection conv or the add's skid, only
lower its fill): at most ``C + 2``. So it is full only while the main branch is full as well,
that is, while the fork could not send a beat on the main stream anyway: the skip FIFO never
stops the fork on its own, and the network runs as with an unbounded one, at the interval of
its slowest layer, and cannot deadlock on it (a full main branch always has an output for the
add, whose skip operand then waits at the FIFO's head). The bound is a capacity, not a timing
model: it does not depend on the folding's rates, the input's idle cycles or the output's
backpressure.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from sat_hw.hw.cycles import mvu_latency, thresholds_latency, vvu_latency
from sat_hw.hw.dag import FORK_ROLES, main_path

FORK_DRIFT = 2
"""Beats the fork's two outputs drift apart at most (each a two-entry register slice)."""
SWG_PIPE = 6
"""Window beats in a window generator past its row buffer: 4 pipeline stages and the skid's 2."""


@dataclass(frozen=True)
class SkipDepth:
    """A skip FIFO's depth and why: ``terms`` are ``(block, what it holds, beats of the forked
    tensor)`` of the main branch, largest first; ``beats`` the forked tensor's beats per image."""

    depth: int
    beats: int
    held: Fraction
    terms: tuple[tuple[str, str, Fraction], ...]

    @property
    def reason(self) -> str:
        top = ", ".join(f"{b} {w} ({float(v):,.1f})" for b, w, v in self.terms[:3])
        more = len(self.terms) - 3
        rest = f", {more} more ({float(sum(v for *_, v in self.terms[3:])):,.1f})"
        return (f"{self.depth - FORK_DRIFT:,} beats the main branch can hold "
                f"({float(self.held):,.1f} of {self.beats:,} per image): {top}"
                f"{rest if more > 0 else ''}; + {FORK_DRIFT} fork drift")


def _qd(lat: int, per: int) -> int:
    """Credits of a ``sat_outq`` for a pipeline of ``lat`` cycles, ``per`` input beats an output
    (sat_mvu's and sat_vvu's ``QD``)."""
    return max(3, -(-lat // per) + 1)


def _shape_elems(shape) -> int:
    c, h, w = shape
    return c * h * w


def layer_terms(lp, operand_a_only: bool = False) -> list[tuple[str, str, Fraction]]:
    """``(block, what it holds, share of an image)`` of each block of ``lp`` that holds beats
    (module doc); for an add (``operand_a_only``) its operand-``a`` converters and skid."""
    node = lp.node
    per_in, per_out = _shape_elems(node.in_shape), _shape_elems(node.out_shape)
    per, out = per_in, []
    for b in lp.blocks:
        m, p = b.module, b.params
        if b.role in FORK_ROLES or (operand_a_only and b.role not in ("dwc_a", "add")):
            continue
        if m == "sat_dwc":
            n = max(p["IN_N"], p["OUT_N"])
            out.append((b.name, f"2 beats of {n}", Fraction(2 * n, per)))
        elif m == "sat_fifo":
            n = p["DATA_W"] // (node.abits if b.role == "vbuf" else b.out_w // lp.fold.pe)
            if b.role == "vbuf":
                out.append((b.name, f"{p['DEPTH']} beats", Fraction(p["DEPTH"] * n, per)))
            else:
                out.append((b.name, f"{p['DEPTH']} beats", Fraction(p["DEPTH"] * lp.fold.pe,
                                                                     per_out)))
        elif m == "sat_swg":
            ho = (p["IN_H"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
            wo = (p["IN_W"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
            rows = p["ROWS"] + (ho * p["STRIDE"] != p["IN_H"])
            out.append((b.name, f"{rows} rows", Fraction(rows * p["IN_W"] * p["CH"], per_in)))
            out.append((b.name, f"{SWG_PIPE} windows",
                        Fraction(SWG_PIPE * p["SIMD"], ho * wo * p["CH"])))
        elif m == "sat_mvu":
            pix = per_out // p["MH"]  # vectors per image
            qd = _qd(mvu_latency(p), p["MW"] // p["SIMD"])
            out.append((b.name, f"2 vectors + {qd} credits",
                        Fraction(2, pix) + Fraction(qd * p["PE"], per_out)))
        elif m == "sat_vvu":
            qd = _qd(vvu_latency(p), p["K2"] // p["SIMD"])
            out.append((b.name, f"{qd + 1} credits",
                        Fraction(qd + 1, per_out // p["PE"]) + Fraction(2 * p["SIMD"] * p["PE"],
                                                                       per_out * p["K2"])))
        elif m == "sat_thresholds":
            qd = thresholds_latency(p) + 1
            out.append((b.name, f"{qd} credits", Fraction(qd * p["PE"], per_out)))
        elif m == "sat_add":  # the main operand's skid; what the add took is consumed
            out.append((b.name, "operand skid", Fraction(2 * p["PE"], per_out)))
        elif m == "sat_avgpool":
            out.append((b.name, "one image", Fraction(1) + Fraction(2 * p["PE"], per_out)))
        else:  # sat_maxpool, sat_bias, sat_skid: an output register slice
            n = lp.fold.pe
            out.append((b.name, "3 beats", Fraction(3 * n, per_out)))
        if b.role in ("mvu", "vvu", "pool", "max", "add"):
            per = per_out
        elif m == "sat_swg":  # the window stream: K*K codes of each channel per pixel
            per = ho * wo * p["CH"] * p["K"] ** 2
    return out


def skip_depth(plan_layers: dict, graph, tensor: str, pe: int) -> SkipDepth:
    """The skip FIFO depth of the fork of ``tensor`` (module doc): ``plan_layers`` the
    :class:`~sat_hw.hw.plan.LayerPlan` of every layer by name, ``pe`` the forked stream's
    channels a beat."""
    src = next(n for n in graph.nodes if n.name == tensor)
    beats = _shape_elems(src.out_shape) // pe
    path = main_path(graph, tensor)
    terms = []
    for name in path:
        terms += layer_terms(plan_layers[name], operand_a_only=name == path[-1])
    scaled = sorted(((b, w, v * beats) for b, w, v in terms), key=lambda t: -t[2])
    held = sum((v for *_, v in scaled), Fraction(0))
    return SkipDepth(ceil(held) + FORK_DRIFT, beats, held, tuple(scaled))


__all__ = ["FORK_DRIFT", "SWG_PIPE", "SkipDepth", "layer_terms", "skip_depth"]
