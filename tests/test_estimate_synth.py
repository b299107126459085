"""``sat_hw synth DIR`` on small assembled build folders: Yosys counts beside the estimate, whole
or per block; a cached result says so, with its original run's time; progress by phase."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sat_hw.codegen.rtl import render_rtl
from sat_hw.flow.cli import main
from sat_hw.flow.config import load_config, to_toml
from sat_hw.graph import synthetic as sy
from sat_hw.graph.serialize import save_graph
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import hardware_plan


def tiny_build(out: Path, micro: bool = False, device: str = "zcu104", graph=None,
               fold: dict | None = None) -> None:
    """rtl/, graph/, flow.toml and report.json as a build leaves them (pw -> pool -> fc; with
    ``micro`` the fc alone; or ``graph`` folded by ``fold``) for ``device``."""
    from sat_hw.hw.devices import get_device

    if graph is None:
        rng = np.random.default_rng(0)
        p = sy.conv(rng, "pw1", (4, 2, 2), 4, kernel=1, wbits=2, abits=8, out_bits=2)
        g = sy.avgpool(rng, "pool", p.out_shape, abits=2, out_bits=2)
        f = sy.linear(rng, "fc", 4, 2, wbits=3, abits=8 if micro else 2, bias_max=10)
        graph = sy.chain([f] if micro else [p, g, f])
        fold = {"pw1": Fold(2, 2), "pool": Fold(2), "fc": Fold(1, 2)}
        fold = {n.name: fold[n.name] for n in graph.layers}
    for rel, text in render_rtl(hardware_plan(graph, fold, get_device(device).family),
                                "test").items():
        (out / "rtl" / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "rtl" / rel).write_text(text)
    save_graph(graph, out / "graph")
    cfg = load_config(None, {"hw": {"device": device}})
    cfg["fold"] = {k: v.as_dict() for k, v in fold.items()}
    (out / "flow.toml").write_text(to_toml(cfg))
    (out / "report.json").write_text(json.dumps({"model": {"name": "synthetic"}}))


def test_synth_puts_yosys_beside_the_estimate(tmp_path, capsys):
    tiny_build(tmp_path / "b")
    assert main(["synth", str(tmp_path / "b")]) == 0
    s = json.loads((tmp_path / "b" / "synth.json").read_text())
    assert s["device"] == "xczu7ev" and "xcup" in s["tool"]
    assert s["yosys"]["lut"] > 0 and s["yosys"]["ff"] > 0 and s["estimate"]["lut"] > 0
    assert set(s["ratio"]) == {"lut", "ff", "bram18", "uram", "dsp"}
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rep["synth"]["yosys"] == s["yosys"] and rep["model"] == {"name": "synthetic"}
    assert "| lut |" in (tmp_path / "b" / "synth.md").read_text()
    assert main(["synth", str(tmp_path / "nothing")]) == 2
    assert "build folder" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One Yosys cache for this file's tests that run Yosys: empty at the first."""
    return tmp_path_factory.mktemp("yosys_cache")


def _synth(folder: Path, *flags: str) -> tuple[dict, str]:
    assert main(["synth", str(folder), *flags]) == 0
    return (json.loads((folder / "synth.json").read_text()),
            (folder / "synth.md").read_text())


def test_a_cached_result_says_so_with_the_original_time(tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setenv("SAT_HW_CACHE", str(cache))
    tiny_build(tmp_path / "b", micro=True)
    first, md = _synth(tmp_path / "b")
    assert first["cached"] is False and first["seconds"] > 0.5 and "cached" not in md
    assert first["ran_at"].endswith("Z") and first["phases"]["map_luts"] >= 0
    capsys.readouterr()
    again, md = _synth(tmp_path / "b")
    assert again["cached"] is True and again["yosys"] == first["yosys"]
    assert again["seconds"] == first["seconds"] and again["ran_at"] == first["ran_at"]
    assert again["wall_seconds"] < first["seconds"]
    assert f"cached: the Yosys run took {first['seconds']} s (CPU " in md and " UTC" in md
    assert again["cpu_seconds"] == first["cpu_seconds"] > 0
    assert "cached" in capsys.readouterr().err
    # an entry written before the run's time was kept: the bare cell table
    (entry,) = (cache / "yosys").glob("sat_accel-*.json")
    entry.write_text(json.dumps(json.loads(entry.read_text())["cells"]))
    old, md = _synth(tmp_path / "b")
    assert old["cached"] is True and old["seconds"] is None and old["yosys"] == first["yosys"]
    assert "cached, original time unknown" in md


def test_per_block_sums_each_block_alone(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("SAT_HW_CACHE", str(cache))  # the whole design from the test above
    tiny_build(tmp_path / "b", micro=True)
    whole, _ = _synth(tmp_path / "b")
    s, md = _synth(tmp_path / "b", "--per-block", "--jobs", "2")
    assert s["mode"] == "per-block" and s["cached"] is False and s["runs"] == 4
    assert s["blocks"] == s["instances"] == 4  # vbuf, mvu, bias, fifo
    assert s["yosys"]["ff"] == whole["yosys"]["ff"]
    assert abs(s["yosys"]["lut"] - whole["yosys"]["lut"]) <= 0.05 * whole["yosys"]["lut"]
    (layer,) = s["layers"]
    assert layer["name"] == "fc" and layer["yosys"] == s["yosys"]
    assert "| fc |" in md and "per block" in md
    again, md = _synth(tmp_path / "b", "--per-block")
    assert again["cached"] is True and again["cached_blocks"] == 4
    assert again["seconds"] == s["seconds"] and "cached: the 4 Yosys runs took" in md


def test_per_block_refuses_rtl_of_another_build(tmp_path):
    from sat_hw.flow.synthesis import block_jobs, build_inputs

    tiny_build(tmp_path / "b")
    top = tmp_path / "b" / "rtl" / "sat_accel.sv"
    _, files, cfg = build_inputs(tmp_path / "b")
    jobs = block_jobs(tmp_path / "b", cfg, files, "xcup")
    assert sum(len(j.instances) for j in jobs) == 11 and len(jobs) == 10
    assert {j.params.get("WEIGHT_FILE") for j in jobs} == {None, "w.hex"}
    top.write_text(top.read_text().replace(".MH(2)", ".MH(3)"))
    with pytest.raises(ValueError, match="rtl/ is of another build"):
        block_jobs(tmp_path / "b", cfg, files, "xcup")


def test_per_block_takes_the_adds_multiplier_roms(tmp_path):
    """A residual build: each sat_add's multiplier ROM (MUL_FILE) goes with its block under the
    default name, so equal adds share one job and Yosys reads the image the build wrote."""
    from sat_hw.flow.synthesis import DEFAULT_ROMS, block_jobs, build_inputs
    from sat_hw.hw.fold import default_folding

    graph = sy.residual_graph(0, 3, 3, channels=4, size=4)
    tiny_build(tmp_path / "b", graph=graph, fold=default_folding(graph, 16))
    _, files, cfg = build_inputs(tmp_path / "b")
    adds = [j for j in block_jobs(tmp_path / "b", cfg, files, "xcup") if j.module == "sat_add"]
    assert sorted(i[0] for j in adds for i in j.instances) == ["b1_add", "b2_add", "b3_add"]
    for j in adds:
        assert j.params["MUL_FILE"] == "mul.hex" and "mul.hex" in DEFAULT_ROMS
        (layer, _), = j.instances[:1]
        assert j.files["mul.hex"] == files[f"mem/{layer}_m.hex"]


def test_synth_writes_only_into_a_sat_hw_build(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["synth", str(tmp_path / "mine")]) == 2
    assert "not a folder sat_hw wrote" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


LOG = """
1. Executing Verilog-2005 frontend: a.sv
2. Executing SYNTH_XILINX pass.
2.1. Executing Verilog-2005 frontend: /share/xilinx/cells_sim.v
2.3. Executing HIERARCHY pass (managing design hierarchy).
2.4. Executing PROC pass (convert processes to netlists).
2.4.1. Executing PROC_CLEAN pass (remove empty switches from decision trees).
2.12. Executing OPT pass (performing simple optimizations).
2.20. Executing MEMORY_DFF pass (merging $dff cells to $memrd).
2.28.1. Executing Verilog-2005 frontend: /share/cmp2lut.v
2.34. Executing MEMORY_LIBMAP pass (mapping memories to cells).
2.38. Executing OPT pass (performing simple optimizations).
2.39. Executing MEMORY_MAP pass (converting memories to logic and flip-flops).
2.40. Executing OPT pass (performing simple optimizations).
2.44.2. Executing Verilog-2005 frontend: /share/xilinx/cells_map.v
2.45. Executing DFFLEGALIZE pass (convert FFs and LATCHes to types supported by the target).
2.49. Executing ABC9 pass.
2.51.2. Executing Verilog-2005 frontend: /share/xilinx/cells_map.v
2.54. Executing CLKBUFMAP pass (inserting clock buffers).
2.55. Executing HIERARCHY pass (managing design hierarchy).
2.56. Printing statistics.
End of script. Logfile hash: 0, time: 9.18s
"""


def test_phase_log_follows_synth_xilinx():
    from sat_hw.tools.yosys import PHASES, PhaseLog

    said: list[str] = []
    log = PhaseLog(said.append, t0=0.0, gap=3.0, heartbeat=60.0)
    lines = LOG.strip("\n").split("\n")
    for t, line in enumerate(lines):  # one line a second, fed in two pieces
        log.feed(line[:7], 10.0 * t)
        log.feed(line[7:] + "\n", 10.0 * t)
        log.tick(10.0 * t)
    names = [p[0] for p in PHASES if p[0] != "chparam"]
    assert [PHASES[i][0] for i, _ in log.starts] == names
    assert said[0] == "Yosys 0 s: read (reading the sources)"
    assert len(said) == len(names) - 1 and not any("done" in m for m in said)
    assert "map_luts (LUT mapping (ABC9))" in said[names.index("map_luts")]
    d = log.durations(end=10.0 * len(lines))
    assert list(d) == names[:-1] and d["prepare"] == 30.0 and d["map_luts"] == 20.0
    n = len(said)
    quiet = PhaseLog(said.append, t0=0.0)
    quiet.feed(LOG.split("End of script")[0], 1.0)  # all at once: the phase that runs last
    for t in (1.0, 2.0, 3.5):
        quiet.tick(t)
    assert said[n:] == ["Yosys 1 s: check (hierarchy check, stat, check)"]
    quiet.feed("End of script.\n", 5.0)
    quiet.tick(9.0)  # "done" is not said: the caller says what came out
    assert len(said) == n + 1
    slow = PhaseLog(said.append, t0=0.0)
    slow.feed(lines[0] + "\n", 0.0)
    for t in (0.0, 30.0, 61.0, 90.0, 122.0):
        slow.tick(t)
    assert said[-2:] == ["Yosys 61 s: still in read, for 61 s",
                         "Yosys 122 s: still in read, for 122 s"]
