"""Lowering time, golden executor time per image, and PyTorch agreement on MobileNetV1.

Default: width 1.0, 224 px, 3 channels, 1000 classes, W4A4 (8-bit first/last weights), an
untrained seeded model calibrated on random codes. Prints figures; not a test.

    .venv/bin/python benchmarks/golden_speed.py [--width 1.0] [--resolution 224] [--images 4]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from sat_hw.graph import agreement, graph_files, run_golden, tie_analysis, verify
from sat_hw.graph.lower import lower, torch_codes
from sat_hw.models import MobileNetV1, calibrate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--wbits", type=int, default=4)
    ap.add_argument("--abits", type=int, default=4)
    ap.add_argument("--calib-images", type=int, default=32)
    ap.add_argument("--images", type=int, default=4, help="images for timing and agreement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    shape = (a.in_channels, a.resolution, a.resolution)
    model = MobileNetV1(width=a.width, resolution=a.resolution, in_channels=a.in_channels,
                        classes=a.classes, wbits=a.wbits, abits=a.abits)
    t = time.perf_counter()
    calibrate(model, torch.from_numpy(rng.integers(0, 256, (a.calib_images, *shape), np.uint8)))
    t_calib = time.perf_counter() - t

    t = time.perf_counter()
    graph = lower(model)
    t_lower = time.perf_counter() - t
    t = time.perf_counter()
    verify(graph)
    t_verify = time.perf_counter() - t
    t = time.perf_counter()
    files = graph_files(graph)
    t_ser = time.perf_counter() - t

    x = rng.integers(0, 256, (a.images, *shape), np.uint8)
    run_golden(graph, x[:1])  # warm-up (BLAS threads, page faults)
    t = time.perf_counter()
    for i in range(a.images):
        run_golden(graph, x[i:i + 1], keep_codes=False)
    t_one = (time.perf_counter() - t) / a.images
    t = time.perf_counter()
    golden = run_golden(graph, x, batch=a.images)
    t_batch = (time.perf_counter() - t) / a.images

    t = time.perf_counter()
    tc = torch_codes(model, x)
    t_torch = (time.perf_counter() - t) / a.images
    agree = agreement(tc, golden)
    ties = tie_analysis(graph, tc)

    macs = sum(n.macs for n in graph.layers)
    res = {
        "model": f"mbv1 w{a.width} {a.resolution}px {a.in_channels}ch {a.classes} classes "
                 f"W{a.wbits}A{a.abits}", "macs": macs, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "calibrate_s": round(t_calib, 3), "lower_s": round(t_lower, 3),
        "verify_s": round(t_verify, 3), "serialize_s": round(t_ser, 3),
        "graph_bytes": {k: len(v) for k, v in files.items()},
        "golden_s_per_image_batch1": round(t_one, 3),
        f"golden_s_per_image_batch{a.images}": round(t_batch, 3),
        "torch_s_per_image": round(t_torch, 3), "images": a.images,
        "code_match_rate": agree["code_match_rate"], "codes_compared": agree["codes_compared"],
        "top1_match_rate": agree["top1_match_rate"],
        "mismatches": {k: v for k, v in agree["mismatches"].items() if v},
        "isolated_mismatches": ties["mismatches"], "isolated_ties": ties["ties"],
        "max_margin_lsb": ties["max_margin_lsb"], "fc_isolated": ties["fc"],
    }
    for k, v in res.items():
        print(f"{k:>28}: {v}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
