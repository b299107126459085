"""SAT vs PACT accuracy on Fashion-MNIST (issue 2's benchmark). Not a test: it prints figures.

Runs, all with the same schedule (epochs, batch, lr, augmentation, calibration), 3 seeds each:
  reference recipe: FP first, then pact and sat initialised from it at W4A4, W3A3, W2A2;
  from scratch:     pact and sat at W4A4.
Every run is one `python -m sat_hw train` process; `--jobs` runs several at once (useful on a GPU).
Writes benchmarks/results/accuracy_fashion_mnist.json (rows {method, wbits, abits, init, seed,
epochs, top1, images_per_s}) and accuracy_fashion_mnist.md (mean +- std, the command).

    python benchmarks/accuracy_fashion_mnist.py --epochs 12 --jobs 9
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
_lock = threading.Lock()
_done: list[dict] = []  # finished rows, written after each run so a cut-off run keeps them


def run(job: dict, a: argparse.Namespace, work: Path) -> dict:
    out = work / f"{job['init']}_{job['method']}_w{job['wbits']}a{job['abits']}_s{job['seed']}.pt"
    cmd = [sys.executable, "-m", "sat_hw", "train", "--model", "mbv1", "--data", "fashion-mnist",
           "--method", job["method"], "--wbits", str(min(job["wbits"], 8)),
           "--abits", str(min(job["abits"], 8)),
           "--width", str(a.width), "--resolution", str(a.resolution), "--in-channels", "1",
           "--classes", "10", "--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
           "--lr", str(a.lr), "--seed", str(job["seed"]), "--out", str(out)]
    if a.data_root:
        cmd += ["--data-root", a.data_root]
    if a.max_steps:
        cmd += ["--max-steps", str(a.max_steps)]
    if job.get("init_ckpt"):
        cmd += ["--init", str(job["init_ckpt"])]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), PYTHONPATH=str(ROOT))
    t0 = time.time()
    log = out.with_suffix(".log")
    with open(log, "w") as f:
        rc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    if rc != 0:
        raise RuntimeError(f"run failed ({rc}): {shlex.join(cmd)}\n{log.read_text()[-2000:]}")
    import torch  # after the subprocess: the parent stays light while jobs run

    meta = torch.load(out, map_location="cpu", weights_only=False)["meta"]
    row = {k: job[k] for k in ("method", "wbits", "abits", "init", "seed")}
    row.update(epochs=a.epochs, top1=float(meta["top1"]),
               images_per_s=float(meta.get("images_per_s", 0.0)), seconds=time.time() - t0)
    with _lock:
        _done.append(row)
        partial = a.results / "accuracy_fashion_mnist.partial.json"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(_done, indent=1) + "\n")
    print(f"{row['init']:7s} {row['method']:5s} W{row['wbits']}A{row['abits']} seed {row['seed']}: "
          f"top1 {100 * row['top1']:.2f} %  ({row['seconds']:.0f} s)", flush=True)
    return dict(row, ckpt=str(out))


def table(rows: list[dict], command: str) -> str:
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["init"], r["method"], r["wbits"], r["abits"]), []).append(r["top1"])
    lines = ["# Fashion-MNIST accuracy, mbv1", "", f"Command: `{command}`", "",
             "| init | method | W/A | seeds | top-1 mean (%) | std |", "|---|---|---|---|---|---|"]
    for (init, m, w, ab), v in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][2], kv[0][1])):
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        wa = "32/32" if m == "fp" else f"{w}/{ab}"
        lines.append(f"| {init} | {m} | {wa} | {len(v)} | {100 * statistics.mean(v):.2f} | "
                     f"{100 * sd:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--resolution", type=int, default=28)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--jobs", type=int, default=1, help="training processes at once")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per process")
    ap.add_argument("--data-root", default="")
    ap.add_argument("--max-steps", type=int, default=0, help="smoke runs only: stop each run early")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "accuracy")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    seeds = range(a.seeds)
    bits = [(4, 4), (3, 3), (2, 2)]
    fp_jobs = [dict(method="fp", wbits=32, abits=32, init="fp", seed=s) for s in seeds]
    scratch = [dict(method=m, wbits=4, abits=4, init="scratch", seed=s)
               for m in ("pact", "sat") for s in seeds]
    with ThreadPoolExecutor(a.jobs) as pool:  # wave 1: FP and from-scratch runs side by side
        first = list(pool.map(lambda j: run(j, a, a.work), fp_jobs + scratch))
        fp = {r["seed"]: r["ckpt"] for r in first if r["method"] == "fp"}
        tuned = [dict(method=m, wbits=w, abits=ab, init="fp", seed=s, init_ckpt=fp[s])
                 for w, ab in bits for m in ("pact", "sat") for s in seeds]
        rows = first + list(pool.map(lambda j: run(j, a, a.work), tuned))  # wave 2: from FP
    for r in rows:
        r.pop("ckpt")
        if r["method"] == "fp":
            r["wbits"] = r["abits"] = 32
    command = "python " + shlex.join(["benchmarks/accuracy_fashion_mnist.py"] + sys.argv[1:])
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / "accuracy_fashion_mnist.json").write_text(json.dumps(rows, indent=1) + "\n")
    (a.results / "accuracy_fashion_mnist.partial.json").unlink(missing_ok=True)
    md = table(rows, command)
    (a.results / "accuracy_fashion_mnist.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
