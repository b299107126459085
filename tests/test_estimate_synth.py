"""``sat_hw synth DIR`` on a small assembled build folder: Yosys counts beside the estimate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sat_hw.cli import main
from sat_hw.codegen.rtl import render_rtl
from sat_hw.config import load_config, to_toml
from sat_hw.graph import synthetic as sy
from sat_hw.graph.serialize import save_graph
from sat_hw.hw.fold import Fold


def tiny_build(out: Path) -> None:
    """rtl/, graph/, flow.toml and report.json as a build leaves them (pw -> pool -> fc)."""
    rng = np.random.default_rng(0)
    p = sy.conv(rng, "pw1", (4, 2, 2), 4, kernel=1, wbits=2, abits=8, out_bits=2)
    g = sy.avgpool(rng, "pool", p.out_shape, abits=2, out_bits=2)
    f = sy.linear(rng, "fc", 4, 2, wbits=3, abits=2, bias_max=10)
    graph = sy.chain([p, g, f])
    fold = {"pw1": Fold(2, 2), "pool": Fold(2), "fc": Fold(1, 2)}
    for rel, text in render_rtl(graph, fold, "test").items():
        (out / "rtl" / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "rtl" / rel).write_text(text)
    save_graph(graph, out / "graph")
    cfg = load_config(None, {"hw": {"device": "zcu104"}})
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
