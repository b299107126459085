"""MobileNetV1 width 1.0, 224 px, 3 channels, 1000 classes, W3A4 (seeded, calibrated) through the
whole generated RTL under Verilator: one image by default, 0 mismatches against golden required.
Prints and writes the Verilator build time, the cycles and the simulation time. Not a test: the
build compiles a large model (minutes on 2 cores).

    .venv/bin/python benchmarks/rtl_mbv1_224.py [--images 1] [--lanes 1024] [--cold]
        [--out benchmarks/results/rtl_mbv1_224.json]

``--cold`` builds with an empty cache (``SAT_HW_CACHE`` in a temporary folder, ccache off).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1)
    ap.add_argument("--lanes", type=int, default=1024)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/rtl_mbv1_224.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtl224_") as tmp:
        env = dict(os.environ)
        if a.cold:
            env.update(SAT_HW_CACHE=str(Path(tmp) / "cache"), CCACHE_DISABLE="1")
        cfg = Path(tmp) / "lanes.toml"
        cfg.write_text(f"[hw]\nlanes = {a.lanes}\n")
        build = Path(tmp) / "b"
        cmd = [sys.executable, "-m", "sat_hw", "build", "--model", "mbv1", "--width", "1.0",
               "--resolution", "224", "--in-channels", "3", "--classes", "1000", "--wbits", "3",
               "--abits", "4", "--no-zoo", "--images", str(a.images), "--backend", "rtl",
               "--config", str(cfg), "--out", str(build)]
        t0 = time.monotonic()
        subprocess.run(cmd, env=env, check=True)
        wall = time.monotonic() - t0
        r = json.loads((build / "report.json").read_text())
    s = r["sim"]
    row = {"model": "mbv1 1.0 224 px 3 ch 1000 classes W3A4 (seeded, calibrated)",
           "lanes_budget": a.lanes, "mac_lanes": r.get("estimate", {}).get("mac_lanes"),
           "cold": a.cold, "images": s["images"], "mismatches": s["mismatches"],
           "verilator_build_s": s["build_s"], "sim_run_s": s["run_s"], "cycles": s["cycles"],
           "latency_cycles": s["latency_cycles"], "interval_cycles": s["interval_cycles"],
           "expected_interval_cycles": s["expected_interval_cycles"],
           "sim_cycles_per_s": s["sim_cycles_per_s"], "build_total_wall_s": wall,
           "load_avg_1min": os.getloadavg()[0]}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(row, indent=1) + "\n")
    for k, v in row.items():
        print(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
