"""Issue 18, a battery of malformed input: each case fails in one line that names the thing and
the value, with the documented exit status, no traceback, nothing half-written, and an earlier
build at the same path byte for byte as it was.

Most cases run in-process and fail before any long work (a guard makes the long work fail the
test); the Ctrl-C cases run ``python -m sat_hw build`` as a subprocess, the `sat_hw sim` cases
copy the session's ``built`` folder, and the full-disk cases run a small build (a checkpoint,
random inputs, RTL only, no simulation).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sat_hw.base import writer
from sat_hw.base.errors import EXIT_INTERRUPTED, EXIT_USAGE
from sat_hw.flow import build as build_mod
from sat_hw.flow import rtlphase
from sat_hw.flow import train as train_mod
from sat_hw.flow.cli import main

SMALL = ["--model", "mbv1", "--width", "0.25", "--resolution", "16", "--images", "2"]
REPO = Path(__file__).resolve().parent.parent
INTERRUPTED = "sat_hw build: interrupted (nothing half-written is left)"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones too): a file's bytes, None for a folder."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def error_line(capsys, command: str, progress: bool = False) -> str:
    """The one error line on stderr (``sat_hw <command>: error: ...``), the last line; nothing
    else unless ``progress`` (lines of work that ran before the error); no traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines, "nothing on stderr"
    assert [x for x in lines if ": error: " in x] == [lines[-1]], err
    assert lines[-1].startswith(f"sat_hw {command}: error: "), err
    if not progress:
        assert len(lines) == 1, err
    return lines[-1]


class Folder:
    """A folder whose tree and whose parent's entries must not change."""

    def __init__(self, path: Path):
        self.path = path
        self.before = tree(path)
        self.beside = sorted(os.listdir(path.parent))

    def untouched(self) -> None:
        assert sorted(os.listdir(self.path.parent)) == self.beside, "something left beside it"
        assert tree(self.path) == self.before, f"{self.path} changed"


@pytest.fixture()
def earlier(built, tmp_path) -> Folder:
    """An earlier build at the output path: a copy of the session's build, alone in its
    folder."""
    out = tmp_path / "out" / "build"
    shutil.copytree(built, out)
    return Folder(out)


@pytest.fixture()
def inputs(tmp_path) -> Path:
    """Where a case puts its malformed files (apart from the output folder)."""
    d = tmp_path / "in"
    d.mkdir()
    return d


@pytest.fixture()
def user_folder(tmp_path) -> Folder:
    d = tmp_path / "mine" / "notes"
    (d / "sub").mkdir(parents=True)
    (d / "todo.txt").write_text("my notes\n")
    (d / "sub" / "keep.txt").write_text("keep me\n")
    return Folder(d)


def _no_work(what: str):
    def fail(*a, **k):
        raise AssertionError(f"{what} started before the bad input was refused")
    return fail


@pytest.fixture()
def no_model(monkeypatch):
    """Configuration errors are refused before a model is made."""
    monkeypatch.setattr(build_mod, "make_model", _no_work("making the model"))


@pytest.fixture()
def no_lowering(monkeypatch):
    """Checkpoint errors are refused before the model is lowered."""
    monkeypatch.setattr(build_mod, "lower", _no_work("lowering"))


@pytest.fixture()
def no_simulation(monkeypatch):
    """`sat_hw sim`'s checks come before Verilator."""
    monkeypatch.setattr(rtlphase, "simulate", _no_work("the simulation"))


@pytest.fixture()
def no_training(monkeypatch):
    """`sat_hw train`'s checks come before any data is read."""
    monkeypatch.setattr(train_mod, "load_split", _no_work("training"))


# --- flow.toml -----------------------------------------------------------------------------------

CONFIGS = [
    pytest.param(b"[quant\nwbits = 3\n", "Expected ']' at the end of a table declaration "
                 "(at line 1", id="toml-syntax-error"),
    pytest.param(b"[quant]\nwbits = 3\nwbits = 4\n", "Cannot overwrite a value (at line 3",
                 id="toml-duplicate-key"),
    pytest.param(b'[quant]\nwbits = "four"\n', "quant.wbits: expected int, got 'four'",
                 id="wbits-a-string"),
    pytest.param(b"[quant]\nwbits = 4.0\n", "quant.wbits: expected int, got 4.0",
                 id="wbits-a-float"),
    pytest.param(b"[quant]\nabits = 9\n", "quant.abits must be 1..8, got 9",
                 id="abits-out-of-range"),
    pytest.param(b"[fold.pw3]\npe = 0\n", "fold.pw3.pe must be 1..1048576, got 0",
                 id="fold-pe-zero"),
    pytest.param(b"[quant]\nfoo = 1\n", "unknown key quant.foo", id="unknown-key"),
    pytest.param(b"[fold.pw3]\nlanes = 4\n", "unknown key fold.pw3.lanes",
                 id="unknown-fold-key"),
    pytest.param(b"[bogus]\nfoo = 1\n", "unknown section [bogus]", id="unknown-section"),
    pytest.param(b"quant = 3\n", "[quant] must be a table, got 3", id="section-not-a-table"),
    pytest.param(b"[quant.layers.pw99]\nwbits = 2\n",
                 "quant.layers.pw99: model mbv1 has no layer 'pw99'", id="unknown-quant-layer"),
    pytest.param(b"[fold.pw99]\npe = 1\n", "fold.pw99: model mbv1 has no layer 'pw99'",
                 id="unknown-fold-layer"),
    pytest.param(b"[quant.layers.pool]\nwbits = 2\n",
                 "quant.layers.pool.wbits: layer pool has no weights", id="pool-has-no-wbits"),
    pytest.param(b"[fold.pw3]\npe = 3\n", "fold.pw3.pe 3 does not divide 32 channels",
                 id="fold-pe-not-a-divisor"),
    pytest.param(b"[fold.pw3]\nsimd = 7\n", "fold.pw3.simd 7 does not divide 32 inputs",
                 id="fold-simd-not-a-divisor"),
    pytest.param(b"[fold.dw3]\npe = 4\nsimd = 2\n", "fold.dw3.simd 2 does not divide 9 kernel "
                 "taps", id="fold-dw-simd-not-a-divisor"),
    pytest.param(b'[fold.pw3]\nmult = "foo"\n', "fold.pw3.mult must be one of lut, dsp, "
                 "got 'foo'", id="fold-mult-foo"),
    pytest.param(b'[fold.dw3]\nmult = "dsp"\n', "fold.dw3.mult dsp: only conv, pw and fc",
                 id="fold-dsp-on-a-dw-layer"),
    pytest.param(b"[fold]\npw3 = 2\n", "fold.pw3 must be a table, got 2",
                 id="fold-not-a-table"),
    pytest.param(b'[build]\nbackend = "vhdl"\n', "build.backend must list rtl and/or hls, "
                 "got 'vhdl'", id="backend-vhdl"),
    pytest.param(b"\xff\xfe[quant]\n", "is not UTF-8 text (byte 0xff at offset 0)",
                 id="config-not-utf8"),
]


@pytest.mark.parametrize("text, needle", CONFIGS)
def test_bad_flow_toml(text, needle, earlier, inputs, no_model, capsys):
    cfg = inputs / "c.toml"
    cfg.write_bytes(text)
    assert main(["build", *SMALL, "--config", str(cfg), "--out", str(earlier.path)]) \
        == EXIT_USAGE
    msg = error_line(capsys, "build")
    assert needle in msg and str(cfg) in msg, msg
    earlier.untouched()


@pytest.mark.parametrize("name, needle", [
    pytest.param("missing.toml", "does not exist", id="config-missing"),
    pytest.param(".", "is a folder: give a flow.toml file", id="config-a-folder"),
])
def test_config_path_that_is_no_file(name, needle, earlier, inputs, no_model, capsys):
    cfg = (inputs / name).resolve()
    assert main(["build", *SMALL, "--config", str(cfg), "--out", str(earlier.path)]) \
        == EXIT_USAGE
    msg = error_line(capsys, "build")
    assert f"config file {str(cfg)!r} {needle}" in msg, msg
    earlier.untouched()


# --- checkpoints ---------------------------------------------------------------------------------

def _ckpt_missing(d: Path, built: Path) -> Path:
    return d / "none.pt"


def _ckpt_folder(d: Path, built: Path) -> Path:
    return d


def _ckpt_empty(d: Path, built: Path) -> Path:
    (d / "empty.pt").write_bytes(b"")
    return d / "empty.pt"


def _ckpt_truncated(d: Path, built: Path) -> Path:
    data = (built / "model.pt").read_bytes()
    (d / "half.pt").write_bytes(data[:len(data) // 2])
    return d / "half.pt"


def _ckpt_state_dict(d: Path, built: Path) -> Path:
    import torch

    torch.save(torch.nn.Linear(2, 2).state_dict(), d / "plain.pt")
    return d / "plain.pt"


def _ckpt_text(d: Path, built: Path) -> Path:
    (d / "notes.pt").write_text("weights: 1 2 3\n")
    return d / "notes.pt"


def _ckpt_version(d: Path, built: Path) -> Path:
    import torch

    torch.save({"format": "sat_hw-checkpoint", "version": 7}, d / "v7.pt")
    return d / "v7.pt"


def _ckpt_no_config(d: Path, built: Path) -> Path:
    import torch

    torch.save({"format": "sat_hw-checkpoint", "version": 1, "state_dict": {}}, d / "nc.pt")
    return d / "nc.pt"


def _ckpt_other_shape(d: Path, built: Path) -> Path:
    """A sat_hw checkpoint whose config says width 0.5 over weights of width 0.25."""
    import torch

    blob = torch.load(built / "model.pt", map_location="cpu", weights_only=False)
    blob["config"]["width"] = 0.5
    torch.save(blob, d / "wide.pt")
    return d / "wide.pt"


def _ckpt_bad_bits(d: Path, built: Path) -> Path:
    import torch

    blob = torch.load(built / "model.pt", map_location="cpu", weights_only=False)
    blob["config"]["bits"]["pw3"]["wbits"] = 9
    torch.save(blob, d / "w9.pt")
    return d / "w9.pt"


CHECKPOINTS = [
    pytest.param(_ckpt_missing, "does not exist", id="checkpoint-missing"),
    pytest.param(_ckpt_folder, "is a folder: give the .pt file", id="checkpoint-a-folder"),
    pytest.param(_ckpt_empty, "is empty (0 bytes)", id="checkpoint-empty"),
    pytest.param(_ckpt_truncated, "is truncated or corrupt (PytorchStreamReader failed reading "
                 "zip archive", id="checkpoint-truncated"),
    pytest.param(_ckpt_state_dict, "is not a sat_hw checkpoint (it holds a dict with keys "
                 "'weight', 'bias'", id="checkpoint-plain-state-dict"),
    pytest.param(_ckpt_text, "is not a PyTorch file (it begins b'weig'", id="checkpoint-text"),
    pytest.param(_ckpt_version, "unsupported version 7", id="checkpoint-other-version"),
    pytest.param(_ckpt_no_config, "is damaged: its 'config' is missing",
                 id="checkpoint-without-config"),
    pytest.param(_ckpt_other_shape, "its weights do not fit its config (size mismatch for "
                 "layers.conv0", id="checkpoint-config-contradicts-weights"),
    pytest.param(_ckpt_bad_bits, "its config does not describe a model (wbits must be",
                 id="checkpoint-bits-out-of-range"),
]


@pytest.mark.parametrize("make, needle", CHECKPOINTS)
def test_bad_checkpoint(make, needle, earlier, built, inputs, no_lowering, capsys):
    ckpt = make(inputs, built)
    assert main(["build", "--checkpoint", str(ckpt), "--out", str(earlier.path)]) == EXIT_USAGE
    msg = error_line(capsys, "build")
    assert f"checkpoint {str(ckpt)!r}" in msg and needle in msg, msg
    earlier.untouched()


@pytest.mark.parametrize("flags, needle", [
    pytest.param(["--wbits", "4"], "--wbits 4 contradicts the checkpoint's wbits [3]",
                 id="checkpoint-vs-wbits"),
    pytest.param(["--abits", "2"], "--abits 2 contradicts the checkpoint's abits [4]",
                 id="checkpoint-vs-abits"),
    pytest.param(["--width", "0.5"], "--width 0.5 contradicts the checkpoint's width 0.25",
                 id="checkpoint-vs-width"),
])
def test_checkpoint_contradicting_a_flag(flags, needle, earlier, built, no_lowering, capsys):
    assert main(["build", "--checkpoint", str(built / "model.pt"), *flags,
                 "--out", str(earlier.path)]) == EXIT_USAGE
    assert needle in error_line(capsys, "build", progress=True)
    earlier.untouched()


# --- sat_hw sim ----------------------------------------------------------------------------------

def _write(rel: str, data: bytes | str):
    def damage(b: Path) -> None:
        p = b / rel
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return damage


def _sub(rel: str, pattern: str, new: str):
    def damage(b: Path) -> None:
        p = b / rel
        text, n = re.subn(pattern, new, p.read_text(), count=1, flags=re.MULTILINE)
        assert n == 1, (rel, pattern)
        p.write_text(text)
    return damage


def _npy(rel: str, a: np.ndarray):
    return lambda b: np.save(b / rel, a)


def _truncate(rel: str, size: int):
    return lambda b: (b / rel).write_bytes((b / rel).read_bytes()[:size])


def _remove(rel: str):
    return lambda b: (b / rel).unlink()


SIMS = [
    pytest.param(_write("graph/graph.json", "{not json"), [],
                 "/graph': graph.json is not valid JSON", id="sim-graph-json-not-json"),
    pytest.param(_write("graph/graph.json", '{"format": "onnx", "version": 9}'), [],
                 "graph.json: format must be 'sat_hw-graph', got 'onnx'",
                 id="sim-graph-json-foreign-format"),
    pytest.param(_write("graph/graph.json", "[1, 2]"), [],
                 "graph.json: format must be 'sat_hw-graph', got 'list'",
                 id="sim-graph-json-a-list"),
    pytest.param(_sub("graph/graph.json", r'"version": 2', '"version": 4'), [],
                 "graph.json: unsupported version 4 (this sat_hw reads 2, 3)",
                 id="sim-graph-json-future-version"),
    pytest.param(_remove("graph/tensors.npz"), [], "/graph': tensors.npz is missing",
                 id="sim-tensors-npz-missing"),
    pytest.param(_write("graph/tensors.npz", "garbage\n"), [],
                 "tensors.npz is not an npz (zip) file: it begins b'garbage\\n'",
                 id="sim-tensors-npz-not-a-zip"),
    pytest.param(_write("sim/inputs.npy", "garbage\n"), [],
                 "sim/inputs.npy is not a readable .npy array (no .npy header",
                 id="sim-inputs-npy-text"),
    pytest.param(_truncate("sim/inputs.npy", 100), [],
                 "sim/inputs.npy is not a readable .npy array", id="sim-inputs-npy-truncated"),
    pytest.param(_npy("sim/inputs.npy", np.zeros((3, 2, 16, 16), np.uint8)), [],
                 "sim/inputs.npy holds uint8 [3, 2, 16, 16]: the graph takes uint8 images "
                 "[N, 1, 16, 16]", id="sim-inputs-npy-wrong-shape"),
    pytest.param(_npy("sim/inputs.npy", np.zeros((3, 1, 16, 16), np.float32)), [],
                 "sim/inputs.npy holds float32 [3, 1, 16, 16]", id="sim-inputs-npy-wrong-dtype"),
    pytest.param(_npy("sim/golden.npy", np.zeros((2, 10), np.int64)), [],
                 "sim/golden.npy holds int64 [2, 10], expected integers [3, 10]",
                 id="sim-golden-npy-too-few-rows"),
    pytest.param(_write("report.json", "{not json"), [], "report.json is not readable JSON",
                 id="sim-report-json-not-json"),
    pytest.param(_sub("flow.toml", r"^abits = 4$", "abits = 9"), [],
                 "flow.toml: quant.abits must be 1..8, got 9", id="sim-flow-toml-abits-9"),
    pytest.param(_sub("flow.toml", r"^(\[fold\.pw3\]\npe = )\d+$", r"\g<1>3"), [],
                 "flow.toml: fold.pw3.pe 3 does not divide 32 channels",
                 id="sim-flow-toml-fold-not-a-divisor"),
    pytest.param(_sub("flow.toml", r"^fclk_mhz = .*$", 'fclk_mhz = "fast"'), [],
                 "flow.toml: hw.fclk_mhz: expected float, got 'fast'",
                 id="sim-flow-toml-wrong-type"),
    pytest.param(lambda b: None, ["--images", "0"],
                 "--images must be 1..3 (the images in sim/inputs.npy), got 0",
                 id="sim-images-0"),
    pytest.param(lambda b: None, ["--images", "4"],
                 "--images must be 1..3 (the images in sim/inputs.npy), got 4",
                 id="sim-images-too-many"),
]


@pytest.mark.parametrize("damage, flags, needle", SIMS)
def test_sim_of_a_damaged_build(damage, flags, needle, built, tmp_path, no_simulation, capsys):
    copy = tmp_path / "b" / "build"
    shutil.copytree(built, copy)
    damage(copy)
    before = Folder(copy)
    assert main(["sim", str(copy), *flags]) == EXIT_USAGE
    msg = error_line(capsys, "sim")
    assert needle in msg, msg
    assert flags or str(copy) in msg, msg  # a damaged file is named with its path
    before.untouched()


@pytest.mark.parametrize("name, needle", [
    pytest.param("nothing", "build folder '{}' does not exist", id="sim-folder-missing"),
    pytest.param("notes.txt", "'{}' is a file, not a sat_hw build folder", id="sim-a-file"),
])
def test_sim_of_no_build(name, needle, inputs, capsys):
    path = inputs / name
    if name.endswith(".txt"):
        path.write_text("my notes\n")
    assert main(["sim", str(path)]) == EXIT_USAGE
    assert needle.format(path) in error_line(capsys, "sim")


def test_sim_of_a_users_folder(user_folder, capsys):
    assert main(["sim", str(user_folder.path)]) == EXIT_USAGE
    assert "is not a folder sat_hw wrote" in error_line(capsys, "sim")
    user_folder.untouched()


def test_sim_on_a_full_disk_changes_nothing(built, tmp_path, capsys, monkeypatch):
    """The simulation runs; writing its results fails at the third file: no file of the build
    is replaced (they are written beside their targets first), no temporary file is left."""
    copy = tmp_path / "b" / "build"
    shutil.copytree(built, copy)
    before = Folder(copy)
    real, writes = writer._write_file, []

    def full(path, content):
        writes.append(path)
        if len(writes) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, content)

    monkeypatch.setattr(writer, "_write_file", full)
    assert main(["sim", str(copy)]) == EXIT_USAGE
    msg = error_line(capsys, "sim", progress=True)
    assert str(copy) in msg and "No space left on device" in msg, msg
    before.untouched()


# --- output folders ------------------------------------------------------------------------------

def test_build_out_a_users_folder(user_folder, no_model, capsys):
    assert main(["build", *SMALL, "--out", str(user_folder.path)]) == EXIT_USAGE
    msg = error_line(capsys, "build")
    assert f"--out {str(user_folder.path)!r} exists and it is not a folder sat_hw wrote " \
           f"(it holds 2 entries: 'sub', 'todo.txt')" in msg, msg
    user_folder.untouched()


def test_build_out_a_file(inputs, no_model, capsys):
    f = inputs / "notes.txt"
    f.write_text("my notes\n")
    assert main(["build", *SMALL, "--out", str(f)]) == EXIT_USAGE
    assert f"--out {str(f)!r} exists and is not a folder" in error_line(capsys, "build")
    assert f.read_text() == "my notes\n" and os.listdir(inputs) == ["notes.txt"]


def test_build_out_unwritable(no_model, capsys):
    out = Path("/proc/sat_hw_nope/b")  # root writes anywhere else: /proc takes no new folder
    assert main(["build", *SMALL, "--out", str(out)]) == EXIT_USAGE
    assert f"--out {str(out)!r} cannot be written" in error_line(capsys, "build")


def test_estimate_out_a_users_folder(user_folder, capsys):
    assert main(["estimate", "--wbits", "4", "--abits", "4", "--out", str(user_folder.path)]) \
        == EXIT_USAGE
    msg = error_line(capsys, "estimate")
    assert str(user_folder.path) in msg and "not a folder sat_hw wrote" in msg, msg
    user_folder.untouched()


def test_estimate_out_an_earlier_build(earlier, capsys):
    assert main(["estimate", "--wbits", "4", "--abits", "4", "--out", str(earlier.path)]) \
        == EXIT_USAGE
    assert "it is a sat_hw build folder; sat_hw replaces only its own estimate folders" in \
        error_line(capsys, "estimate")
    earlier.untouched()


# --- Ctrl-C --------------------------------------------------------------------------------------

@pytest.mark.parametrize("needle, group", [
    pytest.param("lowered to", False, id="ctrl-c-after-lowering"),
    pytest.param("golden on", True, id="ctrl-c-to-the-process-group-during-the-generators"),
])
def test_ctrl_c_in_the_middle_of_a_build(needle, group, earlier, built):
    """SIGINT once the build is past its start: exit 130, one line, the earlier build as it was
    and no temporary folder. ``group``: to every process of the group, as a terminal's Ctrl-C
    (the compilers and simulators the build runs get it too)."""
    argv = [sys.executable, "-m", "sat_hw", "build", "--checkpoint", str(built / "model.pt"),
            "--images", "3", "--out", str(earlier.path)]
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         start_new_session=True)
    seen = []
    try:
        for line in p.stderr:
            seen.append(line)
            if needle in line:
                break
        else:
            pytest.fail(f"the build ended before {needle!r}: {''.join(seen)}")
        (os.killpg if group else os.kill)(p.pid, signal.SIGINT)
        rest = p.stderr.read()
        rc = p.wait(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = "".join(seen) + rest
    assert rc == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and ": error: " not in err, err
    assert err.strip().splitlines()[-1] == INTERRUPTED, err
    earlier.untouched()


def test_ctrl_c_between_the_two_renames_of_the_swap(earlier, monkeypatch):
    """The earlier build has been moved aside when the interrupt comes: it is put back."""
    real, calls = os.rename, []

    def rename(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(writer.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        writer.write_tree(earlier.path, {"report.json": "{}\n"})
    monkeypatch.undo()
    earlier.untouched()


def test_sigint_during_the_swap_waits_and_undoes_it(earlier, monkeypatch):
    """A real SIGINT while the earlier build is moved aside: held until the swap is done, then
    the swap is undone and the interrupt raised."""
    real, calls = os.rename, []

    def rename(a, b):
        real(a, b)
        calls.append(b)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(writer.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        writer.write_tree(earlier.path, {"report.json": "{}\n"})
    monkeypatch.undo()
    assert len(calls) == 4  # aside, in, and both undone
    earlier.untouched()


# --- a full disk ---------------------------------------------------------------------------------

def _fast_build(built: Path, inputs: Path, out: Path) -> list[str]:
    """A build that reaches the writer in seconds: the session's checkpoint, one random input
    (the configured data folder does not exist), RTL only, no simulation."""
    cfg = inputs / "nodata.toml"
    cfg.write_text(f'[data]\nroot = "{inputs / "no-such-data"}"\n')
    return ["build", "--checkpoint", str(built / "model.pt"), "--config", str(cfg),
            "--images", "1", "--backend", "rtl", "--no-sim", "--out", str(out)]


def test_disk_full_while_writing_the_build(earlier, built, inputs, capsys, monkeypatch):
    real, writes = writer._write_file, []

    def full(path, content):
        writes.append(path)
        if len(writes) > 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, content)

    monkeypatch.setattr(writer, "_write_file", full)
    assert main(_fast_build(built, inputs, earlier.path)) == EXIT_USAGE
    msg = error_line(capsys, "build", progress=True)
    assert f"--out {str(earlier.path)!r} could not be written: No space left on device" in msg
    assert "nothing was changed there" in msg and ".tmp-" not in msg, msg
    assert len(writes) == 21  # partway through, not before
    earlier.untouched()


def test_disk_full_on_a_small_file_system(built, inputs, tmp_path, capsys):
    """The same on a real full disk: a tmpfs with room for the earlier build and 256 KiB."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        out = disk / "build"
        shutil.copytree(built, out)
        st = os.statvfs(disk)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        subprocess.run(["mount", "-o", f"remount,size={used + 256 * 1024}", str(disk)],
                       check=True)
        earlier = Folder(out)
        assert main(_fast_build(built, inputs, out)) == EXIT_USAGE
        msg = error_line(capsys, "build", progress=True)
        assert f"--out {str(out)!r} could not be written: No space left on device" in msg, msg
        earlier.untouched()
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# --- train and eval ------------------------------------------------------------------------------

def test_train_out_onto_a_users_file(inputs, no_training, capsys):
    f = inputs / "notes.txt"
    f.write_text("my notes\n")
    assert main(["train", "--out", str(f), "--max-steps", "1"]) == EXIT_USAGE
    msg = error_line(capsys, "train")
    assert f"--out {str(f)!r} exists and is not a sat_hw checkpoint" in msg, msg
    assert f.read_text() == "my notes\n" and os.listdir(inputs) == ["notes.txt"]


@pytest.mark.parametrize("make, needle", [
    pytest.param(lambda d: d, "is a folder: give the checkpoint file to write",
                 id="train-out-a-folder"),
    pytest.param(lambda d: d / "no" / "x.pt", "the folder '{}' does not exist",
                 id="train-out-in-a-missing-folder"),
    pytest.param(lambda d: Path("/proc/x.pt"), "cannot be written", id="train-out-unwritable"),
])
def test_train_out_that_cannot_be_written(make, needle, inputs, no_training, capsys):
    out = make(inputs)
    assert main(["train", "--out", str(out), "--max-steps", "1"]) == EXIT_USAGE
    msg = error_line(capsys, "train")
    assert f"--out {str(out)!r}" in msg and needle.format(out.parent) in msg, msg
    assert os.listdir(inputs) == []


@pytest.mark.parametrize("stop", [
    pytest.param(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), id="checkpoint-disk-full"),
    pytest.param(KeyboardInterrupt(), id="checkpoint-ctrl-c"),
])
def test_checkpoint_save_cut_short_leaves_no_temporary_file(stop, built, inputs, monkeypatch):
    """Training saves each epoch through ``<out>.tmp``: a save cut short removes it and leaves
    an earlier checkpoint at ``--out`` as it was."""
    import torch

    from sat_hw.nn import checkpoint

    out = inputs / "t.pt"
    shutil.copy(built / "model.pt", out)
    before = out.read_bytes()

    def half(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise stop

    monkeypatch.setattr(torch, "save", half)
    with pytest.raises(type(stop)):
        checkpoint.save_checkpoint(checkpoint.load_checkpoint(out), out)
    assert os.listdir(inputs) == ["t.pt"] and out.read_bytes() == before


def test_train_data_root_that_does_not_exist(inputs, capsys):
    root = inputs / "no-such-data"
    out = inputs / "t.pt"
    assert main(["train", "--out", str(out), "--max-steps", "1", "--data-root", str(root)]) \
        == EXIT_USAGE
    msg = error_line(capsys, "train")
    assert f"fashion-mnist: '{root}/train-images-idx3-ubyte.gz' does not exist" in msg, msg
    assert os.listdir(inputs) == []


@pytest.mark.parametrize("make, needle", [
    pytest.param(_ckpt_text, "is not a PyTorch file", id="eval-a-text-file"),
    pytest.param(_ckpt_truncated, "is truncated or corrupt", id="eval-truncated"),
    pytest.param(_ckpt_state_dict, "is not a sat_hw checkpoint", id="eval-plain-state-dict"),
    pytest.param(_ckpt_missing, "does not exist", id="eval-missing"),
])
def test_eval_of_a_bad_checkpoint(make, needle, built, inputs, capsys):
    ckpt = make(inputs, built)
    assert main(["eval", str(ckpt)]) == EXIT_USAGE
    msg = error_line(capsys, "eval")
    assert f"checkpoint {str(ckpt)!r} {needle}" in msg, msg


@pytest.mark.parametrize("flags, needle", [
    pytest.param(["--data-root", "{in}/no-such-data"], "fashion-mnist: '{in}/no-such-data/"
                 "t10k-images-idx3-ubyte.gz' does not exist", id="eval-data-root-missing"),
    pytest.param(["--batch-size", "0"], "--batch-size must be >= 1, got 0",
                 id="eval-batch-size-0"),
    pytest.param(["--images", "0"], "--images must be >= 1, got 0", id="eval-images-0"),
    pytest.param(["--data", "mnist"], "--data mnist: must be one of fashion-mnist",
                 id="eval-unknown-data"),
])
def test_eval_bad_flags(flags, needle, built, inputs, capsys):
    flags = [f.replace("{in}", str(inputs)) for f in flags]
    assert main(["eval", str(built / "model.pt"), "--data", "fashion-mnist", *flags]) \
        == EXIT_USAGE
    assert needle.replace("{in}", str(inputs)) in error_line(capsys, "eval")


# --- estimate ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, needle", [
    pytest.param(["--wbits", "9"], "--wbits: bit widths must be 1..8, got 9",
                 id="estimate-wbits-9"),
    pytest.param(["--abits", "0"], "--abits: bit widths must be 1..8, got 0",
                 id="estimate-abits-0"),
    pytest.param(["--wbits", "a,b"], "--wbits 'a,b': expected comma-separated integers",
                 id="estimate-wbits-not-numbers"),
    pytest.param(["--wbits", ","], "--wbits: give at least one bit width",
                 id="estimate-wbits-empty"),
    pytest.param(["--fps", "-3"], "--fps -3: must be at least 0", id="estimate-fps-negative"),
])
def test_estimate_bad_flags(flags, needle, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["estimate", *flags, "--out", str(out)]) == EXIT_USAGE
    assert needle in error_line(capsys, "estimate")
    assert os.listdir(tmp_path) == []


def test_estimate_fps_nothing_reaches(tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["estimate", "--wbits", "4", "--abits", "4", "--fps", "1e9",
                 "--out", str(out)]) == EXIT_USAGE
    msg = error_line(capsys, "estimate", progress=True)
    assert "--fps: 1e+09 frames/s" in msg and "the fastest folding takes" in msg, msg
    assert os.listdir(tmp_path) == []


def test_synth_timeout_must_be_positive(earlier, capsys):
    assert main(["synth", str(earlier.path), "--timeout", "0"]) == EXIT_USAGE
    assert "--timeout must be above 0 seconds, got 0" in error_line(capsys, "synth")
    earlier.untouched()
