"""Cross-check with hls4ml (benchmarks/hls4ml_crosscheck.py): the part of a network that hls4ml
expresses exactly -- a fully connected stack on integer codes with power-of-two requantization
and a fixed-point bias -- built through its PyTorch frontend with our precisions, its C emulation
against our golden executor; and what it refuses (depthwise convolution)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sat_hw.graph.golden import run_golden
from sat_hw.hlssim import hls_phase
from sat_hw.hw.fold import resolve_folding

pytest.importorskip("hls4ml")
_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "hls4ml_crosscheck.py"
_spec = importlib.util.spec_from_file_location("hls4ml_crosscheck", _PATH)
xc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xc)

IMAGES = 64


@pytest.fixture(scope="module")
def stack(one_torch_thread):
    graph, shifts = xc.pow2_graph()
    x = np.random.default_rng(1).integers(0, 256, (IMAGES, *graph.input.shape), dtype=np.uint8)
    gold = run_golden(graph, x)
    return graph, shifts, x, gold


def _hls4ml_outputs(graph, shifts, x, out_dir, rounding="AP_RND") -> np.ndarray:
    hm = xc.hls4ml_model(graph, shifts, out_dir, rounding)
    hm.compile()
    y = np.asarray(hm.predict(x.reshape(len(x), -1).astype(np.float64)), np.float64)
    return y * 2.0 ** graph.layers[-1].bias_frac_bits  # exact: outputs are multiples of 2^-F


def test_codes_spread_over_their_range(stack):
    graph, _, _, gold = stack
    for node in graph.layers[1:]:
        c = gold.codes[node.name]
        assert c.min() == 0 and c.max() >= (1 << node.abits) // 3, node.name


def test_hls4ml_emulation_equals_golden(stack, tmp_path):
    graph, shifts, x, gold = stack
    out = _hls4ml_outputs(graph, shifts, x, tmp_path / "exact")
    np.testing.assert_array_equal(out, gold.outputs.astype(np.float64))
    # and our own C-simulation of the same graph
    _, rep = hls_phase(graph, resolve_folding(graph, {}, 64), x, gold.outputs, "xc")
    assert rep["mismatches"] == 0


def test_hls4ml_with_another_rounding_differs(stack, tmp_path):
    graph, shifts, x, gold = stack
    out = _hls4ml_outputs(graph, shifts, x, tmp_path / "trn", rounding="AP_TRN")
    assert np.count_nonzero(out != gold.outputs) > 0


def test_hls4ml_pytorch_frontend_refuses_depthwise(tmp_path, one_torch_thread):
    assert xc.depthwise_probe(tmp_path / "dw").startswith("refused:")
