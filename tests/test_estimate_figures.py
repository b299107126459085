"""The estimate figures in README.md and docs/estimates.md are the committed results', and the
committed results are what the planner gives today (issue 21: "the committed results are
stale"). ``benchmarks/estimates.py`` regenerates both; a change to the cost model, the planner
or the calibration fails here until it has run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

import estimate_finn
import estimates


def _committed() -> dict:
    return json.loads((RESULTS / "estimate_finn.json").read_text())


def _row(data, kind, dev="u250", fc=4, finn=None):
    return estimate_finn.pick(data["rows"], kind, dev, fc, finn)


def test_docs_tables_are_rendered_from_the_results():
    doc = (ROOT / "docs" / "estimates.md").read_text()
    assert estimates.render(doc, estimates.blocks()) == doc, \
        "docs/estimates.md differs from the committed results: run benchmarks/estimates.py"
    readme = (ROOT / "README.md").read_text()
    assert estimates.render(readme, estimates.readme_blocks(), "README.md") == readme, \
        "README.md's tables differ from the committed results: run benchmarks/estimates.py"
    md = (RESULTS / "estimate_finn.md").read_text()
    assert "\n".join(estimate_finn.table(_committed()["rows"])) in md


def test_render_refuses_a_missing_block():
    with pytest.raises(ValueError, match="estimates:finn"):
        estimates.render("no markers here", {"finn": ["x"]})


def test_the_committed_rows_are_the_planners():
    """Every row recomputed (about 3 s of planning): resources, cycles, lanes and folds."""
    fresh, meta = estimate_finn.rows()
    old = _committed()
    assert meta["depth_bound_mhz"] == old["meta"]["depth_bound_mhz"]
    assert len(fresh) == len(old["rows"])
    for a, b in zip(fresh, old["rows"], strict=True):
        a, b = dict(a), dict(b)
        a.pop("plan_s"), b.pop("plan_s")
        assert a == b, (f"{a['device']} {a['kind']} fc {a['fc_wbits']}: stale, run "
                        "benchmarks/estimates.py")
    assert estimate_finn.five_thousand() == old["five_thousand_u250"]


def test_finn_intervals_are_finns_formulas():
    """The issue's figures, by hand: U250 conv0 112*112*(32/32)*(27/3), ZCU104 pw1
    112*112*(64/8)*(32/8); rebalanced: pw1 112*112*(64/16)*(32/16)."""
    d = _committed()
    assert _row(d, "FINN as published", finn="u250_lut")["interval_cycles"] == 112 * 112 * 9
    assert _row(d, "FINN as published", finn="u250_dsp")["interval_cycles"] == 112 * 112 * 9
    assert _row(d, "FINN rebalanced", finn="u250_lut")["interval_cycles"] == 112 * 112 * 8
    z = _row(d, "FINN as published", "zcu104", finn="zcu104")
    assert z["interval_cycles"] == 112 * 112 * 8 * 4 == 401_408
    assert z["layers"]["pw1"]["cycles"] == 401_408
    folds = estimate_finn.read_finn("u250_lut")["fold"]
    assert folds["conv0"] == {"pe": 32, "simd": 3, "mult": "dsp", "mem": "bram"}
    for name in ("u250_lut", "u250_dsp", "zcu104"):
        f = estimate_finn.read_finn(name)
        assert f["source"].startswith("Xilinx/finn-examples build/mobilenet-v1/folding_config/")
        assert len(f["source"].split("@ ")[1]) == 40, "a full commit hash"


def test_readme_figures_are_the_results():
    d, text = _committed(), (ROOT / "README.md").read_text()
    u_lut, u_dsp = _row(d, "sat_hw LUT-only"), _row(d, "sat_hw with DSPs")
    f_lut = _row(d, "FINN rebalanced", finn="u250_lut")
    f_dsp = _row(d, "FINN rebalanced", finn="u250_dsp")
    pub = _row(d, "FINN as published", finn="u250_lut")
    z_pub = _row(d, "FINN as published", "zcu104", finn="zcu104")
    z_dsp = _row(d, "sat_hw with DSPs", "zcu104")
    want = [f"{pub['interval_cycles']:,}", f"{pub['fps']:,.0f} frames/s",
            f"{u_dsp['interval_cycles']:,}", f"{u_dsp['fps']:,.0f} frames/s",
            f"{u_dsp['fps_depth_bound']:,.0f} at the {d['meta']['depth_bound_mhz']} MHz",
            f"{f_lut['lut']:,} LUTs against {u_lut['lut']:,}",
            f"{f_dsp['lut']:,} against {u_dsp['lut']:,}",
            f"FINN {z_pub['interval_cycles']:,} cycles ({z_pub['fps']:,.0f}",
            f"{z_dsp['interval_cycles']:,} ({z_dsp['fps']:,.0f} frames/s)",
            f"about {d['meta']['board_fps']['u250']['fps']:,}"]
    for w in want:
        assert w in text, f"README.md: {w!r} is not the committed result's"


def test_docs_prose_figures_are_the_results():
    d, text = _committed(), (ROOT / "docs" / "estimates.md").read_text()
    f_lut = _row(d, "FINN rebalanced", finn="u250_lut")
    u_lut, u_dsp = _row(d, "sat_hw LUT-only"), _row(d, "sat_hw with DSPs")
    f_dsp = _row(d, "FINN rebalanced", finn="u250_dsp")
    z_pub = _row(d, "FINN as published", "zcu104", finn="zcu104")
    z_dsp = _row(d, "sat_hw with DSPs", "zcu104")
    brams = sorted(_row(d, "FINN rebalanced", fc=fc, finn=f)["bram18"]
                   for fc in (4, 8) for f in ("u250_lut", "u250_dsp"))
    want = [f"{f_lut['lut']:,} LUTs against the\nLUT-only plan's {u_lut['lut']:,}",
            f"{f_dsp['lut']:,} against {u_dsp['lut']:,}",
            f"run at {f_lut['layers']['dw3']['cycles']:,} cycles",
            (f"(dw3: {f_lut['layers']['dw3']['lut']:,} LUTs against "
            f"{u_lut['layers']['dw3']['lut']:,})"),
            f"({brams[0]:,} to {brams[-1]:,} RAMB18 against {u_lut['bram18']:,})",
            (f"{z_pub['interval_cycles']:,} cycles (pw1 at PE 8 x SIMD 8), "
            f"{z_pub['fps']:,.0f} frames/s"),
            f"({z_pub['utilisation']['lut']:.1%} of the LUTs".replace("%", " %"),
            f"{z_pub['utilisation']['bram18']:.1%}\nof the RAMB18".replace("%", " %"),
            (f"reaches {z_dsp['interval_cycles']:,} cycles ({z_dsp['fps']:,.0f} frames/s at "
            f"185 MHz) with {z_dsp['uram']} URAMs"),
            f"({d['meta']['depth_bound_mhz']} MHz"]
    flat = " ".join(text.split())
    for w in want:
        assert " ".join(w.split()) in flat, \
            f"docs/estimates.md: {w!r} is not the committed result's"


def test_pointwise_lanes_are_finns():
    """docs/estimates.md: "pw1 to pw13 get exactly FINN's lanes in sat_hw's plan"."""
    d = _committed()
    for fc in (4, 8):
        for kind in ("sat_hw LUT-only", "sat_hw with DSPs"):
            ours = _row(d, kind, fc=fc)["layers"]
            finn = _row(d, "FINN as published", fc=fc, finn="u250_lut")["layers"]
            for n in (f"pw{i}" for i in range(1, 14)):
                assert ours[n]["lanes"] == finn[n]["lanes"], (kind, fc, n)


def test_readme_calibration_figures_are_the_fits():
    src = json.loads((ROOT / "sat_hw" / "hw" / "calibration.json").read_text())["source"]
    lut = src["errors_held_out"]["lut"]
    want = (f"held-out LUT error median {100 * lut['median']:.1f} %, "
            f"p90 {100 * lut['p90']:.1f} %")
    assert want in " ".join((ROOT / "README.md").read_text().split()), want
