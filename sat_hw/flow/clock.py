"""The clock a build's report stands on: the one assumed (``hw.fclk_mhz``) and the one evidence
supports, with frames/s at both (report.json ``clock``).

Evidence, strongest first:

- ``pnr``: nextpnr-ecp5 placed and routed the whole accelerator (``sat_hw pnr``): its achieved
  Fmax, for an ECP5 part. A measured clock on that part, from one seed.
- ``levels``: the logic depth of every block at the build's parameters (``sat_hw timing``: Yosys
  ``synth_xilinx`` and our own netlist walk, :mod:`sat_hw.tools.timing`), turned into a period by
  :data:`DEPTH_MODEL`, for a Xilinx part: the worst block's LUT levels and carry cells. It is a
  logic-depth analysis, not place and route: routing congestion, clock skew and the paths
  between blocks are not in it, so the figure is an upper bound on what the RTL can reach.

Without either, the evidence-backed clock is ``None`` and every figure stays "assumed".
"""

from __future__ import annotations

import json
from pathlib import Path

from sat_hw.base.writer import replace_file

DEPTH_MODEL = {"xcup": (0.55, 0.45, 0.05), "xc7": (0.80, 0.65, 0.10)}
"""Per family, ``(fixed, per LUT level, per carry cell)`` ns of a register-to-register path: the
fixed part is clock-to-out, setup and the first net; a LUT level is the LUT and its net (a
routed UltraScale+ -2 LUT hop is about 0.1 ns of LUT and 0.3-0.4 ns of routing; a 7-series -1 one
about 0.15 + 0.5); a carry cell is the chain's per-cell delay. Typical figures of the vendors'
speed data, not fitted to a routed design of ours: a depth of 4 LUT levels and 3 carry cells
gives 2.5 ns (400 MHz) on xcup."""


BLOCK_DEPTH = (5, 1)
"""The worst register-to-register LUT path of the RTL blocks alone on xcup, ``(LUT levels, carry
cells)``: issue 20's block rows (benchmarks/results/block_timing.json; ``sat_thresholds`` with
128 groups), DSP paths aside (Yosys leaves a DSP48E2 unregistered on xcup). tests/
test_estimate_figures.py keeps it equal to that file."""


def depth_mhz(lut: int, carry: int, family: str) -> float | None:
    """The clock a path of ``lut`` LUT levels and ``carry`` carry cells allows on a Xilinx
    ``family`` by :data:`DEPTH_MODEL` (None for a family without a model)."""
    if family not in DEPTH_MODEL:
        return None
    fixed, per_lut, per_carry = DEPTH_MODEL[family]
    return round(1000.0 / (fixed + lut * per_lut + carry * per_carry), 1)


def _interval(report: dict) -> tuple[int | None, str]:
    sim = report.get("sim") or {}
    if sim.get("interval_cycles"):
        return int(round(sim["interval_cycles"])), "simulated"
    est = report.get("estimate") or {}
    if est.get("interval_cycles"):
        return int(est["interval_cycles"]), "estimated"
    return None, ""


def clock_entry(report: dict, assumed_mhz: float) -> dict:
    """report.json ``clock`` from the evidence the report holds (``pnr``, ``timing``)."""
    pnr, timing = report.get("pnr"), report.get("timing")
    evidence, mhz = None, None
    if pnr and pnr.get("fmax_mhz"):
        mhz = pnr["fmax_mhz"]
        evidence = (f"nextpnr-ecp5 place and route on {pnr['device']}, seed {pnr['seed']}: "
                    f"achieved Fmax")
    elif timing and timing.get("depth_mhz"):
        mhz = timing["depth_mhz"]
        w = timing["worst"]
        evidence = (f"logic depth (sat_hw timing): worst block {w['instance']} at "
                    f"{w['levels']} levels, {DEPTH_MODEL.get(timing['family'])} ns model; "
                    f"not place and route")
    interval, source = _interval(report)
    fps = (lambda f: round(f * 1e6 / interval, 1) if f and interval else None)
    return {"assumed_mhz": float(assumed_mhz), "evidence_mhz": mhz, "evidence": evidence,
            "interval_cycles": interval, "interval": source,
            "fps_assumed": fps(assumed_mhz), "fps_evidence": fps(mhz)}


def update_report(folder: Path, key: str, entry: dict, render=None) -> dict | None:
    """Put ``entry`` under ``key`` of ``folder/report.json`` and recompute its ``clock`` (and
    ``report.md`` by ``render(report)`` where it is a build's full report); returns the clock
    (None without a report)."""
    rep = Path(folder) / "report.json"
    if not rep.is_file():
        return None
    report = json.loads(rep.read_text())
    report[key] = entry
    assumed = (report.get("estimate") or {}).get("fclk_mhz") or report.get("fclk_mhz") or 0
    report["clock"] = clock_entry(report, assumed)
    replace_file(rep, json.dumps(report, indent=1) + "\n")
    if render is not None and {"model", "torch", "build", "layers"} <= report.keys():
        replace_file(Path(folder) / "report.md", render(report))
    return report["clock"]


def clock_line(clock: dict) -> str:
    """One line: both clocks and frames/s at each."""
    a = f"assumed {clock['assumed_mhz']:g} MHz"
    if clock["fps_assumed"]:
        a += f" ({clock['fps_assumed']:,.0f} frames/s)"
    if not clock["evidence_mhz"]:
        return a + "; no evidence yet (sat_hw timing, sat_hw pnr)"
    e = f"evidence-backed {clock['evidence_mhz']:g} MHz"
    if clock["fps_evidence"]:
        e += f" ({clock['fps_evidence']:,.0f} frames/s)"
    return f"{a}; {e}: {clock['evidence']}"


def depth_bound_mhz(family: str) -> float | None:
    """The clock :data:`BLOCK_DEPTH` allows on a Xilinx ``family`` (None elsewhere): what a plan
    can reach at most by logic depth, before any build (no routing, the blocks at issue 20's
    parameters rather than the plan's; ``sat_hw timing`` measures a build's own blocks)."""
    return depth_mhz(*BLOCK_DEPTH, family)


__all__ = ["BLOCK_DEPTH", "DEPTH_MODEL", "clock_entry", "clock_line", "depth_bound_mhz",
           "depth_mhz", "update_report"]
