"""Forks of a residual graph: which consumer of a forked tensor is the skip, and the main branch
between a fork and its add (numpy-free, torch-free; reads the graph only).

A tensor read by two consumers is a **fork** (docs/residual.md): the block input of a residual
block, read by the main branch (the block's first layer) and by the skip (the ``Add`` itself,
operand ``b``, or a projection conv that feeds operand ``b``). In hardware the fork is a block
(``sat_fork``) with two output streams, and the skip stream gets a FIFO: the add takes one beat
of each operand together, so while the main branch fills its line buffers and pipelines, the
skip's beats wait there.

The skip FIFO's depth comes from the hardware plan: :mod:`sat_hw.hw.skip` adds up the beats the
main branch can hold between the fork and the add (docs/hardware.md, "Skip FIFO depth"). The
FIFO must sit on the branch that needs *less* lookahead (the skip): on the main branch it would
not help, since the fork would block on the shallow skip stream while the add waits for the main
branch's output.
"""

from __future__ import annotations

from sat_hw.graph.ir import Add, Graph, Layer

FORK_ROLES = ("fork", "skip")
"""Roles of the blocks after a layer's FIFO that belong to its fork (:mod:`sat_hw.hw.plan`), not
to the layer's own stream: its delay and output timing leave them out."""


def forks(graph: Graph) -> dict[str, tuple[str, str]]:
    """``{forked tensor: (main consumer, skip consumer)}`` of every tensor with two consumers.

    The skip consumer is the one whose path (through single-consumer layers) reaches an
    :class:`Add` as its operand ``b``; the main one reaches it as operand ``a``. One line
    (``ValueError``) for a tensor read by more than two layers, the input read by two, a fork
    whose branches this rule cannot tell apart, or an add that reads the fork itself as operand
    ``a`` while operand ``b`` comes through layers (a projection): the skip FIFO sits on ``b``'s
    branch before those layers, so nothing would hold the main operand's beats while the
    projection takes a pixel's worth before it emits (a hang the fuzzer found)."""
    out = {}
    for node in graph.nodes:
        cons = graph.consumers(node.name)
        if len(cons) < 2:
            continue
        if node is graph.input:
            raise ValueError(f"{graph.name}: the input is read by {len(cons)} layers "
                             f"({', '.join(c.name for c in cons)}); hardware forks only "
                             f"a layer's output")
        if len(cons) > 2:
            raise ValueError(f"layer {node.name}: read by {len(cons)} layers "
                             f"({', '.join(c.name for c in cons)}); a fork has two outputs")
        kinds = [_operand(graph, node.name, c) for c in cons]
        if set(kinds) != {0, 1}:  # None: a path that meets a fork before any add
            raise ValueError(f"layer {node.name}: cannot tell the skip branch of its fork "
                             f"({cons[0].name}, {cons[1].name}): neither or both reach an add "
                             f"as its second operand, or one forks again before it (a nested "
                             f"block)")
        main, skip = (cons[0], cons[1]) if kinds == [0, 1] else (cons[1], cons[0])
        if main.op == "add" and skip.op != "add":
            raise ValueError(f"layer {node.name}: {main.name} reads it directly as its main "
                             f"operand (a) while its skip operand goes through {skip.name}; "
                             f"the main branch must hold what the skip's layers take before "
                             f"they emit (it deadlocks otherwise): swap the add's operands")
        out[node.name] = (main.name, skip.name)
    return out


def main_path(graph: Graph, tensor: str) -> list[str]:
    """The layers of the main branch of ``tensor``'s fork, from its main consumer to the add
    (last), each the single consumer of the one before."""
    node = graph.node(forks(graph)[tensor][0])
    path = [node.name]
    while not isinstance(node, Add):
        node = graph.consumers(node.name)[0]
        path.append(node.name)
    return path


def _operand(graph: Graph, src: str, node: Layer) -> int | None:
    """Which operand (0: ``a``, 1: ``b``) of the first add on the path from tensor ``src``
    through ``node`` (following layers with one consumer) the path enters; None if none."""
    prev = src
    for _ in range(len(graph.nodes)):
        if isinstance(node, Add):
            return tuple(node.inputs).index(prev)
        cons = graph.consumers(node.name)
        if len(cons) != 1:
            return None
        prev, node = node.name, cons[0]
    return None


__all__ = ["FORK_ROLES", "forks", "main_path"]
