"""Issue 25's stability study: does SAT training ever collapse? Meant for a GPU; resumable.

For every width (default 0.25, 0.5, 1.0) and seed (0, 1, 2): an FP model with the full recipe
(``--fp-epochs``, flow.toml's [train]), then from it, with it as the teacher, the zoo's quantized
recipe at each bit-width (``RECIPES``: W2A2 lr 0.05 25 epochs, W4A4 lr 0.01 24 epochs, W8A8 lr
0.01 12 epochs; ``sat_hw train --method sat --init fp.pt --distill fp.pt``). Every run is one
``python -m sat_hw train`` process with the training guard on (flow.toml's default): a run the
guard stops (exit status 5) is a collapse, and so is one that ends more than ``COLLAPSE_POINTS``
below its FP model. ``--methods sat,cgpact,pact`` adds the other quantizers' runs beside SAT's
(same recipe, same FP model): with ``--widths 0.5 --bits 2,4`` these are the issue's SAT vs PACT vs
CG-PACT cells at width 0.5, and the W4A4 rows (FP and SAT, 3 seeds) its "SAT W4A4 >= FP" claim.

Resumable: each finished run leaves ``runs/<name>.json`` under ``--out`` and is not run again; an
unfinished one continues from its last epoch's checkpoint (``--resume``); so a call that runs out
of time loses at most one epoch per running process. ``--jobs`` processes share the machine.
At the end (and with ``--report-only``) it writes ``stability_study.json``, ``.md`` (per width and
bits: mean top-1, standard error over seeds, collapses) and ``.png`` under ``--out``.

    python benchmarks/stability_study.py --out benchmarks/results/stability_study --jobs 6
    python benchmarks/stability_study.py --out /tmp/st --widths 0.25 --bits 4 --seeds 0 \\
        --fp-epochs 1 --max-steps 3 --jobs 1          # CPU smoke: 2 runs of 3 steps
    python benchmarks/stability_study.py --out benchmarks/results/width_half_claim --widths 0.5 \
        --bits 2,4 --methods sat,cgpact,pact --jobs 6  # the width-0.5 claim and comparison
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {2: {"lr": 0.05, "epochs": 25}, 4: {"lr": 0.01, "epochs": 24},
           8: {"lr": 0.01, "epochs": 12}}
"""The zoo's quantized recipes (zoo/README.md), W = A bits -> peak lr and epochs."""
COLLAPSE_POINTS = 10.0
"""A finished quantized run this many points below its FP model's top-1 counts as collapsed."""
EXIT_COLLAPSE = 5


def _name(kind: str, width: float, seed: int) -> str:
    return f"{kind}_w{width:g}_s{seed}"


def _run(out: Path, name: str, args: list[str], max_steps: int) -> dict:
    """One training process (resumed if its checkpoint exists); its result record."""
    done = out / "runs" / f"{name}.json"
    if done.is_file():
        return json.loads(done.read_text())
    ckpt = out / "ckpt" / f"{name}.pt"
    argv = [sys.executable, "-m", "sat_hw", "train", *args, "--out", str(ckpt)]
    if max_steps:
        argv += ["--max-steps", str(max_steps)]
    if ckpt.is_file():
        argv.append("--resume")
    log = out / "logs" / f"{name}.log"
    t0 = time.time()
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        p = subprocess.run(argv, stdout=fh, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        fh.write(p.stderr)
    err = [ln for ln in p.stderr.splitlines() if ": error: " in ln]
    rec = {"name": name, "argv": argv, "status": p.returncode, "seconds": time.time() - t0,
           "error": err[-1] if err else None}
    if p.returncode in (0, EXIT_COLLAPSE) and ckpt.is_file():
        import torch

        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        hist = blob.get("train_state", {}).get("history", [])
        rec.update(top1=hist[-1]["top1"] if hist else None, history=hist,
                   epochs_done=hist[-1]["epoch"] if hist else 0)
    if p.returncode in (0, EXIT_COLLAPSE):  # finished (a guard stop is a result too)
        done.write_text(json.dumps(rec, indent=1))
    print(f"{name}: exit {p.returncode}, {rec.get('top1')} "
          f"({rec['seconds']:.0f} s){' ' + rec['error'] if rec['error'] else ''}", flush=True)
    return rec


def _fp_args(a, width: float, seed: int) -> list[str]:
    return ["--method", "fp", "--width", f"{width:g}", "--seed", str(seed), "--epochs",
            str(a.fp_epochs), "--batch-size", "256", "--lr", "0.1", *a.common]


def _q_args(a, width: float, seed: int, bits: int, fp: Path, method: str) -> list[str]:
    r = RECIPES[bits]
    return ["--method", method, "--wbits", str(bits), "--abits", str(bits), "--width",
            f"{width:g}", "--seed", str(seed), "--epochs", str(a.epochs or r["epochs"]),
            "--batch-size", "256", "--lr", str(r["lr"]), "--init", str(fp), "--distill", str(fp),
            *a.common]


def study(a) -> list[dict]:
    out = a.out
    for sub in ("runs", "ckpt", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    def chain(width: float, seed: int) -> list[dict]:
        fp_name = _name("fp", width, seed)
        recs = [_run(out, fp_name, _fp_args(a, width, seed), a.max_steps)]
        if recs[0]["status"] != 0:
            return recs
        fp = out / "ckpt" / f"{fp_name}.pt"
        for method in a.methods:
            for bits in a.bits:
                recs.append(_run(out, _name(f"{method}_w{bits}a{bits}", width, seed),
                                 _q_args(a, width, seed, bits, fp, method), a.max_steps))
        return recs

    cells = [(w, s) for w in a.widths for s in a.seeds]
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        return [r for recs in pool.map(lambda c: chain(*c), cells) for r in recs]


def report(out: Path, widths, bits_list, seeds, methods=("sat",)) -> dict:
    """Table (json, md) and plot from the finished runs' records under ``out``."""
    recs = {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}
    rows = []
    for w in widths:
        fps = [recs.get(_name("fp", w, s)) for s in seeds]
        for kind in ["fp"] + [f"{m}_w{b}a{b}" for m in methods for b in bits_list]:
            tops, collapsed, missing = [], 0, 0
            for s, fp in zip(seeds, fps):
                r = recs.get(_name(kind, w, s))
                if r is None:
                    missing += 1
                    continue
                bad = r["status"] == EXIT_COLLAPSE or r.get("top1") is None or (
                    kind != "fp" and fp and fp.get("top1") is not None
                    and 100 * (fp["top1"] - r["top1"]) > COLLAPSE_POINTS)
                collapsed += bool(bad)
                if r.get("top1") is not None:
                    tops.append(100 * r["top1"])
            n = len(tops)
            mean = sum(tops) / n if n else None
            se = (math.sqrt(sum((t - mean) ** 2 for t in tops) / (n - 1) / n) if n > 1 else None)
            rows.append({"width": w, "run": kind, "runs": n, "missing": missing,
                         "collapses": collapsed, "top1": tops, "mean": mean, "se": se})
    res = {"rows": rows, "collapse_points": COLLAPSE_POINTS, "recipes": RECIPES}
    (out / "stability_study.json").write_text(json.dumps(res, indent=1))
    lines = ["| width | run | runs | collapses | top-1 per seed (%) | mean ± s.e. (%) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ms = "" if r["mean"] is None else f"{r['mean']:.2f}" + (
            f" ± {r['se']:.2f}" if r["se"] is not None else "")
        missing = f" ({r['missing']} missing)" if r["missing"] else ""
        tops = ", ".join(f"{t:.2f}" for t in r["top1"])
        lines.append(f"| {r['width']:g} | {r['run']} | {r['runs']}{missing} | "
                     f"{r['collapses']} | {tops} | {ms} |")
    total = sum(r["collapses"] for r in rows)
    lines += ["", f"Collapses in all: {total} (a guard stop, or a quantized run ending more than "
              f"{COLLAPSE_POINTS:g} points below its FP model)."]
    (out / "stability_study.md").write_text("\n".join(lines) + "\n")
    _plot(out / "stability_study.png", rows, widths)
    return res


def _plot(path: Path, rows: list[dict], widths) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(r["run"] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, kind in enumerate(kinds):
        for r in (r for r in rows if r["run"] == kind):
            x = widths.index(r["width"]) + (i - (len(kinds) - 1) / 2) * 0.12
            ax.scatter([x] * len(r["top1"]), r["top1"], s=14, color=f"C{i}",
                       label=kind if r["width"] == widths[0] else None)
            if r["collapses"]:
                ax.annotate(f"{r['collapses']} collapsed", (x, min(r["top1"] or [0])),
                            fontsize=7, color="red")
    ax.set_xticks(range(len(widths)), [f"width {w:g}" for w in widths])
    ax.set_ylabel("test top-1 (%)")
    ax.set_title("SAT stability study (Fashion-MNIST, 3 seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/stability_study")
    ap.add_argument("--widths", default="0.25,0.5,1.0")
    ap.add_argument("--bits", default="2,4,8", help="W = A bits of the quantized runs")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="sat",
                    help="quantized methods, comma separated: sat, cgpact, pact (default: sat)")
    ap.add_argument("--fp-epochs", type=int, default=35)
    ap.add_argument("--epochs", type=int, default=0, help="quantized epochs (0: the recipe's)")
    ap.add_argument("--max-steps", type=int, default=0, help="smoke runs: steps per run")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("common", nargs="*", help="more `sat_hw train` flags, after --")
    a = ap.parse_args(argv)
    try:
        a.widths = [float(w) for w in a.widths.split(",")]
        a.bits = [int(b) for b in a.bits.split(",")]
        a.seeds = [int(s) for s in a.seeds.split(",")]
    except ValueError as e:
        print(f"stability_study: error: --widths/--bits/--seeds: {e}", file=sys.stderr)
        return 2
    a.methods = a.methods.split(",")
    bad_m = [m for m in a.methods if m not in ("sat", "cgpact", "pact")]
    if bad_m:
        print(f"stability_study: error: --methods {bad_m[0]!r}: not one of sat, cgpact, pact",
              file=sys.stderr)
        return 2
    bad = [b for b in a.bits if b not in RECIPES]
    if bad:
        print(f"stability_study: error: --bits {bad[0]}: no recipe (one of "
              f"{', '.join(map(str, RECIPES))})", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not a.report_only:
        study(a)
    res = report(a.out, a.widths, a.bits, a.seeds, a.methods)
    print((a.out / "stability_study.md").read_text(), end="")
    return 0 if all(r["collapses"] == 0 for r in res["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
