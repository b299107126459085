"""`sat_hw build` and `sat_hw estimate` on the residual models (issue 23): golden == HLS
C-simulation, PyTorch agreement and hardware-side top-1 in the report (``--backend hls``: the
RTL of residual models is tested in tests/test_rtl_residual.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sat_hw.flow.cli import main

SMALL = ["--width", "0.25", "--resolution", "16", "--images", "6"]


MIXED = """[quant]
wbits = 2
abits = 2
[quant.layers.b2_conv1]
wbits = 3
abits = 3
[quant.layers.b5_add]
abits = 4
"""


@pytest.mark.parametrize(("model", "bits"), [("resnet20", (4, 4)), ("mbv2", (8, 8)),
                                             ("resnet20", None)])
def test_hls_build_is_exact(model, bits, tmp_path):
    """W4A4, W8A8 and a mixed W2A2 configuration (a 3-bit conv, a 4-bit add) of the lowered
    models through the HLS C-simulation (the HLS backend alone)."""
    out = tmp_path / model
    if bits:
        argv = ["--wbits", str(bits[0]), "--abits", str(bits[1])]
    else:
        (tmp_path / "mixed.toml").write_text(MIXED)
        argv = ["--config", str(tmp_path / "mixed.toml")]
    assert main(["build", "--model", model, *SMALL, *argv, "--backend", "hls",
                 "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["hls_csim"]["images"] == 6 and r["hls_csim"]["mismatches"] == 0
    np.testing.assert_array_equal(np.load(out / "sim/hls_outputs.npy"),
                                  np.load(out / "sim/golden.npy"))
    assert r["torch"]["code_match_rate"] >= 0.9999 or r["torch"]["isolated"]["ties"] == \
        r["torch"]["isolated"]["mismatches"]
    assert set(r["accuracy"]["labels"]) == {"torch", "golden", "hls"}
    rtl = next(p for p in r["phases"] if p["name"] == "rtl")
    assert not rtl["ran"] and "not selected by build.backend = hls" in rtl["why"]
    assert not (out / "rtl").exists()
    skips = {ly["name"]: ly["skip_fifo"] for ly in r["layers"] if "skip_fifo" in ly}
    assert skips and all(k["depth"] > 2 and "beats the main branch can hold" in k["reason"]
                         for k in skips.values())  # each fork's depth by analysis, and why
    md = (out / "report.md").read_text()
    assert all(f"- {name}: {k['depth']:,} beats; " in md for name, k in skips.items())
    adds = [ly for ly in r["layers"] if ly["op"] == "add"]
    assert adds and all(ly["estimate"]["cycles"] > 0 for ly in adds)
    if bits is None:
        graph = json.loads((out / "graph" / "graph.json").read_text())
        node = {n["name"]: n for n in graph["nodes"]}
        assert node["b2_conv1"]["wbits"] == 3 and node["b2_conv1"]["abits"] == 3
        assert node["b5_add"]["abits"] == 4 and node["b5_add"]["bbits"] == 2


def test_estimate_takes_residual_models(tmp_path):
    assert main(["estimate", "--model", "mbv2", "--wbits", "4", "--abits", "4", "--width",
                 "0.25", "--resolution", "28", "--out", str(tmp_path / "e")]) == 0
    rows = json.loads((tmp_path / "e" / "estimate.json").read_text())
    row = rows[0] if isinstance(rows, list) else rows["rows"][0]
    assert row["lut"] > 0 and row["interval_cycles"] > 0
