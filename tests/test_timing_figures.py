"""The clock figures in README.md and docs/timing.md are the committed results' (issue 20):
benchmarks/results/pnr_ecp5_<case>.json (``benchmarks/pnr_ecp5.py``) and block_timing.json
(``benchmarks/block_timing.py``). A rerun that moves a figure fails here until the docs follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _text(rel: str) -> str:
    return (ROOT / rel).read_text()


@pytest.mark.parametrize("case", ["mainjob", "mbv1_16px"])
def test_place_and_route_figures_are_the_results(case):
    r = json.loads((RESULTS / f"pnr_ecp5_{case}.json").read_text())
    fmax, fps = r["pnr"]["fmax_mhz"], r["clock"]["fps_evidence"]
    lut = r["pnr"]["utilisation"]["TRELLIS_COMB"][0]
    for doc in ("README.md", "docs/timing.md"):
        text = _text(doc)
        assert f"{fmax:.2f} MHz" in text, f"{doc}: {case} Fmax {fmax:.2f} MHz"
        assert f"{round(fps):,} frames/s" in text, f"{doc}: {case} {round(fps):,} frames/s"
    assert f"{lut:,} LUT4" in _text("docs/timing.md"), f"{case}: {lut:,} LUT4"


def test_block_figures_are_the_results():
    rows = json.loads((RESULTS / "block_timing.json").read_text())["rows"]
    lines = {ln.split("|")[1].strip(): ln for ln in _text("docs/timing.md").splitlines()
             if ln.startswith("| ") and ln.count("|") >= 4}
    for name, r in rows.items():
        assert name in lines, f"docs/timing.md has no row for {name}"
        levels = r["xcup"]["worst"]["levels"] if r["xcup"]["worst"] else "-"
        assert f"-> {r['ecp5']['fmax_mhz']}" in lines[name], f"{name}: {r['ecp5']['fmax_mhz']}"
        assert f"-> {levels}" in lines[name], f"{name}: levels {levels}"
