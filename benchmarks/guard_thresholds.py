"""The evidence behind the training guard's limits (sat_hw/flow/guard.py, docs/training.md).

Reads every per-epoch history committed under benchmarks/results/recipe_gpu/ (issue 10's GPU
runs: FP variants, SAT/PACT/CG-PACT from the FP model, 31 runs) and, per run, the largest fall of
the training top-1 and of the test top-1 below their best earlier epoch; and the per-step logs of
benchmarks/results/collapse_probe/ (``benchmarks/collapse_probe.py``), per run the largest fall
of the training top-1 over 50 steps below its best earlier window. Writes
benchmarks/results/guard_thresholds.md.

    python benchmarks/guard_thresholds.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WINDOW = 50


def _max_fall(values: list[float]) -> tuple[float, int]:
    """Largest fall below the best earlier value (points), and the 1-based index where it is."""
    best, fall, at = None, 0.0, 0
    for i, v in enumerate(values, 1):
        if best is not None and best - v > fall:
            fall, at = best - v, i
        best = v if best is None else max(best, v)
    return fall, at


def epoch_rows() -> list[dict]:
    rows = []
    for f in sorted((RESULTS / "recipe_gpu").glob("run*_results.json")):
        for r in json.loads(f.read_text())["rows"]:
            h = r["history"]
            tr, te = _max_fall([100 * x["train_top1"] for x in h]), \
                _max_fall([100 * x["top1"] for x in h])
            words = r.get("command", "").split()
            flag = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
            lr = r["recipe"]["lr"] if "recipe" in r else float(flag.get("--lr", "nan"))
            rows.append({"file": f.name, "name": r["name"],
                         "method": r.get("method") or flag.get("--method", "?"),
                         "lr": lr, "final": 100 * h[-1]["top1"],
                         "train_fall": tr[0], "train_at": tr[1], "test_fall": te[0],
                         "test_at": te[1]})
    return rows


def window_rows() -> list[dict]:
    rows = []
    for f in sorted((RESULTS / "collapse_probe").glob("*.jsonl")):
        acc = [json.loads(line) for line in f.read_text().splitlines()]
        steps = [r for r in acc if "acc" in r]
        if len(steps) <= WINDOW:  # too short to have a window after the first
            continue
        wins = [100 * sum(r["acc"] for r in steps[i - WINDOW:i]) / WINDOW
                for i in range(WINDOW, len(steps) + 1)]
        fall, at = _max_fall(wins)
        rows.append({"file": f.name, "steps": len(steps), "window_fall": fall,
                     "at_step": at + WINDOW - 1 if at else 0})
    return rows


def main() -> int:
    er, wr = epoch_rows(), window_rows()
    lines = ["# Evidence for the training guard's limits", "",
             "Written by `benchmarks/guard_thresholds.py`. Per run: the largest fall of the "
             "epoch's training top-1 and of its test top-1 below the best earlier epoch "
             "(points, and the epoch where it happened).", "",
             "| file | run | method | lr | final test (%) | train fall (epoch) | "
             "test fall (epoch) |", "|---|---|---|---|---|---|---|"]
    for r in sorted(er, key=lambda r: -r["test_fall"]):
        lines.append(f"| {r['file']} | {r['name']} | {r['method']} | {r['lr']:g} | "
                     f"{r['final']:.2f} | {r['train_fall']:.2f} ({r['train_at']}) | "
                     f"{r['test_fall']:.2f} ({r['test_at']}) |")
    if wr:
        lines += ["", f"Per-step logs: the largest fall of the training top-1 over {WINDOW} "
                  "steps below its best earlier window.", "",
                  "| log | steps | window fall (points) | at step |", "|---|---|---|---|"]
        lines += [f"| {r['file']} | {r['steps']} | {r['window_fall']:.2f} | {r['at_step']} |"
                  for r in wr]
    out = RESULTS / "guard_thresholds.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
