"""report.json and report.md of a build folder (pure: data in, dict / text out).

Keys follow DESIGN.md ("What the reports hold"); this issue fills ``model``, ``layers`` (bits,
accumulator widths, shapes, MACs, memory bits) and ``torch`` (PyTorch vs golden agreement).
"""

from __future__ import annotations

from .graph.ir import Graph, Input


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
    """The report dict: ``model``, ``layers``, ``torch``, ``build`` (how it was made)."""
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
    return {"model": model, "layers": layers, "torch": torch, "build": build}


def _shape(s: list[int]) -> str:
    return "x".join(str(v) for v in s)


def _pct(r: float | None) -> str:
    return "" if r is None else f"{100 * r:.3f}"


def _agreement_lines(t: dict) -> list[str]:
    lines = []
    if "isolated" in t:
        i = t["isolated"]
        lines.append(f"- layer by layer (each layer fed PyTorch's own input codes): "
                     f"{_pct(i['code_match_rate'])} % identical; {i['ties']} of {i['mismatches']} "
                     f"differences lie within 1e-3 of a code step of a rounding boundary")
    if "float64" in t:
        f = t["float64"]
        lines.append(f"- the same model in float64: {_pct(f['code_match_rate'])} % of codes, "
                     f"top-1 {_pct(f['top1_match_rate'])} %")
    return lines


def render_markdown(report: dict) -> str:
    m, t, b = report["model"], report["torch"], report["build"]
    out = [f"# sat_hw build: {m['name']} W{b['wbits']}A{b['abits']}", "",
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
                 "boundary flips a code, and the flip propagates to later layers."), ""]
    return "\n".join(out)
