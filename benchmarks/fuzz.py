"""Fuzzer (issue 18): seeded random networks through the golden executor, the Verilator simulation
of the generated RTL and the g++ C-simulation of the generated HLS, ``==`` on every output.

    .venv/bin/python benchmarks/fuzz.py --cases 200 --jobs 2 --seed 1 [--out DIR]
    .venv/bin/python benchmarks/fuzz.py --seed 1 --case 17       # one case, verbosely

Cases come from ``fuzz_cases.draw_case(seed, index)`` (deterministic: the two numbers reproduce a
case). Each runs in a forked process of its own session with its own build cache and temporary
folder (deleted after the case), under a time limit: past it the whole process group is killed
and the case recorded as a hang; an exception becomes a failure with its one-line message.
Records go to ``DIR/cases.jsonl`` as cases finish; a rerun skips the cases recorded with the same
seed and config (generator version, images, build flags and a digest of the code under test), so
an interrupted run resumes, and a run after a code change starts afresh. ``DIR/summary.json`` and
``DIR/summary.md`` hold the figures of cases ``0..N-1``: counts by outcome (mismatches and hangs
must be 0), time per case, and a coverage table of the features drawn.

Speed (target: 1,000 cases in about an hour on 2 cores, ``--jobs 2``). A case costs about 5 CPU
seconds: the Verilator build (verilate, then one C++ compile), the cocotb run (mostly its start:
an embedded Python), and the g++ compile of the C-simulation; golden and the simulated cycles are
negligible. The levers, measured on 8 cases (seed 7) on the shared 2-core machine, build plus run:

- Verilator C++ at ``OPT_FAST=-O0`` with ``VM_PARALLEL_BUILDS=0`` (all of the model in one
  translation unit, no precompiled headers): 54 s, against 93 s at ``-O1`` and 97 s at ``-O0``
  where Verilator splits the model (two precompiled headers, each ~1.8 s, and the headers parsed
  per file); the run time is the same (10 s: the simulations are a few thousand cycles).
- HLS at ``-O0`` with the header library precompiled once per run (:func:`hls_pch`): 28 s,
  against 38 s at ``-O0`` and 41 s at ``-O1``.
- 3 images a case (the first uniform codes, the others uniform, all 0, all 255, 0/255 or 0..3).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from fuzz_cases import GEN_VERSION, draw_case
from fuzz_report import describe, features, layer_rows, markdown, summarize

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "fuzz"
MAKE_VARS = ("OPT_FAST=-O0", "VM_PARALLEL_BUILDS=0")
HLS_FLAGS = ("-std=c++14", "-O0", "-DNDEBUG", "-w")
TIMEOUT_S = 300
CODE = ("rtl", "templates", "sim", "benchmarks/fuzz.py", "benchmarks/fuzz_cases.py",
        "benchmarks/fuzz_report.py")
"""Files the config digest covers, beside every ``sat_hw`` module a case imports: a change in any
of them reruns every case (a change elsewhere, say in the CLI, does not)."""


def _case_modules() -> list[Path]:
    """The ``sat_hw`` source files a case runs (what its imports load)."""
    import sat_hw.codegen.hls
    import sat_hw.codegen.rtl
    import sat_hw.graph.golden
    import sat_hw.tools.hlssim
    import sat_hw.tools.rtlsim  # noqa: F401 - imported for their modules' files

    return sorted({Path(m.__file__).resolve() for n, m in list(sys.modules.items())
                   if (n == "sat_hw" or n.startswith("sat_hw.")) and getattr(m, "__file__", None)})


def code_digest() -> str:
    h = hashlib.sha256()
    files = _case_modules()
    for top in CODE:
        p = ROOT / top
        files += [p] if p.is_file() else sorted(
            q for q in p.rglob("*") if q.is_file() and q.suffix in (".py", ".sv", ".j2", ".h"))
    for q in files:
        h.update(str(q.relative_to(ROOT)).encode() + b"\0" + q.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def config(images: int) -> dict:
    cfg = {"generator": GEN_VERSION, "images": images, "make_vars": list(MAKE_VARS),
           "hls_flags": list(HLS_FLAGS), "code": code_digest()}
    return {**cfg, "key": hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]}


def hls_pch(folder: Path) -> tuple[str, ...]:
    """Precompile the HLS header library (``sat.h``: ap_types and every block) into ``folder``
    once per run; the g++ flags that use it (``-include sat.h``, its folder first on the
    path), or none if it fails. Saves parsing the headers in each case's top and testbench."""
    import subprocess

    from sat_hw.codegen.hls import library_files
    from sat_hw.tools.hlssim import CXX, ap_types_dir

    d = folder / "pch"
    d.mkdir(parents=True, exist_ok=True)
    for rel, text in library_files().items():
        (d / Path(rel).name).write_text(text)
    r = subprocess.run([CXX, *HLS_FLAGS, f"-I{d}", f"-I{ap_types_dir()}", "-x", "c++-header",
                        str(d / "sat.h"), "-o", str(d / "sat.h.gch")], capture_output=True,
                       check=False)
    return (f"-I{d}", "-include", "sat.h") if r.returncode == 0 else ()


def _classify(e: Exception) -> tuple[str, str]:
    """``(status, one-line message)`` of a case's exception: ``hang`` (the testbench's watchdog
    or a stall), ``build`` (Verilator or g++ refused the generated code), else ``error``."""
    from sat_hw.tools.hlssim import HlsCompileError

    msg = " ".join(str(e).split()) or type(e).__name__
    if "no beat moved" in msg or type(e).__name__ == "StallError":
        return "hang", msg
    if isinstance(e, HlsCompileError) or msg.startswith(("verilator failed", "C++ compile")):
        return "build", msg
    return "error", f"{type(e).__name__}: {msg}"


def _rtl(case, golden, digest: str, say, cfg: dict) -> dict:
    from sat_hw.codegen.rtl import render_rtl
    from sat_hw.hw.plan import hardware_plan
    from sat_hw.tools.rtlsim import simulate

    plan = hardware_plan(case.graph, case.folding, case.family)
    files = render_rtl(plan, digest)
    res = simulate(files, plan, case.inputs, golden, progress=say or False,
                   valid_pct=case.valid_pct, ready_pct=case.ready_pct, make_vars=MAKE_VARS)
    bad = golden.size if res.outputs.shape != golden.shape else \
        int((res.outputs != golden).sum())
    return {"mismatches": bad, "first": res.sim["first_mismatch"],
            "build_s": res.sim["build_s"], "run_s": res.sim["run_s"],
            "cycles": res.sim["cycles"], "interval": res.sim["interval_cycles"],
            "expected_interval": res.sim["expected_interval_cycles"]}


def _hls(case, golden, digest: str, say, cfg: dict) -> dict:
    from sat_hw.codegen.hls import render_hls
    from sat_hw.hw.plan import hardware_plan
    from sat_hw.tools.hlssim import compile_csim, run_csim

    src = render_hls(hardware_plan(case.graph, case.folding, case.family), digest)
    flags = HLS_FLAGS + tuple(cfg.get("hls_pch", ()))
    exe, compile_s, _ = compile_csim(src, flags, jobs=1, say=say)
    y, run_s = run_csim(exe, case.inputs, golden.shape[1])
    bad = int((y != golden).sum())
    first = ""
    if bad:
        i, c = (int(v) for v in next(zip(*(y != golden).nonzero())))
        first = f"image {i} class {c}: HLS {int(y[i, c])}, golden {int(golden[i, c])}"
    return {"mismatches": bad, "first": first, "compile_s": round(compile_s, 3),
            "run_s": round(run_s, 3)}


def run_case(seed: int, index: int, cfg: dict, say=None, phase=None) -> dict:
    """Draw case ``index`` and run it through golden, RTL and HLS; its record (see module doc).
    ``phase(name)`` is told each step as it starts (the parent names a hang's step)."""
    from sat_hw.graph.golden import run_golden

    t0, c0 = time.monotonic(), _cpu()
    step = phase or (lambda _: None)
    case = draw_case(seed, index, cfg["images"])
    rec = {"seed": seed, "index": index, "config": cfg["key"], "status": "ok", "message": "",
           "desc": describe(case), "family": case.family, "forced": case.forced,
           "blocks": case.blocks,
           "valid_pct": case.valid_pct, "ready_pct": case.ready_pct,
           "features": features(case), "layers": layer_rows(case)}
    if say:
        say(f"case {index} (seed {seed}): {rec['desc']}")
        say(f"DSP family {case.family}, valid {case.valid_pct} %, ready {case.ready_pct} %, "
            f"images {case.image_kinds}")
    step("golden")
    t = time.monotonic()
    golden = run_golden(case.graph, case.inputs, keep_codes=False).outputs
    rec["golden_s"] = round(time.monotonic() - t, 3)
    problems = []
    for name, fn in (("rtl", _rtl), ("hls", _hls)):
        step(name)
        try:
            r = fn(case, golden, f"fuzz{seed}x{index}", say, cfg)
        except Exception as e:  # noqa: BLE001 - a case's failure is a record, not the end
            kind, msg = _classify(e)
            r = {"error": kind, "message": msg}
            problems.append((kind, f"{name}: {msg}"))
        else:
            if r["mismatches"]:
                msg = f"{name}: {r['mismatches']} mismatching outputs, first {r['first']}"
                problems.append(("mismatch", msg))
        rec[name] = r
        for k in ("build_s", "run_s", "compile_s"):
            if k in r:
                rec[f"{name}_{k}"] = r[k]
    order = ("mismatch", "hang", "build", "error")
    if problems:
        problems.sort(key=lambda p: order.index(p[0]))
        rec["status"], rec["message"] = problems[0][0], "; ".join(p[1] for p in problems)
    rec["seconds"] = round(time.monotonic() - t0, 3)
    rec["cpu_s"] = round(_cpu() - c0, 3)
    return rec


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Verilator, make, g++, the sims)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def _child(seed: int, index: int, cfg: dict, work: Path) -> None:
    """Forked: a session of its own (the parent kills the group on a hang), the case's own build
    cache and temporary folder, the record written to ``work/record.json``."""
    os.setsid()
    os.environ["SAT_HW_CACHE"] = str(work / "cache")
    os.environ["TMPDIR"] = str(work)
    tempfile.tempdir = str(work)
    code = 0
    try:
        rec = run_case(seed, index, cfg, phase=lambda p: (work / "phase").write_text(p))
    except BaseException as e:  # noqa: BLE001 - even a draw that fails is a record
        rec = {"seed": seed, "index": index, "config": cfg["key"], "status": "error",
               "message": f"{type(e).__name__}: {' '.join(str(e).split())}", "desc": "",
               "features": [], "layers": [], "seconds": 0.0}
        code = 1
    (work / "record.tmp").write_text(json.dumps(rec))
    os.rename(work / "record.tmp", work / "record.json")
    os._exit(code)


def _hang(seed: int, index: int, cfg: dict, work: Path, seconds: float, timeout: float) -> dict:
    p = work / "phase"
    step = p.read_text() if p.exists() else "start"
    try:
        case = draw_case(seed, index, cfg["images"])
        extra = {"desc": describe(case), "features": features(case),
                 "layers": layer_rows(case), "family": case.family, "blocks": case.blocks}
    except Exception:  # noqa: BLE001 - the hang is the record; its description is a bonus
        extra = {"desc": "", "features": [], "layers": []}
    return {"seed": seed, "index": index, "config": cfg["key"], "status": "hang",
            "message": f"{step}: case ran past its {timeout:.0f} s limit and was killed",
            "seconds": round(seconds, 3), **extra}


def load_records(path: Path, seed: int, key: str) -> dict[int, dict]:
    """The recorded cases of this seed and config, by index (the last record wins)."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if r.get("seed") == seed and r.get("config") == key:
                out[r["index"]] = r
    return out


def run_all(cases: int, jobs: int, seed: int, out: Path, images: int = 3,
            timeout: float = TIMEOUT_S, say=print) -> dict:
    """Run cases ``0..cases-1`` not yet recorded, ``jobs`` at a time; write and return the
    summary."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = config(images)
    log = out / "cases.jsonl"
    done = load_records(log, seed, cfg["key"])
    todo = [i for i in range(cases) if i not in done]
    say(f"fuzz: seed {seed}, config {cfg['key']}: {cases - len(todo)} of {cases} cases recorded, "
        f"{len(todo)} to run, {jobs} at a time")
    t0 = time.monotonic()
    if todo:
        with tempfile.TemporaryDirectory(prefix="sat_hw_fuzz_run_") as tmp:
            cfg["hls_pch"] = hls_pch(Path(tmp))
            with open(log, "a") as f:
                _loop(todo, jobs, seed, cfg, timeout, done, f, say)
    records = [done[i] for i in range(cases) if i in done]
    wall = round(time.monotonic() - t0, 1)
    head = {"seed": seed, "config": cfg["key"], "code": cfg["code"], "generator": GEN_VERSION,
            "images": images, "jobs": jobs, "wall_s": wall, "ran": len(todo),
            "wall_s_all": round(wall + _earlier_wall(out / "summary.json", seed, cfg["key"]), 1),
            "command": f"benchmarks/fuzz.py --cases {cases} --jobs {jobs} --seed {seed}"}
    s = summarize(records, head)
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(s))
    return s


def _earlier_wall(path: Path, seed: int, key: str) -> float:
    """Wall seconds the earlier invocations of this seed and config spent (their summary's)."""
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0.0
    return float(s.get("wall_s_all", 0.0)) if (s.get("seed"), s.get("config")) == (seed, key) \
        else 0.0


def _loop(todo: list[int], jobs: int, seed: int, cfg: dict, timeout: float, done: dict, f,
          say) -> None:
    """Keep ``jobs`` cases running, each a forked process; record each as it ends (or is killed
    past ``timeout``). On any exit (Ctrl-C too) the running cases' process groups are killed."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    todo, running = list(todo), {}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                i = todo.pop(0)
                work = Path(tempfile.mkdtemp(prefix=f"sat_hw_fuzz{seed}_{i}_"))
                p = ctx.Process(target=_child, args=(seed, i, cfg, work))
                p.start()
                running[i] = (p, work, time.monotonic())
            time.sleep(0.05)
            for i, (p, work, start) in list(running.items()):
                if p.is_alive() and time.monotonic() - start <= timeout:
                    continue
                rec = _collect(seed, i, cfg, p, work, time.monotonic() - start, timeout)
                del running[i]
                f.write(json.dumps(rec) + "\n")
                f.flush()
                done[i] = rec
                say(f"case {i:4d} {rec['status']:8s} {rec['seconds']:6.1f} s  "
                    f"{rec['message'][:150]}")
    finally:
        for p, work, _ in running.values():
            _kill(p)
            shutil.rmtree(work, ignore_errors=True)


def _collect(seed: int, i: int, cfg: dict, p, work: Path, seconds: float, timeout: float
             ) -> dict:
    """The record of a finished or overdue case; its process group killed, its folder gone."""
    if p.is_alive():
        _kill(p)
        rec = _hang(seed, i, cfg, work, seconds, timeout)
    elif (work / "record.json").exists():
        rec = json.loads((work / "record.json").read_text())
    else:
        rec = {"seed": seed, "index": i, "config": cfg["key"], "status": "error",
               "message": f"the case's process died (exit {p.exitcode})", "desc": "",
               "features": [], "layers": [], "seconds": round(seconds, 3)}
    _kill(p)  # whatever it left running in its session
    shutil.rmtree(work, ignore_errors=True)
    return rec


def _kill(p) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    p.join(timeout=5)


def one_case(seed: int, index: int, out: Path, images: int = 3) -> int:
    """``--case K``: the case verbosely, its rendered files kept under ``out/case-S-K/``."""
    from sat_hw.codegen.hls import render_hls
    from sat_hw.codegen.rtl import render_rtl
    from sat_hw.hw.plan import hardware_plan

    cfg = config(images)
    case = draw_case(seed, index, images)
    keep = out / f"case-{seed}-{index}"
    plan = hardware_plan(case.graph, case.folding, case.family)
    for sub, files in (("rtl", render_rtl(plan, "fuzz")), ("hls", render_hls(plan, "fuzz"))):
        for rel, text in files.items():
            (keep / sub / rel).parent.mkdir(parents=True, exist_ok=True)
            (keep / sub / rel).write_text(text)
    with tempfile.TemporaryDirectory(prefix="sat_hw_fuzz_") as tmp:
        os.environ["SAT_HW_CACHE"] = tmp
        cfg["hls_pch"] = hls_pch(Path(tmp))
        rec = run_case(seed, index, cfg, say=_say_layers)
    print(json.dumps({k: v for k, v in rec.items() if k not in ("features", "layers")},
                     indent=1))
    print(f"fuzz: rendered files in {keep}")
    return 0 if rec["status"] == "ok" else 1


def _say_layers(msg: str) -> None:
    """``--case`` output: the description one layer a line."""
    print("fuzz: " + msg.replace(" | ", "\n      "), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100, help="run cases 0..N-1 (default 100)")
    ap.add_argument("--jobs", type=int, default=2, help="cases at a time (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT, help=f"results folder (default {OUT})")
    ap.add_argument("--case", type=int, help="rerun this one case verbosely")
    ap.add_argument("--images", type=int, default=3, help="images per case (default 3)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S,
                    help=f"seconds a case may take before it is a hang (default {TIMEOUT_S})")
    a = ap.parse_args(argv)
    if a.case is not None:
        return one_case(a.seed, a.case, a.out, a.images)
    try:
        s = run_all(a.cases, a.jobs, a.seed, a.out, a.images, a.timeout)
    except KeyboardInterrupt:
        print("fuzz: interrupted; the cases that ended are recorded, run again to resume",
              file=sys.stderr)
        return 130
    t = s["seconds"]
    print(f"fuzz: {s['cases']} cases, {s['mismatches']} mismatches, {s['hangs']} hangs, "
          f"{s['build_failures']} build failures, {s['failures']} other failures; per case "
          f"median {t['median']:.1f} s, p90 {t['p90']:.1f} s; wall {s['wall_s']:.0f} s; "
          f"{a.out / 'summary.md'}")
    return 0 if s["ok"] == s["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
