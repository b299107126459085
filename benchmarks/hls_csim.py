"""HLS C-simulation speed: MobileNetV1 width 1.0, 224 px, 3 channels, 1000 classes, W3A4
(8-bit first/last weights), untrained, seeded, calibrated on random codes, default folding
(``hw.lanes`` = 1024); one image through the generated C++ compiled with g++ against hls4ml's
ap_types, compile included (a fresh cache, so nothing is reused), compared with golden.

    nice -n 10 .venv/bin/python benchmarks/hls_csim.py [--images 1] [--opt -O1] [--jobs 2]

Prints the figures and writes ``benchmarks/results/hls_csim_mbv1_224.json`` (``--json``):
wall seconds of the compile and the run, and their CPU seconds (user + system of the g++ and
testbench processes), which tell what the wall time would be on two cores nobody else uses
(the compile runs ``--jobs`` processes at a time) when the machine is shared.
Target (issue 8): compile + run of one image <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from sat_hw.codegen.hls import render_hls
from sat_hw.flow.config import load_config, model_from_config
from sat_hw.graph.golden import run_golden
from sat_hw.graph.serialize import files_hash, graph_files
from sat_hw.hw.fold import interval
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.hlssim import CXXFLAGS, compile_csim, run_csim

RESULTS = Path(__file__).resolve().parent / "results" / "hls_csim_mbv1_224.json"


def _child_cpu() -> float:
    """User + system CPU seconds of finished child processes (g++, the testbench)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1)
    ap.add_argument("--opt", default="-O1", help="g++ optimisation flag (default -O1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel g++ processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=RESULTS)
    a = ap.parse_args()

    import torch

    from sat_hw.nn.lower import lower
    from sat_hw.nn.models import calibrate

    t0 = time.perf_counter()
    cfg = load_config(None, {"model": {"width": 1.0, "resolution": 224, "in_channels": 3,
                                       "classes": 1000}, "quant": {"wbits": 3, "abits": 4}})
    torch.manual_seed(a.seed)
    model = model_from_config(cfg, seed=a.seed)
    rng = np.random.default_rng(a.seed)
    calibrate(model, rng.integers(0, 256, (8, 3, 224, 224), dtype=np.uint8))
    graph = lower(model)
    folding = resolve_folding(graph, cfg["fold"], cfg["hw"]["lanes"])
    x = rng.integers(0, 256, (a.images, 3, 224, 224), dtype=np.uint8)
    gold = run_golden(graph, x).outputs
    t1 = time.perf_counter()
    files = render_hls(hardware_plan(graph, folding), files_hash(graph_files(graph)))
    t2 = time.perf_counter()
    flags = tuple(a.opt if f.startswith("-O") else f for f in CXXFLAGS)
    with tempfile.TemporaryDirectory(prefix="sat_hw_hls_bench-") as cache:
        c0 = _child_cpu()
        exe, compile_s, _ = compile_csim(files, flags, Path(cache), jobs=a.jobs, say=print)
        c1 = _child_cpu()
        y, run_s = run_csim(exe, x, graph.layers[-1].out_shape[0])
        c2 = _child_cpu()
    mism = int(np.count_nonzero(y != gold))
    res = {
        "model": "mbv1 width 1.0, 224 px, 3 channels, 1000 classes, W3A4, seed 0",
        "images": a.images, "flags": " ".join(flags), "jobs": a.jobs,
        "macs": int(sum(n.macs for n in graph.layers)),
        "lanes": int(sum(f.pe * f.simd for n, f in folding.items()
                         if graph.node(n).op not in ("pool", "maxpool"))),
        "interval_cycles": interval(graph, folding),
        "generated_mb": round(sum(len(v) for v in files.values()) / 1e6, 1),
        "model_golden_s": round(t1 - t0, 1), "render_s": round(t2 - t1, 2),
        "compile_s": round(compile_s, 1), "run_s": round(run_s, 1),
        "compile_plus_run_s": round(compile_s + run_s, 1), "mismatches": mism,
        "compile_cpu_s": round(c1 - c0, 1), "run_cpu_s": round(c2 - c1, 1),
        "max_rss_child_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(res, indent=1))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
