"""Yosys synth_xilinx cell counts of the depthwise vector unit (sat_vvu), SAT k-encoded weights
against signed ones. Prints a table (and writes JSON with ``--json``); not a test.

    .venv/bin/python benchmarks/vvu_yosys.py [--pe 8] [--simd 9] [--ch 64] [--bits 4x4,3x4]
        [--dsp] [--json benchmarks/results/vvu_yosys.json]

Each unit has K2 = 9 taps, a random depthwise conv's weights (sat_hw.graph.synthetic, seed 0) in
its ROM (depth CH/PE * K2/SIMD, 8 words at the defaults, mapped to LUTs by Yosys) and the graph's
accumulator width. Multipliers go to LUTs (``-nodsp``) unless ``--dsp``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from sat_hw.codegen.layout import hex_lines, vvu_rom
from sat_hw.graph import synthetic
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.streamtb import rtl_sources
from sat_hw.tools.yosys import synth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pe", type=int, default=8)
    ap.add_argument("--simd", type=int, default=9)
    ap.add_argument("--ch", type=int, default=64)
    ap.add_argument("--bits", default="4x4,3x4", help="WBITSxABITS, comma separated")
    ap.add_argument("--dsp", action="store_true", help="let Yosys map multipliers to DSPs")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()
    rows = []
    print(f"sat_vvu CH={a.ch} K2=9 PE={a.pe} SIMD={a.simd} "
          f"synth_xilinx -family xc7 {'' if a.dsp else '-nodsp'}", flush=True)
    print("| W | A | encoding | LUT | FF | CARRY | DSP | s |\n|---|---|---|---|---|---|---|---|")
    for pair in a.bits.split(","):
        wb, ab = (int(x) for x in pair.split("x"))
        node = synthetic.conv(np.random.default_rng(0), "dw", (a.ch, 4, 4), a.ch, groups=a.ch,
                              wbits=wb, abits=ab)
        for enc in ("k", "signed"):
            words, width = vvu_rom(layer_plan(node, Fold(a.pe, a.simd)), enc)
            r = synth(rtl_sources("sat_skid", "sat_vvu"), "sat_vvu",
                      {"CH": a.ch, "K2": 9, "PE": a.pe, "SIMD": a.simd, "WBITS": wb, "ABITS": ab,
                       "ACC_BITS": node.acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": enc},
                      extra="" if a.dsp else "-nodsp", files={"w.hex": hex_lines(words, width)})
            rows.append({"wbits": wb, "abits": ab, "encoding": enc, "ch": a.ch, "pe": a.pe,
                         "simd": a.simd, "dsp_mapping": a.dsp, **r.as_dict(),
                         "seconds": round(r.seconds, 1)})
            print(f"| {wb} | {ab} | {enc} | {r.lut} | {r.ff} | {r.carry} | {r.dsp} | "
                  f"{r.seconds:.0f} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
