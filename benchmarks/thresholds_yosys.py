"""Yosys cell counts of rtl/sat_thresholds.sv against a plain parallel compare, same sizes.

sat_thresholds is a pipelined binary search (OUT_BITS comparators per lane, one narrow memory per
lane and stage), with an all-at-once compare where CH == PE and OUT_BITS <= 4. The reference
below is what the first contract described: all NT = 2^OUT_BITS - 1 thresholds of a lane in one
wide ROM word read per beat, NT comparators and a count. Both count `acc >= T` or `acc > T` by
direction exactly as the block does; Yosys synth_xilinx (xc7), thresholds random per channel.

    .venv/bin/python benchmarks/thresholds_yosys.py [--quick] [--out FILE.json]

``--quick`` leaves out the 8-bit parallel reference (about 8 minutes of Yosys on its own).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from sat_hw.codegen.layout import hex_lines, threshold_files
from sat_hw.graph import synthetic
from sat_hw.tools.streamtb import rtl_sources
from sat_hw.tools.yosys import synth

PARALLEL_SV = """module par_thr #(parameter int CH = 4, parameter int PE = 1, parameter int ACC_BITS = 16,
                 parameter int OUT_BITS = 4, parameter FILE = "t.hex") (
    input wire logic clk, input wire logic en, input wire logic [PE*ACC_BITS-1:0] s_tdata,
    output logic [PE*OUT_BITS-1:0] m_tdata);
  localparam int G = CH / PE, NT = (1 << OUT_BITS) - 1, LW = NT * ACC_BITS + 1;
  localparam int GW = G > 1 ? $clog2(G) : 1;
  logic [PE*LW-1:0] rom [G];
  initial $readmemh(FILE, rom);
  logic [GW-1:0] g;
  logic [PE*LW-1:0] q;
  logic [PE*ACC_BITS-1:0] a;
  always_ff @(posedge clk) if (en) begin
    g <= g == GW'(G - 1) ? '0 : g + 1'b1;
    q <= rom[g];
    a <= s_tdata;
  end
  for (genvar p = 0; p < PE; p++) begin : g_lane
    logic [OUT_BITS-1:0] cnt;
    logic d;
    assign d = q[p*LW + LW - 1];
    always_comb begin
      cnt = '0;
      for (int k = 0; k < NT; k++)
        cnt = cnt + OUT_BITS'($signed({a[p*ACC_BITS +: ACC_BITS], 1'b0}) >=
                              $signed({q[p*LW + k*ACC_BITS +: ACC_BITS], d}));
    end
    always_ff @(posedge clk) if (en) m_tdata[p*OUT_BITS +: OUT_BITS] <= cnt ^ {OUT_BITS{d}};
  end
endmodule
"""

# (CH, PE, ACC_BITS, OUT_BITS, run the parallel reference)
CONFIGS = [(4, 4, 16, 4, True), (64, 4, 16, 1, True), (64, 4, 16, 2, True), (64, 4, 16, 4, True),
           (8, 2, 16, 8, True), (64, 4, 16, 8, False)]


def thresholds(ch: int, acc: int, out_bits: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    bound = (1 << (acc - 2)) - 1
    return synthetic.random_thresholds(rng, np.zeros(ch), np.full(ch, bound / 3), out_bits, bound)


def wide_rom(t: np.ndarray, d: np.ndarray, acc: int, pe: int) -> str:
    c, nt = t.shape
    lw = nt * acc + 1
    words = []
    for g in range(c // pe):
        word = 0
        for p in range(pe):
            ch = g * pe + p
            v = sum((int(t[ch, k]) & ((1 << acc) - 1)) << (k * acc) for k in range(nt))
            word |= (v | int(d[ch] < 0) << (lw - 1)) << (p * lw)
        words.append(word)
    return hex_lines(words, pe * lw)


def search(ch: int, pe: int, acc: int, out_bits: int) -> dict:
    t, d = thresholds(ch, acc, out_bits)
    files = threshold_files(t, d, acc, pe, "thr")
    files.update({f"thresh_p0_s{j}.hex": "0\n" for j in range(4)})  # the default parameters'
    r = synth(rtl_sources("sat_skid", "sat_thresholds"), "sat_thresholds",
              {"CH": ch, "PE": pe, "ACC_BITS": acc, "OUT_BITS": out_bits, "THRESH_PREFIX": "thr"},
              files=files)
    return {**r.as_dict(), "seconds": round(r.seconds, 1)}


def parallel(ch: int, pe: int, acc: int, out_bits: int) -> dict:
    t, d = thresholds(ch, acc, out_bits)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "par_thr.sv"
        src.write_text(PARALLEL_SV)
        r = synth([src], "par_thr", {"CH": ch, "PE": pe, "ACC_BITS": acc, "OUT_BITS": out_bits,
                                     "FILE": "p.hex"},
                  files={"p.hex": wide_rom(t, d, acc, pe), "t.hex": "0\n"})
    return {**r.as_dict(), "seconds": round(r.seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 8-bit parallel reference")
    ap.add_argument("--out", type=Path, help="write the rows as JSON")
    args = ap.parse_args(argv)
    rows = []
    print("| CH | PE | ACC_BITS | OUT_BITS | sat_thresholds LUT / FF / CARRY / BRAM18 "
          "| parallel LUT / FF / CARRY |")
    print("|---|---|---|---|---|---|")
    for ch, pe, acc, ob, ref in CONFIGS:
        s = search(ch, pe, acc, ob)
        p = parallel(ch, pe, acc, ob) if ref and not (args.quick and ob > 4) else None
        rows.append({"ch": ch, "pe": pe, "acc_bits": acc, "out_bits": ob, "block": s,
                     "parallel": p})
        ptxt = f"{p['lut']} / {p['ff']} / {p['carry']}" if p else "not run"
        print(f"| {ch} | {pe} | {acc} | {ob} | {s['lut']} / {s['ff']} / {s['carry']} / "
              f"{s['bram18']} | {ptxt} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
