"""The fuzzer's coverage and summary (benchmarks/fuzz.py): what each case exercises, and the run's
figures as JSON and Markdown."""

from __future__ import annotations

import statistics

from fuzz_cases import NOT_DRAWN, Case

from sat_hw.graph.ir import Add, AvgPool, Conv, Linear, MaxPool
from sat_hw.hw.fold import dwc_chain, fold_limits, in_beat, is_mvu, lanes

STATUSES = ("ok", "mismatch", "hang", "build", "error")
SLOW, SLOW_CYCLES = 1.02, 8
"""A free-flowing case is slower than its folding when its measured interval exceeds
``SLOW * expected + SLOW_CYCLES`` (as in tests/test_rtl_residual.py); reported, not a failure."""


def describe(case: Case) -> str:
    """One line per case: input, then each layer's geometry, bits and fold."""
    c, h, _ = case.graph.input.shape
    parts = [f"{c}x{h}x{h}"]
    for n in case.graph.layers:
        f = case.folding[n.name]
        geo = f"k{n.kernel}s{n.stride}p{n.pad}" if isinstance(n, (Conv, MaxPool)) else ""
        bits = f"W{n.wbits}A{n.abits}" if n.wbits else f"A{n.abits}"
        if isinstance(n, Add):
            geo = f"({','.join(n.inputs)}) m{int(max(n.mul_a.max(), n.mul_b.max()))}"
            bits = f"A{n.abits}B{n.bbits}"
        elif n.inputs:
            geo = f"({n.inputs[0]}) {geo}"
        out = f">{n.out_bits}{'s' if getattr(n, 'out_zero', 0) else ''}" \
            if not isinstance(n, Linear) else ""
        parts.append(f"{n.name} {geo}->{n.out_shape[0]}x{n.out_shape[1]} {bits}{out} "
                     f"pe{f.pe} simd{f.simd}{' dsp' if f.mult == 'dsp' else ''}")
    return " | ".join(parts)


def layer_rows(case: Case) -> list[list]:
    """``[op, wbits, abits, out_bits, mult, pe, simd]`` per layer."""
    return [[n.op, n.wbits, n.abits, getattr(n, "out_bits", 0), case.folding[n.name].mult,
             case.folding[n.name].pe, case.folding[n.name].simd] for n in case.graph.layers]


def _layer_features(n, f, prev: int, family: str) -> set[str]:
    out = {f"op {n.op}"}
    if isinstance(n, (Conv, MaxPool)):
        out.add(f"{n.op} k{n.kernel} stride {n.stride}")
        out.add(f"pad {'0' if n.pad == 0 else 'k//2' if n.pad == n.kernel // 2 else 'other'}"
                f"{' (k>1)' if n.kernel > 1 else ''}")
    if is_mvu(n):
        out.add(f"mult {f.mult}")
        if f.mult == "dsp":
            out.add(f"dsp {'DSP48E1 (xc7)' if family == 'xc7' else 'DSP48E2 (xcup)'}")
            if n.abits == 1:
                out.add("dsp with 1-bit activations")
    n_pe, n_simd = fold_limits(n)
    out.add("pe 1" if f.pe == 1 else "pe = all" if f.pe == n_pe else "pe between")
    if n_simd > 1:
        out.add("simd 1" if f.simd == 1 else "simd = all" if f.simd == n_simd else "simd between")
    if n.op == "conv" and f.simd > n.in_shape[0]:
        out.add("conv SIMD > C_in")
    chain = dwc_chain(prev, in_beat(n, f))
    if chain:
        out.add("width converter" if len(chain) == 1 else "two width converters (lcm)")
    if f.pe >= 64:
        out.add("PE >= 64" + (" at >= 6 bits" if min(n.abits, n.wbits or 8) >= 6 else ""))
    if lanes(n, f) >= 128:
        out.add("128+ lanes in one layer")
    if isinstance(n, (Conv, AvgPool)):
        const = f.pe == n.out_shape[0] and n.out_bits <= 4
        out.add("thresholds " + ("as constants (PE = C, <= 4 bits)" if const
                                 else "in memories (binary search)"))
    if isinstance(n, AvgPool) and n.in_shape[1] == 1:
        out.add("avg pool over one pixel")
    for what, v in (("weights", n.wbits), ("activations in", n.abits),
                    ("activations out", getattr(n, "out_bits", 0))):
        if v in (1, 8):
            out.add(f"{v}-bit {what}")
    return out


def _residual_features(case: Case) -> set[str]:
    """The DAG's: blocks, skip kinds, signed codes, add bits and PE, fork depth (the main
    branch's layers and the analysed skip FIFO's depth)."""
    from sat_hw.hw.dag import forks, main_path
    from sat_hw.hw.plan import hardware_plan

    g, out = case.graph, {f"residual: {case.blocks} block{'s' * (case.blocks > 1)}"}
    split = forks(g)
    plan = {lp.name: lp for lp in hardware_plan(g, case.folding, case.family).layers}
    for t, (main, skip) in split.items():
        path = main_path(g, t)[:-1]
        out.add(f"main branch of {len(path)} layer{'s' * (len(path) != 1)}")
        ops = {g.node(p).op for p in path}
        if {"conv", "dw", "maxpool"} & ops or any(getattr(g.node(p), "pad", 0) or
                                                 getattr(g.node(p), "stride", 1) > 1
                                                 for p in path):
            out.add("window generator on the main branch")
        out |= {f"main branch with {op}" for op in ops & {"dw", "maxpool"}}
        sk = g.node(skip)
        out.add("skip add (identity)" if isinstance(sk, Add) else
                f"projection shortcut stride {sk.stride}")
        if isinstance(g.node(t), Add):
            out.add("consecutive blocks (an add forked)")
        depth = next(b.params["DEPTH"] for b in plan[t].blocks if b.role == "skip")
        out.add("skip FIFO depth " + ("<= 16" if depth <= 16 else "17..64" if depth <= 64
                                      else "65..256" if depth <= 256 else "> 256"))
    for n in g.layers:
        if getattr(n, "out_zero", 0):
            out.add(f"signed codes from {'an add' if isinstance(n, Add) else n.op}")
            out.add(f"signed {n.out_bits}-bit codes")
        if isinstance(n, Add):
            pe = case.folding[n.name].pe
            out.add("add pe " + ("1" if pe == 1 else "= C" if pe == n.out_shape[0]
                                 else "between"))
            out.add(f"add {n.out_bits}-bit out")
            out.add("add operand bits " + ("equal" if n.abits == n.bbits else "mixed"))
            out |= {f"add operand {w} {b}-bit" for w, b in (("a", n.abits), ("b", n.bbits))
                    if b in (1, 8)}
            m = int(max(n.mul_a.max(), n.mul_b.max()))
            out.add(f"add multiplier {m}")
            for w, p in zip("ab", n.inputs):
                if getattr(g.node(p), "out_zero", 0):
                    out.add(f"add reads signed operand {w}")
    return out


def features(case: Case) -> list[str]:
    """What the case exercises (each string counted once per case)."""
    g, out = case.graph, set()
    c, h, _ = g.input.shape
    out |= {f"input {'odd' if h % 2 else 'even'} size", f"input channels {c}",
            f"{len(g.layers)} layers"}
    if h <= 2:
        out.add(f"input size {h}")
    first = in_beat(g.layers[0], case.folding[g.layers[0].name])
    for n in g.layers:
        f = case.folding[n.name]
        for p in g.producers(n):
            prev = first if p == g.input.name else case.folding[p].pe
            out |= _layer_features(n, f, prev, case.family)
    before = g.node(g.producers(g.layers[-1])[0])
    if before is g.input or not isinstance(before, AvgPool):
        out.add(f"fc without a pool before it ({before.op})")
    if case.blocks:
        out |= _residual_features(case)
    out |= {f"image {k}" for k in case.image_kinds}
    out |= {f"weights {k}" for k in case.weight_kinds.values()}
    if case.valid_pct < 100:
        out.add("idle input (valid < 100 %)")
    if case.ready_pct < 100:
        out.add("backpressure (ready < 100 %)")
    if case.valid_pct == case.ready_pct == 100:
        out.add("free-flowing stream ends")
    if case.wide:
        out.add("wide case (depthwise PE 64..128 at 6..8 bits)")
    return sorted(out)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def summarize(records: list[dict], head: dict) -> dict:
    """The run's figures from its case records (``head``: seed, config, command, wall time)."""
    counts = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    secs = [r["seconds"] for r in records]
    cpu = [r.get("cpu_s", 0.0) for r in records]
    feats: dict[str, int] = {}
    pairs = {"dsp xc7": {}, "dsp xcup": {}, "lut": {}, "vvu": {}}
    for r in records:
        for ft in r["features"]:
            feats[ft] = feats.get(ft, 0) + 1
        for op, wb, ab, _, mult, _, _ in r["layers"]:
            if wb:
                key = "vvu" if op == "dw" else f"dsp {r.get('family')}" if mult == "dsp" else mult
                pairs[key][f"W{wb}A{ab}"] = pairs[key].get(f"W{wb}A{ab}", 0) + 1
    bad = [{"index": r["index"], "status": r["status"], "message": r["message"],
            "desc": r["desc"]} for r in records if r["status"] != "ok"]
    phase = {k: statistics.median([r[k] for r in records if k in r] or [0.0])
             for k in ("golden_s", "rtl_build_s", "rtl_run_s", "hls_compile_s", "hls_run_s")}
    free = [r for r in records if r.get("valid_pct") == r.get("ready_pct") == 100
            and "interval" in r.get("rtl", {})]
    slow = [r["index"] for r in free
            if r["rtl"]["interval"] > SLOW * r["rtl"]["expected_interval"] + SLOW_CYCLES]
    interval = {"free_flowing": len(free), "residual": sum(bool(r.get("blocks")) for r in free),
                "slower": len(slow), "slower_cases": slow}
    return {**head, "cases": len(records), **{s: counts[s] for s in STATUSES},
            "residual": sum(bool(r.get("blocks")) for r in records), "interval": interval,
            "mismatches": counts["mismatch"], "hangs": counts["hang"],
            "build_failures": counts["build"], "failures": counts["error"],
            "seconds": {"median": _pct(secs, 0.5), "p90": _pct(secs, 0.9),
                        "max": max(secs, default=0.0), "total": sum(secs)},
            "cpu_s": {"median": _pct(cpu, 0.5), "p90": _pct(cpu, 0.9), "total": sum(cpu)},
            "phase_median_s": phase, "features": dict(sorted(feats.items())),
            "bit_pairs": pairs, "not_drawn": NOT_DRAWN, "bad_cases": bad}


def _pair_table(counts: dict, title: str) -> list[str]:
    lines = [f"**{title}** (layers; rows wbits, columns abits)", "",
             "| W \\ A | " + " | ".join(map(str, range(1, 9))) + " |",
             "|---" * 9 + "|"]
    for w in range(1, 9):
        lines.append(f"| {w} | " + " | ".join(str(counts.get(f"W{w}A{a}", 0))
                                              for a in range(1, 9)) + " |")
    return lines + [""]


def markdown(s: dict) -> str:
    """The summary as a page for a person."""
    t, c = s["seconds"], s["cpu_s"]
    head = (f"`{s['command']}` (config {s['config']}, generator v{s['generator']}, "
            f"{s['images']} images a case); the last invocation ran {s['ran']} cases in "
            f"{s['wall_s']:.0f} s with {s['jobs']} jobs; every invocation of this seed and "
            f"config together: {s['wall_s_all']:.0f} s.")
    row = (f"| {s['cases']} | {s['ok']} | {s['mismatches']} | {s['hangs']} | "
           f"{s['build_failures']} | {s['failures']} |")
    phases = ", ".join(f"{k[:-2].replace('_', ' ')} {v:.2f} s"
                       for k, v in s["phase_median_s"].items())
    timing = (f"Time per case (wall, two at a time): median {t['median']:.1f} s, p90 "
              f"{t['p90']:.1f} s, max {t['max']:.1f} s. CPU per case (the case's process and "
              f"its tools): median {c['median']:.1f} s, p90 {c['p90']:.1f} s, total "
              f"{c['total']:.0f} s. Median per phase: {phases}.")
    iv = s["interval"]
    pace = (f"Residual graphs: {s['residual']} of the {s['cases']} cases. Interval: of the "
            f"{iv['free_flowing']} cases with free-flowing stream ends ({iv['residual']} "
            f"residual), {iv['slower']} ran slower than their folding (measured interval "
            f"> {SLOW} x the slowest layer's cycles + {SLOW_CYCLES})"
            + (f": cases {', '.join(map(str, iv['slower_cases'][:40]))}." if iv["slower"]
               else "."))
    lines = [f"# Fuzzer: seed {s['seed']}, {s['cases']} cases", "", head, "",
             "| cases | ok | mismatches | hangs | build failures | other failures |",
             "|---|---|---|---|---|---|", row, "", timing, "", pace, ""]
    if s["bad_cases"]:
        rerun = f"`.venv/bin/python benchmarks/fuzz.py --seed {s['seed']} --case K`"
        lines += ["## Cases that did not pass", "", "| case | status | message |", "|---|---|---|"]
        lines += [f"| {b['index']} | {b['status']} | {b['message'][:200]} |"
                  for b in s["bad_cases"]]
        lines += ["", f"Rerun one verbosely: {rerun}", ""]
    lines += ["## Coverage (cases in which each feature occurs)", "", "| feature | cases |",
              "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["features"].items()] + [""]
    lines += _pair_table(s["bit_pairs"]["dsp xc7"], "MVU layers with DSP48E1 products (xc7)")
    lines += _pair_table(s["bit_pairs"]["dsp xcup"], "MVU layers with DSP48E2 products (xcup)")
    lines += _pair_table(s["bit_pairs"]["lut"], "MVU layers with LUT products")
    lines += _pair_table(s["bit_pairs"]["vvu"], "Depthwise (VVU) layers")
    lines += ["## Not drawn", "", "| what | why |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["not_drawn"].items()]
    return "\n".join(lines) + "\n"


__all__ = ["STATUSES", "describe", "features", "layer_rows", "markdown", "summarize"]
