"""Time the 16-configuration sweep of MobileNetV1 1.0 / 224 px (the issue's <= 10 s target).

    .venv/bin/python benchmarks/estimate_sweep.py [--device u250] [--fclk 333] [--fps F]

Runs ``sat_hw estimate --model mbv1 --width 1.0 --resolution 224 --in-channels 3 --classes 1000
--wbits 2,3,4,8 --abits 2,3,4,8`` in a fresh process (imports included) and prints its wall and
CPU time; its outputs go to ``benchmarks/results/estimate_mbv1_<device>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="u250")
    ap.add_argument("--fclk", default="333")
    ap.add_argument("--fps", default=None)
    a = ap.parse_args()
    out = ROOT / "benchmarks" / "results" / f"estimate_mbv1_{a.device}"
    cmd = [sys.executable, "-m", "sat_hw", "estimate", "--model", "mbv1", "--width", "1.0",
           "--resolution", "224", "--in-channels", "3", "--classes", "1000", "--wbits",
           "2,3,4,8", "--abits", "2,3,4,8", "--device", a.device, "--fclk", a.fclk,
           "--out", str(out), *(["--fps", a.fps] if a.fps else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = json.loads((out / "estimate.json").read_text())
    print(f"{len(rows)} configurations: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f}); outputs in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
