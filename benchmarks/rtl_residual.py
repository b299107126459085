"""The residual networks through the whole flow with RTL (issue 24): `sat_hw build` with the
default backends (golden, RTL under Verilator, HLS C-sim, estimate), then `sat_hw svtb` on the
build. Prints each network's figures: mismatches, interval against the slowest layer's folding,
latency, skip FIFO peaks, build and simulation times. Not a test (minutes per network).

    .venv/bin/python benchmarks/rtl_residual.py                      # zoo W4A4 models, 100 images
    .venv/bin/python benchmarks/rtl_residual.py --no-zoo --resolution 16 --images 4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sat_hw.flow.cli import main as cli


def run(model: str, a, out: Path) -> dict:
    argv = ["build", "--model", model, "--wbits", "4", "--abits", "4", "--images",
            str(a.images), "--out", str(out)]
    if a.resolution:
        argv += ["--resolution", str(a.resolution)]
    if a.no_zoo:
        argv.append("--no-zoo")
    t = time.time()
    rc = cli(argv)
    build_s = time.time() - t
    r = json.loads((out / "report.json").read_text())
    t = time.time()
    svtb = cli(["svtb", str(out)])
    folding = max(ly["estimate"]["cycles"] for ly in r["layers"])
    skips = {ly["name"]: [ly["sim"]["skip_fifo_peak"], ly["sim"]["skip_fifo_depth"],
                          ly.get("skip_fifo", {}).get("reason", "")]
             for ly in r["layers"] if "skip_fifo_depth" in ly.get("sim", {})}
    return {"model": model, "rc": rc, "weights": r["build"].get("weights"),
            "images": r["sim"]["images"], "rtl_mismatches": r["sim"]["mismatches"],
            "hls_mismatches": r["hls_csim"]["mismatches"],
            "interval": r["sim"]["interval_cycles"], "slowest_fold": folding,
            "interval_over_fold": r["sim"]["interval_cycles"] / folding,
            "latency": r["sim"]["latency_cycles"], "verilator_build_s": r["sim"]["build_s"],
            "sim_run_s": r["sim"]["run_s"], "build_s": round(build_s, 1),
            "svtb_rc": svtb, "svtb_s": round(time.time() - t, 1), "skip_fifos": skips,
            "accuracy": r.get("accuracy", {}).get("labels"), "torch": r["torch"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet20,mbv2")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--resolution", type=int, default=0)
    ap.add_argument("--no-zoo", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    base = a.out or Path(tempfile.mkdtemp(prefix="rtl_residual_"))
    for m in a.models.split(","):
        print(json.dumps(run(m, a, base / m)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
