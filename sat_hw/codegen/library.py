"""The block library of ``rtl/``: which source files a design, or one block, needs.

Every file of ``rtl/`` holds one module, ``<module>.sv`` (docs/hardware.md, "Blocks"). Some blocks
instantiate others: most end in a ``sat_skid``, ``sat_fifo`` holds one, and ``sat_mvu`` is built
from its products (``sat_mvu_lut``, ``sat_mvu_dsp``) and adder trees (``sat_mvu_tree``). Those
dependencies are read from the sources themselves (the ``sat_*`` module instances of each file,
comments and strings left out), so no list here goes stale when a block gains or loses a
submodule.

- :func:`block_sources` ``(rtl_dir, module)``: the paths of ``module``'s file and of every file it
  needs, dependencies first: what a tool is given to build or synthesize that block alone.
- :func:`block_files` ``(modules)``: the file names the ``rtl/`` folder of a design needs whose
  top instantiates ``modules``, sorted: the generated ``filelist.f`` and the copies beside it.

Imports nothing of ``sat_hw`` but ``base``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sat_hw.base.resources import resource_path

ALWAYS = ("sat_skid",)
"""Blocks every design's file list carries: the blocks' output buffer (the generated file lists
have always named it, whatever the design's blocks)."""

_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.DOTALL)
_INSTANCE = re.compile(r"\b(sat_\w+)\s*(?:#\s*\(|\w+\s*\()")
_DECLARED = re.compile(r"\bmodule\s+(\w+)")


def instantiated(text: str) -> set[str]:
    """The ``sat_*`` modules a source instantiates (``sat_x #(...) u (...)`` or ``sat_x u (...)``),
    not counting those it declares."""
    code = _COMMENT_OR_STRING.sub(" ", text)
    return set(_INSTANCE.findall(code)) - set(_DECLARED.findall(code))


def block_sources(rtl_dir: Path, module: str) -> list[Path]:
    """``rtl_dir/<module>.sv`` and the files of the blocks it instantiates (recursively, each
    once), dependencies first, in a fixed order (a block's own dependencies by name). An
    instantiated ``sat_*`` module without a file in ``rtl_dir`` is left out (the tool that reads
    the list names it); ``module``'s own file must exist (``ValueError``)."""
    rtl_dir = Path(rtl_dir)
    out: list[Path] = []

    def visit(m: str, path: tuple[str, ...]) -> None:
        p = rtl_dir / f"{m}.sv"
        if p in out:
            return
        if m in path:
            raise ValueError(f"{str(p)!r}: {' -> '.join((*path, m))} instantiates itself")
        if not p.is_file():
            raise ValueError(f"{str(p)!r} does not exist (module {m})")
        for d in sorted(instantiated(p.read_text())):
            if (rtl_dir / f"{d}.sv").is_file():
                visit(d, (*path, m))
        out.append(p)

    visit(module, ())
    return out


def block_files(modules: Iterable[str], rtl_dir: Path | None = None) -> list[str]:
    """The ``.sv`` file names of ``rtl_dir`` (default: the shipped ``rtl/``) that a design whose
    blocks are ``modules`` needs: each block's file, those of the blocks it instantiates
    (:func:`block_sources`) and :data:`ALWAYS`, each once, sorted by name. Any order is a valid
    compile order (each file holds one module and nothing else: no package, no include, no macro
    another file uses), so the sorted one keeps the list deterministic, and a design's list
    unchanged as long as its blocks' sources are."""
    rtl = Path(rtl_dir) if rtl_dir is not None else resource_path("rtl")
    names: set[str] = set()
    for m in sorted(set(modules) | set(ALWAYS)):
        names.update(p.name for p in block_sources(rtl, m))
    return sorted(names)


__all__ = ["ALWAYS", "block_files", "block_sources", "instantiated"]
