"""sat_vvu (depthwise vector unit) under Verilator against the golden executor's accumulators.

Each build runs several images back to back (random, all-max, all-zero codes) through the
standard scenarios; channel 0 has every weight at +max and channel 1 at -max, so all-max codes
drive the accumulator to both ends of its exact bound. The parameter sets cover both weight
encodings ("k" at 1, 3, 4, 8 weight bits, "signed" at 2 and 8), K2 = 9 and 1, SIMD 1, 3, 9, PE 1
and > 1 (PE = CH included), stride 1 and 2 with odd sizes, and activation bits 1, 2, 3, 4, 8.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sat_hw.codegen.layout import hex_lines, pack_words, vvu_rom
from sat_hw.graph import golden, synthetic
from sat_hw.graph.ir import levels
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.streamtb import rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl



def latency(simd: int, wbits: int, enc: str) -> int:
    """sat_vvu (its header): an input beat taken in cycle n completes its channel group's output
    in cycle n + 6 + TS, TS the adder trees' register stages (partial products, or the codes'
    sum and its correction, whichever is longer)."""
    def stages(n: int) -> int:
        lv = (n - 1).bit_length()
        return lv // 2 + 1 if lv else 0
    return 6 + max(stages(simd * (wbits + (enc != "k"))), stages(simd) + 1)


def vvu_beats(x: np.ndarray, k: int, stride: int, pad: int, pe: int, simd: int,
              abits: int) -> list[int]:
    """The VVU's input stream: per output pixel, channel group g, tap group s, a beat whose
    element ``i*PE + p`` is tap ``s*SIMD + i`` of channel ``g*PE + p``."""
    t = golden.window_taps(x, k, stride, pad)
    n, ho, wo, k2, c = t.shape
    t = t.reshape(n, ho, wo, k2 // simd, simd, c // pe, pe).transpose(0, 1, 2, 5, 3, 4, 6)
    return pack_words(t.reshape(-1, simd * pe), abits)


def acc_beats(acc: np.ndarray, pe: int, acc_bits: int) -> list[int]:
    """int64 NCHW accumulators -> output beats (pixel, channel group), two's complement lanes."""
    return pack_words(acc.transpose(0, 2, 3, 1).reshape(-1, pe), acc_bits)


def images(rng: np.random.Generator, shape: tuple, abits: int) -> np.ndarray:
    """Four images back to back: random, all-max, all-zero, random."""
    hi = levels(abits)
    return np.stack([rng.integers(0, hi + 1, shape), np.full(shape, hi), np.zeros(shape, int),
                     rng.integers(0, hi + 1, shape)]).astype(np.uint8)


def dw_node(seed: int, ch: int, hw: tuple, k: int, stride: int, pad: int, wbits: int, abits: int):
    """A random depthwise conv; channel 0's weights all +max, channel 1's all -max."""
    rng = np.random.default_rng(seed)
    node = synthetic.conv(rng, "dw", (ch, *hw), ch, kernel=k, stride=stride, pad=pad, groups=ch,
                          wbits=wbits, abits=abits)
    w = node.weights.copy()
    w[0], w[1] = levels(wbits), -levels(wbits)
    return dataclasses.replace(node, weights=w), rng


# (encoding, CH, (H, W), k, stride, pad, PE, SIMD, WBITS, ABITS)
CASES = [
    ("k", 6, (5, 5), 3, 1, 1, 2, 3, 4, 4),
    ("signed", 3, (6, 5), 3, 1, 0, 1, 1, 8, 2),
    ("k", 8, (7, 7), 3, 2, 1, 8, 9, 1, 8),
    ("k", 4, (4, 3), 1, 1, 0, 2, 1, 3, 1),
    ("signed", 4, (5, 4), 3, 1, 1, 2, 9, 2, 3),
    ("k", 4, (5, 4), 3, 2, 1, 4, 3, 8, 3),
]


@pytest.mark.parametrize("enc,ch,hw,k,stride,pad,pe,simd,wbits,abits", CASES,
                         ids=[f"{c[0]}-ch{c[1]}-k{c[3]}s{c[4]}-pe{c[6]}-simd{c[7]}-w{c[8]}a{c[9]}"
                              for c in CASES])
def test_vvu_matches_golden(enc, ch, hw, k, stride, pad, pe, simd, wbits, abits):
    node, rng = dw_node(sum(map(ord, enc)) + ch * 7 + wbits * 3 + abits, ch, hw, k, stride, pad,
                        wbits, abits)
    x = images(rng, node.in_shape, abits)
    acc = golden.layer_acc(node, x)
    if k == 3 and pad == 1:  # the all-max image reaches both ends of the bound (interior pixel)
        assert acc[1, 0].max() == node.acc_bound and acc[1, 1].min() == -node.acc_bound
    beats = vvu_beats(x, k, stride, pad, pe, simd, abits)
    expected = acc_beats(acc, pe, node.acc_bits)
    words, width = vvu_rom(layer_plan(node, Fold(pe, simd)), enc)
    params = {"CH": ch, "K2": k * k, "PE": pe, "SIMD": simd, "WBITS": wbits, "ABITS": abits,
              "ACC_BITS": node.acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": enc}
    res, _ = run_scenarios("sat_vvu", params, simd * pe * abits, pe * node.acc_bits,
                           standard_scenarios(beats, len(expected), seed=wbits * 10 + abits),
                           files={"w.hex": hex_lines(words, width)})
    for r in res:
        assert not r.timed_out and r.extra == 0
        assert r.outputs == expected
    # free flowing: one input beat per cycle, an output every K2/SIMD beats, fixed fill latency
    ns = k * k // simd
    free = res[0]
    assert free.last_out - free.first_out == (len(expected) - 1) * ns
    assert free.first_out == ns - 1 + latency(simd, wbits, enc)


def test_vvu_synthesizes():
    node, _ = dw_node(5, 4, (3, 3), 3, 1, 1, 4, 4)
    words, width = vvu_rom(layer_plan(node, Fold(2, 3)), "k")
    r = synth(rtl_sources("sat_skid", "sat_fifo", "sat_outq", "sat_mvu_tree", "sat_vvu"), "sat_vvu",
              {"CH": 4, "K2": 9, "PE": 2, "SIMD": 3, "WBITS": 4, "ABITS": 4,
               "ACC_BITS": node.acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": "k"},
              extra="-nodsp", files={"w.hex": hex_lines(words, width)})
    assert r.lut > 0 and r.dsp == 0
    assert r.ff >= 2 * 2 * node.acc_bits  # at least the accumulators and the skid's two words
