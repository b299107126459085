"""The IR: verify() invariants and the threshold rule at its boundaries (numpy only, no torch)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from sat_hw.graph import (
    AvgPool,
    Conv,
    Linear,
    MaxPool,
    acc_bits_for,
    acc_bound,
    layer_acc,
    levels,
    run_golden,
    threshold_codes,
    verify,
)
from sat_hw.graph.naive import _count
from sat_hw.graph.passes import integer_thresholds, pool_thresholds
from sat_hw.graph.synthetic import avgpool, chain, conv, linear, maxpool, small_graph


def _replace(graph, name, **kw):
    return graph.replace_node(dataclasses.replace(graph.node(name), **kw))


def test_package_imports_without_torch():
    code = ("import sys, sat_hw.graph, sat_hw.graph.synthetic; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("bits", range(1, 9))
def test_every_node_type_verifies_at_every_bit_width(bits):
    g = small_graph(seed=bits, wbits=bits, abits=bits)
    assert [type(n).__name__ for n in g.layers] == [
        "Conv", "Conv", "MaxPool", "Conv", "Conv", "AvgPool", "Linear"]
    for n in g.layers:
        assert n.abits == (8 if n.name == "conv0" else bits)
        if isinstance(n, (Conv, AvgPool)):
            assert n.out_bits == bits and n.thresholds.shape[1] == levels(bits)
        if isinstance(n, (Conv, Linear)):
            assert n.wbits == bits
            assert np.all(np.abs(n.weights) <= levels(bits)) and np.all(n.weights % 2 == 1)
    assert [n.op for n in g.layers] == ["conv", "conv", "maxpool", "dw", "pw", "pool", "fc"]


def test_arrays_are_read_only_copies():
    g = small_graph()
    w = g.node("conv0").weights
    with pytest.raises(ValueError):
        w[0, 0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.node("conv0").kernel = 5


def test_acc_bits_formula():
    assert acc_bound(27, 8, 8) == 27 * 255 * 255
    assert acc_bound(16, 0, 4) == 16 * 15
    assert acc_bound(10, 2, 2, bias=-7) == 10 * 3 * 3 + 7
    for bound in (0, 1, 2, 3, 126, 127, 128, 1000, 2**40):
        b = acc_bits_for(bound)
        assert -(2 ** (b - 1)) <= -(bound + 1) and bound + 1 <= 2 ** (b - 1) - 1
        assert not bound + 1 <= 2 ** (b - 2) - 1  # minimal


BROKEN = [  # (layer, field changes, message fragment)
    ("dw3", {"thresholds": "unsorted"}, "not ascending"),
    ("dw3", {"weights": "even"}, "odd integers"),
    ("pw3", {"weights": "too big"}, "|w| <="),
    ("pw3", {"acc_bits": 4}, "too narrow"),
    ("pw3", {"thresholds": "too wide"}, "does not fit"),
    ("pw3", {"direction": "zero"}, "direction must be +1 or -1"),
    ("gconv1", {"wbits": 9}, "wbits must be 1..8"),
    ("gconv1", {"out_bits": 0}, "out_bits must be 1..8"),
    ("gconv1", {"out_shape": (8, 3, 3)}, "out_shape must be"),
    ("gconv1", {"groups": 3}, "groups 3 must divide"),
    ("dw3", {"abits": 3}, "abits 3 != bits 4 that max2 emits"),
    ("pool", {"in_shape": (16, 2, 2)}, "in_shape (16, 2, 2) != pw3 out_shape"),
    ("max2", {"out_bits": 3}, "out_bits must equal abits"),
    ("fc", {"bias": "huge"}, "reaches 2^53"),
    ("fc", {"bias": "out of 2^53"}, "output bound 9007199254740992 reaches 2^53"),
    ("fc", {"bias": "int32"}, "bias must be int64"),
    ("fc", {"scale": -1.0}, "scale must be"),
    ("fc", {"bias_frac_bits": 17}, "bias_frac_bits must be an integer 0..16, got 17"),
    ("fc", {"bias_frac_bits": -1}, "bias_frac_bits must be an integer 0..16, got -1"),
    ("fc", {"bias_frac_bits": True}, "bias_frac_bits must be an integer 0..16, got True"),
    ("fc", {"bias_frac_bits": 12}, "acc_bits 22 too narrow: output bound"),
    ("conv0", {"thresholds": "float"}, "thresholds must be an integer array"),
]


@pytest.mark.parametrize("layer,change,fragment", BROKEN)
def test_verify_names_layer_and_value(layer, change, fragment):
    g = small_graph()
    n = g.node(layer)
    kw = {}
    for k, v in change.items():
        if v == "unsorted":
            t = n.thresholds.copy()
            t[4] = t[4][::-1]
            t[4, 0] = t[4, -1] + 1
            v = t
        elif v == "even":
            w = n.weights.copy()
            w[0, 0, 0, 0] = 2
            v = w
        elif v == "too big":
            w = n.weights.copy()
            w.flat[0] = levels(n.wbits) + 2
            v = w
        elif v == "too wide":
            t = n.thresholds.copy()
            t[3, -1] = 2 ** (n.acc_bits - 1)
            v = t
        elif v == "zero":
            d = n.direction.copy()
            d[5] = 0
            v = d
        elif v == "huge":
            b = n.bias.copy()
            b[0] = 2**53
            v = b
        elif v == "out of 2^53":  # |bias| < 2^53, but acc_bound * 2^F + |bias| == 2^53
            b = n.bias.copy()
            b[0] = -(2**53 - (n.acc_bound << n.bias_frac_bits))
            v = b
            kw["acc_bits"] = 64
        elif v == "int32":
            v = n.bias.astype(np.int32)
        elif v == "float":
            v = n.thresholds.astype(np.float64)
        kw[k] = v
    with pytest.raises(ValueError) as e:
        verify(_replace(g, layer, **kw))
    msg = str(e.value)
    assert msg.startswith(f"layer {layer}:") and fragment in msg and "\n" not in msg


def test_verify_graph_structure():
    g = small_graph()
    with pytest.raises(ValueError, match="Input, layers..., Linear"):
        verify(dataclasses.replace(g, nodes=g.nodes[:-1]))
    nodes = list(g.nodes)
    nodes[4] = dataclasses.replace(nodes[4], name="conv0")
    with pytest.raises(ValueError, match="names must be unique"):
        verify(dataclasses.replace(g, nodes=tuple(nodes)))
    with pytest.raises(ValueError, match="classes"):
        verify(dataclasses.replace(g, classes=7))
    with pytest.raises(ValueError, match="resolution"):
        verify(dataclasses.replace(g, resolution=9))
    with pytest.raises(ValueError, match="width"):
        verify(dataclasses.replace(g, width="wide"))


def test_threshold_rule_at_every_boundary():
    """acc == T_k emits code >= k, acc == T_k - 1 (+1 for direction -1) does not; golden's
    vectorised search equals the literal sum over k of the comparisons."""
    rng = np.random.default_rng(1)
    for bits in range(1, 9):
        n = levels(bits)
        c = 12
        t = np.sort(rng.integers(-300, 300, (c, n)), axis=1).astype(np.int64)
        t[0] = 7  # all equal
        d = np.array([1, -1] * (c // 2), np.int8)
        probe = np.concatenate([t, t - 1, t + 1], axis=1)  # (c, 3n): every boundary and neighbour
        acc = probe.T.copy()  # rows of (c,) accumulators
        got = threshold_codes(acc, t, d)
        for i in range(acc.shape[0]):
            for ch in range(c):
                want = _count(int(acc[i, ch]), t[ch], int(d[ch]))
                assert got[i, ch] == want
        for ch in range(c):
            for k in range(n):
                hit = threshold_codes(t[ch:ch + 1, k][None], t[ch:ch + 1], d[ch:ch + 1])[0, 0]
                if d[ch] > 0:
                    assert hit == np.count_nonzero(t[ch] <= t[ch, k]) >= k + 1
                    below = threshold_codes(t[ch:ch + 1, k][None] - 1, t[ch:ch + 1], d[ch:ch + 1])
                    assert below[0, 0] == np.count_nonzero(t[ch] <= t[ch, k] - 1) <= k
                else:
                    assert hit == np.count_nonzero(t[ch] >= t[ch, k]) >= n - k


def test_thresholds_exactly_on_a_boundary():
    """slope 1/2, alpha 3, 2 bits: t_k = k - 1/2 lands exactly on acc = 2k - 1; a value exactly on
    a boundary rounds half to even like torch.round; negative slopes mirror it."""
    bound = 10
    t, d = integer_thresholds(np.array([0.5, -0.5, 0.0, 0.0]), np.array([0.0, 3.0, 1.0, 9.0]),
                              3.0, 2, bound)
    assert t[0].tolist() == [2, 3, 6] and d[0] == 1  # ties at acc 1, 3, 5 -> codes 0, 2, 2
    assert t[1].tolist() == [0, 3, 4] and d[1] == -1  # y = 3 - acc/2: ties at acc 5, 3, 1
    assert t[2].tolist() == [-bound, bound + 1, bound + 1] and d[2] == 1  # constant y = 1: code 1
    assert t[3].tolist() == [-bound] * 3  # constant y = 9 > alpha: code 3
    accs = np.arange(-bound, bound + 1)
    codes = threshold_codes(np.repeat(accs[:, None], 4, 1), t, d)
    for i, a in enumerate(accs):
        for ch, (s, o) in enumerate([(0.5, 0.0), (-0.5, 3.0), (0.0, 1.0), (0.0, 9.0)]):
            y = min(max(s * a + o, 0.0), 3.0)
            assert codes[i, ch] == int(np.round(y)), (a, ch)  # half to even, alpha/n = 1


def test_thresholds_match_the_float64_predicate():
    rng = np.random.default_rng(2)
    c, bits, bound = 64, 4, 5000
    slope = rng.normal(0, 0.01, c)
    slope[:4] = [0.0, 1e-300, -1e-300, 1e6]  # zero, vanishing and huge slopes
    offset = rng.normal(0.5, 1.0, c)
    alpha = 2.5
    t, d = integer_thresholds(slope, offset, alpha, bits, bound)
    assert np.all(np.diff(t, axis=1) >= 0) and np.all(np.abs(t) <= bound + 1)
    accs = np.arange(-bound, bound + 1)
    codes = threshold_codes(np.repeat(accs[:, None], c, 1), t, d)
    tk = (np.arange(1, 16) - 0.5) * (alpha / 15)
    y = slope[None, :, None] * accs[:, None, None] + offset[None, :, None]
    want = ((y > tk) | ((y == tk) & (np.arange(1, 16) % 2 == 0))).sum(-1)
    np.testing.assert_array_equal(codes, want)


def test_pool_thresholds_are_exact_rationals():
    # sum S of 4-bit codes over 2x2, alpha_in 1.5 -> mean S*1.5/60; fc alpha 0.75 with 2 bits:
    # boundaries (k - 1/2) * 0.25 hit exactly at S = 5, 15, 25; half to even: codes 0, 2, 2
    t, d = pool_thresholds(1.5, 4, 4, 0.75, 2, channels=3, bound=60)
    assert t.tolist() == [[6, 15, 26]] * 3 and d.tolist() == [1, 1, 1]
    t, _ = pool_thresholds(1.5, 4, 4, 0.71, 2, channels=1, bound=60)  # no ties
    s = np.arange(61)
    codes = np.round(np.clip(s * 1.5 / 60, 0, 0.71) * 3 / 0.71)
    np.testing.assert_array_equal((s[:, None] >= t[0]).sum(1), codes)


def test_worst_case_accumulators_fit_their_width():
    """All-max inputs and all-max (then all-min) weights reach exactly +-acc_bound (fc: its output
    with biases of the same sign reaches +-out_bound), which fits."""
    for wbits, abits in [(1, 1), (4, 4), (8, 8), (8, 1), (1, 8)]:
        rng = np.random.default_rng(wbits * 10 + abits)
        a = conv(rng, "conv0", (3, 6, 6), 4, wbits=wbits, abits=8, out_bits=abits)
        b = conv(rng, "pw1", a.out_shape, 300, kernel=1, wbits=wbits, abits=abits, out_bits=abits)
        p = avgpool(rng, "pool", b.out_shape, abits, abits)
        f = linear(rng, "fc", 300, 3, wbits=wbits, abits=abits, bias_max=50)
        for sign in (1, -1):
            wmax = sign * levels(wbits)
            layers = [dataclasses.replace(a, weights=np.full_like(a.weights, wmax)),
                      dataclasses.replace(b, weights=np.full_like(b.weights, wmax)), p,
                      dataclasses.replace(f, weights=np.full_like(f.weights, wmax))]
            bmax = (50 << 8) - 1  # biases of the accumulator's sign: |out| reaches out_bound
            out_bits = acc_bits_for((f.acc_bound << 8) + bmax)
            layers[-1] = dataclasses.replace(layers[-1], bias=np.full_like(f.bias, sign * bmax),
                                             acc_bits=out_bits)
            for n in layers:
                full = np.full((1, *n.in_shape), levels(n.abits), np.uint8)
                acc = layer_acc(n, full)
                if isinstance(n, Linear):
                    assert n.bias_frac_bits == 8 and np.all((acc - n.bias) % 2**8 == 0)
                    assert int(np.abs((acc - n.bias) >> 8).max()) == n.acc_bound
                    assert int(np.abs(acc).max()) == n.out_bound == (n.acc_bound << 8) + bmax
                else:
                    assert int(np.abs(acc).max()) == n.acc_bound  # centre pixel: no padding
                lim = 2 ** (n.acc_bits - 1) - 1
                assert -lim - 1 <= int(acc.min()) and int(acc.max()) <= lim
            chain(layers)  # still a valid graph


def test_maxpool_passes_codes_through_at_every_bit_width():
    rng = np.random.default_rng(3)
    for bits in range(1, 9):
        m = maxpool("max", (2, 5, 5), kernel=3, stride=2, pad=1, abits=bits)
        g = chain([m, avgpool(rng, "pool", m.out_shape, bits, bits),
                   linear(rng, "fc", 2, 2, wbits=bits, abits=bits)], in_bits=bits)
        assert isinstance(g.node("max"), MaxPool) and m.out_bits == bits
        assert m.out_shape == (2, 3, 3)


def test_golden_rejects_bad_inputs():
    g = small_graph()
    with pytest.raises(ValueError, match="shape"):
        run_golden(g, np.zeros((1, 3, 9, 9), np.uint8))
    with pytest.raises(ValueError, match="integer codes"):
        run_golden(g, np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="0..255"):
        run_golden(g, np.full((1, 3, 8, 8), 256, np.int32))
