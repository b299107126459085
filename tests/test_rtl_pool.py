"""sat_maxpool and sat_avgpool under Verilator against the golden executor.

Several images back to back (random, all-max, all-zero, random) through the standard scenarios.
Max pool: window beats as sat_swg emits them (padding code 0), compared with ``run_node``; global
sum pool: PE codes per beat, compared with ``layer_acc``. Activation bits 1, 2, 8 (max) and 3, 4,
8 (sum); one channel group (CH == PE) and several; a one-pixel image; odd sizes and stride 2.
"""

from __future__ import annotations

import numpy as np
import pytest

from sat_hw.codegen.layout import pack_words
from sat_hw.graph import golden, synthetic
from sat_hw.graph.ir import levels
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl

MAX_LATENCY = 1
"""sat_maxpool: a beat taken in cycle n is on the output in cycle n+1."""
SUM_LATENCY = 2
"""sat_avgpool: a last-pixel beat taken in cycle n gives its output beat in cycle n+2."""


def images(rng: np.random.Generator, shape: tuple, abits: int) -> np.ndarray:
    """Four images back to back: random, all-max, all-zero, random."""
    hi = levels(abits)
    return np.stack([rng.integers(0, hi + 1, shape), np.full(shape, hi), np.zeros(shape, int),
                     rng.integers(0, hi + 1, shape)]).astype(np.uint8)


def check(res: list, expected: list[int]) -> None:
    for r in res:
        assert not r.timed_out and r.extra == 0
        assert r.outputs == expected


# (CH, (H, W), k, stride, pad, PE, ABITS)
MAX_CASES = [
    (6, (5, 5), 3, 1, 1, 2, 2),
    (3, (5, 5), 2, 2, 0, 3, 1),
    (4, (7, 6), 3, 2, 1, 1, 8),
]


@pytest.mark.parametrize("ch,hw,k,stride,pad,pe,abits", MAX_CASES,
                         ids=[f"ch{c[0]}-k{c[2]}s{c[3]}p{c[4]}-pe{c[5]}-a{c[6]}"
                              for c in MAX_CASES])
def test_maxpool_matches_golden(ch, hw, k, stride, pad, pe, abits):
    rng = np.random.default_rng(ch * 10 + abits)
    node = synthetic.maxpool("max", (ch, *hw), kernel=k, stride=stride, pad=pad, abits=abits)
    x = images(rng, node.in_shape, abits)
    t = golden.window_taps(x, k, stride, pad)               # (N, Ho, Wo, K2, C)
    n, ho, wo, k2, _ = t.shape
    t = t.reshape(n, ho, wo, k2, ch // pe, pe).transpose(0, 1, 2, 4, 3, 5)  # (.., g, t, c)
    beats = pack_words(t.reshape(-1, k2 * pe), abits)
    out = golden.run_node(node, x)                           # (N, C, Ho, Wo)
    expected = pack_words(out.transpose(0, 2, 3, 1).reshape(-1, pe), abits)
    res, _ = run_scenarios("sat_maxpool", {"CH": ch, "PE": pe, "K2": k2, "ABITS": abits},
                           k2 * pe * abits, pe * abits,
                           standard_scenarios(beats, len(expected), seed=abits),
                           deps=["sat_skid"])
    check(res, expected)
    assert res[0].first_out == MAX_LATENCY and res[0].last_out == len(beats) - 1 + MAX_LATENCY


# (CH, (H, W), PE, ABITS)
SUM_CASES = [
    (6, (4, 5), 2, 4),
    (3, (5, 3), 3, 8),
    (4, (1, 1), 1, 3),
]


@pytest.mark.parametrize("ch,hw,pe,abits", SUM_CASES,
                         ids=[f"ch{c[0]}-{c[1][0]}x{c[1][1]}-pe{c[2]}-a{c[3]}" for c in SUM_CASES])
def test_avgpool_matches_golden(ch, hw, pe, abits):
    rng = np.random.default_rng(ch * 10 + abits)
    node = synthetic.avgpool(rng, "pool", (ch, *hw), abits=abits)
    x = images(rng, node.in_shape, abits)
    beats = pack_words(x.transpose(0, 2, 3, 1).reshape(-1, pe), abits)
    acc = golden.layer_acc(node, x)                          # (N, C, 1, 1)
    assert acc[1].min() == node.acc_bound                    # all-max image: the bound itself
    expected = pack_words(acc.reshape(-1, pe), node.acc_bits)
    pixels = hw[0] * hw[1]
    params = {"CH": ch, "PIXELS": pixels, "PE": pe, "ABITS": abits, "ACC_BITS": node.acc_bits}
    res, _ = run_scenarios("sat_avgpool", params, pe * abits, pe * node.acc_bits,
                           standard_scenarios(beats, len(expected), seed=abits),
                           deps=["sat_skid"])
    check(res, expected)
    # free flowing: no gap between images; the last sums leave with the last beats
    groups = ch // pe
    assert res[0].first_out == (pixels - 1) * groups + SUM_LATENCY
    assert res[0].last_out == len(beats) - 1 + SUM_LATENCY


def test_pools_synthesize():
    m = synth(rtl_sources("sat_skid", "sat_maxpool"), "sat_maxpool",
              {"CH": 8, "PE": 4, "K2": 9, "ABITS": 4})
    assert m.lut > 0 and m.ff >= 2 * 4 * 4    # the skid's two output words
    node = synthetic.avgpool(np.random.default_rng(0), "pool", (32, 7, 7), abits=4)
    s = synth(rtl_sources("sat_skid", "sat_avgpool"), "sat_avgpool",
              {"CH": 32, "PIXELS": 49, "PE": 2, "ABITS": 4, "ACC_BITS": node.acc_bits})
    assert s.lutram > 0                        # the running sums are a memory, not registers
    assert s.ff < 16 * 2 * node.acc_bits
