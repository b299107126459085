"""Cross-check with hls4ml (benchmarks/hls4ml_crosscheck.py): the part of a network that hls4ml
expresses exactly -- a small conv net on integer codes with power-of-two requantization and a
fixed-point bias -- built through its PyTorch frontend with our precisions, its C emulation
against our golden executor; a different rounding is caught; and what it refuses (depthwise)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sat_hw.graph.golden import run_golden
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.hlssim import hls_phase

pytest.importorskip("hls4ml")
_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "hls4ml_crosscheck.py"
_spec = importlib.util.spec_from_file_location("hls4ml_crosscheck", _PATH)
xc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xc)

IMAGES = 64


def _net(name: str):
    graph, shifts = xc.pow2_graph(name)
    x = np.random.default_rng(1).integers(0, 256, (IMAGES, *graph.input.shape), dtype=np.uint8)
    return graph, shifts, x, run_golden(graph, x)


def test_codes_spread_over_their_range():
    for name in xc.NETS:
        graph, _, _, gold = _net(name)
        for node in graph.layers[1:]:
            c = gold.codes[node.name]
            assert c.min() == 0 and c.max() >= (1 << node.abits) // 3, (name, node.name)


def test_hls4ml_conv_net_equals_golden(tmp_path, one_torch_thread):
    graph, shifts, x, gold = _net("conv")
    out, _, _ = xc.hls4ml_outputs(graph, shifts, x, tmp_path / "conv")
    np.testing.assert_array_equal(out, gold.outputs.astype(np.float64))
    _, rep = hls_phase(hardware_plan(graph, resolve_folding(graph, {}, 64)), x, gold.outputs, "xc")
    assert rep["mismatches"] == 0  # and our own C-simulation of the same graph


def test_hls4ml_with_another_rounding_differs(tmp_path, one_torch_thread):
    graph, shifts, x, gold = _net("dense")
    out, _, _ = xc.hls4ml_outputs(graph, shifts, x, tmp_path / "trn", rounding="AP_TRN")
    assert np.count_nonzero(out != gold.outputs) > 0


def test_hls4ml_pytorch_frontend_refuses_depthwise(tmp_path, one_torch_thread):
    assert xc.depthwise_probe(tmp_path / "dw").startswith("refused:")
