"""The planner beside FINN's own MobileNet-v1 foldings, like for like (issues 9 and 21).

    .venv/bin/python benchmarks/estimate_finn.py

FINN's side comes from finn-examples' folding files, recorded per layer as ``[fold.<layer>]``
tables in ``benchmarks/finn/*.toml`` (each names its source repository, path and commit, and the
clock FINN builds it at; ``sat_hw estimate --config benchmarks/finn/u250_lut.toml`` prices one
alone). MobileNetV1 1.0, 224 px, 1000 classes, W4A4, 8-bit first-layer weights; the last layer's
weights at 4 bits (FINN's Brevitas network) and at 8 (sat_hw's default). Rows per device:

- **FINN as published**: its folding; cycles by FINN's MVAU/VVAU formulas (``Ho*Wo*(C_out/PE)*
  (fan_in/SIMD)``, the VVAU's SIMD 1), which are also ours (``sat_hw.hw.fold.layer_cycles``);
  resources: that folding priced with sat_hw's blocks (our calibrated model, not FINN's RTL).
- **FINN rebalanced** (U250): the same with conv0 and dw1, its only layers slower than
  100,352 cycles, refolded to sat_hw's lanes (PE 4 x SIMD 27, PE 4 x SIMD 9).
- **sat_hw LUT-only** / **sat_hw with DSPs**: the planner, products in LUTs only or in DSPs
  where it pays, for the throughput target (U250: 3,300 frames/s at 333 MHz) or the fastest
  folding that fits (ZCU104 at FINN's 185 MHz).

Every row gives frames/s at the assumed clock and at the logic-depth bound (:func:`depth_bound`).
Writes ``benchmarks/results/estimate_finn.json`` and ``.md``; ``benchmarks/estimates.py``
regenerates this and every other committed estimate result and the docs tables.
"""

from __future__ import annotations

import json
import re
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sat_hw.flow.clock import depth_bound_mhz, depth_mhz
from sat_hw.flow.config import load_config
from sat_hw.flow.estimate import config_graph
from sat_hw.hw.planner import LIMITS, Planner

FINN_DIR = ROOT / "benchmarks" / "finn"
RESULTS = ROOT / "benchmarks" / "results"
REBALANCE = {"conv0": {"pe": 4, "simd": 27}, "dw1": {"pe": 4, "simd": 9}}
DEVICES = {"u250": {"fclk": 333.0, "fps": 3300.0, "finn": ("u250_lut", "u250_dsp")},
           "zcu104": {"fclk": 185.0, "fps": None, "finn": ("zcu104",)}}
BOARD_FPS = {"u250": (1600, ("https://github.com/Xilinx/finn/pull/252 (2020-12-01): 'should be "
                            "able to achieve ~1600 FPS on U250'"))}
"""FINN's measured figures we can cite; none found for the ZCU104."""


def read_finn(name: str) -> dict:
    """A FINN folding file: its ``[fold.*]`` tables and the provenance in its comment lines."""
    path = FINN_DIR / f"{name}.toml"
    text = path.read_text()
    meta = dict(re.findall(r"^# (source|clock): (.*)$", text, re.MULTILINE))
    cfg = tomllib.loads(text)
    return {"name": name, "file": str(path.relative_to(ROOT)), "title": text.splitlines()[0][2:],
            "source": meta["source"], "clock": meta["clock"], "fclk_mhz": cfg["hw"]["fclk_mhz"],
            "fold": cfg["fold"]}


def graph(fc_wbits: int, wbits: int = 4, abits: int = 4):
    cfg = load_config(None, {"model": {"width": 1.0, "resolution": 224, "in_channels": 3,
                                       "classes": 1000},
                             "quant": {"wbits": wbits, "abits": abits,
                                       "layers": {"fc": {"wbits": fc_wbits}}}})
    return config_graph(cfg)


def depth_bound() -> tuple[float, str]:
    """The logic-depth bound on xcup (:func:`sat_hw.flow.clock.depth_bound_mhz`) and the block row
    of benchmarks/results/block_timing.json whose worst LUT path sets it (DSP paths aside: Yosys
    leaves a DSP48E2 unregistered on xcup, where Vivado packs the RTL's registers into it; the
    ECP5 rows, packed, reach 164.88 MHz with DSPs)."""
    rows = json.loads((RESULTS / "block_timing.json").read_text())["rows"]
    worst = None
    for name, r in rows.items():
        w = r["xcup"]["worst"]
        if not w or w["dsp"]:
            continue
        mhz = depth_mhz(w["lut"] + w["muxf"], w["carry"], "xcup")
        if worst is None or mhz < worst[0]:
            worst = (mhz, f"{name}: {w['levels']}")
    bound = depth_bound_mhz("xcup")
    if worst[0] != bound:
        raise SystemExit(f"sat_hw.flow.clock.BLOCK_DEPTH gives {bound} MHz, block_timing.json's "
                         f"worst row {worst[1]} {worst[0]} MHz: update BLOCK_DEPTH")
    return worst


def _row(kind: str, dev: str, fc: int, plan, fclk: float, bound: float, t0: float,
         **extra) -> dict:
    e = plan.estimate
    over = [k for k, v in e["utilisation"].items() if v > LIMITS[k]]
    return {"kind": kind, "device": dev, "fc_wbits": fc, "fclk_mhz": fclk, **extra,
            "fps": round(e["fps"], 1),
            "fps_depth_bound": round(bound * 1e6 / e["interval_cycles"], 1),
            **{k: e[k] for k in ("interval_cycles", "latency_cycles", "mac_lanes", "balance", "lut",
                                 "ff", "bram18", "uram", "dsp", "utilisation")},
            "over_budget": over, "plan_s": round(time.monotonic() - t0, 2),
            "layers": {c.name: {**c.fold.as_dict(), "cycles": c.cycles, "lanes": c.lanes,
                                **c.resources.as_dict()} for c in plan.costs}}


def rows() -> tuple[list[dict], dict]:
    bound, bound_path = depth_bound()
    out, finn_meta = [], {}
    for dev, d in DEVICES.items():
        for fc in (4, 8):
            g = graph(fc)
            for name in d["finn"]:
                f = read_finn(name)
                finn_meta[name] = {k: f[k] for k in ("file", "title", "source", "clock")}
                variants = [("FINN as published", f["fold"])]
                if dev == "u250":
                    variants.append(("FINN rebalanced", {**f["fold"], **{
                        n: {**f["fold"][n], **v} for n, v in REBALANCE.items()}}))
                for kind, fold in variants:
                    t0 = time.monotonic()
                    # FINN's folding is what it is: priced without the budget, then checked
                    p = Planner(g, dev, d["fclk"], explicit=fold,
                                limits={k: 1e9 for k in LIMITS})
                    out.append(_row(kind, dev, fc, p.at(p.fastest_cycles), d["fclk"], bound, t0,
                                    finn=name))
            for kind, mults in (("sat_hw LUT-only", ("lut",)),
                                ("sat_hw with DSPs", ("lut", "dsp"))):
                t0 = time.monotonic()
                p = Planner(g, dev, d["fclk"], mults=mults)
                plan = p.for_fps(d["fps"]) if d["fps"] else p.fastest()
                out.append(_row(kind, dev, fc, plan, d["fclk"], bound, t0))
    return out, {"depth_bound_mhz": bound, "depth_bound_path": bound_path, "finn": finn_meta}


def five_thousand() -> dict:
    """What 5,000 frames/s on the U250 would need: the interval at 333 MHz, the lanes that
    interval takes at balance 1, the planner's answer, and the clock the 3,300 plan's interval
    would need."""
    g = graph(8)
    target = int(333e6 // 5000)
    macs = sum(int(n.macs) for n in g.layers)
    out = {"fps": 5000, "fclk_mhz": 333.0, "interval_cycles_max": target,
           "lanes_at_balance_1": -(-macs // target), "macs": macs,
           "clock_at_100352_mhz": round(5000 * 100_352 / 1e6, 1)}
    for kind, mults in (("lut", ("lut",)), ("dsp", ("lut", "dsp"))):
        try:
            p = Planner(g, "u250", 333.0, mults=mults).for_fps(5000)
            e = p.estimate
            out[kind] = {k: e[k] for k in ("interval_cycles", "fps", "mac_lanes", "balance", "lut",
                                           "ff", "bram18", "uram", "dsp", "utilisation")}
        except ValueError as err:
            out[kind] = {"error": str(err)}
    return out


def _cell(r: dict, k: str) -> str:
    return f"{r[k]:,} ({r['utilisation'][k]:.1%})"


def table(out: list[dict]) -> list[str]:
    lines = [("| device | fclk | row | fc weights | cycles/frame | frames/s | frames/s at the "
             "depth bound | MAC lanes | balance | LUT | FF | BRAM18 | URAM | DSP |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in out:
        name = r["kind"] + (f" ({r['finn']})" if "finn" in r else "")
        if r["over_budget"]:
            name += f", over the budget: {', '.join(r['over_budget'])}"
        lines.append(f"| {r['device'].upper()} | {r['fclk_mhz']:g} | {name} | {r['fc_wbits']}-bit "
                     f"| {r['interval_cycles']:,} | {r['fps']:,.0f} | {r['fps_depth_bound']:,.0f} "
                     f"| {r['mac_lanes']:,} | {r['balance']:.3f} | {_cell(r, 'lut')} "
                     f"| {_cell(r, 'ff')} | {_cell(r, 'bram18')} | {r['uram']:,} "
                     f"| {_cell(r, 'dsp')} |")
    return lines


def compare(a: dict, b: dict) -> list[str]:
    """Per layer, two rows side by side: fold, cycles, LUT, FF, BRAM18."""
    def fold(x):
        return f"{x['pe']} x {x['simd']} {x.get('mult', 'lut')} {x.get('mem', 'auto')}"

    lines = [(f"| layer | {a['kind']}: fold | cycles | LUT | FF | BRAM18 | {b['kind']}: fold "
             "| cycles | LUT | FF | BRAM18 |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, x in a["layers"].items():
        y = b["layers"][n]
        lines.append(f"| {n} | {fold(x)} | {x['cycles']:,} | {x['lut']:,} | {x['ff']:,} "
                     f"| {x['bram18']:,} | {fold(y)} | {y['cycles']:,} | {y['lut']:,} "
                     f"| {y['ff']:,} | {y['bram18']:,} |")
    return lines


def pick(out: list[dict], kind: str, dev: str = "u250", fc: int = 4, finn: str | None = None):
    return next(r for r in out if r["kind"] == kind and r["device"] == dev
                and r["fc_wbits"] == fc and r.get("finn") == finn)


def main() -> int:
    t0 = time.monotonic()
    out, meta = rows()
    five = five_thousand()
    data = {"meta": {**meta, "board_fps": {k: {"fps": v[0], "source": v[1]}
                                           for k, v in BOARD_FPS.items()}},
            "rows": out, "five_thousand_u250": five}
    lines = ["# The planner beside FINN's MobileNet-v1 foldings", "",
             ("MobileNetV1 1.0, 224 px, 1000 classes, W4A4, 8-bit first-layer weights; resources "
              "by sat_hw's cost model calibrated against Yosys (not Vivado), FINN's foldings "
              "priced with sat_hw's blocks. Budget: LUT/FF <= 70 %, BRAM18/URAM/DSP <= 90 %. "
              f"Depth bound: {meta['depth_bound_mhz']} MHz ({meta['depth_bound_path']}, "
              "logic depth only). Sources: "
              + "; ".join(f"`{m['file']}` from {m['source']}" for m in meta["finn"].values())),
             "", *table(out), "",
             ("Per layer, U250, 4-bit fc weights, LUT products: FINN's folding rebalanced "
             "against sat_hw's plan (the same interval):"), "",
             *compare(pick(out, "FINN rebalanced", finn="u250_lut"),
                      pick(out, "sat_hw LUT-only")),
             "", "With DSPs:", "",
             *compare(pick(out, "FINN rebalanced", finn="u250_dsp"), pick(out, "sat_hw with DSPs")),
             ""]
    for r in out:
        print(f"{r['device']} {r['kind']}{' ' + r['finn'] if 'finn' in r else ''} "
              f"fc W{r['fc_wbits']}: "
              f"{r['fps']:,.0f} fps ({r['interval_cycles']:,} cycles), LUT {r['lut']:,} FF "
              f"{r['ff']:,} BRAM18 {r['bram18']:,} URAM {r['uram']:,} DSP {r['dsp']:,}")
    print(f"5,000 fps on the U250: {json.dumps(five)}")
    (RESULTS / "estimate_finn.json").write_text(json.dumps(data, indent=1) + "\n")
    (RESULTS / "estimate_finn.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'estimate_finn.md'} ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
