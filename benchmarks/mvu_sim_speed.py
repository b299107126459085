"""Verilator simulation speed of one matrix-vector unit (sat_mvu) with HDL-side stimulus, and its
cold build time. Not a test.

    nice -n 10 .venv/bin/python benchmarks/mvu_sim_speed.py [--pe 16] [--simd 16] [--mh 64]
        [--mw 256] [--bits 4x4] [--mult lut] [--vectors 8192] [--repeat 3]
        [--rtl rtl] [--json benchmarks/results/mvu_sim_speed.json]  (also writes .md)

The unit runs inside sat_hw.tools.streamtb's wrapper (source and sink are HDL memories; Python only
starts each stream and reads the counters), free flowing, W4A4 k-encoded by default. Build time:
Verilator plus the C++ compile (make -j cpus) into an empty build cache, once with ccache off
(a fresh machine; --repeat times) and once with ccache on (the runtime objects come from ccache; the model's
own files are new). Speed: the simulator over the stream once (cycles/s with process start,
simulator load and file I/O), then over the same stream twice in one process; the second stream's
cycles over the extra time is the marginal speed. Every stream's outputs are checked against the
integer matrix product. For scale, the same harness around a 32-bit sat_skid for as many cycles
(the harness's own speed; its clock comes from cocotb). Also writes <json stem>.md. --rtl: the
folder of the sat_mvu sources (default rtl/): its sat_mvu.sv and the files of the blocks it
instantiates (sat_hw.codegen.library.block_sources), e.g. an older version to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import hex_lines, mvu_matrix, mvu_rom
from sat_hw.graph import synthetic
from sat_hw.graph.ir import acc_bits_for, acc_bound, levels
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools import verilator
from sat_hw.tools.streamtb import Scenario, rtl_sources, run_scenarios


def pack(rows: np.ndarray, per_beat: int, bits: int) -> list[int]:
    """Rows -> beats of ``per_beat`` elements, element i at [i*bits +: bits] (two's complement),
    with numpy: the beat as little-endian bytes of the packed bits."""
    flat = np.asarray(rows, np.int64).reshape(-1, per_beat) & ((1 << bits) - 1)
    bitmat = ((flat[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(len(flat), -1)
    packed = np.packbits(bitmat, axis=1, bitorder="little")
    return [int.from_bytes(r.tobytes(), "little") for r in packed]


def ccache_counts() -> tuple[int, int] | None:
    """ccache's (hits, misses) so far, to show what a build took from it (other users' compiles
    at the same time would count too)."""
    try:
        out = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    st = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return (int(st.get("direct_cache_hit", 0)) + int(st.get("preprocessed_cache_hit", 0)),
            int(st.get("cache_miss", 0)))


def sources(r: dict) -> str:
    """The measured sources with their git blob ids (a result from before the split into
    submodules names sat_mvu.sv alone)."""
    if "rtl_git_blobs" not in r:
        return f"{r['rtl']} (git blob {r['rtl_git_blob'][:10]})"
    return ", ".join(f"{r['rtl']}/{n} (git blob {b[:10]})" for n, b in r["rtl_git_blobs"].items())


def markdown(r: dict) -> str:
    rng = lambda v: f"{min(v):,} .. {max(v):,}"
    return "\n".join([
        "# sat_mvu: Verilator simulation speed and build time\n",
        (f"sat_mvu MH={r['mh']} MW={r['mw']} PE={r['pe']} SIMD={r['simd']} ({r['mac_lanes']} MAC "
         f"lanes), W{r['wbits']}A{r['abits']}, ENCODING {r['encoding']}, MULT {r['mult']}, "
         f"ACC_BITS {r['acc_bits']}; {r['vectors']} vectors = {r['cycles']} cycles free flowing, "
         f"stimulus and capture in HDL (sat_hw.tools.streamtb), outputs checked against the integer "
         f"matrix product. {r['cpus']} CPUs shared with other engineers' work (1-min load "
         f"average {r['load_avg_1min_at_start']:.1f} at the start, "
         f"{r['load_avg_1min_at_end']:.1f} at the end): medians of {len(r['build_cold_s'])} "
         f"runs, range beside. Source {sources(r)}, C++ "
         f"make variables {r['make_vars'] or 'the wheel defaults'}. "
         f"`benchmarks/mvu_sim_speed.py`.\n"),
        "| figure | median | range |", "|---|---|---|",
        (f"| build (Verilator + C++, make -j{r['cpus']}), empty cache, ccache off | "
         f"{r['build_cold_median_s']} s | {min(r['build_cold_s'])} .. {max(r['build_cold_s'])} s |"),
        (f"| build, empty cache, ccache on (runtime objects from ccache, once; ccache hits, misses "
         f"meanwhile: {r['build_ccache_hits_misses']}) | {r['build_ccache_s']} s | |"),
        (f"| cycles/s, one process over the stream (process start and file I/O included) | "
         f"{r['cycles_per_s']:,} | {rng(r['cycles_per_s_runs'])} |"),
        (f"| cycles/s, marginal (a second stream in the same process) | "
         f"{r['marginal_cycles_per_s']:,} | {rng(r['marginal_cycles_per_s_runs'])} |"),
        (f"| MAC lane-cycles/s, marginal | {r['marginal_cycles_per_s'] * r['mac_lanes']:,} | |"),
        (f"| harness alone (32-bit sat_skid), cycles/s one process | "
         f"{r['harness_skid_cycles_per_s']:,} | {rng(r['harness_skid_cycles_per_s_runs'])} |"),
        (f"| harness alone, marginal | {r['harness_skid_marginal_cycles_per_s']:,} | "
         f"{rng(r['harness_skid_marginal_runs'])} |"),
    ]) + "\n"

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pe", type=int, default=16)
    ap.add_argument("--simd", type=int, default=16)
    ap.add_argument("--mh", type=int, default=64)
    ap.add_argument("--mw", type=int, default=256)
    ap.add_argument("--bits", default="4x4", help="WBITSxABITS")
    ap.add_argument("--mult", default="lut", choices=("lut", "dsp"))
    ap.add_argument("--vectors", type=int, default=8192, help="vectors in the long stream")
    ap.add_argument("--repeat", type=int, default=3,
                    help="cold builds and speed runs, each; the median is reported")
    ap.add_argument("--rtl", help="the folder of the sat_mvu sources to simulate (default: rtl/)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    wb, ab = (int(x) for x in a.bits.split("x"))
    node = synthetic.linear(np.random.default_rng(0), "fc", a.mw, a.mh, wbits=wb, abits=ab)
    fold = Fold(a.pe, a.simd, a.mult)
    words, width = mvu_rom(layer_plan(node, fold), "k")
    acc_bits = acc_bits_for(acc_bound(a.mw, wb, ab))
    params = {"MH": a.mh, "MW": a.mw, "PE": a.pe, "SIMD": a.simd, "WBITS": wb, "ABITS": ab,
              "ACC_BITS": acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": "k", "MULT": a.mult}
    files = {"w.hex": hex_lines(words, width)}
    rng = np.random.default_rng(1)
    x = rng.integers(0, levels(ab) + 1, (a.vectors, a.mw))
    acc = x @ mvu_matrix(layer_plan(node, fold)).T
    inp, exp = pack(x, a.simd, ab), pack(acc, a.pe, acc_bits)
    in_w, out_w = a.simd * ab, a.pe * acc_bits
    res = {"pe": a.pe, "simd": a.simd, "mh": a.mh, "mw": a.mw, "wbits": wb, "abits": ab,
           "acc_bits": acc_bits, "mult": a.mult, "encoding": "k", "cpus": os.cpu_count(),
           "vectors": a.vectors, "load_avg_1min_at_start": os.getloadavg()[0]}
    rtl_dir = Path(a.rtl) if a.rtl else resource_path("rtl")
    res["rtl"] = str(a.rtl or "rtl").rstrip("/")
    res["rtl_git_blobs"] = {  # git's blob ids: which sources were measured, sat_mvu.sv first
        p.name: hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest()
        for p in rtl_sources("sat_mvu", rtl_dir=rtl_dir)[::-1] for d in [p.read_bytes()]}
    res["make_vars"] = list(getattr(verilator, "MAKE_VARS", ()))

    def run(module, prm, iw, ow, streams, tag, cache):
        """One simulator process over ``streams`` (each a Scenario, free flowing); wall seconds
        without the build."""
        os.environ["SAT_HW_CACHE"] = cache
        t0 = time.monotonic()
        outs, b = run_scenarios(module, prm, iw, ow,
                                [Scenario(i, len(e), watchdog=10_000) for i, e in streams],
                                files=files, workdir=Path(cache) / f"run_{tag}",
                                rtl_dir=rtl_dir if module == "sat_mvu" else None)
        for r, (_, e) in zip(outs, streams):
            if r.timed_out or r.outputs != e or r.extra:
                raise SystemExit(f"{module} {tag}: outputs differ from the expected ones")
        return outs, b, time.monotonic() - t0 - (0 if b.cached else b.seconds)

    # The wrapper's memories are sized by the longest stream, so every run below of one module
    # uses one build: a run of one stream, then of the same stream twice (the second stream's
    # cost is the marginal one: no process start, no simulator load).
    with tempfile.TemporaryDirectory(prefix="mvu_sim_speed_") as tmp:
        cold = []
        for i in range(a.repeat):  # ccache off: every build compiles everything
            os.environ["CCACHE_DISABLE"] = "1"
            _, b, _ = run("sat_mvu", params, in_w, out_w, [(inp, exp)], "build",
                          str(Path(tmp) / f"cold{i}"))
            os.environ.pop("CCACHE_DISABLE", None)
            cold.append(round(b.seconds, 1))
            print(f"build in an empty cache, ccache off: {b.seconds:.1f} s", flush=True)
        cache = str(Path(tmp) / "ccache")  # ccache on, once: the model's own files are new
        c0 = ccache_counts()
        _, b, _ = run("sat_mvu", params, in_w, out_w, [(inp, exp)], "build", cache)
        c1 = ccache_counts()
        hm = [c1[0] - c0[0], c1[1] - c0[1]] if c0 and c1 else None
        res |= {"build_cold_s": cold, "build_ccache_s": round(b.seconds, 1),
                "build_ccache_hits_misses": hm}
        print(f"build in an empty cache, ccache on: {b.seconds:.1f} s (ccache hits, misses "
              f"meanwhile, other users' compiles included: {hm})", flush=True)

        def speed(module, prm, iw, ow, stream, tag):
            """(cycles, [one-process cycles/s], [marginal cycles/s]) over ``a.repeat`` pairs."""
            one, marg = [], []
            for i in range(a.repeat):
                (r1,), b, w1 = run(module, prm, iw, ow, [stream], f"{tag}_one{i}", cache)
                (_, r2), _, w2 = run(module, prm, iw, ow, [stream] * 2, f"{tag}_two{i}", cache)
                assert b.cached, "the speed runs use the build made before"
                one.append(round(r1.cycles / w1))
                marg.append(round(r2.cycles / (w2 - w1)))
                print(f"{module}: {r1.cycles} cycles in {w1:.2f} s (process start and file I/O "
                      f"included); twice in one process: {w2:.2f} s", flush=True)
            return r1.cycles, one, marg

        res["cycles"], res["cycles_per_s_runs"], res["marginal_cycles_per_s_runs"] = speed(
            "sat_mvu", params, in_w, out_w, (inp, exp), "mvu")
        # the harness alone: a 32-bit skid buffer for as many cycles
        beats = list(range(res["cycles"]))
        skid = {"DATA_W": 32}
        run("sat_skid", skid, 32, 32, [(beats, beats)], "skid_build", cache)
        _, res["harness_skid_cycles_per_s_runs"], res["harness_skid_marginal_runs"] = speed(
            "sat_skid", skid, 32, 32, (beats, beats), "skid")
    med = lambda v: sorted(v)[len(v) // 2]
    res["build_cold_median_s"] = med(res["build_cold_s"])
    res["cycles_per_s"] = med(res["cycles_per_s_runs"])
    res["marginal_cycles_per_s"] = med(res["marginal_cycles_per_s_runs"])
    res["harness_skid_cycles_per_s"] = med(res["harness_skid_cycles_per_s_runs"])
    res["harness_skid_marginal_cycles_per_s"] = med(res["harness_skid_marginal_runs"])
    res["mac_lanes"] = a.pe * a.simd
    res["load_avg_1min_at_end"] = os.getloadavg()[0]
    print(f"sat_mvu PE={a.pe} SIMD={a.simd} MH={a.mh} MW={a.mw} W{wb}A{ab} {a.mult}: "
          f"build {res['build_cold_median_s']} s cold ({res['build_ccache_s']} s with ccache), "
          f"{res['cycles_per_s']:,} cycles/s per process, marginal "
          f"{res['marginal_cycles_per_s']:,} cycles/s; the harness alone (sat_skid) "
          f"{res['harness_skid_cycles_per_s']:,} / {res['harness_skid_marginal_cycles_per_s']:,} "
          f"cycles/s")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
        Path(a.json).with_suffix(".md").write_text(markdown(res))


if __name__ == "__main__":
    main()
