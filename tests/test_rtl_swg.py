"""sat_swg under Verilator against a numpy model of its window beats: K 1/3/5/7, stride 1/2,
pad 0..K-1, SIMD 1 / between / CH, ELEM_W 1..8, odd sizes, rows and columns no window uses,
several images back to back in every scenario, and the steady-state interval per image.
The model feeds a matrix-vector unit: its beats times `layout.mvu_matrix` equal
`golden.layer_acc` of a conv node."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from sat_hw.codegen.layout import mvu_matrix
from sat_hw.graph import golden, synthetic
from sat_hw.hw.fold import Fold, window_simd
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.streamtb import Scenario, rtl_sources, run_scenarios, standard_scenarios
from sat_hw.tools.verilator import first_error, tool_env, verilator_root
from sat_hw.tools.yosys import synth

pytestmark = pytest.mark.rtl


def out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def window_elems(x: np.ndarray, k: int, s: int, p: int, simd: int) -> np.ndarray:
    """The window beats of NCHW codes ``x`` as elements ``(N, OH, OW, C/SIMD, K*K, SIMD)``:
    ``[n, oy, ox, g, t, c]`` is the code at row ``oy*s - p + t//k``, column ``ox*s - p + t%k``,
    channel ``g*simd + c``, or 0 outside the image."""
    n, ch, h, w = x.shape
    oh, ow = out_size(h, k, s, p), out_size(w, k, s, p)
    t = np.arange(k * k)
    rows = np.arange(oh)[:, None] * s - p + t[None, :] // k            # (oh, t)
    cols = np.arange(ow)[:, None] * s - p + t[None, :] % k             # (ow, t)
    rin = (rows >= 0) & (rows < h)
    cin = (cols >= 0) & (cols < w)
    r = np.clip(rows, 0, h - 1)[:, None, :]                             # (oh, 1, t)
    c = np.clip(cols, 0, w - 1)[None, :, :]                             # (1, ow, t)
    v = x[:, :, r, c]                                                   # (n, ch, oh, ow, t)
    v = v * (rin[:, None, :] & cin[None, :, :])
    v = v.reshape(n, ch // simd, simd, oh, ow, k * k)
    return v.transpose(0, 3, 4, 1, 5, 2)


def pack(elems: np.ndarray, bits: int) -> list[int]:
    """Rows of ``elems`` (``(beats, n)``) as integers, element ``i`` at ``[i*bits +: bits]``."""
    e = np.asarray(elems, np.uint64).reshape(len(elems), -1)
    b = ((e[:, :, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
    by = np.packbits(b.reshape(len(e), -1), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in by]


def in_beats(x: np.ndarray, simd: int, bits: int) -> list[int]:
    """The feature maps ``x`` (NCHW) as input beats: raster order, ``simd`` channels a beat."""
    return pack(x.transpose(0, 2, 3, 1).reshape(-1, simd), bits)


def out_beats(x: np.ndarray, k: int, s: int, p: int, simd: int, bits: int) -> list[int]:
    """The window beats of ``x``, ``k*k*simd`` elements each."""
    e = window_elems(x, k, s, p, simd)
    return pack(e.reshape(-1, k * k * simd), bits)


def test_model_against_loops():
    """The vectorised model against the formula written as plain loops."""
    rng = np.random.default_rng(5)
    for (c, h, w, k, s, p, simd) in [(4, 5, 6, 3, 2, 1, 2), (2, 3, 4, 1, 2, 0, 1),
                                     (3, 4, 3, 5, 1, 4, 3)]:
        x = rng.integers(0, 256, (2, c, h, w))
        e = window_elems(x, k, s, p, simd)
        n, oh, ow, ng = e.shape[:4]
        assert (oh, ow, ng) == (out_size(h, k, s, p), out_size(w, k, s, p), c // simd)
        for i in range(n):
            for oy in range(oh):
                for ox in range(ow):
                    for g in range(ng):
                        for t in range(k * k):
                            for j in range(simd):
                                y, xx = oy * s - p + t // k, ox * s - p + t % k
                                v = x[i, g * simd + j, y, xx] if 0 <= y < h and 0 <= xx < w else 0
                                assert e[i, oy, ox, g, t, j] == v


def test_model_feeds_an_mvu():
    """Window beats, flattened per pixel (group, tap, channel), times the MVU's matrix are the
    conv's accumulators (the SWG -> MVU order of docs/hardware.md)."""
    rng = np.random.default_rng(3)
    for (c, h, w, k, s, p, simd) in [(6, 7, 5, 3, 2, 1, 4), (4, 6, 6, 3, 1, 0, 4),
                                     (3, 9, 8, 5, 2, 2, 3), (8, 5, 5, 1, 2, 0, 8)]:
        node = synthetic.conv(rng, "c", (c, h, w), 5, kernel=k, stride=s, pad=p, wbits=3,
                              abits=4)
        fold = Fold(pe=1, simd=simd)
        g = window_simd(node, fold)
        x = rng.integers(0, 16, (2, c, h, w)).astype(np.uint8)
        e = window_elems(x, k, s, p, g).astype(np.int64)
        n, oh, ow = e.shape[:3]
        acc = e.reshape(n, oh, ow, -1) @ mvu_matrix(layer_plan(node, fold)).T
        np.testing.assert_array_equal(acc.transpose(0, 3, 1, 2), golden.layer_acc(node, x))


# CH, IN_H, IN_W, K, STRIDE, PAD, SIMD, ELEM_W
CASES = {
    "k3s1p1": (1024, 5, 7, 3, 1, 1, 64, 3),  # CH 1024, 1 < SIMD < CH, odd sizes, in = out
    "k3s2p0": (2, 8, 8, 3, 2, 0, 1, 2),    # row 7 and column 7 unused, SIMD = 1
    "k3s2p1": (4, 7, 224, 3, 2, 1, 4, 8),  # IN_W 224, SIMD = CH, stride 2, odd height, 8 bits
    "k1s2p0": (3, 8, 7, 1, 2, 0, 1, 1),    # pointwise stride 2: every other row unused, 1 bit
    "k7s2p3": (2, 9, 11, 7, 2, 3, 2, 4),   # 7x7 stride 2
    "k5s1p4": (3, 4, 5, 5, 1, 4, 3, 5),    # output-bound: 8 x 9 windows of a 4 x 5 image
    # issue 18 (fuzz): windows wider than Verilator's 8192-bit replication limit (dw7 at 8 bits,
    # PE 128: 9 x 128 x 8 = 9,216 bits) once failed to verilate (WIDTHCONCAT on a wide '0)
    "wide_k3_9216b": (128, 4, 3, 3, 1, 1, 128, 8),
    "wide_k5_12800b": (64, 3, 3, 5, 1, 2, 64, 8),
}


def _params(case, **extra) -> dict:
    ch, h, w, k, s, p, simd, bits = case
    return {"CH": ch, "IN_H": h, "IN_W": w, "K": k, "STRIDE": s, "PAD": p, "SIMD": simd,
            "ELEM_W": bits, **extra}


@pytest.mark.parametrize("name", list(CASES))
def test_swg_windows(name):
    ch, h, w, k, s, p, simd, bits = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    top = (1 << bits) - 1
    # several images back to back: random, all max, all zero, random
    x = rng.integers(0, top + 1, (4, ch, h, w))
    x[1] = top
    x[2] = 0
    ins, outs = in_beats(x, simd, bits), out_beats(x, k, s, p, simd, bits)
    g = ch // simd
    per_in = h * w * g
    per_out = out_size(h, k, s, p) * out_size(w, k, s, p) * g
    # free-flowing runs of 1, 2, 3 images beside the standard scenarios (4 images): the last
    # output of image n follows that of image n-1 by exactly the interval per image
    scen = standard_scenarios(ins, len(outs)) + [
        Scenario(ins[:n * per_in], n * per_out) for n in (1, 2, 3)]
    res, _ = run_scenarios("sat_swg", _params(CASES[name]), simd * bits, k * k * simd * bits,
                           scen)
    for i, r in enumerate(res):
        n_out = len(outs) if i < 5 else (i - 4) * per_out
        assert not r.timed_out and r.extra == 0, f"scenario {i}: {r}"
        assert r.outputs == outs[:n_out], f"scenario {i}"
    last = [r.last_out for r in res[5:]] + [res[0].last_out]
    assert np.diff(last).tolist() == [max(per_in, per_out)] * 3
    full = res[0]
    # latency (the preamble's figure): the block takes its first beat in the wrapper's cycle 1
    # (s_axis_tready is a register set in the first cycle out of reset)
    assert full.first_out - 1 == min(k - p, h) * w * g + 4


def _lint(params: dict) -> subprocess.CompletedProcess:
    cmd = [str(verilator_root() / "bin" / "verilator"), "--lint-only", "-Wall",
           "-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-UNUSEDPARAM", "--top-module", "sat_swg",
           *[f"-G{k}={v}" for k, v in params.items()], *map(str, rtl_sources("sat_swg"))]
    return subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), check=False)


def test_swg_lint_large_and_refused():
    """Verilator -Wall lint at network sizes (224 px, 1024 channels, 7x7, ROWS = 1); bad
    parameters stop elaboration with their message."""
    for case, extra in [((1024, 14, 14, 3, 1, 1, 1, 8), {}),
                        ((32, 224, 224, 3, 2, 1, 32, 4), {}),
                        ((3, 224, 224, 7, 2, 3, 3, 8), {}),
                        ((1024, 7, 7, 1, 2, 0, 64, 2), {"ROWS": 1})]:
        r = _lint(_params(case, **extra))
        assert r.returncode == 0, f"{case}: {first_error(r.stderr)}"
    base = (8, 8, 8, 3, 1, 1, 2, 4)
    for extra, msg in [({"CH": 6, "SIMD": 4}, "SIMD must divide CH"),
                       ({"PAD": 3}, "PAD must be in 0..K-1"),
                       ({"ROWS": 2}, "ROWS must be >= K"),
                       ({"IN_H": 1, "K": 5, "PAD": 1}, "the padded image")]:
        r = _lint(_params(base, **extra))
        assert r.returncode != 0 and msg in r.stderr, extra


def test_swg_synth():
    """Yosys synth_xilinx at a representative size: the row banks map to LUTRAM."""
    p = _params((32, 28, 28, 3, 1, 1, 8, 4))
    r = synth(rtl_sources("sat_swg"), "sat_swg", p)
    # 4 rows x 3 column banks of 40 words x 32 bits: 11 RAM64M (64 x 3) each; the rotation and
    # the output skid's choice take about 3 LUTs per output bit (288 bits: the row level, the
    # column level into the parked beat, the column level with the skid's choice into the output
    # register), the control about 190 LUTs (1057 in all with Yosys 0.70)
    assert r.lutram == 4 * 3 * 11 and r.bram18 == 0, r.as_dict()
    assert r.lut < 1150, r.as_dict()
    print("sat_swg", p, r.as_dict())
