"""MobileNetV1 at width 0.5 (issue 25, the part that fits this project's 2-core CPU): train the
zoo's width-0.5 FP, SAT W4A4 and SAT W3A4 models, then measure what a user gets from
``sat_hw build --model mbv1 --width 0.5 --wbits 4 --abits 4``. Not a test.

``train``: FP with flow.toml's full recipe (35 epochs, lr 0.1, both cores), then SAT W4A4 and SAT
W3A4 from it with it as the teacher (lr 0.01, ``--q-epochs``; the two side by side, one thread
each). Resumable: a finished run leaves ``<name>.done`` under ``--runs``; an unfinished one
continues with ``--resume``. Put the results into the zoo with ``benchmarks/make_zoo.py``.

``measure``: the zoo's width-0.5 top-1 figures and the build above, cold (an empty
``$SAT_HW_CACHE``, ccache off): wall time, Verilator build and simulation time, interval,
latency, mismatches. Writes ``benchmarks/results/width_half.json`` and renders its tables into
docs/training.md between ``<!-- width:zoo -->`` / ``<!-- width:build -->`` markers
(tests/test_width_half.py keeps them equal). ``--render`` only re-renders.

    .venv/bin/python benchmarks/width_half.py train --runs /work/runs/w05
    .venv/bin/python benchmarks/width_half.py measure
    .venv/bin/python benchmarks/width_half.py --render
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docblocks import render_blocks
from residual_zoo import SAT_HW, run_step

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "width_half.json"
DOC = ROOT / "docs" / "training.md"
WIDTH = 0.5
BUILD = ["build", "--model", "mbv1", "--width", f"{WIDTH:g}", "--wbits", "4", "--abits", "4"]


def steps(runs: Path, q_epochs: dict[str, int]) -> tuple[tuple, list[tuple]]:
    """(FP run, [quantized runs]): each (checkpoint, ``sat_hw train`` arguments)."""
    common = ["--width", f"{WIDTH:g}", "--batch-size", "256", "--seed", "0"]
    fp = runs / f"mbv1_fm_w{WIDTH:g}_fp.pt"
    quant = [(runs / f"mbv1_fm_w{WIDTH:g}_sat_{wa}.pt",
              [*common, "--method", "sat", "--wbits", wa[1], "--abits", wa[3], "--epochs",
               str(n), "--lr", "0.01", "--init", str(fp), "--distill", str(fp)])
             for wa, n in q_epochs.items()]
    return (fp, [*common, "--method", "fp", "--epochs", "35", "--lr", "0.1"]), quant


def train(runs: Path, q_epochs: dict[str, int]) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    fp, quant = steps(runs, q_epochs)
    run_step(*fp, threads=2)
    with ThreadPoolExecutor(len(quant)) as pool:
        for f in [pool.submit(run_step, out, args, 1) for out, args in quant]:
            f.result()


def measure(images: int) -> dict:
    index = json.loads((ROOT / "zoo" / "index.json").read_text())
    zoo = [{"file": e["file"], "method": e["config"]["method"], "bits": _bits(e["config"]),
            "top1": e["top1"], "epochs": e["epochs"], "command": e["command"]}
           for e in index if e["config"]["name"] == "mbv1" and e["config"]["width"] == WIDTH]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        env = {**os.environ, "SAT_HW_CACHE": str(Path(tmp) / "cache"), "CCACHE_DISABLE": "1"}
        argv = [*SAT_HW, *BUILD, "--images", str(images), "--out", str(out)]
        t = time.time()
        subprocess.run(argv, env=env, check=True)
        wall = time.time() - t
        r = json.loads((out / "report.json").read_text())
    sim, est = r["sim"], r["estimate"]
    build = {"command": "SAT_HW_CACHE=$(mktemp -d) CCACHE_DISABLE=1 .venv/bin/sat_hw "
                        + " ".join(BUILD) + (f" --images {images}" if images != 100 else ""),
             "weights": r["build"]["weights"], "images": sim["images"], "wall_s": round(wall, 1),
             "verilator_build_s": round(sim["build_s"], 1), "sim_run_s": round(sim["run_s"], 1),
             "rtl_mismatches": sim["mismatches"], "hls_mismatches": r["hls_csim"]["mismatches"],
             "torch_code_match": r["torch"]["code_match_rate"],
             "interval_cycles": sim["interval_cycles"],
             "expected_interval_cycles": sim["expected_interval_cycles"],
             "latency_cycles": sim["latency_cycles"], "fclk_mhz_assumed": sim["fclk_mhz"],
             "fps_assumed": round(sim["fps"], 1), "lut": est["lut"], "ff": est["ff"],
             "bram18": est["bram18"], "device": est["device"],
             "top1": {k: v / sim["images"] for k, v in r["accuracy"]["counts"].items()},
             "load_1min_after": round(os.getloadavg()[0], 2)}
    return {"zoo": zoo, "build": build}


def _bits(config: dict) -> str:
    if config["method"] == "fp":
        return "FP"
    inner = config["bits"]["pw1"]
    return f"W{inner['wbits']}A{inner['abits']}"


def render(doc: str, data: dict) -> str:
    fp = next(r for r in data["zoo"] if r["method"] == "fp")
    zoo = ["| file | bits | top-1 (%) | vs FP (points) | epochs | command |",
           "|---|---|---|---|---|---|"]
    for r in data["zoo"]:
        diff = "" if r is fp else f"{100 * (r['top1'] - fp['top1']):+.2f}"
        zoo.append(f"| `{r['file']}` | {r['bits']} | {100 * r['top1']:.2f} | {diff} | "
                   f"{r['epochs']} | `{r['command']}` |")
    b = data["build"]
    build = [f"`{b['command']}` ({b['weights']}; {b['images']} test images):", "",
             ("| wall, cold | Verilator build | RTL simulation | mismatches (RTL, HLS C-sim) | "
              "interval (folding's) | latency | frames/s at the assumed clock | estimate |"),
             "|---|---|---|---|---|---|---|---|",
             (f"| {b['wall_s']:.1f} s | {b['verilator_build_s']:.1f} s | {b['sim_run_s']:.1f} s | "
              f"{b['rtl_mismatches']}, {b['hls_mismatches']} | {b['interval_cycles']:,.0f} "
              f"({b['expected_interval_cycles']:,}) cycles | {b['latency_cycles']:,} cycles | "
              f"{b['fps_assumed']:,.0f} at {b['fclk_mhz_assumed']:g} MHz (assumed) | "
              f"{b['lut']:,} LUT, {b['ff']:,} FF, {b['bram18']} BRAM18 ({b['device']}) |")]
    return render_blocks(doc, "width", {"zoo": zoo, "build": build}, "docs/training.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", choices=("train", "measure"))
    ap.add_argument("--runs", type=Path, default=Path("runs/width_half"))
    ap.add_argument("--q-epochs", default="w4a4=24,w3a4=16",
                    help="quantized runs and their epochs (default: w4a4=24,w3a4=16)")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--render", action="store_true")
    a = ap.parse_args()
    if a.what == "train":
        train(a.runs, {k: int(v) for k, v in (p.split("=") for p in a.q_epochs.split(","))})
        return
    if a.what == "measure":
        RESULTS.write_text(json.dumps(measure(a.images), indent=1) + "\n")
    DOC.write_text(render(DOC.read_text(), json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
