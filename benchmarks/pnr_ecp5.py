"""The flow's networks placed and routed on an ECP5 85k (issue 20): build, then ``sat_hw pnr``.

    nice -n 3 .venv/bin/python benchmarks/pnr_ecp5.py [--only mainjob,mbv1_16px]

Each case builds with ``sat_hw build`` into a temporary folder and runs ``sat_hw pnr`` on it
(nextpnr-ecp5 out of context, seed 1; a cold run takes 10-30 min on the 2-core machine, a rerun
of unchanged RTL is a cache lookup), then copies the build's ``pnr.json`` and ``pnr.md`` (with
its estimate and simulation figures) to ``benchmarks/results/pnr_ecp5_<case>.{json,md}``.

The foldings are pinned (``benchmarks/configs/pnr_ecp5_<case>.toml``: the ``[fold.*]`` tables
the planner chose when they were measured), so a rerun places the same design:

- ``mainjob``: the README's main job (zoo W3A4, 28 px) as the planner folded it for ``--fps
  10000`` on the 85k (32,768 cycles per image; the lane-budget folding of the main job, 6,272
  cycles, is estimated at 131 % of the LUT4 sites and nextpnr finds no legal placement for it);
- ``mbv1_16px``: issue 20's whole-accelerator case, mbv1 W3A4 at 16 px, LUT products only
  (``mult = "lut"``, as first measured, when the ECP5's MULT18X18D multiplies were left
  unregistered: 92 MHz alone, 165 MHz since ``sat_hw.tools.ecp5pack``), folded for ``--fps
  40000`` (8,192 cycles; 4,096 with LUT products is estimated at 76 %).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAT_HW = [sys.executable, "-m", "sat_hw"]
CONFIGS = ROOT / "benchmarks" / "configs"
CASES = {  # case: (build flags, the [fold.*] tables of the measured design)
    "mainjob": ([], "pnr_ecp5_mainjob.toml"),
    "mbv1_16px": (["--resolution", "16", "--images", "20"], "pnr_ecp5_mbv1_16px.toml"),
}


def run(case: str, tmp: Path) -> dict:
    flags, toml = CASES[case]
    out = tmp / case
    cmd = [*SAT_HW, "build", "--model", "mbv1", "--wbits", "3", "--abits", "4",
           "--device", "ecp5-85k", "--backend", "rtl", *flags, "--config", str(CONFIGS / toml),
           "--out", str(out)]
    subprocess.run(cmd, check=True)
    subprocess.run([*SAT_HW, "pnr", str(out)], check=True)
    rep = json.loads((out / "report.json").read_text())
    pnr = json.loads((out / "pnr.json").read_text())
    res = {"case": case, "command": " ".join(cmd[2:]), "pnr": pnr, "clock": rep["clock"],
           "estimate": {k: rep["estimate"][k] for k in ("lut", "ff", "bram18", "dsp",
                                                        "interval_cycles", "utilisation")},
           "sim": {k: rep["sim"][k] for k in ("images", "mismatches", "interval_cycles",
                                              "latency_cycles")}}
    dst = ROOT / "benchmarks" / "results" / f"pnr_ecp5_{case}"
    dst.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    shutil.copyfile(out / "pnr.md", dst.with_suffix(".md"))
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help=f"comma separated: {', '.join(CASES)}")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pnr_ecp5_") as tmp:
        for case in (a.only.split(",") if a.only else CASES):
            r = run(case, Path(tmp))
            print(f"{case}: Fmax {r['pnr']['fmax_mhz']} MHz, LUT4 "
                  f"{r['pnr']['utilisation']['TRELLIS_COMB'][0]:,} (estimate "
                  f"{r['estimate']['lut']:,}), {r['clock']['fps_evidence']:,.0f} frames/s "
                  "at the measured clock", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
