"""docs/residual.md's table of trained residual models is the committed results'
(``benchmarks/residual_results.py`` regenerates both), and the results are the zoo's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import residual_results


def test_doc_table_is_rendered_from_the_results():
    data = json.loads(residual_results.RESULTS.read_text())
    doc = residual_results.DOC.read_text()
    assert residual_results.render(doc, data) == doc, \
        "docs/residual.md differs from benchmarks/results/residual_zoo.json: run " \
        "benchmarks/residual_results.py --render"


def test_results_match_the_zoo():
    data = json.loads(residual_results.RESULTS.read_text())
    index = {e["file"]: e for e in json.loads((ROOT / "zoo" / "index.json").read_text())}
    assert data["rows"]
    for r in data["rows"]:
        assert index[r["file"]]["top1"] == r["top1"]
        if r["method"] != "fp":
            assert r["images"] == 10000 and r["isolated_ties"] == r["isolated_mismatches"]


def test_readme_quotes_the_zoo():
    index = {e["file"]: e["top1"] for e in json.loads((ROOT / "zoo" / "index.json").read_text())}
    line = next(x for x in (ROOT / "README.md").read_text().splitlines()
                if "the zoo holds CPU-trained ResNet-20" in x)
    for label, f in (("ResNet-20 (FP", "resnet20_fm_fp.pt"), ("SAT W4A4", "resnet20_fm_sat_w4a4.pt"),
                     ("W3A3", "resnet20_fm_sat_w3a3.pt"), ("MobileNetV2 (FP", "mbv2_fm_fp.pt"),
                     ("SAT W4A4 86", "mbv2_fm_sat_w4a4.pt")):
        assert f"{100 * index[f]:.2f} %" in line, (label, f)


def test_doc_runs_and_seeds_are_rendered_from_the_logs():
    """docs/residual.md's runs-below-the-zoo and seeds tables are the committed training logs'
    (benchmarks/results/residual_runs/, rendered by benchmarks/residual_runs.py)."""
    import residual_runs

    runs = residual_runs.runs()
    assert runs and all(r["command"].startswith("sat_hw train") for r in runs)
    doc = residual_runs.DOC.read_text()
    assert residual_runs.render(doc, runs) == doc, \
        "docs/residual.md differs from the logs: run benchmarks/residual_runs.py"
    w2a2 = next(r for r in runs if r["log"] == "mbv2_sat_w2a2.log")
    assert w2a2["stopped"].startswith("stopped at epoch 1, step 226") and not w2a2["tests"]
