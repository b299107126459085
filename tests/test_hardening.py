"""Issue 18, what a new user hit: each defect's failing-first test.

Output folders sat_hw did not write are never replaced; `sat_hw sim` leaves no stale figure; ROM
images are checked before a tool reads them; exit statuses follow ``sat_hw.base.errors``; checks that
the configuration decides run before any long work; `--waves` says its size and takes a window.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sat_hw.base.errors import EXIT_TOOL, EXIT_USAGE, EXIT_VERIFY
from sat_hw.flow import build as build_mod
from sat_hw.flow.cli import main

SMALL = ["--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "2"]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1] if err else ""
    assert "Traceback" not in err and last.startswith("sat_hw ") and ": error: " in last, err
    return last


@pytest.fixture()
def user_folder(tmp_path) -> Path:
    d = tmp_path / "mine"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("my notes")
    (d / "sub" / "keep.txt").write_text("keep me")
    return d


@pytest.fixture()
def copy(built, tmp_path) -> Path:
    """A private copy of the shared build, to change."""
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    return out


# --- defect 1: data loss ---------------------------------------------------------------------

def test_build_refuses_a_folder_it_did_not_write(user_folder, capsys, monkeypatch):
    def no_work(*a, **k):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(build_mod, "make_model", no_work)
    before = tree(user_folder)
    assert main(["build", *SMALL, "--out", str(user_folder)]) == EXIT_USAGE
    msg = one_line(capsys)
    assert str(user_folder) in msg and "not a folder sat_hw wrote" in msg and "notes.txt" in msg
    assert tree(user_folder) == before
    assert sorted(p.name for p in user_folder.parent.iterdir()) == ["mine"]


def test_out_dot_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work.py").write_text("print('mine')")
    assert main(["build", *SMALL, "--out", "."]) == EXIT_USAGE
    assert "working folder" in one_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["work.py"]


def test_estimate_out_refuses_a_user_folder_and_a_build(user_folder, built, tmp_path, capsys):
    args = ["estimate", "--wbits", "4", "--abits", "4"]
    before = tree(user_folder)
    assert main([*args, "--out", str(user_folder)]) == EXIT_USAGE
    assert "not a folder sat_hw wrote" in one_line(capsys) and tree(user_folder) == before
    b = tmp_path / "b"
    shutil.copytree(built, b)
    assert main([*args, "--out", str(b)]) == EXIT_USAGE
    assert "it is a sat_hw build folder; sat_hw replaces only its own estimate" in one_line(capsys)
    est = tmp_path / "est"
    assert main([*args, "--out", str(est)]) == 0
    assert json.loads((est / ".sat_hw").read_text())["kind"] == "estimate"
    assert main([*args, "--out", str(est)]) == 0  # its own output: replaced


@pytest.mark.parametrize("command", ["sim", "synth"])
def test_sim_and_synth_write_only_into_builds(command, user_folder, copy, capsys):
    before = tree(user_folder)
    assert main([command, str(user_folder)]) == EXIT_USAGE
    assert "not a folder sat_hw wrote" in one_line(capsys) and tree(user_folder) == before
    (copy / ".sat_hw").unlink()
    (copy / "notes.txt").write_text("a user's file beside a build's: not a build any more")
    before = tree(copy)
    assert main([command, str(copy)]) == EXIT_USAGE
    one_line(capsys)
    assert tree(copy) == before


def test_build_written_before_markers_is_still_recognised(copy):
    from sat_hw.base.writer import folder_kind

    (copy / ".sat_hw").unlink()
    assert folder_kind(copy) == "build"


# --- defect 3: stale report after `sat_hw sim` ----------------------------------------------

def test_sim_on_fewer_images_updates_every_figure(copy, capsys):
    assert main(["sim", str(copy), "--images", "1"]) == 0
    r = json.loads((copy / "report.json").read_text())
    out = np.load(copy / "sim/rtl_outputs.npy")
    labels = np.load(copy / "sim/labels.npy")
    assert r["sim"]["images"] == 1 and out.shape[0] == 1
    acc = r["accuracy"]
    assert acc["counts"]["rtl"] == 1 and acc["counts"]["golden"] == 3
    assert acc["labels"]["rtl"] == float(np.argmax(out[0]) == labels[0])
    md = (copy / "report.md").read_text()
    assert "1 image(s) back to back" in md and "(1 images)" in md and "(3 images)" in md


def test_sim_with_a_changed_weight_reports_the_mismatches(copy, capsys):
    rom = sorted((copy / "rtl/mem").glob("pw*_w.hex"))[0]
    lines = rom.read_text().splitlines()
    lines[0] = "f" * len(lines[0]) if set(lines[0]) != {"f"} else "0" * len(lines[0])
    rom.write_text("\n".join(lines) + "\n")
    assert main(["sim", str(copy)]) == EXIT_VERIFY
    assert "outputs differ from golden" in one_line(capsys)
    r = json.loads((copy / "report.json").read_text())
    out = np.load(copy / "sim/rtl_outputs.npy")
    gold = np.load(copy / "sim/golden.npy")
    assert r["sim"]["mismatches"] == int(np.count_nonzero(out != gold)) > 0
    labels = np.load(copy / "sim/labels.npy")
    assert r["accuracy"]["labels"]["rtl"] == pytest.approx(
        float(np.mean(np.argmax(out, 1) == labels)))
    assert f"{r['sim']['mismatches']} output(s) differ from golden" in (
        copy / "report.md").read_text()


def test_sim_that_stalls_writes_its_failure_into_the_report(copy, capsys):
    top = copy / "rtl/sat_accel.sv"
    text = top.read_text()
    assert ".s_axis_tvalid(s5_tvalid)" in text  # the block after stream 5 never gets a beat
    top.write_text(text.replace(".s_axis_tvalid(s5_tvalid)", ".s_axis_tvalid(1'b0)", 1))
    assert main(["sim", str(copy)]) == EXIT_VERIFY
    assert "no beat moved" in one_line(capsys)
    r = json.loads((copy / "report.json").read_text())
    assert "no beat moved" in r["sim"]["failed"] and "rtl" not in r["accuracy"]["labels"]
    assert not (copy / "sim/rtl_outputs.npy").exists()
    assert not (copy / "report_cycles.png").exists()
    assert "**RTL simulation failed**" in (copy / "report.md").read_text()


def test_build_whose_simulation_stalls_still_writes_its_folder(tmp_path, capsys, monkeypatch):
    from sat_hw.flow import rtlphase
    from sat_hw.tools.rtlsim import StallError

    def stall(*a, **k):
        raise StallError("no beat moved for 99 cycles: layer pw3 holds input it does not take",
                         {"images": 2, "failed": "no beat moved for 99 cycles: layer pw3 ...",
                          "outputs_received": 0, "cycles": 99})

    monkeypatch.setattr(rtlphase, "simulate", stall)
    out = tmp_path / "o"
    assert main(["build", *SMALL, "--backend", "rtl", "--out", str(out)]) == EXIT_VERIFY
    assert "layer pw3" in one_line(capsys)
    r = json.loads((out / "report.json").read_text())
    assert r["sim"]["failed"].startswith("no beat moved") and (out / "rtl/sat_accel.sv").exists()
    assert not (out / "sim/rtl_outputs.npy").exists()


# --- defect 4: ROM images --------------------------------------------------------------------

@pytest.mark.parametrize("command", ["sim", "synth"])
def test_missing_rom_image_is_named(copy, capsys, command):
    rom = sorted((copy / "rtl/mem").glob("*_t_p0_s1.hex"))[0]
    rom.unlink()
    assert main([command, str(copy)]) == EXIT_USAGE
    msg = one_line(capsys)
    assert rom.name in msg and "missing" in msg


@pytest.mark.parametrize("command", ["sim", "synth"])
@pytest.mark.parametrize("damage, needle", [
    (lambda lines: ["zz"] + lines[1:], ":1: 'zz' is not a ROM word"),
    (lambda lines: lines[:-1], "words, the ROM"),
])
def test_corrupt_rom_image_is_named_with_its_line(copy, capsys, damage, needle, command):
    rom = sorted((copy / "rtl/mem").glob("*_w.hex"))[-1]
    rom.write_text("\n".join(damage(rom.read_text().splitlines())) + "\n")
    assert main([command, str(copy)]) == EXIT_USAGE
    msg = one_line(capsys)
    assert rom.name in msg and needle in msg


def test_readmem_warnings_of_the_simulator_are_errors():
    from sat_hw.tools.rtlsim import readmem_problems

    log = ("%Warning: mem/pw7_w.hex:0: $readmem file ended before specified final address "
           "(IEEE 1800-2023 21.4)\nother line\n")
    assert readmem_problems(log) == [log.splitlines()[0]]


# --- defect 7: late failures ------------------------------------------------------------------

def test_bad_fold_is_refused_before_any_long_work(tmp_path, capsys, monkeypatch):
    def no_work(*a, **k):
        raise AssertionError("long work started before the folding was checked")

    cfg = tmp_path / "c.toml"
    cfg.write_text("[fold.pw3]\npe = 5\nsimd = 1\n")
    monkeypatch.setattr(build_mod, "make_model", no_work)
    assert main(["build", *SMALL, "--no-zoo", "--config", str(cfg),
                 "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "fold.pw3.pe 5 does not divide" in one_line(capsys)


def test_bad_fold_with_a_checkpoint_is_refused_before_golden(built, tmp_path, capsys,
                                                             monkeypatch):
    def no_work(*a, **k):
        raise AssertionError("golden ran before the folding was checked")

    cfg = tmp_path / "c.toml"
    cfg.write_text("[fold.pw3]\npe = 5\n")
    monkeypatch.setattr(build_mod, "run_golden", no_work)
    assert main(["build", "--checkpoint", str(built / "model.pt"), "--config", str(cfg),
                 "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "fold.pw3.pe 5 does not divide" in one_line(capsys)


@pytest.mark.parametrize("argv, needle", [
    (["--fclk", "-5"], "--fclk -5: must be above 0 (a clock in MHz"),
    (["--fps", "-1"], "--fps -1: must be at least 0"),
    (["--width", "0"], "--width 0: must be above 0 and at most 4"),
])
def test_flag_ranges_read_as_a_person_writes_them(argv, needle, tmp_path, capsys):
    assert main(["build", *SMALL, *argv, "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert needle in one_line(capsys)


# --- defect 6: estimate --fps beyond any folding ----------------------------------------------

def test_estimate_fps_nothing_reaches_is_an_error(tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["estimate", "--wbits", "4", "--abits", "4", "--fps", "1e9",
                 "--out", str(out)]) == EXIT_USAGE
    msg = one_line(capsys)
    assert "--fps" in msg and "the fastest folding takes" in msg and not out.exists()


# --- defect 8: exit statuses ------------------------------------------------------------------

def test_tool_failure_exits_4(copy, capsys):
    top = copy / "rtl/sat_accel.sv"
    top.write_text(top.read_text().replace("endmodule", "endmodule garbage", 1))
    assert main(["sim", str(copy)]) == EXIT_TOOL
    assert "verilator failed" in one_line(capsys)


def test_exit_statuses_are_documented():
    import sat_hw.base.errors as errors

    doc = errors.__doc__
    for code in (errors.EXIT_USAGE, errors.EXIT_VERIFY, errors.EXIT_TOOL, 130):
        assert f" {code} " in doc
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "exit status" in readme and "| 3 |" in readme and "| 4 |" in readme


# --- defect 10: waveforms ---------------------------------------------------------------------

def test_waves_window_is_small_and_leaves_the_figures(copy, capsys):
    before = json.loads((copy / "report.json").read_text())["sim"]
    assert main(["sim", str(copy), "--waves", "--waves-from", "100",
                 "--waves-cycles", "200"]) == 0
    err = capsys.readouterr().err
    fst = copy / "sim/waves.fst"
    assert fst.is_file() and f"waves: {fst.stat().st_size / 1e6:,.1f} MB" in err
    window = fst.stat().st_size
    after = json.loads((copy / "report.json").read_text())["sim"]
    assert {k: after[k] for k in ("images", "mismatches", "cycles", "latency_cycles")} == \
        {k: before[k] for k in ("images", "mismatches", "cycles", "latency_cycles")}
    assert main(["sim", str(copy), "--waves", "--images", "1"]) == 0
    assert fst.stat().st_size > 4 * window
    assert main(["sim", str(copy), "--waves-cycles", "5"]) == EXIT_USAGE
    assert "add --waves" in one_line(capsys)
