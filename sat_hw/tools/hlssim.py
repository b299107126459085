"""HLS C-simulation without vendor tools: g++ against the ``ap_types`` headers of hls4ml.

:func:`compile_csim` compiles a rendered ``hls/`` tree (``firmware/*.cpp``,
``firmware/weights/*.cpp`` and ``tb/sat_tb.cpp``) once and caches the executable by content
hash (compiled sources, flags, compiler, hls4ml version) under ``$SAT_HW_CACHE/hls`` (default
``~/.cache/sat_hw/hls``, or ``$XDG_CACHE_HOME/sat_hw/hls``); a compile error
raises :class:`HlsCompileError` with the first g++ error line. :func:`run_csim` feeds uint8
input codes (N, C, H, W) and returns the int64 outputs (N, classes); the testbench checks every
frame's TLAST and status on the AXI4-Stream ports and then that a short and a long input frame
are flagged (a failure is a :class:`VerificationError`). :func:`hls_phase` is the build's step:
render, compile, run, compare with golden, and return the files and the report entry
``hls_csim`` ``{images, mismatches, compile_s, run_s, cached, tlast_images, wrong_frames_flagged}``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sat_hw.base import cache
from sat_hw.base.errors import ToolError, VerificationError
from sat_hw.base.writer import npy_bytes
from sat_hw.codegen.hls import render_hls
from sat_hw.hw.plan import HardwarePlan

CXX = "g++"
CXXFLAGS = ("-std=c++14", "-O1", "-DNDEBUG", "-w")
"""``-O1``: compile plus run of MobileNetV1 1.0 at 224 px is lowest there (benchmarks/hls_csim.py);
``-DNDEBUG`` drops the ap_types' run-time range warnings, ``-w`` their compile-time noise."""
STREAM_WARNING = "WARNING: Hls::stream"
TLAST_OK = re.compile(r"^sat_tb: TLAST ok: (\d+) images", re.MULTILINE)
FRAMING_OK = re.compile(r"^sat_tb: framing ok: (\d+) wrong-length frames flagged",
                        re.MULTILINE)


class HlsCompileError(ToolError):
    """g++ rejected the generated code; the message holds the first error line."""


@dataclass(frozen=True)
class CsimResult:
    outputs: np.ndarray
    compile_s: float
    run_s: float
    cached: bool
    framing: dict


def ap_types_dir() -> Path:
    """The ``ap_types`` folder of the installed hls4ml package (found, not imported)."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("hls4ml is not installed: the HLS C-simulation needs the ap_types "
                                "headers it ships (pip install hls4ml==1.3.0)")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "templates" / "vivado" / "ap_types"
        if (p / "ap_int.h").is_file():
            return p
    raise ToolError(f"hls4ml at {list(spec.submodule_search_locations)} has no "
                            f"templates/vivado/ap_types/ap_int.h")


def cache_root() -> Path:
    return cache.cache_root() / "hls"


def _compiler_id() -> str:
    try:
        out = subprocess.run([CXX, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise ToolError(f"{CXX} not found or not working ({e}): the HLS C-simulation "
                                f"needs a C++ compiler (apt-get install g++)") from None
    return out.stdout.splitlines()[0] if out.stdout else CXX


COMPILED = ("lib/", "firmware/", "tb/")
"""The parts of a rendered tree that g++ reads (scripts and README do not change the key)."""


def _key(files: dict[str, str], flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(repr((flags, _compiler_id(), importlib.metadata.version("hls4ml"))).encode())
    for path in sorted(p for p in files if p.startswith(COMPILED)):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()[:24]


def first_error(log: str) -> str:
    """The first line of a g++ log that reports an error (else its first line)."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    for ln in lines:
        if ": error:" in ln or ": fatal error:" in ln:
            return ln.strip()
    return lines[0].strip() if lines else "(no output)"


def csim_sources(files: dict[str, str]) -> list[str]:
    """The translation units of a rendered tree in the order they start: the top function first
    (the longest compile: every block's templates), then the rest by size, largest first."""
    srcs = [p for p in files if p.endswith(".cpp") and (p.startswith("firmware/") or
                                                       p == "tb/sat_tb.cpp")]
    return sorted(srcs, key=lambda p: (p != "firmware/sat_top.cpp", -len(files[p]), p))


def _compile_all(base: list[str], root: Path, sources: list[str], jobs: int) -> list[Path]:
    """Compile each source to an object, ``jobs`` g++ processes at a time (a new one starts as
    soon as any finishes); the first failure kills the rest and raises :class:`HlsCompileError`
    with its first error line. Logs go to files, so a long one never blocks g++."""
    pending = list(sources)
    running: list[tuple[str, Path, subprocess.Popen]] = []
    objs = []
    (root / "obj").mkdir(exist_ok=True)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                src = pending.pop(0)
                obj = root / "obj" / (src.replace("/", "_") + ".o")
                log = obj.with_suffix(".log")
                objs.append(obj)
                with open(log, "w") as f:
                    running.append((src, log, subprocess.Popen(
                        [*base, "-c", str(root / src), "-o", str(obj)], stdout=f,
                        stderr=subprocess.STDOUT)))
            done = [r for r in running if r[2].poll() is not None]
            if not done:
                time.sleep(0.02)
                continue
            for r in done:
                running.remove(r)
                src, log, proc = r
                if proc.returncode != 0:
                    raise HlsCompileError(f"{CXX} failed on hls/{src}: "
                                          f"{first_error(log.read_text(errors='replace'))}")
    finally:
        for _, _, q in running:
            q.kill()
            q.wait()
    return objs


def compile_csim(files: dict[str, str], flags: tuple[str, ...] = CXXFLAGS,
                 cache: Path | None = None, jobs: int | None = None,
                 say: Callable[[str], None] | None = None) -> tuple[Path, float, bool]:
    """Compile the tree ``files`` (paths relative to ``hls/``); ``(executable, seconds, cached)``.

    Every translation unit (top, testbench, one per layer's tables) is compiled by its own g++
    process, ``jobs`` at a time (default: the CPU count), then linked. The result goes into the
    cache atomically (a temporary folder renamed into place)."""
    cache = Path(cache) if cache is not None else cache_root()
    key = _key(files, tuple(flags))
    exe = cache / key / "sat_tb"
    if exe.is_file():
        return exe, 0.0, True
    cache.mkdir(parents=True, exist_ok=True)
    inc = ap_types_dir()
    sources = csim_sources(files)
    jobs = max(1, jobs or os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=cache))
    try:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)
        base = [CXX, *flags, f"-I{tmp / 'lib'}", f"-I{tmp / 'firmware'}", f"-I{inc}"]
        if say:
            say(f"compiling the C-simulation ({CXX} {' '.join(flags)}, {len(sources)} files, "
                f"{jobs} at a time)")
        t0 = time.perf_counter()
        objs = _compile_all(base, tmp, sources, jobs)
        link = subprocess.run([CXX, *flags, *map(str, objs), "-o", str(tmp / "sat_tb")],
                              capture_output=True, text=True, check=False)
        if link.returncode != 0:
            raise HlsCompileError(f"{CXX} failed to link the C-simulation: "
                                  f"{first_error(link.stdout + link.stderr)}")
        seconds = time.perf_counter() - t0
        shutil.rmtree(tmp / "obj")
        final = cache / key
        try:
            os.rename(tmp, final)
        except OSError:  # another process cached the same key first
            if not exe.is_file():
                raise
        return exe, seconds, False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(exe: Path, inputs: np.ndarray, classes: int) -> tuple[np.ndarray, float, dict]:
    """Run the testbench; ``(outputs, seconds, {tlast_images, wrong_frames_flagged})``."""
    x = np.ascontiguousarray(inputs, dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="sat_hw_csim-") as d:
        inp, out = Path(d) / "inputs.npy", Path(d) / "outputs.npy"
        np.save(inp, x, allow_pickle=False)
        t0 = time.perf_counter()
        res = subprocess.run([str(exe), str(inp), str(out)], capture_output=True, text=True,
                             check=False)
        seconds = time.perf_counter() - t0
        text = res.stdout + res.stderr
        if res.returncode != 0:
            lines = [ln for ln in text.splitlines() if ln.strip()]
            raise VerificationError(f"HLS C-simulation failed (status {res.returncode}): "
                               f"{lines[-1] if lines else 'no output'}")
        bad = [ln for ln in text.splitlines() if STREAM_WARNING in ln]
        if bad:
            raise VerificationError(f"HLS C-simulation: {bad[0].strip()} ({len(bad)} stream warnings)")
        tlast, framing = TLAST_OK.search(res.stdout), FRAMING_OK.search(res.stdout)
        if tlast is None or int(tlast.group(1)) != len(x) or (len(x) and framing is None):
            raise VerificationError("HLS C-simulation: the testbench did not report its TLAST "
                                    "and framing checks")
        y = np.load(out)
    if y.shape != (len(x), classes) or y.dtype != np.int64:
        raise VerificationError(f"HLS C-simulation wrote {y.dtype} {y.shape}, expected int64 "
                           f"({len(x)}, {classes})")
    return y, seconds, {"tlast_images": len(x),
                        "wrong_frames_flagged": int(framing.group(1)) if framing else 0}


def run_csim(exe: Path, inputs: np.ndarray, classes: int) -> tuple[np.ndarray, float]:
    """Run the testbench on uint8 ``(N, C, H, W)`` codes; ``(int64 (N, classes), seconds)``.
    Raises :class:`VerificationError` when the testbench fails: a stream warning, or an image's
    TLAST, TKEEP, sign extension or status, or a short or long frame not flagged."""
    y, seconds, _ = _run(exe, inputs, classes)
    return y, seconds


def csim(files: dict[str, str], inputs: np.ndarray, classes: int,
         flags: tuple[str, ...] = CXXFLAGS, cache: Path | None = None,
         say: Callable[[str], None] | None = None) -> CsimResult:
    """Compile (or reuse) and run: the outputs and the two timings."""
    exe, compile_s, cached = compile_csim(files, flags, cache, say=say)
    if say:
        say(f"running the C-simulation on {len(inputs)} images"
            + (" (executable cached)" if cached else f" (compiled in {compile_s:.1f} s)"))
    y, run_s, framing = _run(exe, inputs, classes)
    return CsimResult(y, compile_s, run_s, cached, framing)


def hls_phase(plan: HardwarePlan, inputs: np.ndarray, golden: np.ndarray,
              graph_hash: str, part: str | None = None, fclk_mhz: float = 333.0,
              run: bool = True, say: Callable[[str], None] | None = None
              ) -> tuple[dict[str, str | bytes], dict | None]:
    """The build's HLS step: ``({"hls/...": text, "sim/hls_outputs.npy": bytes}, hls_csim)``.

    ``hls_csim`` = ``{images, mismatches, compile_s, run_s, cached, tlast_images,
    wrong_frames_flagged}`` (None when ``run`` is False); mismatches count output elements that
    differ from ``golden`` (int64 (N, classes)); ``tlast_images`` images had TLAST on their last
    output beat only, ``wrong_frames_flagged`` bad input frames were flagged (2: one short, one
    long; 1 when a frame is a single beat, so none can be short)."""
    kw = {"fclk_mhz": fclk_mhz} | ({"part": part} if part else {})
    src = render_hls(plan, graph_hash, **kw)
    files: dict[str, str | bytes] = {f"hls/{k}": v for k, v in src.items()}
    if not run:
        return files, None
    classes = plan.graph.layers[-1].out_shape[0]
    res = csim(src, inputs, classes, say=say)
    gold = np.asarray(golden, np.int64)
    if gold.shape != res.outputs.shape:
        raise VerificationError(f"golden outputs have shape {gold.shape}, the C-simulation "
                         f"{res.outputs.shape}")
    mismatches = int(np.count_nonzero(res.outputs != gold))
    files["sim/hls_outputs.npy"] = npy_bytes(res.outputs)
    report = {"images": len(inputs), "mismatches": mismatches,
              "compile_s": round(res.compile_s, 3), "run_s": round(res.run_s, 3),
              "cached": res.cached, **res.framing}
    if say:
        say(f"C-simulation: {len(inputs)} images, {mismatches} mismatches against golden, TLAST "
            f"checked on every image, {res.framing['wrong_frames_flagged']} wrong-length frames "
            f"flagged (compile {res.compile_s:.1f} s, run {res.run_s:.2f} s)")
    return files, report


__all__ = ["CXXFLAGS", "CsimResult", "HlsCompileError", "ap_types_dir", "cache_root",
           "compile_csim", "csim", "csim_sources", "first_error", "hls_phase", "run_csim"]
