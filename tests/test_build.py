"""`sat_hw build` end to end: folder contents, report keys, CLI errors, atomicity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sat_hw import build as build_mod
from sat_hw.cli import main
from sat_hw.graph.golden import run_golden
from sat_hw.graph.serialize import load_graph

SMALL = ["--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "3"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "build"
    assert main(["build", *SMALL, "--wbits", "3", "--abits", "4", "--out", str(out)]) == 0
    return out


def test_build_folder_contents(built: Path):
    names = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    assert names == ["flow.toml", "graph/graph.json", "graph/tensors.npz", "model.pt",
                     "report.json", "report.md", "sim/golden.npy", "sim/inputs.npy"]
    inputs = np.load(built / "sim/inputs.npy")
    golden = np.load(built / "sim/golden.npy")
    assert inputs.dtype == np.uint8 and inputs.shape == (3, 1, 16, 16)
    assert golden.dtype == np.int64 and golden.shape == (3, 10)
    # The stored graph reproduces the stored golden outputs exactly.
    np.testing.assert_array_equal(run_golden(load_graph(built / "graph"), inputs).outputs, golden)


def test_report_keys_and_bits(built: Path):
    r = json.loads((built / "report.json").read_text())
    assert {"model", "layers", "torch"} <= set(r)
    assert {"name", "width", "resolution", "in_channels", "classes", "params", "macs"} <= set(r["model"])
    assert r["model"]["resolution"] == 16 and r["model"]["classes"] == 10
    by = {row["name"]: row for row in r["layers"]}
    assert by["conv0"]["wbits"] == 8 and by["conv0"]["abits"] == 8
    assert by["pw3"]["wbits"] == 3 and by["pw3"]["abits"] == 4
    assert by["fc"]["wbits"] == 8 and by["fc"]["abits"] == 4
    assert all(row["acc_bits"] > 0 for row in r["layers"])
    assert r["torch"]["images"] == 3 and 0.99 <= r["torch"]["code_match_rate"] <= 1.0
    assert "| pw3 | pw |" in (built / "report.md").read_text()


def test_resolved_flow_toml_rebuilds_the_same_graph(built: Path, tmp_path: Path):
    out = tmp_path / "again"
    assert main(["build", "--config", str(built / "flow.toml"), "--out", str(out)]) == 0
    a = json.loads((built / "report.json").read_text())["build"]["graph_hash"]
    b = json.loads((out / "report.json").read_text())["build"]["graph_hash"]
    assert a == b


def test_checkpoint_build_uses_its_bits(built: Path, tmp_path: Path):
    out = tmp_path / "ck"
    assert main(["build", "--checkpoint", str(built / "model.pt"), "--images", "2",
                 "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert {row["name"]: row["wbits"] for row in r["layers"]}["pw5"] == 3
    rc = main(["build", "--checkpoint", str(built / "model.pt"), "--wbits", "2",
               "--out", str(tmp_path / "x")])
    assert rc == 2 and not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--wbits", "9"], "quant.wbits"),
    (["--model", "resnet"], "model.name"),
    (["--checkpoint", "/nonexistent.pt"], "/nonexistent.pt"),
    (["--config", "/nonexistent.toml"], "/nonexistent.toml"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, tmp_path, capsys):
    assert main(["build", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unknown_layer_in_config(tmp_path, capsys):
    cfg = tmp_path / "f.toml"
    cfg.write_text("[quant.layers.pw99]\nwbits = 2\n")
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "pw99" in capsys.readouterr().err


def test_failed_build_leaves_earlier_build_untouched(built: Path, tmp_path, monkeypatch):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("earlier build")

    def boom(*a, **k):
        raise ValueError("simulated failure while rendering the report")

    monkeypatch.setattr(build_mod, "render_markdown", boom)
    assert main(["build", *SMALL, "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temporary folder left behind


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "sat_hw", "build", "--wbits", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "wbits" in r.stderr
