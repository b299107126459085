"""Lowering time, golden executor time per image, and PyTorch agreement.

Default: MobileNetV1 width 1.0, 224 px, 3 channels, 1000 classes, W4A4 (8-bit first/last weights),
untrained, seeded, calibrated on random codes, measured on a few random images. With
``--checkpoint CKPT --data fashion-mnist`` it measures a trained model on the real test set.
Prints figures (and writes them with ``--json``); not a test.

    .venv/bin/python benchmarks/golden_speed.py [--images 4]
    .venv/bin/python benchmarks/golden_speed.py --checkpoint ckpt.pt --data fashion-mnist \
        --images 10000

Agreement is reported three ways: end to end against the float32 model as it is (a code that
differs at one boundary propagates), per layer in isolation (each layer fed torch's own input
codes; every difference classified as a rounding tie or not), and end to end against the model's
float64 twin (the same real-valued model without float32 rounding).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from sat_hw.graph import agreement, graph_files, run_golden, verify
from sat_hw.nn.checkpoint import load_checkpoint
from sat_hw.nn.lower import lower, torch_codes
from sat_hw.nn.models import MobileNetV1, calibrate


def _model_and_images(a) -> tuple[MobileNetV1, np.ndarray, str]:
    rng = np.random.default_rng(a.seed)
    if a.checkpoint:
        model = load_checkpoint(a.checkpoint)
        c = model.config
        if a.data:
            from sat_hw.nn.data import load_split

            ds = load_split(a.data, "", "test", c["resolution"], c["in_channels"])
            images = np.asarray(ds.images)[: a.images].astype(np.uint8)
            return model, images, f"{len(images)} {a.data} test images"
        shape = (c["in_channels"], c["resolution"], c["resolution"])
        return model, rng.integers(0, 256, (a.images, *shape), np.uint8), "random codes"
    torch.manual_seed(a.seed)
    shape = (a.in_channels, a.resolution, a.resolution)
    model = MobileNetV1(width=a.width, resolution=a.resolution, in_channels=a.in_channels,
                        classes=a.classes, wbits=a.wbits, abits=a.abits)
    t = time.perf_counter()
    calibrate(model, torch.from_numpy(rng.integers(0, 256, (a.calib_images, *shape), np.uint8)))
    print(f"calibrated on {a.calib_images} random images in {time.perf_counter() - t:.1f} s")
    return model, rng.integers(0, 256, (a.images, *shape), np.uint8), "random codes"


def _summary(agree: dict) -> dict:
    iso = agree["isolated"]
    return {"code_match_rate": agree["code_match_rate"],
            "top1_match_rate": agree["top1_match_rate"],
            "mismatches": {k: v for k, v in agree["mismatches"].items() if v},
            "isolated_code_match_rate": iso["code_match_rate"],
            "isolated_mismatches": {k: v["mismatches"] for k, v in iso["layers"].items()
                                    if v["mismatches"]},
            "isolated_ties": iso["ties"], "isolated_max_margin_lsb": iso["max_margin_lsb"],
            "isolated_fc": iso["fc"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--wbits", type=int, default=4)
    ap.add_argument("--abits", type=int, default=4)
    ap.add_argument("--calib-images", type=int, default=32)
    ap.add_argument("--checkpoint", help="a trained sat_hw checkpoint instead of a seeded model")
    ap.add_argument("--data", help="with --checkpoint: measure on this dataset's test split")
    ap.add_argument("--images", type=int, default=4, help="images for timing and agreement")
    ap.add_argument("--timed-images", type=int, default=4, help="images timed one at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    model, x, source = _model_and_images(a)
    t = time.perf_counter()
    graph = lower(model)
    t_lower = time.perf_counter() - t
    t = time.perf_counter()
    verify(graph)
    t_verify = time.perf_counter() - t
    t = time.perf_counter()
    files = graph_files(graph)
    t_ser = time.perf_counter() - t

    run_golden(graph, x[:1])  # warm-up (BLAS threads, page faults)
    k = min(a.timed_images, len(x))
    t = time.perf_counter()
    for i in range(k):
        run_golden(graph, x[i:i + 1], keep_codes=False)
    t_one = (time.perf_counter() - t) / k
    t = time.perf_counter()
    golden = run_golden(graph, x, batch=64)
    t_batch = (time.perf_counter() - t) / len(x)

    t = time.perf_counter()
    tc = torch_codes(model, x)
    t_torch = (time.perf_counter() - t) / len(x)
    f32 = _summary(agreement(tc, golden, graph=graph))
    del tc
    f64 = _summary(agreement(torch_codes(model, x, precision="float64"), golden, graph=graph))

    c = graph
    res = {
        "model": f"{c.name} w{c.width} {c.resolution}px {c.in_channels}ch {c.classes} classes, "
                 + ("checkpoint " + a.checkpoint if a.checkpoint else
                    f"untrained W{a.wbits}A{a.abits}, calibrated"),
        "inputs": source, "images": len(x), "macs": sum(n.macs for n in graph.layers),
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "lower_s": round(t_lower, 3), "verify_s": round(t_verify, 3),
        "serialize_s": round(t_ser, 3), "graph_bytes": {k: len(v) for k, v in files.items()},
        "golden_s_per_image_batch1": round(t_one, 4),
        "golden_s_per_image_batch64": round(t_batch, 4),
        "torch_s_per_image": round(t_torch, 4),
        "agreement_float32": f32, "agreement_float64_twin": f64,
    }
    for key, v in res.items():
        if isinstance(v, dict) and key.startswith("agreement"):
            print(f"{key}:")
            for kk, vv in v.items():
                print(f"  {kk:>28}: {vv}")
        else:
            print(f"{key:>30}: {v}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
