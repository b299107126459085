"""benchmarks/stability_study.py's report: what counts as a collapse, and the per-method rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import stability_study as st


def _rec(out: Path, name: str, top1: float | None, status: int = 0) -> None:
    (out / "runs" / f"{name}.json").write_text(json.dumps({"name": name, "status": status,
                                                           "top1": top1}))


def test_report_counts_guard_stops_and_falls_below_fp(tmp_path):
    (tmp_path / "runs").mkdir()
    for s, fp in enumerate((0.93, 0.92)):
        _rec(tmp_path, f"fp_w0.5_s{s}", fp)
    _rec(tmp_path, "sat_w4a4_w0.5_s0", 0.925)
    _rec(tmp_path, "sat_w4a4_w0.5_s1", 0.81)                     # 11 points below its FP
    _rec(tmp_path, "pact_w4a4_w0.5_s0", 0.90, st.EXIT_COLLAPSE)  # stopped by the guard
    _rec(tmp_path, "pact_w4a4_w0.5_s1", 0.83)                    # 9 points below: not a collapse
    res = st.report(tmp_path, [0.5], [4], [0, 1], ["sat", "pact"])
    rows = {r["run"]: r for r in res["rows"]}
    assert [rows[k]["collapses"] for k in ("fp", "sat_w4a4", "pact_w4a4")] == [0, 1, 1]
    assert rows["sat_w4a4"]["mean"] == (92.5 + 81.0) / 2 and rows["sat_w4a4"]["se"] == 5.75
    md = (tmp_path / "stability_study.md").read_text()
    assert "| 0.5 | pact_w4a4 | 2 | 1 | 90.00, 83.00 | 86.50 ± 3.50 |" in md
    assert "Collapses in all: 2" in md and (tmp_path / "stability_study.png").is_file()


def test_unknown_method_is_refused(tmp_path, capsys):
    assert st.main(["--out", str(tmp_path), "--methods", "sat,dorefa", "--report-only"]) == 2
    assert "--methods 'dorefa'" in capsys.readouterr().err
