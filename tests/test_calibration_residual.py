"""Issue 24: the residual blocks (``sat_add``, ``sat_fork``) are priced by fits against Yosys like
the other blocks (``benchmarks/calibrate_yosys.py``): a residual network's estimate says
``calibrated`` on both families, the committed records hold held-out configurations of both
blocks, and their held-out errors are the ones docs/estimates.md states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sat_hw.flow.config import load_config
from sat_hw.flow.estimate import estimate_config
from sat_hw.hw import fit as fitmod
from sat_hw.hw.cost import Block, calibration_file, is_calibrated, memory_groups, yosys_resources

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = [("xcup", "u250"), ("ecp5", "ecp5-85k")]


def _held(family: str) -> tuple[dict, list[dict]]:
    """The shipped fit of ``family`` and its held-out records."""
    sfx = "" if family == "xcup" else f"_{family}"
    coefs = json.loads(calibration_file(family).read_text())
    data = json.loads((ROOT / "benchmarks" / "results" / f"calibration_data{sfx}.json")
                      .read_text())
    keys = set(coefs["source"]["held_keys"])
    return coefs, [{**r, "yosys": yosys_resources(r["cells"]).as_dict()}
                   for r in data["records"] if r["key"] in keys]


@pytest.mark.parametrize("family,device", FAMILIES)
def test_a_residual_networks_estimate_is_calibrated(family, device):
    cfg = load_config(None, {"model": {"name": "resnet20"}, "hw": {"device": device}})
    p = estimate_config(cfg)
    assert {"sat_add", "sat_fork"} <= {b.module for c in p.costs for b in c.blocks}
    assert is_calibrated("sat_add", family) and is_calibrated("sat_fork", family)
    assert p.estimate["calibrated"] is True


@pytest.mark.parametrize("family", [f for f, _ in FAMILIES])
def test_held_out_add_and_fork_records_and_their_errors(family):
    """Every 4th configuration is held out: 4 of 16 ``sat_add``, 2 of 8 ``sat_fork``. The fork's
    models are exact; the add's meet the goal (median <= 10 %, p90 <= 25 %) in LUTs and FFs,
    though the value of its multipliers, which the model does not see, moves its LUTs
    (``benchmarks/results/calibration.md``)."""
    coefs, held = _held(family)
    add = [r for r in held if r["module"] == "sat_add"]
    fork = [r for r in held if r["module"] == "sat_fork"]
    assert len(add) == 4 and len(fork) == 2
    e = fitmod.errors(fork, coefs, ("lut", "ff"))
    assert e["lut"]["p90"] <= 0.01 and e["ff"]["p90"] <= 0.01, e
    e = fitmod.errors(add, coefs, ("lut", "ff"))
    for k in ("lut", "ff"):
        assert e[k]["median"] <= 0.10 and e[k]["p90"] <= 0.25, (k, e)


def test_the_adds_multiplier_rom_is_no_memory():
    """Lowering's per-tensor multipliers fill every word of the ROM alike, which Yosys folds into
    the products: the add's only memory is its output queue."""
    b = Block("sat_add", {"CH": 256, "PE": 2, "ABITS": 5, "BBITS": 3, "MUL_BITS": 14,
                          "ACC_BITS": 19}, "add")
    assert [g[0] for g in memory_groups(b)] == ["output queue"]
