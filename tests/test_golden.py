"""Golden executor == naive loop reference, element for element, and the fc layer's fixed-point
bias (numpy only, no torch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sat_hw.graph import levels, run_golden, run_naive
from sat_hw.graph.golden import FLOAT32_EXACT_BOUND
from sat_hw.graph.passes import (
    BIAS_FRAC_BITS,
    LayerParams,
    fold_last_scale,
    size_accumulators,
    to_graph,
)
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
    fc = g.nodes[-1]
    assert fc.bias_frac_bits == BIAS_FRAC_BITS
    assert np.all(a.logits == a.outputs * fc.scale / 2**fc.bias_frac_bits)
    assert fc.out_scale == fc.scale / 2**fc.bias_frac_bits


@pytest.mark.parametrize("frac_bits", [0, 1, 8, 16])
def test_golden_equals_naive_at_every_bias_frac_bits(frac_bits):
    """Extreme weights and inputs on the float64 path, biases at their largest: the shifted
    accumulator plus bias is exact, and logits are ``scale * out / 2^F``."""
    rng = np.random.default_rng(frac_bits)
    f = linear(rng, "fc", 1100, 4, wbits=8, abits=8, bias_max=2**20, bias_frac_bits=frac_bits)
    w = np.where(rng.random(f.weights.shape) < 0.5, 255, -255).astype(np.int16)
    w[0], w[1] = 255, -255
    f = dataclasses.replace(f, weights=w)
    assert f.bias_frac_bits == frac_bits and f.acc_bound >= FLOAT32_EXACT_BOUND
    g = chain([f], in_bits=8)
    x = _images(rng, g, 3)
    x[0] = 255
    a, b = run_golden(g, x), run_naive(g, x)
    assert_same(a, b)
    assert a.outputs[0, 0] == (f.acc_bound << frac_bits) + f.bias[0]
    assert a.outputs[0, 1] == -(f.acc_bound << frac_bits) + f.bias[1]
    assert np.all(a.logits == a.outputs * (f.scale / 2**frac_bits))


def _fc_graph(weights: np.ndarray, bias_steps: np.ndarray, frac_bits: int):
    """A graph of one fc layer lowered by the passes: 2-bit codes, in_step 1, wstep = scale =
    2^-10 (a power of two, so ``bias / scale`` is exact)."""
    scale = 2.0**-10
    c, k = weights.shape[1], weights.shape[0]
    p = LayerParams(name="fc", op="fc", in_shape=(c, 1, 1), out_shape=(k, 1, 1), abits=2,
                    in_alpha=3.0, wbits=2, weights=weights.astype(np.int16), wstep=scale,
                    bias=np.asarray(bias_steps, np.float64) * scale)
    return to_graph(size_accumulators(fold_last_scale([p], frac_bits)), "fc_only", 1.0, 1, c, k)


def test_fixed_point_bias_rounds_half_to_even():
    w = np.ones((4, 2), np.int16)
    g = _fc_graph(w, np.array([0.5, 1.5, -0.5, 2.5]), 0)
    assert g.nodes[-1].bias.tolist() == [0, 2, 0, 2] and g.nodes[-1].bias_frac_bits == 0
    g = _fc_graph(w, np.array([0.5, 1.5, -0.5, 2.5]) / 2**8, 8)
    assert g.nodes[-1].bias.tolist() == [0, 2, 0, 2] and g.nodes[-1].bias_frac_bits == 8
    g = _fc_graph(w, np.array([0.30, 0.45, -0.30, 1.0]), BIAS_FRAC_BITS)
    assert g.nodes[-1].bias.tolist() == [77, 115, -77, 256]  # 76.8, 115.2, -76.8, 256


def test_fixed_point_bias_removes_integer_ties():
    """Two classes with equal accumulators and float biases 0.30 and 0.45 steps apart by less than
    half a step: an integer bias rounds both to 0 (a tie; argmax takes class 0), the fixed-point
    bias keeps them apart and class 1 wins, as in the float model."""
    w = np.array([[1, -1, 3, 3], [1, -1, 3, 3], [-3, -3, -3, -3]], np.int16)
    x = np.array([[[[3]], [[2]], [[1]], [[0]]]], np.uint8)  # acc = 3 - 2 + 3 = 4 for classes 0, 1
    bias = np.array([0.30, 0.45, 0.0])
    old = run_golden(_fc_graph(w, bias, 0), x)
    assert old.outputs.tolist() == [[4, 4, -18]] and int(np.argmax(old.outputs)) == 0
    new_graph = _fc_graph(w, bias, BIAS_FRAC_BITS)
    new = run_golden(new_graph, x)
    assert new.outputs.tolist() == [[4 * 256 + 77, 4 * 256 + 115, -18 * 256]]
    assert int(np.argmax(new.outputs)) == 1
    assert_same(new, run_naive(new_graph, x))
    np.testing.assert_array_equal(new.logits, new.outputs * 2.0**-18)  # scale / 2^8


def test_fixed_point_bias_top1_equals_the_float_model():
    """10 classes, small accumulators that often coincide, biases uniform over +-1/2 step: with an
    integer bias top-1 often differs from argmax(acc + bias/scale) in float64; with 8 fraction bits
    only where the float logits of the two classes lie within 2^-8 of a step (never, here)."""
    rng = np.random.default_rng(11)
    w = (2 * rng.integers(0, 4, (10, 3)) - 3).astype(np.int16)
    bias = rng.uniform(-0.5, 0.5, 10)
    x = rng.integers(0, 4, (2000, 3, 1, 1), dtype=np.uint8)
    acc = x.reshape(2000, 3).astype(np.int64) @ w.T.astype(np.int64)
    want = np.argmax(acc + bias, axis=1)
    srt = np.sort(acc + bias, axis=1)
    assert np.all(srt[:, -1] - srt[:, -2] > 2.0**-8)  # no near-ties in the float model
    old = np.argmax(run_golden(_fc_graph(w, bias, 0), x).outputs, axis=1)
    assert np.count_nonzero(old != want) > 100
    new = np.argmax(run_golden(_fc_graph(w, bias, BIAS_FRAC_BITS), x).outputs, axis=1)
    np.testing.assert_array_equal(new, want)
