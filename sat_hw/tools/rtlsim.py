"""Cycle-accurate simulation of a generated accelerator under Verilator, checked against golden.

``simulate`` takes the rendered ``rtl/`` files (as a build holds them), the hardware plan they
were rendered from (:mod:`sat_hw.hw.plan`), the input codes and the golden outputs; it builds ``sat_tb`` (cached by content), streams the
images back to back through the HDL wrapper, and returns the outputs, the whole-run figures and
each layer's counters. The cocotb test (``sim/cocotb_network.py``) compares every output with
golden (``==``) and with the integers the PyTorch model implies, and fails naming the first
mismatching image and class. numpy only: no torch here.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sat_hw.base.errors import VerificationError
from sat_hw.base.resources import resource_path
from sat_hw.codegen.rtl import TB, image_lines
from sat_hw.hw.plan import HardwarePlan
from sat_hw.tools.verilator import Build, SimError, build, run_cocotb

POLL_CYCLES = 200_000
"""Cycles between progress reports from the simulator (Python is off the path in between)."""


@dataclass
class SimResult:
    outputs: np.ndarray          # int64 (N, classes), what the RTL produced
    sim: dict                    # report.json "sim"
    layers: dict[str, dict]      # report.json layers[].sim by layer name


def input_lines(inputs: np.ndarray, beat: int, bits: int = 8) -> str:
    """``$readmemh``-style text of the input stream: one beat per line, pixel after pixel in
    raster order, ``beat`` channels per beat, channel ``i`` of the beat at ``[i*bits +: bits]``
    (:func:`sat_hw.codegen.rtl.image_lines`, the beat in as few hex digits as it takes)."""
    return image_lines(inputs, beat, bits, beat * bits)


def decode_outputs(text: str, per_beat: int, bits: int, classes: int) -> np.ndarray:
    """Output beats (hex lines) -> int64 ``(images, classes)``; values signed ``bits`` wide."""
    vals = []
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    for line in text.split():
        v = int(line, 16)
        for i in range(per_beat):
            e = (v >> (i * bits)) & mask
            vals.append(e - (1 << bits) if e & sign else e)
    n = len(vals) // classes
    return np.array(vals[:n * classes], np.int64).reshape(n, classes)


def _first_mismatch(got: np.ndarray, want: np.ndarray, what: str) -> str:
    bad = np.argwhere(got != want)
    if not len(bad):
        return ""
    i, c = (int(v) for v in bad[0])
    return (f"image {i} class {c}: RTL {int(got[i, c])}, {what} {int(want[i, c])} "
            f"({len(bad)} mismatching outputs)")


def check_outputs(work: Path, cfg: dict) -> dict:
    """Compare ``outputs.hex`` with golden and the PyTorch-implied outputs (run in cocotb)."""
    work = Path(work)
    n, classes = cfg["images"], cfg["classes"]
    text = (work / "outputs.hex").read_text() if (work / "outputs.hex").exists() else ""
    got = decode_outputs(text, cfg["out_per_beat"], cfg["out_bits"], classes)
    golden = np.load(work / "golden.npy")[:n]
    res = {"outputs_received": int(got.shape[0]), "stall": ""}
    if got.shape != golden.shape:
        res.update(mismatches=int(golden.size), first_mismatch=(
            f"the RTL produced {got.shape[0]} of {n} images' outputs"))
    else:
        res.update(mismatches=int(np.count_nonzero(got != golden)),
                   first_mismatch=_first_mismatch(got, golden, "golden"))
    if (work / "torch_outputs.npy").exists() and got.shape == golden.shape:
        t = np.load(work / "torch_outputs.npy")[:n]
        res["torch_mismatches"] = int(np.count_nonzero(got != t))
        res["torch_first_mismatch"] = _first_mismatch(got, t, "PyTorch")
        if (work / "torch_top1.npy").exists():
            res["torch_top1_match_rate"] = float(np.mean(
                np.argmax(got, 1) == np.load(work / "torch_top1.npy")[:n])) if n else 1.0
    stats = parse_stats(work / "stats.txt") if (work / "stats.txt").exists() else None
    if stats and stats["timed_out"]:
        res["stall"] = stall_message(stats, cfg["watchdog"],
                                     {k: tuple(v) for k, v in cfg.get("beats", {}).items()},
                                     cfg.get("up"))
    return res


def parse_stats(path: Path) -> dict:
    """stats.txt of the wrapper -> ``{cycles, timed_out, layers: {name: counters}, forks:
    {forked layer: counters}}`` (``forks`` empty for a chain)."""
    out: dict = {"layers": {}, "forks": {}}
    keys = ("starved", "blocked", "first_in", "last_out", "in_beats", "out_beats", "fifo_peak",
            "in_valid", "in_ready", "out_valid", "out_ready", "fifo_depth")
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if f[0] == "layer":
            out["layers"][f[1]] = dict(zip(keys, map(int, f[2:])))
        elif f[0] == "fork":
            out["forks"][f[1]] = {"add": f[2], **dict(zip(FORK_KEYS, map(int, f[3:])))}
        elif f:
            out[f[0]] = int(f[1])
    return out


FORK_KEYS = ("skip_peak", "skip_depth", "main_valid", "main_ready", "skip_valid", "skip_ready",
             "a_valid", "a_ready", "b_valid", "b_ready")
"""The wrapper's ``fork`` line of stats.txt, after the forked layer and its add."""


def stall_message(stats: dict, watchdog: int, expected: dict | None = None,
                  up: dict | None = None) -> str:
    """Name the block that stopped the pipeline: a skip FIFO that is full (its fork waits on it)
    while its add waits for the main operand; else the first layer that is offered input it does
    not take while emitting nothing; else (everything drained and waiting) the first one that
    took all its input but did not emit all its output (``expected``: ``{layer: (in beats, out
    beats)}`` for the whole run; ``up``: ``{layer: the layer its input comes from}``, default the
    one before it)."""
    for name, f in stats.get("forks", {}).items():
        if f["skip_valid"] and not f["skip_ready"] and not f["a_valid"]:
            return (f"no beat moved for {watchdog} cycles: the skip FIFO {name}_skip_fifo is "
                    f"full ({f['skip_peak']} of {f['skip_depth']} beats) and add {f['add']} "
                    f"waits for its main operand: the skip FIFO is shallower than the beats the "
                    f"main branch from {name} holds (docs/hardware.md, \"sat_fork\")")
    names = list(stats["layers"])
    for i, name in enumerate(names):
        s = stats["layers"][name]
        if s["in_valid"] and not s["in_ready"] and not s["out_valid"]:
            up = (up or {}).get(name) or (names[i - 1] if i else "the input")
            return (f"no beat moved for {watchdog} cycles: layer {name} holds input it does not "
                    f"take and emits nothing ({up} is blocked behind it; {s['in_beats']} beats "
                    f"in, {s['out_beats']} out)")
    for name in reversed(names):
        s = stats["layers"][name]
        if s["out_valid"] and not s["out_ready"]:
            return f"no beat moved for {watchdog} cycles: layer {name}'s output is not taken"
    for name in names:
        s, (want_in, want_out) = stats["layers"][name], (expected or {}).get(name, (0, 0))
        if expected and s["in_beats"] >= want_in and s["out_beats"] < want_out:
            return (f"no beat moved for {watchdog} cycles: layer {name} took all {want_in} input "
                    f"beats but emitted {s['out_beats']} of {want_out}")
    return f"no beat moved for {watchdog} cycles: every layer is waiting for input"


def parse_images(path: Path) -> tuple[dict[int, int], dict[int, int]]:
    ins, outs = {}, {}
    for line in Path(path).read_text().splitlines():
        kind, k, c = line.split()
        (ins if kind == "in" else outs)[int(k)] = int(c)
    return ins, outs


def _beats(plan: HardwarePlan, n: int) -> dict[str, tuple[int, int]]:
    """Per layer the beats of ``n`` images at its input stream (the producer's width, before
    any width converter; an add's operand a) and at its output."""
    out, beat = {}, plan.layers[0].in_beat
    pe = {lp.name: lp.fold.pe for lp in plan.layers}
    for lp in plan.layers:
        if lp.sources:
            beat = pe.get(lp.sources[0][0], plan.layers[0].in_beat)
        c, h, w = lp.node.in_shape
        out[lp.name] = (n * h * w * c // beat, n * lp.out_beats)
        beat = lp.fold.pe
    return out


def _upstream(plan: HardwarePlan) -> dict[str, str]:
    """Per layer the layer its (first) input comes from, ``"the input"`` for the input."""
    inp = plan.graph.input.name
    return {lp.name: "the input" if lp.sources[0][0] == inp else lp.sources[0][0]
            for lp in plan.layers if lp.sources}


def sources(rtl_dir: Path) -> list[Path]:
    names = [ln.strip() for ln in (rtl_dir / "filelist.f").read_text().splitlines() if ln.strip()]
    return [rtl_dir / n for n in names] + [rtl_dir / f"{TB}.sv"]


class StallError(VerificationError):
    """The design stopped moving (the watchdog) or ended without all its outputs; ``sim`` and
    ``layers`` hold what was measured up to then (report.json ``sim`` and ``layers[].sim`` of a
    failed run)."""

    def __init__(self, message: str, sim: dict | None = None, layers: dict | None = None):
        super().__init__(message)
        self.sim = sim or {}
        self.layers = layers or {}


NEVER = (1 << 64) - 1
"""``waves_from`` / ``waves_to`` of the testbench that never come."""


def readmem_problems(log: str) -> list[str]:
    """Verilator's ``$readmem`` complaints in a simulation log (a ROM image missing, short or
    not hex): the design then runs on zeros or garbage, so these are errors, not noise."""
    return [ln.strip() for ln in log.splitlines()
            if "$readmem" in ln and ("%Warning" in ln or "%Error" in ln)]


def simulate(rtl_files: dict[str, str], plan: HardwarePlan, inputs: np.ndarray,
             golden: np.ndarray, torch_outputs: np.ndarray | None = None,
             torch_top1: np.ndarray | None = None, fclk_mhz: float = 333.0,
             waves: Path | None = None, progress=True, valid_pct: int = 100,
             ready_pct: int = 100, watchdog: int | None = None,
             make_vars: tuple[str, ...] | None = None,
             waves_window: tuple[int, int | None] = (0, None)) -> SimResult:
    """Simulate ``inputs`` (uint8 NCHW) through the accelerator. Raises :class:`SimError` (one
    line) when a tool fails, :class:`StallError` when the design stalls, ValueError when a ROM
    image cannot be read; outputs that differ from ``golden`` are counted in
    ``sim["mismatches"]`` (``sim["first_mismatch"]`` names the first: image, class, values).

    ``waves``: write an FST waveform there, of the cycles ``waves_window = (first, count)``
    (count None: to the end). A window that ends before the run does is dumped by a second,
    shorter run of the same model, so the figures always come from the whole run."""
    say = progress if callable(progress) else _say  # progress: a bool or a print function
    n = len(inputs)
    iface = plan.interface()
    last = plan.graph.layers[-1]
    expected = plan.interval
    wd = watchdog or 2 * expected + 10_000
    w_from, w_count = waves_window
    with tempfile.TemporaryDirectory(prefix="sat_hw_rtlsim_") as tmp:
        work = Path(tmp)
        rtl = work / "rtl"
        rtl.mkdir()
        for rel, text in rtl_files.items():
            (rtl / rel).parent.mkdir(parents=True, exist_ok=True)
            (rtl / rel).write_text(text)
        t0 = time.monotonic()
        if progress:
            say(f"verilating {len(rtl_files)} RTL files (cached by content)")
        b: Build = build(sources(rtl), TB, waves=waves is not None,
                         flags=["-DSAT_TB_WAVES"] if waves is not None else [],
                         **({"make_vars": make_vars} if make_vars is not None else {}))
        build_s = time.monotonic() - t0
        if progress:
            say(f"Verilator model {'from cache' if b.cached else 'built'} in {build_s:.1f} s; "
                f"simulating {n} image(s), about {expected * n:,} cycles")
            if waves is not None and w_count is None:
                say(f"dumping every signal from cycle {w_from:,} to the end (at least "
                    f"{max(0, expected * n - w_from):,} cycles; 1-2 kB per cycle for the "
                    f"project's MobileNets): --waves-from/--waves-cycles dump a window")
        if (rtl / "mem").is_dir():
            (work / "mem").symlink_to(rtl / "mem")
        if "tb/wload.hex" in rtl_files:  # run-time weights: the wrapper loads them first
            (work / "wload.hex").write_text(rtl_files["tb/wload.hex"])
        (work / "inputs.hex").write_text(input_lines(inputs, iface["in_channels_per_beat"],
                                                     iface["in_bits"]))
        np.save(work / "golden.npy", np.asarray(golden, np.int64))
        if torch_outputs is not None:
            np.save(work / "torch_outputs.npy", np.asarray(torch_outputs, np.int64))
        if torch_top1 is not None:
            np.save(work / "torch_top1.npy", np.asarray(torch_top1, np.int64))
        cfg = {"images": n, "watchdog": wd, "poll_cycles": POLL_CYCLES,
               "classes": last.out_shape[0], "out_per_beat": iface["out_per_beat"],
               "out_bits": iface["out_bits"], "valid_pct": valid_pct, "ready_pct": ready_pct,
               "beats": _beats(plan, n), "up": _upstream(plan),
               "waves_from": w_from if waves is not None and w_count is None else NEVER}
        t1 = time.monotonic()
        try:
            res, err = _run(b, work, cfg, n, progress and say)
        finally:
            if waves is not None and w_count is None:
                _keep_waves(work, waves, say if progress else None)
        wall = time.monotonic() - t1
        stats = parse_stats(work / "stats.txt")
        if err is not None and (res["timed_out"] or res["outputs_received"] < n):
            raise StallError(res["stall"] or res["first_mismatch"] or str(err),
                             _failed_sim(res, stats, n, expected, fclk_mhz, build_s, b, wall),
                             layer_figures(plan, stats, n))
        wload = _check_wload(stats, rtl_files.get("tb/wload.hex"))
        ins, outs = parse_images(work / "images.txt")
        outputs = decode_outputs((work / "outputs.hex").read_text(), iface["out_per_beat"],
                                 iface["out_bits"], last.out_shape[0])
        if waves is not None and w_count is not None:
            (work / "waves.fst").unlink(missing_ok=True)
            _run(b, work, {**cfg, "waves_from": w_from, "waves_to": w_from + w_count}, n,
                 None)
            _keep_waves(work, waves, say if progress else None)
    cycles = stats["cycles"]
    latency = outs[0] - ins[0] + 1
    ivl = (outs[n - 1] - outs[0]) / (n - 1) if n > 1 else float(latency)
    sim = {"images": n, "mismatches": res["mismatches"],
           "first_mismatch": res["first_mismatch"], "latency_cycles": latency,
           "interval_cycles": ivl, "expected_interval_cycles": expected,
           "fps": fclk_mhz * 1e6 / ivl if ivl else 0.0, "fclk_mhz": fclk_mhz,
           "cycles": cycles, "sim_cycles_per_s": cycles / res["run_s"] if res["run_s"] else 0.0,
           "build_s": round(build_s, 3), "build_cached": b.cached, "run_s": round(wall, 3),
           "torch_mismatches": res.get("torch_mismatches"),
           "torch_top1_match_rate": res.get("torch_top1_match_rate"), **wload}
    return SimResult(outputs, sim, layer_figures(plan, stats, n))


def _check_wload(stats: dict, stream: str | None) -> dict:
    """With run-time weights, the wrapper's verdict on the load: every layer loaded, no
    malformed section, and no image beat taken before the stream's last beat (VerificationError
    otherwise); report.json ``sim`` gets ``wload_beats``, the stream's length."""
    if stream is None:
        return {}
    if "early_beats" not in stats:
        raise VerificationError("the simulation wrapper did not load the run-time weights "
                                "(rtl/sat_tb.sv from before the weight-load port)")
    if stats["early_beats"] or not stats["weights_loaded"] or stats["wload_error"]:
        raise VerificationError(
            f"weight loading: {stats['early_beats']} image beat(s) taken before the last "
            f"weight-load beat, weights_loaded {stats['weights_loaded']}, wload_error "
            f"{stats['wload_error']} (expected 0, 1, 0)")
    return {"wload_beats": len(stream.split())}


def layer_figures(plan: HardwarePlan, stats: dict, n: int) -> dict[str, dict]:
    """report.json ``layers[].sim`` from the wrapper's counters."""
    layers = {}
    for lp in plan.layers:
        s = stats["layers"][lp.name]
        window = s["last_out"] - s["first_in"] + 1
        busy = window - s["starved"] - s["blocked"]
        layers[lp.name] = {
            "cycles_busy": busy, "cycles_stalled": s["starved"] + s["blocked"],
            "cycles_starved": s["starved"], "cycles_blocked": s["blocked"],
            "fifo_peak": s["fifo_peak"], "fifo_depth": s["fifo_depth"],
            "first_in": s["first_in"], "last_out": s["last_out"],
            "measured_cycles_per_image": busy / n if n else 0.0,
            "expected_cycles_per_image": lp.cycles}
        f = stats.get("forks", {}).get(lp.name)
        if f is not None:
            layers[lp.name].update(skip_fifo_peak=f["skip_peak"], skip_fifo_depth=f["skip_depth"])
    return layers


def _run(b: Build, work: Path, cfg: dict, n: int, say) -> tuple[dict, SimError | None]:
    """One cocotb run of the wrapper: ``(net.out.json, the test's failure or None)``."""
    (work / "net.json").write_text(json.dumps(cfg))
    (work / "net.out.json").unlink(missing_ok=True)
    shown = [0]

    def poll():
        p = work / "progress.txt"
        if say and p.exists():
            try:
                done, cyc = map(int, p.read_text().split())
            except ValueError:
                return
            if done != shown[0]:
                shown[0] = done
                say(f"  {done}/{n} images, {cyc:,} cycles")

    err = None
    try:
        run_cocotb(b, "cocotb_network", resource_path("sim"), work, poll=poll, trace=False,
                   env={"SAT_HW_NET": str(work / "net.json")})
    except SimError as e:
        err = e
    log = (work / "sim.log").read_text(errors="replace") if (work / "sim.log").exists() else ""
    bad = readmem_problems(log)
    if bad:
        raise ValueError(f"a ROM image could not be read: {bad[0]}"
                         + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    if not (work / "net.out.json").exists():
        raise err or SimError("simulation left no results")
    return json.loads((work / "net.out.json").read_text()), err


def _keep_waves(work: Path, dest: Path, say) -> None:
    src = work / "waves.fst"
    if not src.exists():
        return
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    if say:
        say(f"waves: {src.stat().st_size / 1e6:,.1f} MB in {dest}")


def _failed_sim(res: dict, stats: dict, n: int, expected: int, fclk_mhz: float,
                build_s: float, b: Build, wall: float) -> dict:
    """report.json ``sim`` of a run that stalled: what failed, and the counts up to then."""
    return {"images": n, "failed": res.get("stall") or res.get("first_mismatch") or "stalled",
            "outputs_received": res.get("outputs_received", 0), "cycles": stats.get("cycles"),
            "expected_interval_cycles": expected, "fclk_mhz": fclk_mhz,
            "build_s": round(build_s, 3), "build_cached": b.cached, "run_s": round(wall, 3)}


def _say(msg: str) -> None:
    print(f"sat_hw sim: {msg}", file=sys.stderr, flush=True)


__all__ = ["SimResult", "StallError", "check_outputs", "decode_outputs", "input_lines",
           "layer_figures", "parse_stats", "readmem_problems", "simulate", "stall_message"]
