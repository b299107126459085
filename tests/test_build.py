"""`sat_hw build` end to end: folder contents, report keys, CLI errors, atomicity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sat_hw.flow import build as build_mod
from sat_hw.flow.cli import main
from sat_hw.graph.golden import run_golden
from sat_hw.graph.serialize import load_graph

SMALL = ["--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "3"]



def test_build_folder_contents(built: Path):
    names = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    assert [n for n in names if not n.startswith(("hls/", "rtl/"))] == [
        ".sat_hw", "flow.toml", "graph/graph.json", "graph/tensors.npz", "model.pt",
        "report.json", "report.md", "report_cycles.png", "sim/golden.npy",
        "sim/hls_outputs.npy", "sim/inputs.npy", "sim/labels.npy", "sim/rtl_outputs.npy",
        "sim/torch_outputs.npy"]
    assert {"hls/firmware/sat_top.cpp", "hls/tb/sat_tb.cpp", "hls/scripts/csim.tcl",
            "rtl/sat_accel.sv", "rtl/sat_tb.sv", "rtl/filelist.f", "rtl/sat_mvu.sv"} <= set(names)
    inputs = np.load(built / "sim/inputs.npy")
    golden = np.load(built / "sim/golden.npy")
    np.testing.assert_array_equal(np.load(built / "sim/hls_outputs.npy"), golden)
    np.testing.assert_array_equal(np.load(built / "sim/rtl_outputs.npy"), golden)
    # every rtl/ file the file list names is there, and ROM images sit under rtl/mem/
    listed = (built / "rtl/filelist.f").read_text().split()
    assert listed and all((built / "rtl" / f).is_file() for f in listed)
    assert any(n.startswith("rtl/mem/") and n.endswith(".hex") for n in names)
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
    (["--wbits", "9"], "--wbits 9: must be 1..8"),
    (["--model", "resnet"], "--model resnet: must be one of mbv1"),
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
    import shutil

    out = tmp_path / "b"
    shutil.copytree(built, out)  # an earlier build: sat_hw may replace it, but only on success
    (out / "report.md").write_text("earlier build")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))

    def boom(*a, **k):
        raise ValueError("simulated failure while rendering the report")

    monkeypatch.setattr(build_mod, "render_markdown", boom)
    assert main(["build", *SMALL, "--no-sim", "--out", str(out)]) == 2
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert (out / "report.md").read_text() == "earlier build"
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temporary folder left behind


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "sat_hw", "build", "--wbits", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "wbits" in r.stderr


# --- issue 11: what a new user tripped over -------------------------------------------------

def test_config_file_bits_contradicting_the_checkpoint(built: Path, tmp_path, capsys):
    mixed = tmp_path / "mixed.toml"
    mixed.write_text("[quant.layers.pw3]\nwbits = 2\nabits = 3\n")
    out = tmp_path / "x"
    rc = main(["build", "--checkpoint", str(built / "model.pt"), "--config", str(mixed),
               "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not out.exists()
    assert str(mixed) in err[-1] and "quant.layers.pw3.wbits = 2" in err[-1]
    assert "pw3 wbits 3" in err[-1] and "Traceback" not in "".join(err)
    glob = tmp_path / "glob.toml"
    glob.write_text("[quant]\nabits = 2\n")
    assert main(["build", "--checkpoint", str(built / "model.pt"), "--config", str(glob),
                 "--out", str(out)]) == 2
    assert "quant.abits = 2" in capsys.readouterr().err
    # the build's own resolved flow.toml agrees with its checkpoint
    assert main(["build", "--checkpoint", str(built / "model.pt"), "--config",
                 str(built / "flow.toml"), "--images", "1", "--no-sim", "--out", str(out)]) == 0


@pytest.mark.parametrize("flags, needle", [
    (["--device", "zcu999"], "--device zcu999: must be a known device (xc7z020"),
])  # --fps is read by the estimate phase (the planner folds for it)
def test_flags_whose_feature_is_absent_are_refused(flags, needle, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["build", *SMALL, *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and not out.exists()


def test_device_and_fclk_are_read_by_the_hls_phase_only(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["build", *SMALL, "--device", "xc7z020", "--fclk", "200", "--no-sim",
                 "--out", str(out)]) == 0
    tcl = (out / "hls/scripts/project.tcl").read_text()
    assert "set part xc7z020clg400-1" in tcl and "create_clock -period 5.000" in tcl
    assert not (out / "sim/hls_outputs.npy").exists()  # --no-sim: generated, not run
    capsys.readouterr()
    rtl_only = tmp_path / "rtl.toml"
    rtl_only.write_text('[build]\nbackend = "rtl"\n')
    # without the hls phase the estimate phase still reads them
    for flag, v, key, want in (("--device", "xc7z020", "device", "xc7z020"),
                               ("--fclk", "200", "fclk_mhz", 200.0)):
        x = tmp_path / f"x{key}"
        assert main(["build", *SMALL, "--config", str(rtl_only), flag, v, "--no-sim",
                     "--out", str(x)]) == 0
        assert json.loads((x / "report.json").read_text())["estimate"][key] == want


def test_report_says_which_phases_ran(built: Path):
    r = json.loads((built / "report.json").read_text())
    by = {p["name"]: p for p in r["phases"]}
    assert list(by) == [p.name for p in build_mod.PHASES]
    assert all(p["ran"] for p in r["phases"])
    assert r["hls_csim"]["images"] == 3 and r["hls_csim"]["mismatches"] == 0
    assert r["sim"]["images"] == 3 and r["sim"]["mismatches"] == 0
    assert all(row["sim"]["cycles_busy"] > 0 for row in r["layers"])
    md = (built / "report.md").read_text()
    assert "phases run: golden, rtl, hls, sim, estimate" in md
    assert "no hardware was generated" not in md and "report_cycles.png" in md
    assert "HLS C-simulation (g++): 3 image(s), 0 output(s) differ from golden" in md


def test_phase_plan_follows_the_table(monkeypatch):
    golden_only = (  # a fixed table, independent of which phases have landed
        build_mod.Phase("golden", "golden executor", True),
        build_mod.Phase("rtl", "Verilog generator", False, ("--fclk", "--fps")),
        build_mod.Phase("hls", "HLS C++ generator", False),
        build_mod.Phase("sim", "simulation", False),
        build_mod.Phase("estimate", "estimates", False, ("--device", "--fclk")),
    )
    monkeypatch.setattr(build_mod, "PHASES", golden_only)
    cfg = {"build": {"backend": "hls"}}
    plan = build_mod.plan_phases(cfg)
    assert plan["golden"] is None and plan["rtl"] == build_mod.NOT_YET
    with pytest.raises(ValueError, match="--backend hls: the HLS C\\+\\+ generator is not in"):
        build_mod.refuse_absent(plan, {"build": {"backend": "hls"}})
    with pytest.raises(ValueError, match="--device xc7z020: only the estimate phase"):
        build_mod.refuse_absent(plan, {"hw": {"device": "xc7z020"}})
    ready = [build_mod.Phase(p.name, p.what, True, p.flags) for p in golden_only]
    monkeypatch.setattr(build_mod, "PHASES", tuple(ready))
    plan = build_mod.plan_phases(cfg, no_sim=False)
    assert plan["rtl"].startswith("not selected") and plan["hls"] is None
    assert plan["sim"] == "no generated RTL to simulate" and plan["estimate"] is None
    assert build_mod.plan_phases({"build": {"backend": "rtl"}})["sim"] is None
    assert build_mod.plan_phases(cfg, no_sim=True)["sim"] == "--no-sim"
    with pytest.raises(ValueError, match="--fps 30: only the rtl phase"):
        build_mod.refuse_absent(plan, {"hw": {"fps": 30}})
    build_mod.refuse_absent(plan, {"hw": {"device": "u250", "fclk_mhz": 200.0}})


def test_mixed_builds_are_named_and_titled_apart(tmp_path, capsys, monkeypatch):
    from sat_hw.flow.config import load_config

    monkeypatch.chdir(tmp_path)
    mixed = tmp_path / "mixed.toml"
    mixed.write_text("[quant.layers.pw3]\nwbits = 2\nabits = 3\n")
    cfg = load_config(mixed, {"quant": {"wbits": 4, "abits": 4}})
    assert build_mod.default_out(cfg) == "builds/mbv1_w4a4_pw3-w2a3"
    assert build_mod.default_out(load_config(None, {})) == "builds/mbv1_w4a4"
    many = "".join(f"[quant.layers.pw{i}]\nwbits = 2\n" for i in range(1, 9))
    (tmp_path / "many.toml").write_text(many)
    assert build_mod.default_out(load_config(tmp_path / "many.toml")).startswith(
        "builds/mbv1_w4a4_mixed-")
    argv = ["build", *SMALL, "--config", str(mixed), "--images", "1", "--no-zoo", "--no-sim"]
    assert main(argv) == 0
    out = tmp_path / "builds" / "mbv1_w4a4_pw3-w2a3"
    assert (out / "report.md").read_text().startswith("# sat_hw build: mbv1 W4A4 mixed (pw3 W2A3)")
    err = capsys.readouterr().err
    assert "golden on 1 image;" in err and "replaced" not in err
    assert main(argv) == 0
    assert "(replaced the earlier build there)" in capsys.readouterr().err


def test_build_folder_modes_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "m"
        assert main(["build", *SMALL, "--images", "1", "--no-sim", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "graph").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "report.json").stat().st_mode) == 0o644


def test_inputs_say_how_they_were_made(built: Path, tmp_path):
    b = json.loads((built / "report.json").read_text())["build"]
    assert "fashion-mnist test images (resized from 28x28 to 16x16 px" in b["inputs"]
    out = tmp_path / "rgb"  # 3 input channels: the grey plane repeated, as training does
    assert main(["build", *SMALL, "--in-channels", "3", "--images", "1", "--no-sim",
                 "--out", str(out)]) == 0
    b = json.loads((out / "report.json").read_text())["build"]
    assert "grey plane repeated into 3 channels" in b["inputs"]
    assert np.load(out / "sim/inputs.npy").shape == (1, 3, 16, 16)
    out = tmp_path / "rnd"  # 2 channels do not convert: seeded random codes, the given seed
    assert main(["build", *SMALL, "--in-channels", "2", "--images", "1", "--seed", "0",
                 "--no-sim", "--out", str(out)]) == 0
    b = json.loads((out / "report.json").read_text())["build"]
    assert b["inputs"].startswith("seeded random codes (seed 0; model.in_channels is 2")


def test_unknown_layer_error_names_the_file(tmp_path, capsys):
    cfg = tmp_path / "f.toml"
    cfg.write_text("[quant.layers.pw99]\nwbits = 2\n")
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith(f"sat_hw build: error: {cfg}: quant.layers.pw99")


def test_zoo_model_used_when_shape_and_bits_match(built: Path, tmp_path, monkeypatch, capsys):
    import shutil

    from sat_hw.nn import zoo
    from sat_hw.nn.checkpoint import read_checkpoint

    folder = tmp_path / "zoo"
    folder.mkdir()
    shutil.copy(built / "model.pt", folder / "m.pt")
    config = read_checkpoint(folder / "m.pt")["config"]
    (folder / "index.json").write_text(json.dumps(
        [{"file": "m.pt", "data": "fashion-mnist", "config": config, "top1": 0.5,
          "command": "test"}]))
    monkeypatch.setattr(zoo, "zoo_dir", lambda: folder)
    out = tmp_path / "z"
    assert main(["build", *SMALL, "--wbits", "3", "--abits", "4", "--no-sim",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "using the zoo model m.pt" in err
    b = json.loads((out / "report.json").read_text())["build"]
    assert b["weights"].startswith("zoo model m.pt")
    # the same graph as the checkpoint it is
    assert b["graph_hash"] == json.loads((built / "report.json").read_text())["build"]["graph_hash"]
    assert main(["build", *SMALL, "--wbits", "3", "--abits", "4", "--no-zoo", "--seed", "1",
                 "--no-sim", "--out", str(out)]) == 0
    assert "no zoo model matches" not in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text())["build"]["weights"].startswith("untrained")
    assert main(["build", *SMALL, "--wbits", "2", "--abits", "4", "--no-sim",
                 "--out", str(out)]) == 0
    assert "no zoo model matches" in capsys.readouterr().err


def test_shipped_zoo_matches_the_main_job():
    """`sat_hw build --model mbv1 --wbits 3 --abits 4` finds the zoo's W3A4 model."""
    from sat_hw.flow.config import load_config
    from sat_hw.nn import zoo
    from sat_hw.nn.checkpoint import read_checkpoint

    rows = zoo.entries()
    assert {(r["config"]["method"], r["config"]["bits"]["pw1"]["wbits"],
             r["config"]["bits"]["pw1"]["abits"]) for r in rows
            if r["config"]["name"] == "mbv1"} >= {
        ("sat", w, a) for w, a in [(2, 2), (3, 3), (3, 4), (4, 4), (8, 8)]}
    assert {r["config"]["name"] for r in rows} == {"mbv1", "mbv2", "resnet20"}
    for r in rows:
        blob = read_checkpoint(r["path"])
        assert blob["config"] == r["config"] and "train_state" not in blob
        # model state only: about 1 MB at width 0.25, growing with the pointwise layers (width^2)
        limit = 2 * 2**20 * max(1.0, r["config"]["width"] / 0.25) ** 2
        assert r["path"].stat().st_size < limit and 0.5 < r["top1"] <= 1
    cfg = load_config(None, {"model": {"name": "mbv1"}, "quant": {"wbits": 3, "abits": 4}})
    hit = zoo.find(build_mod._model_config(cfg), "fashion-mnist")
    assert hit is not None and hit["file"] == "mbv1_fm_sat_w3a4.pt"
    cfg = load_config(None, {"quant": {"wbits": 3, "abits": 4, "method": "pact"}})
    assert zoo.find(build_mod._model_config(cfg), "fashion-mnist") is None
    for name, want in (("resnet20", "resnet20_fm_sat_w4a4.pt"), ("mbv2", "mbv2_fm_sat_w4a4.pt")):
        cfg = load_config(None, {"model": {"name": name}, "quant": {"wbits": 4, "abits": 4}})
        assert zoo.find(build_mod._model_config(cfg), "fashion-mnist")["file"] == want


def test_unwritable_output_fails_before_any_work(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")

    def no_work(*a, **k):
        raise AssertionError("the model was made before the output path was checked")

    monkeypatch.setattr(build_mod, "make_model", no_work)
    for out, needle in ((blocker / "b", "is not a folder"),
                        (Path("/proc/sat_hw_nope/b"), "cannot be written")):
        assert main(["build", *SMALL, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and str(out) in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
