"""SAT vs PACT vs CG-PACT on Fashion-MNIST (issue 10's study). Not a test: it trains, prints
figures, and resumes where it stopped.

Cells (mbv1 0.25, 28 px; one `sat_hw train` process each):
  from FP:      sat, pact, cgpact (CG-PACT without scale adjustment) at W4A4, W3A3, W2A2,
                --init INIT --epochs 25 --lr 0.05 (batch 256, the rest flow.toml's recipe)
  from scratch: sat and pact at W4A4 with flow.toml's recipe (35 epochs, lr 0.1)
  seeds 0, 1, 2 each.
INIT is zoo/mbv1_fm_fp_14ep.pt: the seed-0 cells were trained from it on a lent GPU
(benchmarks/recipe_gpu.py, first run) and are imported with --import.

Resuming: every finished cell is a row in benchmarks/results/study_fashion_mnist.json and is
skipped next time; an unfinished run continues from its last epoch checkpoint under --work
(`sat_hw train --resume`). Writes study_fashion_mnist.{json,md,png}: mean and std per cell.

    nice -n 15 python benchmarks/study_fashion_mnist.py --threads 2 [--first W2A2]
    nice -n 15 python benchmarks/study_fashion_mnist.py --jobs 2 --threads 1  # two runs at once
    bash benchmarks/study_gpu.sh OUT DATA_ROOT  # on a lent GPU: the from-scratch cells (--only)
    python benchmarks/study_fashion_mnist.py --import /tmp/run1/results.json --report-only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INIT = "zoo/mbv1_fm_fp_14ep.pt"
FROM_FP = {"epochs": 25, "lr": 0.05}
BITS = [(4, 4), (3, 3), (2, 2)]
METHODS = ["sat", "pact", "cgpact"]


def cells(seeds: int) -> list[dict]:
    out = [{"method": m, "wbits": w, "abits": a, "init": "fp", "seed": s, **FROM_FP}
           for s in range(seeds) for w, a in BITS for m in METHODS]
    out += [{"method": m, "wbits": 4, "abits": 4, "init": "scratch", "seed": s, "epochs": 35,
             "lr": 0.1} for s in range(seeds) for m in ("sat", "pact")]
    return out


def key(c: dict) -> tuple:
    return (c["method"], c["wbits"], c["abits"], c["init"], c["seed"], c["epochs"], c["lr"])


def load(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"] if path.is_file() else []


def save(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"init": INIT, "from_fp": FROM_FP, "rows": rows}, indent=1) + "\n")


def import_gpu(path: Path) -> list[dict]:
    """Seed-0 from-FP cells of a recipe_gpu.py results.json (zoo SAT runs and study runs)."""
    got = []
    for r in json.loads(path.read_text())["rows"]:
        if r["phase"] != "B" or r.get("top1") is None or r["stopped"]:
            continue
        if (r["wbits"], r["abits"]) not in BITS:
            continue
        if r["epochs_done"] != FROM_FP["epochs"] or abs(r["recipe"]["lr"] - FROM_FP["lr"]) > 1e-12:
            continue
        got.append({"method": r["method"], "wbits": r["wbits"], "abits": r["abits"],
                    "init": "fp", "seed": r["seed"], "epochs": r["epochs_done"],
                    "lr": r["recipe"]["lr"], "top1": r["top1"],
                    "source": f"{path.name} ({r['device']})"})
    return got


def run_cell(c: dict, a) -> dict:
    name = f"{c['init']}_{c['method']}_w{c['wbits']}a{c['abits']}_s{c['seed']}"
    out = a.work / f"{name}.pt"
    cmd = [sys.executable, "-m", "sat_hw", "train", "--method", c["method"], "--wbits",
           str(c["wbits"]), "--abits", str(c["abits"]), "--seed", str(c["seed"]), "--epochs",
           str(c["epochs"]), "--lr", str(c["lr"]), "--batch-size", "256", "--out", str(out)]
    if c["init"] == "fp":
        cmd += ["--init", str(ROOT / INIT)]
    if a.data_root:
        cmd += ["--data-root", a.data_root]
    if out.is_file():
        cmd.append("--resume")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), PYTHONPATH=str(ROOT))
    t0 = time.time()
    with open(out.with_suffix(".log"), "a") as f:
        rc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT,
                            check=False).returncode
    if rc != 0:
        raise SystemExit(f"{name} failed ({rc}); see {out.with_suffix('.log')}")
    import torch

    meta = torch.load(out, map_location="cpu", weights_only=False)["meta"]
    return dict(c, top1=float(meta["top1"]), seconds=time.time() - t0,
                source=f"this script ({meta['device']})")


def by_cell(rows: list[dict]) -> dict[tuple, dict[int, float]]:
    """``{(init, wbits, abits, method): {seed: top1}}``, in the report's order: init, then
    bits from wide to narrow, then the methods' order."""
    by: dict[tuple, dict[int, float]] = {}
    for r in rows:
        by.setdefault((r["init"], r["wbits"], r["abits"], r["method"]), {})[r["seed"]] = r["top1"]
    return dict(sorted(by.items(), key=lambda kv: (kv[0][0], -kv[0][1], METHODS.index(kv[0][3]))))


def table(rows: list[dict], fp_top1: float | None) -> str:
    lines = ["# SAT vs PACT vs CG-PACT on Fashion-MNIST (mbv1 0.25, 28 px)", "",
             (f"From FP: `--init {INIT}` ({'' if fp_top1 is None else f'{100 * fp_top1:.2f} %, '}"
              f"the tuned recipe at 14 epochs), {FROM_FP['epochs']} epochs, lr {FROM_FP['lr']}, "
              "batch 256. From scratch: flow.toml's recipe (35 epochs, lr 0.1). `cgpact` is "
              "CG-PACT without scale adjustment; `sat` adds it on fc. Where each run trained "
              "(a lent H200 or this project's CPU) is its `source` in study_fashion_mnist.json."),
             "",
             "| init | W/A | method | seeds | top-1 mean (%) | std |", "|---|---|---|---|---|---|"]
    for (init, w, ab, m), seeds in by_cell(rows).items():
        v = list(seeds.values())
        sd = f"{100 * statistics.stdev(v):.2f}" if len(v) > 1 else "-"
        lines.append(f"| {init} | W{w}A{ab} | {m} | {len(v)} | {100 * statistics.mean(v):.2f} "
                     f"| {sd} |")
    lines += verdicts(rows)
    todo = len(cells(3)) - len(rows)
    lines += ["", f"All {len(rows)} runs done." if todo <= 0 else
              (f"{len(rows)} of {len(cells(3))} runs done; {todo} to go "
               "(`python benchmarks/study_fashion_mnist.py` resumes).")]
    return "\n".join(lines) + "\n"


def verdicts(rows: list[dict]) -> list[str]:
    """SAT against each other method at the same init and bits: difference of the means, its
    standard error sqrt(s1^2/n1 + s2^2/n2), and a verdict: win or lose beyond 2 standard errors;
    with 3+ seeds each, 'higher/lower on every seed' where the spread is too wide for that;
    else tie. Seeds pair by number."""
    by = by_cell(rows)
    out = ["", ("SAT against the others (difference in points, SAT minus other; win or lose "
                "needs more than 2 standard errors; at least 2 seeds each):"), "",
           "| init | W/A | against | seeds | SAT - other | std. error | verdict |",
           "|---|---|---|---|---|---|---|"]
    for (init, w, ab, m), other in by.items():
        sat = by.get((init, w, ab, "sat"))
        if m == "sat" or not sat or len(sat) < 2 or len(other) < 2:
            continue
        u, v = [100 * x for x in sat.values()], [100 * x for x in other.values()]
        d = statistics.mean(u) - statistics.mean(v)
        se = (statistics.variance(u) / len(u) + statistics.variance(v) / len(v)) ** 0.5
        paired = [sat[k] - other[k] for k in sat if k in other]
        if abs(d) > 2 * se:
            verdict = "SAT wins" if d > 0 else "SAT loses"
        elif len(paired) >= 3 and (all(x > 0 for x in paired) or all(x < 0 for x in paired)):
            verdict = f"tie by 2 s.e.; SAT {'higher' if d > 0 else 'lower'} on every seed"
        else:
            verdict = "tie"
        out.append(f"| {init} | W{w}A{ab} | {m} | {len(u)} vs {len(v)} | {d:+.2f} | {se:.2f} "
                   f"| {verdict} |")
    return out


def plot(rows: list[dict], dest: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [("fp", w, ab) for w, ab in BITS] + [("scratch", 4, 4)]
    by = by_cell(rows)
    cell = {(init, w, ab, m): [100 * t for t in by.get((init, w, ab, m), {}).values()]
            for init, w, ab in groups for m in METHODS}
    # the y range follows the medians, so one collapsed seed does not flatten the rest;
    # what falls below it is drawn on the bottom edge with its value
    lo = min(statistics.median(v) for v in cell.values() if v) - 1.5
    fig, ax = plt.subplots(figsize=(6.6, 3.6))
    for i, m in enumerate(METHODS):
        color = f"C{i}"
        for j, (init, w, ab) in enumerate(groups):
            v = cell[(init, w, ab, m)]
            if not v:
                continue
            x = j + (i - 1) * 0.22
            mean, sd = statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0
            ax.errorbar([x], [max(mean, lo + 0.15)], yerr=[sd] if mean > lo else None,
                        fmt="o" if mean > lo else "v",
                        capsize=3, color=color, label=m if j == 0 else None)
            for y in v:
                ax.plot([x + 0.07], [max(y, lo + 0.15)], "." if y > lo else "v", ms=4,
                        color=color, alpha=0.6)
                if y <= lo:
                    ax.annotate(f"{y:.1f}", (x + 0.07, lo + 0.15), (x + 0.12, lo + 0.45),
                                fontsize=7, color=color)
            if mean <= lo:
                ax.annotate(f"mean {mean:.1f}", (x, lo + 0.15), (x - 0.45, lo + 0.45),
                            fontsize=7, color=color)
    top = max(max(v) for v in cell.values() if v)
    ax.set_ylim(lo, top + 0.8)
    ax.set_xticks(range(len(groups)), [f"W{w}A{a}" + ("\nfrom scratch" if init == "scratch"
                                                       else "\nfrom FP")
                                        for init, w, a in groups])
    ax.set_ylabel("test top-1 (%)")
    ax.set_title("Fashion-MNIST, mbv1 0.25: mean ± std, and each seed")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)
    plt.close(fig)


def train_all(todo: list[dict], a, rows: list[dict], path: Path) -> None:
    """Train the cells, a.jobs at a time, saving each finished run at once. A failed run
    stops the runs not yet started; those already going finish and are saved."""
    stop = threading.Event()

    def one(c: dict) -> dict | None:
        if stop.is_set():
            return None
        try:
            return run_cell(c, a)
        except SystemExit:
            stop.set()
            raise

    failed = None
    with ThreadPoolExecutor(a.jobs) as pool:
        for f in as_completed([pool.submit(one, c) for c in todo]):
            try:
                r = f.result()
            except SystemExit as e:
                failed = failed or e
                continue
            if r is None:
                continue
            rows.append(r)
            save(path, rows)
            print(f"{r['init']} {r['method']} W{r['wbits']}A{r['abits']} seed {r['seed']}: "
                  f"{100 * r['top1']:.2f} % ({r['seconds']:.0f} s)", flush=True)
    if failed is not None:
        raise failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default="")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "study")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--import", dest="imports", type=Path, action="append", default=[])
    ap.add_argument("--report-only", action="store_true", help="no training: tables and plot")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs trained at once, each with --threads threads")
    ap.add_argument("--max-runs", type=int, default=0, help="stop after this many runs")
    ap.add_argument("--only", choices=["fp", "scratch"], default=None,
                    help="train only the cells of this init (the report covers all)")
    ap.add_argument("--first", default="", help="bit settings to run before the others, e.g. "
                    "W2A2 or W2A2,W3A3 (unfinished runs of the others resume later)")
    a = ap.parse_args()
    if a.jobs < 1 or a.threads < 1 or a.seeds < 1:
        ap.error(f"--jobs, --threads and --seeds must be >= 1, got {a.jobs}, {a.threads}, {a.seeds}")
    first = {tuple(int(v) for v in b.strip().upper().lstrip("W").split("A"))
             for b in a.first.split(",") if b.strip()}
    path = a.results / "study_fashion_mnist.json"
    rows = load(path)
    done = {key(r) for r in rows}
    for p in a.imports:
        new = [r for r in import_gpu(p) if key(r) not in done]
        rows += new
        done |= {key(r) for r in new}
        print(f"imported {len(new)} runs from {p}")
    save(path, rows)
    todo = [c for c in cells(a.seeds) if key(c) not in done and a.only in (None, c["init"])]
    todo.sort(key=lambda c: (c["wbits"], c["abits"]) not in first)  # stable: else cells' order
    if not a.report_only:
        a.work.mkdir(parents=True, exist_ok=True)
        train_all(todo[:a.max_runs] if a.max_runs else todo, a, rows, path)
    fp_top1 = None
    if (ROOT / INIT).is_file():
        import torch

        fp_top1 = torch.load(ROOT / INIT, map_location="cpu", weights_only=False)["meta"]["top1"]
    md = table(rows, fp_top1)
    (a.results / "study_fashion_mnist.md").write_text(md)
    if rows:
        plot(rows, a.results / "study_fashion_mnist.png")
    print(md)


if __name__ == "__main__":
    main()
