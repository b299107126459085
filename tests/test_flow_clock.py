"""``sat_hw timing DIR`` (logic levels per layer, the clock they support) and ``sat_hw pnr DIR``
(nextpnr-ecp5 on an ECP5 build: Fmax, utilisation, a bitstream): report.json ``clock`` gives the
assumed clock and the evidence-backed one, with frames/s at both."""

from __future__ import annotations

import json

import pytest

from sat_hw.flow.cli import main
from sat_hw.flow.clock import DEPTH_MODEL, clock_entry, depth_mhz
from tests.test_estimate_synth import tiny_build


def test_depth_model_and_clock_without_evidence():
    fixed, lut, carry = DEPTH_MODEL["xcup"]
    assert depth_mhz(4, 3, "xcup") == round(1000 / (fixed + 4 * lut + 3 * carry), 1)
    assert depth_mhz(13, 0, "xcup") < depth_mhz(4, 3, "xcup") and depth_mhz(4, 3, "ecp5") is None
    c = clock_entry({"estimate": {"interval_cycles": 1000}}, 200.0)
    assert c["evidence_mhz"] is None and c["fps_evidence"] is None
    assert c["fps_assumed"] == 200_000.0 and c["interval"] == "estimated"
    c = clock_entry({"estimate": {"interval_cycles": 1000}, "sim": {"interval_cycles": 1100},
                     "pnr": {"fmax_mhz": 110.0, "device": "lfe5u-85f", "seed": 1}}, 333.0)
    assert c["interval_cycles"] == 1100 and c["fps_evidence"] == 100_000.0
    assert c["evidence"].startswith("nextpnr-ecp5")


@pytest.mark.rtl
def test_timing_gives_levels_per_layer_and_a_depth_clock(tmp_path, capsys):
    b = tmp_path / "b"
    tiny_build(b)
    rep = json.loads((b / "report.json").read_text())
    rep["estimate"] = {"fclk_mhz": 200.0, "interval_cycles": 64}
    (b / "report.json").write_text(json.dumps(rep))
    assert main(["timing", str(b), "--jobs", "2"]) == 0
    t = json.loads((b / "timing.json").read_text())
    assert [e["name"] for e in t["layers"]] == ["pw1", "pool", "fc"]
    assert all(e["worst"]["lut"] >= 1 for e in t["layers"])
    w = t["worst"]
    assert w["lut"] == max(e["worst"]["lut"] for e in t["layers"]) or w["dsp"]
    assert t["depth_mhz"] == depth_mhz(w["lut"], w["carry"], "xcup")
    clock = json.loads((b / "report.json").read_text())["clock"]
    assert clock["assumed_mhz"] == 200.0 and clock["evidence_mhz"] == t["depth_mhz"]
    assert clock["fps_evidence"] == round(t["depth_mhz"] * 1e6 / 64, 1)
    md = (b / "timing.md").read_text()
    assert "| pw1 |" in md and "evidence-backed" in md
    assert "worst" in capsys.readouterr().err


@pytest.mark.rtl
def test_pnr_places_routes_and_packs_an_ecp5_build(tmp_path, capsys):
    b = tmp_path / "b"
    tiny_build(b, micro=True, device="ecp5-25k")
    assert main(["pnr", str(b), "--bitstream", "--seed", "2"]) == 0
    p = json.loads((b / "pnr.json").read_text())
    assert p["device"] == "lfe5u-25f" and p["seed"] == 2 and p["fmax_mhz"] > 20
    assert p["utilisation"]["TRELLIS_FF"][0] > 0
    assert (b / "pnr" / "sat_accel.bit").stat().st_size > 100_000
    clock = json.loads((b / "report.json").read_text())["clock"]
    assert clock["evidence_mhz"] == p["fmax_mhz"] and "nextpnr" in clock["evidence"]
    assert "Fmax" in (b / "pnr.md").read_text()
    assert "Fmax" in capsys.readouterr().err


def test_pnr_refuses_a_xilinx_build_and_bad_flags(tmp_path, capsys):
    b = tmp_path / "b"
    tiny_build(b, micro=True)
    assert main(["pnr", str(b)]) == 2
    assert "targets xczu7ev" in capsys.readouterr().err
    tiny_build(tmp_path / "e", micro=True, device="ecp5-25k")
    assert main(["pnr", str(tmp_path / "e"), "--freq", "0"]) == 2
    assert "--freq 0" in capsys.readouterr().err
    assert not (tmp_path / "e" / "pnr.json").exists()


def test_a_build_reports_its_assumed_clock_until_evidence_comes(built):
    rep = json.loads((built / "report.json").read_text())
    c = rep["clock"]
    assert c["assumed_mhz"] == rep["estimate"]["fclk_mhz"] and c["evidence_mhz"] is None
    assert c["interval"] == "simulated" and c["fps_assumed"] > 0
    assert "- clock: assumed" in (built / "report.md").read_text()
