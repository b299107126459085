"""The network latency estimate (``sat_hw.hw.cycles.network_timeline``) against the cycle-accurate
simulation: exact on the shared small build (every layer's first input beat and the latency), and
equal to the simulated figures committed for the main job and the 224 px design (from their
shapes and foldings, no simulation here)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from sat_hw.flow.build import build_folding
from sat_hw.flow.config import load_config
from sat_hw.flow.estimate import config_graph
from sat_hw.graph.serialize import load_graph
from sat_hw.hw.cost import network_cost
from sat_hw.hw.cycles import network_latency, network_timeline
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan

ROOT = Path(__file__).resolve().parents[1]
MAIN_JOB_LATENCY = 39_803
"""The main job's simulated latency (README, "RTL and simulation": `sat_hw build --model mbv1
--wbits 3 --abits 4`, the pipelined RTL of issue 20)."""


@pytest.mark.rtl
def test_latency_and_every_layers_first_input_are_the_simulations(built):
    r = json.loads((built / "report.json").read_text())
    cfg = tomllib.loads((built / "flow.toml").read_text())
    graph = load_graph(built / "graph")
    plan = hardware_plan(graph, {n.name: Fold(**cfg["fold"][n.name]) for n in graph.layers})
    costs = network_cost(plan)
    sim = {row["name"]: row["sim"] for row in r["layers"]}
    t0 = sim[graph.layers[0].name]["first_in"]
    got = [first_in for first_in, _ in network_timeline(graph, costs)]
    assert got == [sim[n.name]["first_in"] - t0 for n in graph.layers]
    assert r["estimate"]["latency_cycles"] == r["sim"]["latency_cycles"]
    assert network_latency(graph, costs) == r["sim"]["latency_cycles"]


def _latency(overrides: dict) -> int:
    cfg = load_config(None, overrides)
    graph = config_graph(cfg)
    plan = hardware_plan(graph, build_folding(cfg, graph))
    return network_latency(graph, network_cost(plan))


def test_latency_of_the_main_job_is_the_simulated_one():
    assert _latency({"model": {"name": "mbv1"}, "quant": {"wbits": 3, "abits": 4}}) \
        == MAIN_JOB_LATENCY


def test_latency_of_the_224_px_design_is_the_simulated_one():
    """benchmarks/rtl_mbv1_224.py's design: mbv1 1.0, 224 px, W3A4, 1024-lane budget."""
    res = json.loads((ROOT / "benchmarks/results/rtl_mbv1_224.json").read_text())
    assert res["lanes_budget"] == 1024
    got = _latency({"model": {"name": "mbv1", "width": 1.0, "resolution": 224,
                              "in_channels": 3, "classes": 1000},
                    "quant": {"wbits": 3, "abits": 4}, "hw": {"lanes": 1024}})
    assert got == res["latency_cycles"]
