"""report.json and report.md of a build folder (pure: data in, dict / text out).

Keys follow DESIGN.md ("What the reports hold"); this issue fills ``model``, ``layers`` (bits,
accumulator widths, shapes, MACs, memory bits) and ``torch`` (PyTorch vs golden agreement).
"""

from __future__ import annotations

import numpy as np

from sat_hw.flow.clock import clock_entry, clock_line
from sat_hw.graph.ir import Graph, Input


def top1(outputs: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """``(share of images whose argmax is the label, images)``."""
    n = min(len(outputs), len(labels))
    hit = np.argmax(np.asarray(outputs)[:n], axis=1) == np.asarray(labels)[:n]
    return (float(np.mean(hit)) if n else 0.0), int(n)


def params(graph: Graph) -> int:
    """Trainable parameters the graph carries: weights and biases (BN is folded away)."""
    n = 0
    for node in graph.layers:
        for what in ("weights", "bias"):
            a = getattr(node, what, None)
            n += 0 if a is None else int(a.size)
    return n


def layer_rows(graph: Graph, agreement: dict | None = None) -> list[dict]:
    rows = []
    for node in graph.nodes:
        if isinstance(node, Input):
            continue
        row = {"name": node.name, "op": node.op, "wbits": int(getattr(node, "wbits", 0)),
               "abits": int(node.abits), "out_bits": int(getattr(node, "out_bits", 0) or 0),
               "acc_bits": int(getattr(node, "acc_bits", 0)),
               "in_shape": list(node.in_shape), "out_shape": list(node.out_shape),
               "macs": int(node.macs), "weight_bits": int(node.weight_memory_bits),
               "threshold_bits": int(node.threshold_memory_bits)}
        if agreement is not None and node.name in agreement.get("layers", {}):
            row["torch_code_match_rate"] = agreement["layers"][node.name]
        rows.append(row)
    return rows


def make_report(graph: Graph, agreement: dict, build: dict) -> dict:
    """The report dict: ``model``, ``layers``, ``torch``, ``build`` (how it was made) and
    ``phases`` (``[{name, what, ran, why}]``, taken from ``build["phases"]``)."""
    build = dict(build)
    phases = build.pop("phases", [])
    layers = layer_rows(graph, agreement)
    model = {"name": graph.name, "width": graph.width, "resolution": graph.resolution,
             "in_channels": graph.in_channels, "classes": graph.classes,
             "params": params(graph), "macs": sum(r["macs"] for r in layers),
             "weight_bits": sum(r["weight_bits"] for r in layers),
             "threshold_bits": sum(r["threshold_bits"] for r in layers)}
    torch = {k: agreement[k] for k in ("code_match_rate", "top1_match_rate", "images")}
    torch["layers"] = dict(agreement.get("layers", {}))
    torch["mismatches"] = sum(agreement.get("mismatches", {}).values())
    if "isolated" in agreement:
        iso = agreement["isolated"]
        torch["isolated"] = {k: iso[k] for k in ("code_match_rate", "mismatches", "ties",
                                                 "max_margin_lsb")}
    if "float64" in agreement:
        torch["float64"] = dict(agreement["float64"])
    return {"model": model, "layers": layers, "torch": torch, "build": build, "phases": phases}


def add_hardware(report: dict, folding, estimate, hls_csim: dict | None, sim: dict | None,
                 layer_sims: dict | None, fclk_mhz: float, plan=None) -> dict:
    """The hardware parts of the report: each layer's folding, the estimate (``(summary,
    per-layer rows)``), HLS C-sim, RTL simulation, and ``clock`` (assumed, and evidence-backed
    once ``sat_hw timing`` or ``sat_hw pnr`` has run: :mod:`sat_hw.flow.clock`); with the
    hardware ``plan``, each forked layer's ``skip_fifo`` (``{depth, reason}``, the depth by
    analysis: docs/hardware.md, "Skip FIFO depth")."""
    if folding is not None:
        for r in report["layers"]:
            f = folding[r["name"]]
            r.update(pe=f.pe, simd=f.simd, mult=f.mult)
    if plan is not None:
        skips = {lp.name: (b.params["DEPTH"], lp.skip_reason)
                 for lp in plan.layers for b in lp.blocks if b.role == "skip"}
        for r in report["layers"]:
            if r["name"] in skips:
                r["skip_fifo"] = dict(zip(("depth", "reason"), skips[r["name"]]))
    if estimate is not None:
        report["estimate"], rows = estimate
        for r, e in zip(report["layers"], rows):
            r["estimate"] = e
    if hls_csim is not None:
        report["hls_csim"] = hls_csim
    if sim is not None:
        report["sim"] = sim
        for r in report["layers"]:
            r["sim"] = (layer_sims or {}).get(r["name"], {})
    report["clock"] = clock_entry(report, fclk_mhz)
    return report


def _shape(s: list[int]) -> str:
    return "x".join(str(v) for v in s)


def _pct(r: float | None) -> str:
    return "" if r is None else f"{100 * r:.3f}"


def _agreement_lines(t: dict) -> list[str]:
    lines = []
    if "isolated" in t:
        i = t["isolated"]
        diff = (f"{i['ties']} of {i['mismatches']} differences lie within 1e-3 of a code step "
                f"of a rounding boundary" if i["mismatches"] else "no differences")
        lines.append(f"- layer by layer (each layer fed PyTorch's own input codes): "
                     f"{_pct(i['code_match_rate'])} % identical; {diff}")
    if "float64" in t:
        f = t["float64"]
        lines.append(f"- the same model in float64: {_pct(f['code_match_rate'])} % of codes, "
                     f"top-1 {_pct(f['top1_match_rate'])} %")
    return lines


def _phase_lines(phases: list[dict]) -> list[str]:
    if not phases:
        return []
    ran = ", ".join(p["name"] for p in phases if p["ran"]) or "none"
    skipped = "; ".join(f"{p['name']} ({p['why']})" for p in phases if not p["ran"])
    lines = [f"- phases run: {ran}"]
    if skipped:
        lines.append(f"- phases skipped: {skipped}")
    if not any(p["ran"] for p in phases if p["name"] in ("rtl", "hls")):
        lines.append("- **no hardware was generated by this build**")
    return lines


def _hls_lines(h: dict | None) -> list[str]:
    if not h:
        return []
    return [f"- HLS C-simulation (g++): {h['images']} image(s), {h['mismatches']} output(s) "
            f"differ from golden; compile {h['compile_s']:.1f} s"
            f"{' (cached)' if h.get('cached') else ''}, run {h['run_s']:.2f} s"
            + (f"; TLAST checked on {h['tlast_images']} image(s), {h['wrong_frames_flagged']} "
               f"wrong-length frame(s) flagged" if "tlast_images" in h else "")]


def _estimate_lines(e: dict | None) -> list[str]:
    if not e:
        return []
    return [f"- estimate on {e['device']} at {e['fclk_mhz']:g} MHz (cost model calibrated "
            f"against Yosys): {e['fps']:,.0f} frames/s ({e['interval_cycles']:,} cycles per "
            f"image, latency {e['latency_cycles']:,}), LUT {e['lut']:,}, FF {e['ff']:,}, "
            f"BRAM18 {e['bram18']:,}, URAM {e['uram']:,}, DSP {e['dsp']:,}; "
            f"{e['mac_lanes']:,} MAC lanes, balance {e['balance']:.3f}"]


def _clock_lines(c: dict | None) -> list[str]:
    return [f"- clock: {clock_line(c)}"] if c else []


def _sim_lines(s: dict | None) -> list[str]:
    if not s:
        return []
    if s.get("failed"):
        return [f"- **RTL simulation failed** (Verilator, cycle-accurate, {s['images']} "
                f"image(s)): {s['failed']}; {s.get('outputs_received', 0)} image(s)' outputs "
                f"arrived in {s.get('cycles') or 0:,} cycles (per-layer counters below are "
                f"those of the failed run)"]
    t = s.get("torch_mismatches")
    torch = "" if t is None else f"; {t} differ from the integers the PyTorch model implies"
    return [f"- RTL simulation (Verilator, cycle-accurate): {s['images']} image(s) back to back, "
            f"{s['mismatches']} output(s) differ from golden{torch}; interval "
            f"{s['interval_cycles']:,.0f} cycles (slowest layer by the folding: "
            f"{s['expected_interval_cycles']:,}"
            f"{'; one image: its latency, not a steady state' if s['images'] == 1 else ''}), latency {s['latency_cycles']:,} cycles, "
            f"{s['fps']:,.0f} frames/s at {s['fclk_mhz']:g} MHz; simulator "
            f"{s['sim_cycles_per_s'] / 1e3:,.0f} k cycles/s, build {s['build_s']:.1f} s"
            f"{' (cached)' if s.get('build_cached') else ''}, run {s['run_s']:.1f} s"]


def _accuracy_lines(a: dict | None) -> list[str]:
    if not a:
        return []
    counts = a.get("counts") or {}
    if all(counts.get(k, a["images"]) == a["images"] for k in a["labels"]):
        parts = ", ".join(f"{k} {100 * v:.2f} %" for k, v in a["labels"].items())
        return [f"- top-1 against the true labels on {a['images']} test image(s): {parts}"]
    parts = ", ".join(f"{k} {100 * v:.2f} % ({counts.get(k, a['images'])} images)"
                      for k, v in a["labels"].items())
    return [f"- top-1 against the true labels: {parts}"]


def _hardware_table(report: dict) -> list[str]:
    rows = [r for r in report["layers"] if "pe" in r]
    if not rows:
        return []
    out = ["", "| layer | PE | SIMD | mult | expected cycles | measured busy | starved | blocked "
               "| FIFO peak | LUT (est.) | FF (est.) | BRAM18 (est.) | DSP (est.) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, e = r.get("sim") or {}, r.get("estimate") or {}
        f = lambda d, k, fmt="{:,}": fmt.format(d[k]) if k in d else ""
        out.append(f"| {r['name']} | {r['pe']} | {r['simd']} | {r.get('mult', '')} "
                   f"| {f(s, 'expected_cycles_per_image')} "
                   f"| {f(s, 'measured_cycles_per_image', '{:,.0f}')} "
                   f"| {f(s, 'cycles_starved')} | {f(s, 'cycles_blocked')} "
                   f"| {f(s, 'fifo_peak')} | {f(e, 'lut')} | {f(e, 'ff')} | {f(e, 'bram18')} "
                   f"| {f(e, 'dsp')} |")
    out += ["", "Expected cycles are the folding's steady-state cycles per image (the slower of "
                "compute and input); measured busy is the simulation's cycles from the layer's "
                "first input to its last output, less the cycles its compute block waited for "
                "input (starved) and its output waited for the next layer (blocked), per image."]
    if report.get("sim"):
        out += ["", "![cycles per layer](report_cycles.png)"]
    return out + _skip_lines(report)


def _skip_lines(report: dict) -> list[str]:
    """One line per skip FIFO: its depth by analysis, why, and the simulation's peak fill."""
    rows = [r for r in report["layers"] if "skip_fifo" in r]
    if not rows:
        return []
    out = ["", "Skip FIFOs (depth by analysis of the plan: the beats the main branch can hold "
               "between the fork and the add, plus the fork's drift; docs/hardware.md, \"Skip "
               "FIFO depth\"):", ""]
    for r in rows:
        k, peak = r["skip_fifo"], (r.get("sim") or {}).get("skip_fifo_peak")
        seen = "" if peak is None else f"; simulated peak {peak:,}"
        out.append(f"- {r['name']}: {k['depth']:,} beats{seen}; {k['reason']}")
    return out


def render_markdown(report: dict) -> str:
    m, t, b = report["model"], report["torch"], report["build"]
    mixed = f" mixed ({b['mixed']})" if b.get("mixed") else ""
    out = [f"# sat_hw build: {m['name']} W{b['wbits']}A{b['abits']}{mixed}", "",
           *_phase_lines(report.get("phases", [])), *_sim_lines(report.get("sim")),
           *_hls_lines(report.get("hls_csim")), *_accuracy_lines(report.get("accuracy")),
           *_estimate_lines(report.get("estimate")), *_clock_lines(report.get("clock")),
           f"- model: {m['name']} width {m['width']}, {m['resolution']} px, {m['in_channels']} "
           f"input channel(s), {m['classes']} classes; {m['params']:,} parameters, "
           f"{m['macs']:,} MACs per image",
           f"- weights: {b['weights']}",
           f"- inputs: {t['images']} image(s), {b['inputs']}",
           f"- graph: {b['graph_hash']}",
           f"- PyTorch vs golden: {_pct(t['code_match_rate'])} % of activation codes identical, "
           f"top-1 identical on {_pct(t['top1_match_rate'])} % of images", *_agreement_lines(t), "",
           "| layer | op | in | out | wbits | abits | out bits | acc bits | MACs | weight bits "
           "| threshold bits | codes = torch (%) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["layers"]:
        out.append(f"| {r['name']} | {r['op']} | {_shape(r['in_shape'])} | {_shape(r['out_shape'])} "
                   f"| {r['wbits'] or ''} | {r['abits']} | {r['out_bits'] or ''} | {r['acc_bits']} "
                   f"| {r['macs']:,} | {r['weight_bits']:,} | {r['threshold_bits']:,} "
                   f"| {_pct(r.get('torch_code_match_rate'))} |")
    out.append(f"| **total** | | | | | | | | {m['macs']:,} | {m['weight_bits']:,} "
               f"| {m['threshold_bits']:,} | {_pct(t['code_match_rate'])} |")
    out += ["", ("A layer's `abits` are the bits of the codes it consumes; `codes = torch` is "
                 "the share of those codes that the PyTorch fake-quant model and the golden "
                 "executor agree on, end to end: float32 rounding within a hair of a rounding "
                 "boundary flips a code, and the flip propagates to later layers."),
            *_hardware_table(report), ""]
    return "\n".join(out)
