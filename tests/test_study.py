"""The study script's driver (benchmarks/study_fashion_mnist.py): runs in parallel, each saved
as it finishes, a failure stops what has not started. A stand-in replaces the training."""
from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "study_fashion_mnist.py"
_spec = importlib.util.spec_from_file_location("study_fashion_mnist", _PATH)
study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study)


def _fake(monkeypatch, fail_seed=None, delay=0.2):
    live, peak, started = [0], [0], []
    lock = threading.Lock()

    def run_cell(c, a):
        with lock:
            started.append(c["seed"])
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(delay / 4 if c["seed"] == fail_seed else delay)
        if c["seed"] == fail_seed:
            raise SystemExit(f"seed {fail_seed} failed")
        with lock:
            live[0] -= 1
        return dict(c, top1=0.5 + c["seed"] / 100, seconds=delay, source="fake")

    monkeypatch.setattr(study, "run_cell", run_cell)
    return peak, started


def _cells(n):
    return [{"method": "sat", "wbits": 4, "abits": 4, "init": "fp", "seed": s, "epochs": 1,
             "lr": 0.1} for s in range(n)]


def test_jobs_run_together_and_every_run_is_saved(tmp_path, monkeypatch):
    peak, _ = _fake(monkeypatch)
    rows, path = [], tmp_path / "study.json"
    study.train_all(_cells(4), SimpleNamespace(jobs=2), rows, path)
    assert peak[0] == 2
    saved = json.loads(path.read_text())["rows"]
    assert sorted(r["seed"] for r in saved) == [0, 1, 2, 3] and len(rows) == 4


def test_one_job_runs_one_at_a_time(tmp_path, monkeypatch):
    peak, started = _fake(monkeypatch, delay=0.01)
    study.train_all(_cells(3), SimpleNamespace(jobs=1), [], tmp_path / "study.json")
    assert peak[0] == 1 and started == [0, 1, 2]


def test_a_failure_cancels_the_rest_and_keeps_finished_runs(tmp_path, monkeypatch):
    _, started = _fake(monkeypatch, fail_seed=1, delay=0.4)
    rows, path = [], tmp_path / "study.json"
    with pytest.raises(SystemExit, match="seed 1 failed"):
        study.train_all(_cells(5), SimpleNamespace(jobs=2), rows, path)
    # seed 1 fails while seed 0 runs on; 0 finishes and is saved; 2..4 never start
    assert sorted(started) == [0, 1]
    assert [r["seed"] for r in json.loads(path.read_text())["rows"]] == [0]


def test_verdicts():
    def rows(method, bits, top1s):
        return [{"method": method, "wbits": bits, "abits": bits, "init": "fp", "seed": s,
                 "top1": t} for s, t in enumerate(top1s)]

    got = study.verdicts(rows("sat", 4, [.920, .921, .922]) + rows("pact", 4, [.910, .911, .912])
                         + rows("cgpact", 4, [.919, .925, .921])
                         + rows("sat", 2, [.88, .89, .88]) + rows("pact", 2, [.87, .88, .55])
                         + rows("sat", 3, [.91]) + rows("pact", 3, [.90, .91]))
    lines = {tuple(c.strip() for c in ln.split("|")[2:4]): ln for ln in got if ln.startswith("| fp")}
    assert "| +1.00 | 0.08 | SAT wins |" in lines[("W4A4", "pact")]
    assert "| tie |" in lines[("W4A4", "cgpact")]
    assert "SAT higher on every seed" in lines[("W2A2", "pact")]
    assert ("W3A3", "pact") not in lines  # one SAT seed: no verdict
