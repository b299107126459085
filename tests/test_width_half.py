"""The width-0.5 MobileNetV1 figures (issue 25): docs/training.md's tables are the committed
results' (``benchmarks/width_half.py`` renders them), the results are the zoo's, and the README
quotes them; ``sat_hw build --width 0.5`` finds the zoo's models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import width_half

from sat_hw.flow import build as build_mod
from sat_hw.flow.config import load_config
from sat_hw.nn import zoo


def _data() -> dict:
    return json.loads(width_half.RESULTS.read_text())


def test_doc_tables_are_rendered_from_the_results():
    doc = width_half.DOC.read_text()
    assert width_half.render(doc, _data()) == doc, \
        "docs/training.md differs from benchmarks/results/width_half.json: run " \
        "benchmarks/width_half.py --render"


def test_results_are_the_zoos_and_the_build_was_exact():
    index = {e["file"]: e for e in json.loads((ROOT / "zoo" / "index.json").read_text())}
    data = _data()
    assert {r["bits"] for r in data["zoo"]} == {"FP", "W4A4", "W3A4"}
    for r in data["zoo"]:
        e = index[r["file"]]
        assert (e["top1"], e["command"], e["config"]["width"]) == (r["top1"], r["command"], 0.5)
    b = data["build"]
    assert b["weights"].startswith("zoo model mbv1_fm_w0.5_sat_w4a4.pt")
    assert b["rtl_mismatches"] == b["hls_mismatches"] == 0 and b["images"] == 100
    assert b["interval_cycles"] == b["expected_interval_cycles"]


def test_readme_quotes_the_results():
    data = _data()
    line = next(x for x in (ROOT / "README.md").read_text().splitlines()
                if "At width 0.5" in x)
    for r in data["zoo"]:
        assert f"{r['bits']} {100 * r['top1']:.2f} %" in line, r["bits"]
    assert f"interval {data['build']['interval_cycles']:,.0f} cycles" in line
    assert f"in {data['build']['wall_s']:.1f} s cold" in line


def test_build_at_width_half_finds_the_zoo_models():
    for (w, a), want in (((4, 4), "mbv1_fm_w0.5_sat_w4a4.pt"), ((3, 4), "mbv1_fm_w0.5_sat_w3a4.pt")):
        cfg = load_config(None, {"model": {"name": "mbv1", "width": 0.5},
                                 "quant": {"wbits": w, "abits": a}})
        assert zoo.find(build_mod._model_config(cfg), "fashion-mnist")["file"] == want
    cfg = load_config(None, {"model": {"name": "mbv1"}, "quant": {"wbits": 4, "abits": 4}})
    assert zoo.find(build_mod._model_config(cfg), "fashion-mnist")["file"] == "mbv1_fm_sat_w4a4.pt"
