"""The planner against FINN's MobileNetV1-W4A4 foldings (the anchor of issue 9).

    .venv/bin/python benchmarks/estimate_finn.py

MobileNetV1 width 1.0, 224 px, 3 channels, 1000 classes, 8-bit first/last weights, W4A4 and
W3A4. By FINN's cycle formulas its U250 folding needs 112,896 cycles per frame with about 5,760
MAC lanes (balance 0.87, 2,950 frames/s at 333 MHz on paper), its ZCU104 folding 225,792. The
targets: U250 at 333 MHz >= 3,300 frames/s, ZCU104 at 200 MHz >= 900 frames/s, within 70 % of
LUTs/FFs and 90 % of BRAM/URAM/DSP by the calibrated model, balance >= 0.95, and W3A4 fewer LUTs
than W4A4 at the same frames/s. Also: the same targets with weights kept out of URAM (a URAM
cannot be initialised by the bitstream; the RTL blocks have no weight-load port yet).
Writes ``benchmarks/results/estimate_finn.json`` and ``.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sat_hw.flow.config import load_config
from sat_hw.flow.estimate import config_graph
from sat_hw.hw.planner import Planner

FINN = {"u250": {"cycles": 112_896, "lanes": 5_760, "fps_paper": 2_950, "fps_board": 1_800},
        "zcu104": {"cycles": 225_792, "fps_board": 450}}
TARGETS = (("u250", 333.0, 3300.0), ("zcu104", 200.0, 900.0))


def graph(wbits: int, abits: int = 4):
    cfg = load_config(None, {"model": {"width": 1.0, "resolution": 224, "in_channels": 3,
                                       "classes": 1000},
                             "quant": {"wbits": wbits, "abits": abits}})
    return config_graph(cfg)


def main() -> int:
    out, lines = [], ["# Planner vs FINN's MobileNetV1-W4A4 foldings", "",
                      ("MobileNetV1 1.0, 224 px, 1000 classes, 8-bit first/last weights; "
                       "resources by the cost model calibrated against Yosys (not Vivado). "
                       "Budget: LUT/FF <= 70 %, BRAM18/URAM/DSP <= 90 %. FINN (by its cycle "
                       "formulas): U250 112,896 cycles/frame, ~5,760 lanes, balance 0.87; "
                       "ZCU104 225,792."), "",
                      ("| device | fclk | bits | weights in URAM | frames/s | cycles | MAC lanes "
                       "| balance | LUT | FF | BRAM18 | URAM | DSP | max use | plan s |"),
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for dev, fclk, fps in TARGETS:
        for uram in (True, False):
            for w in (4, 3):
                t0 = time.monotonic()
                g = graph(w)
                try:
                    p = Planner(g, dev, fclk, uram_weights=uram).for_fps(fps)
                except ValueError as e:
                    print(f"{dev} W{w}A4 uram_weights={uram}: {e}")
                    lines.append(f"| {dev} | {fclk:g} | W{w}A4 | {'yes' if uram else 'no'} | "
                                 f"not met: {e} |||||||||||")
                    out.append({"device": dev, "wbits": w, "uram_weights": uram, "error": str(e)})
                    continue
                e = p.estimate
                s = time.monotonic() - t0
                u = e["utilisation"]
                worst = max(u, key=lambda k: u[k] / p.limits[k])
                row = {"device": dev, "fclk_mhz": fclk, "wbits": w, "abits": 4,
                       "uram_weights": uram, "target_fps": fps, "plan_s": round(s, 2),
                       **{k: e[k] for k in ("fps", "interval_cycles", "latency_cycles",
                                            "mac_lanes", "balance", "lut", "ff", "bram18",
                                            "uram", "dsp", "utilisation")},
                       "folding": {n: f.as_dict() for n, f in p.folding.items()}}
                out.append(row)
                print(f"{dev} @ {fclk:g} MHz W{w}A4 (URAM weights {uram}): {e['fps']:,.0f} fps, "
                      f"{e['interval_cycles']:,} cycles, {e['mac_lanes']:,} lanes, balance "
                      f"{e['balance']:.3f}; LUT {e['lut']:,} ({u['lut']:.1%}) FF {e['ff']:,} "
                      f"({u['ff']:.1%}) BRAM18 {e['bram18']:,} ({u['bram18']:.1%}) URAM "
                      f"{e['uram']:,} ({u['uram']:.1%}) DSP {e['dsp']:,} ({u['dsp']:.1%}); "
                      f"{s:.1f} s")
                lines.append(f"| {dev} | {fclk:g} | W{w}A4 | {'yes' if uram else 'no'} "
                             f"| {e['fps']:,.0f} | {e['interval_cycles']:,} "
                             f"| {e['mac_lanes']:,} | {e['balance']:.3f} | {e['lut']:,} "
                             f"| {e['ff']:,} | {e['bram18']:,} | {e['uram']:,} | {e['dsp']:,} "
                             f"| {worst} {u[worst]:.1%} | {s:.1f} |")
    res = ROOT / "benchmarks" / "results"
    (res / "estimate_finn.json").write_text(json.dumps(out, indent=1) + "\n")
    (res / "estimate_finn.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {res / 'estimate_finn.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
