"""The rtl and sim phases of ``sat_hw build``, and ``sat_hw sim DIR`` (numpy only, no torch).

``rtl_phase`` renders ``rtl/`` and, unless told not to, simulates the images of the build under
Verilator; it returns the files for the build's atomic writer and the report entries.
``resimulate`` reruns the simulation of an existing build folder (``sat_hw sim``) and rewrites
``sim/rtl_outputs.npy``, ``report.json``, ``report.md`` and the chart, each file replaced
atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .codegen.rtl import render_rtl
from .graph.ir import Graph
from .hw.fold import Fold, Folding
from .plots import cycles_chart
from .rtlsim import SimResult, simulate
from .writer import npy_bytes, replace_file

CHART = "report_cycles.png"


def _chart(graph: Graph, res: SimResult) -> bytes:
    """report_cycles.png of a simulation result: per layer, expected against measured."""
    names = [n.name for n in graph.layers]
    return cycles_chart(names, [res.layers[n]["expected_cycles_per_image"] for n in names],
                        [res.layers[n]["measured_cycles_per_image"] for n in names],
                        f"{graph.name}: cycles per image by layer ({res.sim['images']} images "
                        f"back to back)")


def summary(s: dict) -> str:
    """One line of a simulation's report.json ``sim`` entry, for the progress output."""
    pace = (f"interval {s['interval_cycles']:,.0f} cycles (folding: "
            f"{s['expected_interval_cycles']:,}), {s['fps']:,.0f} frames/s at "
            f"{s['fclk_mhz']:g} MHz" if s["images"] > 1 else "one image: no steady-state interval")
    return (f"{s['images']} image(s), {s['mismatches']} outputs differ from golden; {pace}; "
            f"latency {s['latency_cycles']:,} cycles; {s['sim_cycles_per_s'] / 1e3:,.0f} k cycles/s")


def rtl_phase(graph: Graph, folding: Folding, digest: str, inputs: np.ndarray,
              golden: np.ndarray, torch_outputs: np.ndarray | None = None,
              torch_top1: np.ndarray | None = None, fclk_mhz: float = 333.0,
              run: bool = True, say=None, family: str = "xcup") -> tuple[dict[str, bytes | str], dict | None,
                                                   dict[str, dict] | None]:
    """``(files, sim, layer sims)``: ``rtl/*``, and with ``run`` ``sim/rtl_outputs.npy`` and the
    per-layer cycles chart; ``sim`` is report.json's entry (None without ``run``); ``family``
    is the target's (DSP packing)."""
    rtl = render_rtl(graph, folding, digest, family)
    files: dict[str, bytes | str] = {f"rtl/{k}": v for k, v in rtl.items()}
    if say:
        say(f"rendered {len(rtl)} files into rtl/ (top sat_accel, testbench sat_tb)")
    if not run:
        return files, None, None
    res = simulate(rtl, graph, folding, inputs, golden, torch_outputs, torch_top1,
                   fclk_mhz=fclk_mhz, progress=say or False)
    files["sim/rtl_outputs.npy"] = npy_bytes(res.outputs.astype(np.int64))
    files[CHART] = _chart(graph, res)
    if say:
        say(f"RTL simulation: {summary(res.sim)}")
    return files, res.sim, res.layers


def folding_of(cfg: dict) -> Folding:
    """The resolved folding a build recorded in its flow.toml."""
    return {name: Fold(**t) for name, t in cfg.get("fold", {}).items()}


def resimulate(folder: Path, images: int | None = None, waves: bool = False, say=None) -> dict:
    """``sat_hw sim DIR``: simulate the build's ``rtl/`` on its ``sim/inputs.npy`` (the first
    ``images`` of them) and update the folder; returns report.json's ``sim``."""
    from .config import load_config
    from .graph.serialize import load_graph
    from .report import render_markdown

    folder = Path(folder)
    for need in ("flow.toml", "graph/graph.json", "rtl/filelist.f", "sim/inputs.npy",
                 "sim/golden.npy", "report.json"):
        if not (folder / need).exists():
            raise ValueError(f"{folder} is not an RTL build folder: {need} is missing "
                             f"(build it with --backend rtl)")
    cfg = load_config(folder / "flow.toml")
    graph = load_graph(folder / "graph")
    folding = folding_of(cfg)
    missing = [n.name for n in graph.layers if n.name not in folding]
    if missing:
        raise ValueError(f"{folder / 'flow.toml'} has no [fold.{missing[0]}]: not a build's "
                         f"resolved configuration")
    inputs = np.load(folder / "sim/inputs.npy")
    golden = np.load(folder / "sim/golden.npy")
    n = len(inputs) if images is None else images
    if not 1 <= n <= len(inputs):
        raise ValueError(f"--images must be 1..{len(inputs)} (the images in sim/inputs.npy), "
                         f"got {images}")
    torch_out = folder / "sim/torch_outputs.npy"
    rtl = {str(p.relative_to(folder / "rtl")): p.read_text()
           for p in sorted((folder / "rtl").rglob("*")) if p.is_file()}
    res = simulate(rtl, graph, folding, inputs[:n], golden[:n],
                   np.load(torch_out)[:n] if torch_out.exists() else None,
                   fclk_mhz=cfg["hw"]["fclk_mhz"], progress=say is not None,
                   waves=folder / "sim/waves.fst" if waves else None)
    report = json.loads((folder / "report.json").read_text())
    report["sim"] = res.sim
    for row in report["layers"]:
        row["sim"] = res.layers.get(row["name"], {})
    replace_file(folder / "sim/rtl_outputs.npy", npy_bytes(res.outputs.astype(np.int64)))
    replace_file(folder / CHART, _chart(graph, res))
    replace_file(folder / "report.json", json.dumps(report, indent=1) + "\n")
    replace_file(folder / "report.md", render_markdown(report))
    if say:
        say(summary(res.sim) + (f"; waves in {folder / 'sim/waves.fst'}" if waves else ""))
    if res.sim["mismatches"]:
        raise ValueError(f"RTL simulation: {res.sim['mismatches']} outputs differ from golden "
                         f"({res.sim['first_mismatch']})")
    return res.sim


__all__ = ["CHART", "folding_of", "resimulate", "rtl_phase", "summary"]
