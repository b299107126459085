"""Golden executor == naive loop reference, element for element (numpy only, no torch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sat_hw.graph import levels, run_golden, run_naive
from sat_hw.graph.golden import FLOAT32_EXACT_BOUND
from sat_hw.graph.synthetic import avgpool, chain, conv, linear, maxpool, small_graph


def assert_same(a, b):
    assert list(a.codes) == list(b.codes)
    for name in a.codes:
        np.testing.assert_array_equal(a.codes[name], b.codes[name], err_msg=name)
        assert a.codes[name].dtype == np.uint8
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert a.outputs.dtype == np.int64
    np.testing.assert_array_equal(a.logits, b.logits)


def _images(rng, graph, n):
    inp = graph.input
    return rng.integers(0, levels(inp.bits) + 1, (n, *inp.shape), dtype=np.uint8)


@pytest.mark.parametrize("bits", range(1, 9))
def test_golden_equals_naive_every_node_type(bits):
    g = small_graph(seed=10 + bits, wbits=bits, abits=bits)
    x = _images(np.random.default_rng(bits), g, 3)
    assert_same(run_golden(g, x, batch=2), run_naive(g, x))


@pytest.mark.parametrize("kernel,stride,pad,groups", [
    (1, 1, 0, 1), (1, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), (3, 2, 0, 1), (5, 1, 2, 1),
    (5, 3, 2, 2), (3, 1, 1, 4), (3, 2, 1, 8), (2, 2, 0, 8), (3, 1, 1, 2),
])
def test_conv_geometries(kernel, stride, pad, groups):
    rng = np.random.default_rng(kernel * 100 + stride * 10 + groups)
    out_ch = 8 if groups in (1, 8) else 12
    c = conv(rng, "c", (8, 9, 9), out_ch, kernel, stride, pad, groups, wbits=3, abits=5,
             out_bits=4)
    g = chain([c, avgpool(rng, "pool", c.out_shape, 4, 3), linear(rng, "fc", out_ch, 4, abits=3)],
              in_bits=5)
    x = _images(rng, g, 2)
    assert_same(run_golden(g, x), run_naive(g, x))


@pytest.mark.parametrize("kernel,stride,pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (3, 3, 0)])
def test_maxpool_geometries(kernel, stride, pad):
    rng = np.random.default_rng(kernel + stride + pad)
    m = maxpool("max", (3, 7, 7), kernel, stride, pad, abits=6)
    g = chain([m, avgpool(rng, "pool", m.out_shape, 6, 6), linear(rng, "fc", 3, 2, abits=6)],
              in_bits=6)
    x = _images(rng, g, 3)
    assert_same(run_golden(g, x), run_naive(g, x))


def test_float32_and_float64_paths_are_both_exact():
    """A pointwise conv just below the float32-exact bound and one above it (float64 path), with
    extreme weights and inputs: still equal to the int64 loop reference."""
    rng = np.random.default_rng(5)
    fan_small = FLOAT32_EXACT_BOUND // (255 * 255)  # 258 * 255 * 255 < 2^24
    for fan_in in (fan_small, fan_small + 1, 1100):
        c = conv(rng, "pw", (fan_in, 2, 2), 6, kernel=1, wbits=8, abits=8, out_bits=8)
        w = np.where(rng.random(c.weights.shape) < 0.5, 255, -255).astype(np.int16)
        w[0] = 255  # a channel at +bound for all-255 input
        c = dataclasses.replace(c, weights=w)
        assert (c.acc_bound < FLOAT32_EXACT_BOUND) == (fan_in == fan_small)
        g = chain([c, avgpool(rng, "pool", c.out_shape, 8, 8), linear(rng, "fc", 6, 2, abits=8)])
        x = _images(rng, g, 2)
        x[0] = 255
        assert_same(run_golden(g, x), run_naive(g, x))


def test_batching_and_keep_codes_do_not_change_results():
    g = small_graph(seed=3)
    x = _images(np.random.default_rng(0), g, 7)
    a = run_golden(g, x, batch=1)
    b = run_golden(g, x, batch=5)
    assert_same(a, b)
    c = run_golden(g, x, batch=3, keep_codes=False)
    assert c.codes == {}
    np.testing.assert_array_equal(c.outputs, a.outputs)
    assert np.all(a.logits == a.outputs * g.nodes[-1].scale)
