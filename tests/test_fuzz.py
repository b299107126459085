"""The fuzzer (benchmarks/fuzz.py): its generator draws only legal, verified cases (chains and, in
about 30 % of them, residual graphs) and covers every feature it promises; a run is resumable and
survives hangs and exceptions; and (``rtl``) a seeded slice of 20 cases, three residual, passes
golden == RTL == HLS with no mismatch, hang or failure."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sat_hw.graph.checks import verify
from sat_hw.hw.fold import check_fold, is_mvu

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz
import fuzz_cases
import fuzz_report

DRAWS = 200


@pytest.fixture(scope="module")
def drawn():
    return [fuzz_cases.draw_case(1, i) for i in range(DRAWS)]


def test_every_drawn_case_is_verified_and_legally_folded(drawn):
    residual = [c for c in drawn if c.blocks]
    assert 0.15 * DRAWS < len(residual) < 0.45 * DRAWS
    for case in drawn:
        verify(case.graph)
        assert case.graph.is_chain == (case.blocks == 0)
        assert sum(n.op == "add" for n in case.graph.layers) == case.blocks
        assert set(case.folding) == {n.name for n in case.graph.layers}
        for n in case.graph.layers:
            f = case.folding[n.name]
            check_fold(n, f)
            assert f.mult == "lut" or is_mvu(n)
            assert f.pe * f.simd <= fuzz_cases.WIDE_LANE_CAP
        assert case.graph.input.bits == 8 and case.graph.layers[0].abits == 8
        assert case.inputs.dtype == np.uint8 and case.inputs.shape[1:] == case.graph.input.shape
        assert case.family in fuzz_cases.FAMILIES


def test_draws_are_deterministic():
    a, b = fuzz_cases.draw_case(4, 11), fuzz_cases.draw_case(4, 11)
    assert fuzz_report.describe(a) == fuzz_report.describe(b)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    for x, y in zip(a.graph.layers, b.graph.layers):
        np.testing.assert_array_equal(getattr(x, "weights", 0), getattr(y, "weights", 0))
    assert fuzz_report.describe(fuzz_cases.draw_case(5, 11)) != fuzz_report.describe(a)


def test_features_are_covered(drawn):
    seen = set().union(*(fuzz_report.features(c) for c in drawn))
    want = {"op conv", "op dw", "op pw", "op maxpool", "op pool", "op fc", "input odd size",
            "input even size", "input size 1", "input size 2", "pw k1 stride 1",
            "conv k3 stride 2", "conv k5 stride 1", "dw k3 stride 2", "dw k5 stride 1",
            "pw k1 stride 2", "maxpool k2 stride 2",
            "maxpool k3 stride 1", "pad 0 (k>1)", "pad k//2 (k>1)", "pad other (k>1)",
            "mult dsp", "mult lut", "dsp DSP48E1 (xc7)", "dsp DSP48E2 (xcup)",
            "dsp with 1-bit activations", "conv SIMD > C_in", "width converter",
            "two width converters (lcm)", "PE >= 64 at >= 6 bits", "image zeros", "image max",
            "idle input (valid < 100 %)", "backpressure (ready < 100 %)",
            "free-flowing stream ends", "avg pool over one pixel", "weights extreme",
            "weights max", "weights min", "1-bit weights", "8-bit activations out",
            "wide case (depthwise PE 64..128 at 6..8 bits)",
            # residual graphs
            "op add", "residual: 1 block", "residual: 3 blocks", "skip add (identity)",
            "projection shortcut stride 1", "projection shortcut stride 2",
            "main branch of 1 layer", "main branch of 3 layers", "main branch with dw",
            "main branch with maxpool", "window generator on the main branch",
            "consecutive blocks (an add forked)", "signed codes from an add",
            "signed codes from pw", "signed codes from conv", "signed 2-bit codes",
            "signed 8-bit codes", "add reads signed operand a", "add reads signed operand b",
            "add operand bits mixed", "add 1-bit out", "add 8-bit out", "add operand a 1-bit",
            "add operand b 8-bit", "add pe 1", "add pe between", "add pe = C",
            "add multiplier 1", "add multiplier 4096", "add multiplier 65536",
            "skip FIFO depth 17..64", "skip FIFO depth > 256", "fc without a pool before it (add)"}
    assert want <= seen, sorted(want - seen)
    assert any(f.startswith("fc without a pool") for f in seen)


def test_every_bit_pair_meets_dsp_in_both_families(drawn):
    pairs = {"xc7": set(), "xcup": set()}
    for case in drawn:
        for n in case.graph.layers:
            if case.folding[n.name].mult == "dsp":
                pairs[case.family].add((n.wbits, n.abits))
    every = {(w, a) for w in range(1, 9) for a in range(1, 9)}
    assert pairs["xc7"] >= every and pairs["xcup"] >= every


def _stub(monkeypatch, tmp_path, behaviour):
    """Replace the case's work by ``behaviour(index)``; every call leaves a file in calls/."""
    calls = tmp_path / "calls"
    calls.mkdir(exist_ok=True)

    def run_case(seed, index, cfg, say=None, phase=None):
        (calls / f"{index}-{time.monotonic_ns()}").touch()
        if phase:
            phase("rtl")
        behaviour(index)
        return {"seed": seed, "index": index, "config": cfg["key"], "status": "ok",
                "message": "", "desc": "stub", "features": ["op conv"], "layers": [],
                "seconds": 0.01, "cpu_s": 0.01}

    monkeypatch.setattr(fuzz, "run_case", run_case)
    monkeypatch.setattr(fuzz, "hls_pch", lambda folder: ())
    return calls


def test_second_run_with_the_same_seed_does_no_work(monkeypatch, tmp_path):
    calls = _stub(monkeypatch, tmp_path, lambda i: None)
    out = tmp_path / "out"
    s = fuzz.run_all(5, 2, 9, out, say=lambda m: None)
    assert s["cases"] == 5 and s["ok"] == 5 and s["ran"] == 5
    assert len(list(calls.iterdir())) == 5
    s2 = fuzz.run_all(5, 2, 9, out, say=lambda m: None)
    assert s2["ran"] == 0 and s2["ok"] == 5 and len(list(calls.iterdir())) == 5
    s3 = fuzz.run_all(7, 2, 9, out, say=lambda m: None)  # more cases: only the new ones run
    assert s3["ran"] == 2 and s3["cases"] == 7 and len(list(calls.iterdir())) == 7
    fuzz.run_all(2, 1, 10, out, say=lambda m: None)  # another seed is other work
    assert len(list(calls.iterdir())) == 9
    assert json.loads((out / "summary.json").read_text())["seed"] == 10
    assert "| cases | ok |" in (out / "summary.md").read_text()


def test_hang_and_exception_are_records_and_the_run_goes_on(monkeypatch, tmp_path):
    def behaviour(i):
        if i == 1:
            time.sleep(60)
        if i == 2:
            raise ValueError("boom\nsecond line")

    _stub(monkeypatch, tmp_path, behaviour)
    t0 = time.monotonic()
    s = fuzz.run_all(4, 2, 3, tmp_path / "out", timeout=2, say=lambda m: None)
    assert time.monotonic() - t0 < 30
    bad = {b["index"]: b for b in s["bad_cases"]}
    assert s["ok"] == 2 and s["hangs"] == 1 and s["failures"] == 1
    assert bad[1]["status"] == "hang" and bad[1]["message"].startswith("rtl: case ran past")
    assert bad[2]["status"] == "error" and bad[2]["message"] == "ValueError: boom second line"


@pytest.mark.rtl
def test_seeded_slice_passes(tmp_path):
    """20 cases of seed 21, three of them residual graphs (1, 13, 16; about 2 to 4 minutes on 2
    cores): golden == RTL == HLS on every output."""
    s = fuzz.run_all(20, 2, 21, tmp_path, say=lambda m: None)
    assert s["cases"] == 20 and s["residual"] == 3
    assert (s["mismatches"], s["hangs"], s["build_failures"], s["failures"]) == (0, 0, 0, 0), \
        s["bad_cases"]


def test_failures_are_classified():
    from sat_hw.tools.hlssim import HlsCompileError
    from sat_hw.tools.verilator import SimError

    assert fuzz._classify(SimError("no beat moved for 900 cycles: layer x ..."))[0] == "hang"
    assert fuzz._classify(SimError("verilator failed: %Error: x.sv:1: bad")) == \
        ("build", "verilator failed: %Error: x.sv:1: bad")
    assert fuzz._classify(SimError("C++ compile of the Verilator model failed: y"))[0] == "build"
    assert fuzz._classify(HlsCompileError("g++ failed on hls/a.cpp: error"))[0] == "build"
    assert fuzz._classify(ValueError("a\nb")) == ("error", "ValueError: a b")
    from sat_hw.tools.rtlsim import StallError

    assert fuzz._classify(StallError("the RTL produced 1 of 3 images' outputs"))[0] == "hang"


def test_wall_time_adds_up_over_resumed_runs(monkeypatch, tmp_path):
    _stub(monkeypatch, tmp_path, lambda i: time.sleep(0.3))
    out = tmp_path / "out"
    s1 = fuzz.run_all(2, 2, 4, out, say=lambda m: None)
    s2 = fuzz.run_all(4, 2, 4, out, say=lambda m: None)
    s3 = fuzz.run_all(4, 2, 4, out, say=lambda m: None)
    assert s1["wall_s_all"] == s1["wall_s"] > 0
    assert s2["wall_s_all"] == pytest.approx(s1["wall_s"] + s2["wall_s"], abs=0.11)
    assert s3["ran"] == 0 and s3["wall_s_all"] == pytest.approx(s2["wall_s_all"], abs=0.11)


def test_readme_and_docs_figures_are_the_committed_summary():
    """The reliability figure in README.md and docs/fuzzing.md is the committed run's
    (``benchmarks/results/fuzz/summary.json``, which ``benchmarks/fuzz.py`` rewrites)."""
    root = Path(__file__).resolve().parents[1]
    s = json.loads((root / "benchmarks/results/fuzz/summary.json").read_text())
    line = (f"{s['cases']:,} cases (seed {s['seed']}, generator v{s['generator']}; "
            f"{s['residual']:,} residual graphs): {s['ok']:,} passed, {s['mismatches']} "
            f"mismatches, {s['hangs']} hangs, {s['build_failures']} build failures, "
            f"{s['failures']} other failures; {s['seconds']['total'] / 60:.0f} minutes of case "
            f"time (median {s['seconds']['median']:.1f} s a case), {s['jobs']} jobs on the "
            f"2-core machine")
    for doc in ("README.md", "docs/fuzzing.md"):
        text = " ".join((root / doc).read_text().split())
        assert line in text, f"{doc} should say: {line}"
