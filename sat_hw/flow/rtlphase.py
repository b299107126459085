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

from sat_hw.base.errors import VerificationError
from sat_hw.base.writer import npy_bytes, replace_files
from sat_hw.codegen.rtl import render_axi_tb, render_rtl
from sat_hw.codegen.vivado import render_vivado
from sat_hw.flow.plots import cycles_chart
from sat_hw.graph.ir import Graph
from sat_hw.hw.cost import network_cost
from sat_hw.hw.cycles import network_latency
from sat_hw.hw.devices import get_device
from sat_hw.hw.fold import Fold, Folding, check_fold
from sat_hw.hw.plan import HardwarePlan, hardware_plan
from sat_hw.tools.rtlsim import SimResult, StallError, simulate

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


def watchdog(plan: HardwarePlan) -> int:
    """Cycles without a beat in or out after which the self-contained testbench calls the
    design stalled: twice the estimated latency plus two intervals (an image's last outputs
    can come that long after its last input), and a margin."""
    lat = network_latency(plan.graph, network_cost(plan))
    return 2 * (lat + plan.interval) + 10_000


def rtl_phase(plan: HardwarePlan, digest: str, inputs: np.ndarray,
              golden: np.ndarray, torch_outputs: np.ndarray | None = None,
              torch_top1: np.ndarray | None = None, fclk_mhz: float = 333.0,
              run: bool = True, say=None, device: str = "u250"
              ) -> tuple[dict[str, bytes | str], dict | None, dict[str, dict] | None]:
    """``(files, sim, layer sims)``: ``rtl/*``, and with ``run`` ``sim/rtl_outputs.npy`` and the
    per-layer cycles chart; ``sim`` is report.json's entry (None without ``run``); ``family``
    is the target's (DSP packing); ``device`` names the part the Vivado scripts target."""
    rtl = render_rtl(plan, digest)
    files: dict[str, bytes | str] = {f"rtl/{k}": v for k, v in rtl.items()}
    tb = render_axi_tb(plan, digest, inputs, golden, watchdog(plan))
    files.update({f"rtl/{k}": v for k, v in tb.items()})
    files.update({f"rtl/{k}": v for k, v in
                  render_vivado(plan, digest, get_device(device), fclk_mhz).items()})
    if say:
        say(f"rendered {len(rtl)} files into rtl/ (top sat_accel, testbench sat_tb)")
    if not run:
        return files, None, None
    try:
        res = simulate(rtl, plan, inputs, golden, torch_outputs, torch_top1,
                       fclk_mhz=fclk_mhz, progress=say or False)
    except StallError as e:  # the build still writes its folder, the failure in its report
        if say:
            say(f"RTL simulation failed: {e}")
        return files, e.sim, e.layers
    files["sim/rtl_outputs.npy"] = npy_bytes(res.outputs.astype(np.int64))
    files[CHART] = _chart(plan.graph, res)
    if say:
        say(f"RTL simulation: {summary(res.sim)}")
    return files, res.sim, res.layers


def folding_of(cfg: dict) -> Folding:
    """The resolved folding a build recorded in its flow.toml."""
    return {name: Fold(**t) for name, t in cfg.get("fold", {}).items()}


def load_build(folder: Path) -> tuple[dict, Graph, Folding]:
    """The resolved configuration, graph and folding of an RTL build folder (checked)."""
    from sat_hw.base.writer import require_kind
    from sat_hw.flow.config import load_config
    from sat_hw.graph.serialize import load_graph

    folder = require_kind(Path(folder), "build")
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
    for node in graph.layers:  # an edited folding: refused here, not deep in the generator
        try:
            check_fold(node, folding[node.name])
        except ValueError as e:
            raise ValueError(f"{folder / 'flow.toml'}: {e}") from None
    return cfg, graph, folding


def _load_npy(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            head = f.read(6)
        if head != b"\x93NUMPY":
            raise ValueError(f"no .npy header: it begins {head!r}")
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npy array ({e})") from None


def _check_arrays(folder: Path, graph: Graph, arrays: dict[str, np.ndarray]) -> None:
    """``sim/inputs.npy`` must hold uint8 images of the graph's input shape, and each other
    array one row per image (``golden``, ``torch_outputs``: integer outputs of the graph;
    ``labels``: class numbers): one line naming the file otherwise, before any tool runs."""
    inputs = arrays["sim/inputs.npy"]
    c, r = graph.in_channels, graph.resolution
    if inputs.dtype != np.uint8 or inputs.ndim != 4 or inputs.shape[1:] != (c, r, r) \
            or not len(inputs):
        raise ValueError(f"{folder / 'sim/inputs.npy'} holds {inputs.dtype} "
                         f"{list(inputs.shape)}: the graph takes uint8 images [N, {c}, {r}, {r}], "
                         f"N >= 1")
    n = len(inputs)
    for rel, shape in (("sim/golden.npy", (n, graph.classes)),
                       ("sim/torch_outputs.npy", (n, graph.classes)), ("sim/labels.npy", (n,))):
        a = arrays.get(rel)
        if a is not None and (a.shape != shape or a.dtype.kind not in "iu"):
            raise ValueError(f"{folder / rel} holds {a.dtype} {list(a.shape)}, expected "
                             f"integers {list(shape)} (one row per image of sim/inputs.npy)")


def _load_report(folder: Path) -> dict:
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON ({e})") from None
    if not isinstance(report, dict) or not isinstance(report.get("layers"), list):
        raise ValueError(f"{path} is not a build report (no 'layers' list)")  # noqa: TRY004
    return report


def resimulate(folder: Path, images: int | None = None, waves: bool = False, say=None,
               waves_window: tuple[int, int | None] = (0, None)) -> dict:
    """``sat_hw sim DIR``: simulate the build's ``rtl/`` on its ``sim/inputs.npy`` (the first
    ``images`` of them) and update the folder: ``sim/rtl_outputs.npy``, the chart, and every
    figure of report.json/md that describes them (``sim``, ``layers[].sim``, the RTL's top-1 in
    ``accuracy``). A run that stalls writes its failure into the report and removes the outputs
    of the earlier run. Returns report.json's ``sim``."""
    from sat_hw.flow.roms import check_roms, expected_roms
    from sat_hw.hw.devices import get_device

    folder = Path(folder)
    cfg, graph, folding = load_build(folder)
    arrays = {rel: _load_npy(folder / rel) for rel in ("sim/inputs.npy", "sim/golden.npy",
                                                       "sim/torch_outputs.npy", "sim/labels.npy")
              if rel in ("sim/inputs.npy", "sim/golden.npy") or (folder / rel).is_file()}
    _check_arrays(folder, graph, arrays)
    inputs, golden = arrays["sim/inputs.npy"], arrays["sim/golden.npy"]
    torch_out, labels = arrays.get("sim/torch_outputs.npy"), arrays.get("sim/labels.npy")
    report = _load_report(folder)
    n = len(inputs) if images is None else images
    if not 1 <= n <= len(inputs):
        raise ValueError(f"--images must be 1..{len(inputs)} (the images in sim/inputs.npy), "
                         f"got {images}")
    plan = hardware_plan(graph, folding, get_device(cfg["hw"]["device"]).family)
    differ = check_roms(folder / "rtl", expected_roms(plan))
    if differ and say:
        say(f"{len(differ)} ROM image(s) differ from the graph's weights ({differ[0]}, ...): "
            f"expect outputs that differ from golden")
    rtl = {str(p.relative_to(folder / "rtl")): p.read_text()
           for p in sorted((folder / "rtl").rglob("*")) if p.is_file()}
    try:
        res = simulate(rtl, plan, inputs[:n], golden[:n],
                       torch_out[:n] if torch_out is not None else None,
                       fclk_mhz=cfg["hw"]["fclk_mhz"], progress=say is not None,
                       waves=folder / "sim/waves.fst" if waves else None,
                       waves_window=waves_window)
    except StallError as e:
        replace_files(folder, _report_files(report, e.sim, e.layers, None, labels))
        raise
    replace_files(folder, {"sim/rtl_outputs.npy": npy_bytes(res.outputs.astype(np.int64)),
                           CHART: _chart(graph, res),
                           **_report_files(report, res.sim, res.layers, res.outputs, labels)})
    if say:
        say(summary(res.sim) + (f"; waves in {folder / 'sim/waves.fst'}" if waves else ""))
    if res.sim["mismatches"]:
        raise VerificationError(f"RTL simulation: {res.sim['mismatches']} outputs differ from "
                                f"golden ({res.sim['first_mismatch']})")
    return res.sim


def _report_files(report: dict, sim: dict, layers: dict, outputs: np.ndarray | None,
                  labels: np.ndarray | None) -> dict[str, str | None]:
    """report.json/md after a rerun: its ``sim``, each layer's, the RTL's top-1 (on the images
    it ran; dropped where the build kept no labels or the run failed); a failed run's outputs
    and chart are removed (``None``), so nothing in the folder describes an earlier run."""
    from sat_hw.flow.report import render_markdown, top1

    report["sim"] = sim
    for row in report["layers"]:
        row["sim"] = layers.get(row["name"], {})
    acc = report.get("accuracy")
    if acc is not None:
        acc.setdefault("counts", {k: acc["images"] for k in acc["labels"]})
        acc["labels"].pop("rtl", None)
        acc["counts"].pop("rtl", None)
        if outputs is not None and labels is not None:
            acc["labels"]["rtl"], acc["counts"]["rtl"] = top1(outputs, labels[:len(outputs)])
    files: dict[str, str | None] = {"report.json": json.dumps(report, indent=1) + "\n",
                                    "report.md": render_markdown(report)}
    if outputs is None:
        files.update({"sim/rtl_outputs.npy": None, CHART: None})
    return files


__all__ = ["CHART", "folding_of", "load_build", "resimulate", "rtl_phase", "summary"]
