"""Training runs of the residual networks beside the zoo (issue 23): more seeds of the lowest bit
setting (SAT vs PACT) and the runs that did not make the zoo. Not a test.

Reads the training logs in ``benchmarks/results/residual_runs/`` (each starts with the command
that wrote it, ``$ sat_hw train ...``; the rest is the trainer's own output) and renders two
tables into docs/residual.md: ``<!-- residual:seeds -->`` (top-1 per seed, mean and standard
error; seed 0 is the zoo model, from ``benchmarks/results/residual_zoo.json``) and
``<!-- residual:runs -->`` (every other log: its start, its end, or where the guard stopped it).
tests/test_residual_figures.py keeps the docs equal to the logs.

    .venv/bin/python benchmarks/residual_runs.py
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from docblocks import render_blocks

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "benchmarks" / "results" / "residual_runs"
ZOO = ROOT / "benchmarks" / "results" / "residual_zoo.json"
DOC = ROOT / "docs" / "residual.md"


def _flag(cmd: str, name: str, default: str = "") -> str:
    m = re.search(rf"--{name} (\S+)", cmd)
    return m.group(1) if m else default


def parse(path: Path) -> dict:
    """One log: its command's settings, the start and every epoch's test top-1, the guard's stop."""
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith("$ sat_hw train "):
        raise ValueError(f"{path}: the first line must be the command ($ sat_hw train ...)")
    cmd = lines[0][2:]
    run = {"log": path.name, "command": cmd, "model": _flag(cmd, "model", "mbv1"),
           "method": _flag(cmd, "method"), "seed": int(_flag(cmd, "seed", "0")),
           "bits": f"W{_flag(cmd, 'wbits')}A{_flag(cmd, 'abits')}",
           "epochs": int(_flag(cmd, "epochs")), "lr": _flag(cmd, "lr"),
           "init": Path(_flag(cmd, "init")).name, "start": None, "tests": [], "stopped": None}
    for line in lines[1:]:
        if m := re.match(r"start: test ([\d.]+)%", line):
            run["start"] = float(m.group(1))
        elif m := re.match(r"epoch (\d+)/\d+ .* test ([\d.]+)%", line):
            run["tests"].append(float(m.group(2)))
        elif m := re.search(r"error: (stopped at .*?);", line):
            run["stopped"] = m.group(1)
    return run


def runs() -> list[dict]:
    return [parse(p) for p in sorted(LOGS.glob("*.log"))]


def seeds_table(all_runs: list[dict]) -> list[str]:
    """Per (model, bits, method) with runs of seeds > 0: the zoo's seed 0 and the others."""
    zoo = {(r["model"], r.get("bits"), r["method"]): r
           for r in json.loads(ZOO.read_text())["rows"]}
    groups: dict[tuple, dict[int, float]] = {}
    for r in all_runs:
        if r["seed"] > 0 and r["tests"] and not r["stopped"]:
            key = (r["model"], r["bits"], r["method"])
            groups.setdefault(key, {0: 100 * zoo[key]["top1"]})[r["seed"]] = r["tests"][-1]
    out = ["| model | bits | method | seed 0 (zoo) | seed 1 | seed 2 | mean ± standard error |",
           "|---|---|---|---|---|---|---|"]
    for (model, bits, method), by in sorted(groups.items()):
        v = [by[s] for s in sorted(by)]
        mean = sum(v) / len(v)
        se = (math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v))
              if len(v) > 1 else float("nan"))
        cells = [f"{by[s]:.2f}" if s in by else "-" for s in (0, 1, 2)]
        out.append(f"| {model} | {bits} | {method} | {' | '.join(cells)} | "
                   f"{mean:.2f} ± {se:.2f} (n = {len(v)}) |")
    return out


def runs_table(all_runs: list[dict]) -> list[str]:
    out = [("| log | model | method | bits | from | lr | epochs | start (%) | "
            "test per epoch (%) | end |"), "|---|---|---|---|---|---|---|---|---|---|"]
    for r in all_runs:
        if r["seed"] > 0:
            continue
        tests = ", ".join(f"{t:.2f}" for t in r["tests"]) or "-"
        end = r["stopped"] or (f"{r['tests'][-1]:.2f} %" if r["tests"] else "-")
        start = f"{r['start']:.2f}" if r["start"] is not None else "-"
        out.append(f"| `{r['log']}` | {r['model']} | {r['method']} | {r['bits']} | "
                   f"`{r['init']}` | {r['lr']} | {r['epochs']} | {start} | {tests} | {end} |")
    return out


def render(text: str, all_runs: list[dict]) -> str:
    return render_blocks(text, "residual", {"seeds": seeds_table(all_runs),
                                            "runs": runs_table(all_runs)}, "docs/residual.md")


def main() -> int:
    DOC.write_text(render(DOC.read_text(), runs()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
