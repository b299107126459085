"""Which stream each block of a hardware plan reads and drives (the RTL top's wiring).

Streams are numbered as the chain has always numbered them: stream 0 is the accelerator's input,
stream ``i + 1`` the (first) output of block ``i`` of :attr:`HardwarePlan.blocks`. A chain's block
``i`` reads stream ``i``. A residual graph (a DAG, :mod:`sat_hw.hw.dag`) differs in three places:

- a layer's first block reads the stream its :attr:`LayerPlan.sources` names: its producer's
  output (the producer's FIFO), or the main or skip stream of the producer's fork;
- a fork (role ``fork``) drives two streams: the skip stream is ``i + 1`` (read by the skip FIFO
  that follows it, role ``skip``, whose output is the fork's ``"skip"`` end) and the main stream
  is a new one numbered after every block's (the fork's ``"main"`` end);
- an add's converters of operand ``b`` (role ``dwc_b``) start from operand ``b``'s source, and
  the add (role ``add``) reads both operands' streams.

A chain's wiring is exactly the old one (no new stream, block ``i`` reads ``i``), so its RTL is
unchanged. Imports only the plan's types.
"""

from __future__ import annotations

from dataclasses import dataclass

from sat_hw.hw.plan import HardwarePlan


@dataclass(frozen=True)
class Wiring:
    """``widths[s]``: stream ``s``'s bits; ``conns[i]``: block ``i``'s stream ports in port order,
    ``(port prefix, stream)``; ``ends[(layer, branch)]``: the stream a consumer of that layer's
    output reads (branch ``""``: after its FIFO; ``"main"``/``"skip"``: after its fork), the
    input's as ``(input name, "")``; ``core_in[layer]``: the streams its compute block reads (two
    for an add: operands a, b); ``fifo_in[layer]``: the stream into its FIFO (its output before
    the FIFO); ``layer_in[layer]``: the stream its first block reads (operand a's for an add)."""

    widths: tuple[int, ...]
    conns: tuple[tuple[tuple[str, int], ...], ...]
    ends: dict[tuple[str, str], int]
    core_in: dict[str, tuple[int, ...]]
    fifo_in: dict[str, int]
    layer_in: dict[str, int]

    @property
    def out(self) -> int:
        """The stream the accelerator's output port drives (the last block's)."""
        return len(self.conns)


def wire(plan: HardwarePlan) -> Wiring:
    """The streams of ``plan``'s blocks (module doc)."""
    widths = [plan.in_width] + [b.out_w for b in plan.blocks]
    inp = plan.graph.input.name
    ends: dict[tuple[str, str], int] = {(inp, ""): 0}
    conns, core_in, fifo_in, layer_in = [], {}, {}, {}
    k, prev = 0, (inp, "")
    for lp in plan.layers:
        srcs = lp.sources or (prev,)
        cur = ends[srcs[0]]
        other = ends[srcs[1]] if len(srcs) > 1 else cur
        layer_in[lp.name] = cur
        for j, b in enumerate(lp.blocks):
            if b.role == "dwc_b":
                conns.append((("s_axis", other), ("m_axis", k + 1)))
                other = k + 1
                k += 1
                continue
            if b.role == "add":
                conns.append((("s_axis_a", cur), ("s_axis_b", other), ("m_axis", k + 1)))
            elif b.role == "fork":
                widths.append(b.out_w)
                main = len(widths) - 1
                conns.append((("s_axis", cur), ("m_axis_main", main), ("m_axis_skip", k + 1)))
                ends[(lp.name, "main")] = main
            else:
                conns.append((("s_axis", cur), ("m_axis", k + 1)))
            if j == lp.core:
                core_in[lp.name] = (cur, other) if b.role == "add" else (cur,)
            if b.role == "fifo":
                fifo_in[lp.name] = cur
                ends[(lp.name, "")] = k + 1
            elif b.role == "skip":
                ends[(lp.name, "skip")] = k + 1
            cur = k + 1
            k += 1
        prev = (lp.name, "")
    return Wiring(tuple(widths), tuple(conns), ends, core_in, fifo_in, layer_in)


__all__ = ["Wiring", "wire"]
