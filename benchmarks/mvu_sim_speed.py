"""Verilator simulation speed of one matrix-vector unit (sat_mvu) with HDL-side stimulus, and its
cold build time. Not a test.

    nice -n 10 .venv/bin/python benchmarks/mvu_sim_speed.py [--pe 16] [--simd 16] [--mh 64]
        [--mw 256] [--bits 4x4] [--mult lut] [--vectors 8192]
        [--json benchmarks/results/mvu_sim_speed.json]

The unit runs inside sat_hw.streamtb's wrapper (source and sink are HDL memories, Python only
starts the scenario and reads the counters), free flowing, on a build made in an empty cache
folder (the build time is Verilator plus the C++ compile, 2 make jobs). Two streams, a short one
and a long one, give the marginal speed (cycles/s of the long stream beyond the short one: no
process start, no file reading) beside the plain one; the long stream's outputs are checked
against the integer matrix product. For scale, the same harness around a 32-bit sat_skid for
as many cycles gives the harness's own speed (its clock comes from cocotb).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from sat_hw.codegen.layout import hex_lines, mvu_matrix, mvu_rom
from sat_hw.graph import synthetic
from sat_hw.graph.ir import acc_bits_for, acc_bound, levels
from sat_hw.hw.fold import Fold
from sat_hw.streamtb import Scenario, run_scenarios


def pack(rows: np.ndarray, per_beat: int, bits: int) -> list[int]:
    """Rows -> beats of ``per_beat`` elements, element i at [i*bits +: bits] (two's complement),
    with numpy: the beat as little-endian bytes of the packed bits."""
    flat = np.asarray(rows, np.int64).reshape(-1, per_beat) & ((1 << bits) - 1)
    bitmat = ((flat[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(len(flat), -1)
    packed = np.packbits(bitmat, axis=1, bitorder="little")
    return [int.from_bytes(r.tobytes(), "little") for r in packed]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pe", type=int, default=16)
    ap.add_argument("--simd", type=int, default=16)
    ap.add_argument("--mh", type=int, default=64)
    ap.add_argument("--mw", type=int, default=256)
    ap.add_argument("--bits", default="4x4", help="WBITSxABITS")
    ap.add_argument("--mult", default="lut", choices=("lut", "dsp"))
    ap.add_argument("--vectors", type=int, default=8192, help="vectors in the long stream")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    wb, ab = (int(x) for x in a.bits.split("x"))
    node = synthetic.linear(np.random.default_rng(0), "fc", a.mw, a.mh, wbits=wb, abits=ab)
    fold = Fold(a.pe, a.simd, a.mult)
    words, width = mvu_rom(node, fold, "k")
    acc_bits = acc_bits_for(acc_bound(a.mw, wb, ab))
    params = {"MH": a.mh, "MW": a.mw, "PE": a.pe, "SIMD": a.simd, "WBITS": wb, "ABITS": ab,
              "ACC_BITS": acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": "k", "MULT": a.mult}
    files = {"w.hex": hex_lines(words, width)}
    rng = np.random.default_rng(1)
    x = rng.integers(0, levels(ab) + 1, (a.vectors, a.mw))
    acc = x @ mvu_matrix(node, fold).T
    n_short = max(1, a.vectors // 16)
    streams = {"short": (pack(x[:n_short], a.simd, ab), pack(acc[:n_short], a.pe, acc_bits)),
               "long": (pack(x, a.simd, ab), pack(acc, a.pe, acc_bits))}
    in_w, out_w = a.simd * ab, a.pe * acc_bits
    res = {"pe": a.pe, "simd": a.simd, "mh": a.mh, "mw": a.mw, "wbits": wb, "abits": ab,
           "mult": a.mult, "encoding": "k", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="mvu_sim_speed_") as cache:
        os.environ["SAT_HW_CACHE"] = cache  # a cold build

        def run(module, prm, iw, ow, inp, exp, tag):
            t0 = time.monotonic()
            (r,), b = run_scenarios(module, prm, iw, ow, [Scenario(inp, len(exp), watchdog=10_000)],
                                    files=files, workdir=Path(cache) / f"run_{tag}")
            if r.timed_out or r.outputs != exp:
                raise SystemExit(f"{module} {tag}: outputs differ from the expected ones")
            return r, b, time.monotonic() - t0 - (0 if b.cached else b.seconds)

        inp, exp = streams["short"]
        _, b, _ = run("sat_mvu", params, in_w, out_w, inp, exp, "warm")  # builds
        res["build_s"] = round(b.seconds, 1)
        print(f"cold build (Verilator + C++, {os.cpu_count()} cpus): {b.seconds:.1f} s", flush=True)
        for name, (inp, exp) in streams.items():
            r, _, wall = run("sat_mvu", params, in_w, out_w, inp, exp, name)
            res[f"{name}_vectors"] = len(inp) // (a.mw // a.simd)
            res[f"{name}_cycles"] = r.cycles
            res[f"{name}_run_s"] = round(wall, 2)
            print(f"{name}: {r.cycles} cycles in {wall:.2f} s "
                  f"({r.cycles / wall:,.0f} cycles/s, process start and file I/O included)",
                  flush=True)
        # the harness alone: a skid buffer as wide as the input, as many cycles
        beats = list(range(res["long_cycles"]))
        skid = {"DATA_W": 32}
        run("sat_skid", skid, 32, 32, beats[:1000], beats[:1000], "skid_warm")
        r, _, wall = run("sat_skid", skid, 32, 32, beats, beats, "skid")
        res["harness_skid_cycles_per_s"] = round(r.cycles / wall)
        print(f"harness alone (sat_skid, 32 bits): {r.cycles} cycles in {wall:.2f} s "
              f"({r.cycles / wall:,.0f} cycles/s)", flush=True)
    res["cycles_per_s"] = round(res["long_cycles"] / res["long_run_s"])
    res["marginal_cycles_per_s"] = round((res["long_cycles"] - res["short_cycles"])
                                         / (res["long_run_s"] - res["short_run_s"]))
    res["mac_lanes"] = a.pe * a.simd
    print(f"sat_mvu PE={a.pe} SIMD={a.simd} MH={a.mh} MW={a.mw} W{wb}A{ab} {a.mult}: "
          f"build {res['build_s']} s (cold), {res['cycles_per_s']:,} cycles/s, marginal "
          f"{res['marginal_cycles_per_s']:,} cycles/s; the harness alone "
          f"{res['harness_skid_cycles_per_s']:,} cycles/s")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
