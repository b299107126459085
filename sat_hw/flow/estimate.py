"""``sat_hw estimate``: resources, cycles and frames/s per bit configuration, without training.

For each ``(wbits, abits)`` pair the model's layer list (``sat_hw.nn.models.model_specs``) and the
configuration's per-layer bits give a *shape graph*: IR nodes with the real shapes, bits and
accumulator widths and zero-valued weights and thresholds (the cost model reads only shapes and
widths). The planner (:mod:`sat_hw.hw.planner`) folds it for ``hw.fps`` at ``hw.fclk_mhz`` on
``hw.device``, or, without a target, for the highest frames/s that fits the device's budget; the
cost model prices it. One row per configuration goes to ``estimate.json`` (DESIGN.md's keys plus
``balance``, utilisation and the planner's mode), ``estimate.csv``, ``estimate.md`` and two PNG
plots: frames/s against LUTs for every configuration at a ladder of targets (the Pareto front
marked), and per-layer cycles and LUTs of one configuration.

The accumulator width of the last layer depends on its trained bias; the shape graph assumes
``|bias| <= acc_bound * 2^F`` (one more bit than the products need).
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np

from sat_hw.flow.clock import depth_bound_mhz
from sat_hw.flow.config import RESIDUAL_MODELS
from sat_hw.graph.ir import (
    Add,
    AvgPool,
    Conv,
    Graph,
    Input,
    Linear,
    acc_bits_for,
    acc_bound,
    levels,
)
from sat_hw.hw.planner import plan

BIAS_FRAC_BITS = 8
ROW_KEYS = ("wbits", "abits", "device", "fclk_mhz", "lut", "ff", "bram18", "uram", "dsp", "macs",
            "mac_lanes", "interval_cycles", "latency_cycles", "fps")


def shape_graph(specs, bits: dict[str, dict[str, int]], name: str = "mbv1", width: float = 1.0,
                resolution: int = 224, in_channels: int = 3, classes: int = 1000,
                dag: list | None = None) -> Graph:
    """IR nodes with real shapes, bits and widths, zero weights and thresholds (see the module
    doc). ``specs``: ``sat_hw.nn.models.LayerSpec`` list; ``bits``: ``{layer: {wbits, abits}}``;
    ``dag``: a residual model's ``sat_hw.nn.residual.DagSpec`` list (edges, signed tensors)."""
    nodes: list = [Input("input", (in_channels, resolution, resolution), 8)]
    edges = {d.name: d.inputs for d in dag or []}
    signed = {d.name for d in dag or [] if d.signed}
    tbits: dict[str, int] = {}
    for d in dag or []:
        for p in d.inputs:
            tbits.setdefault(p, bits[d.name]["abits"])
    for i, s in enumerate(specs):
        b = bits[s.name]
        out_bits = bits[specs[i + 1].name]["abits"] if i + 1 < len(specs) else 0
        out_bits = tbits.get(s.name, out_bits)
        ins = edges.get(s.name, ())
        kw = {"inputs": () if ins in ((), (nodes[-1].name,)) or ins == ("input",) else ins}
        if s.op == "add":
            c, sz = s.in_ch, s.in_size
            mul = np.full(c, 1 << 12, np.int64)
            bb = tbits.get(ins[1], b["abits"]) if len(ins) > 1 else b["abits"]
            acc = acc_bits_for((1 << 12) * (levels(b["abits"]) + levels(bb)))
            nodes.append(Add(s.name, (c, sz, sz), (c, sz, sz), b["abits"], bb, out_bits, mul, mul,
                             np.zeros((c, levels(out_bits)), np.int64), np.ones(c, np.int8), acc,
                             out_zero=1 << (out_bits - 1) if s.name in signed else 0, **kw))
            continue
        if s.op in ("conv", "dw", "pw"):
            groups = s.in_ch if s.op == "dw" else 1
            pad = s.kernel // 2
            fan_in = s.in_ch // groups * s.kernel * s.kernel
            acc = acc_bits_for(acc_bound(fan_in, b["wbits"], b["abits"]))
            nt = levels(out_bits)
            nodes.append(Conv(s.name, (s.in_ch, s.in_size, s.in_size),
                              (s.out_ch, s.out_size, s.out_size), s.kernel, s.stride, pad, groups,
                              b["wbits"], b["abits"], out_bits,
                              np.zeros((s.out_ch, s.in_ch // groups, s.kernel, s.kernel), np.int8),
                              np.zeros((s.out_ch, nt), np.int64), np.ones(s.out_ch, np.int8), acc,
                              out_zero=1 << (out_bits - 1) if s.name in signed else 0, **kw))
        elif s.op == "pool":
            acc = acc_bits_for(acc_bound(s.in_size * s.in_size, 0, b["abits"]))
            nodes.append(AvgPool(s.name, (s.in_ch, s.in_size, s.in_size), (s.in_ch, 1, 1),
                                 b["abits"], out_bits, np.zeros((s.in_ch, levels(out_bits)),
                                                                np.int64),
                                 np.ones(s.in_ch, np.int8), acc, **kw))
        elif s.op == "fc":
            bound = acc_bound(s.in_ch, b["wbits"], b["abits"]) << BIAS_FRAC_BITS
            bias = np.full(s.out_ch, bound, np.int64)
            nodes.append(Linear(s.name, (s.in_ch, 1, 1), (s.out_ch, 1, 1), b["wbits"],
                                b["abits"], np.zeros((s.out_ch, s.in_ch), np.int8), bias, 1.0,
                                BIAS_FRAC_BITS, acc_bits_for(2 * bound), **kw))
        else:
            raise ValueError(f"layer {s.name}: no shape graph for op {s.op!r}")
    return Graph(name, width, resolution, in_channels, classes, tuple(nodes))


def config_graph(cfg: dict) -> Graph:
    """The shape graph of a resolved configuration (model keys and per-layer bits)."""
    from sat_hw.flow.config import layer_bits, model_shape
    from sat_hw.nn.models import model_specs

    shape = model_shape(cfg)
    name = cfg["model"]["name"]
    specs = model_specs(name, **shape)
    dag = None
    if name in RESIDUAL_MODELS:
        from sat_hw.nn.residual import dag_specs

        dag = dag_specs(name, **shape)
    return shape_graph(specs, layer_bits(cfg), name, **shape, dag=dag)


def estimate_config(cfg: dict, graph: Graph | None = None, fps: float | None = None):
    """Plan and price one configuration; returns the :class:`sat_hw.hw.planner.Plan`."""
    hw = cfg["hw"]
    graph = graph or config_graph(cfg)
    target = fps if fps is not None else (hw["fps"] or None)
    return plan(graph, hw["device"], hw["fclk_mhz"], fps=target, explicit=cfg.get("fold") or {})


def row(cfg: dict, p) -> dict:
    q = cfg["quant"]
    e = p.estimate
    out = {"wbits": q["wbits"], "abits": q["abits"], **{k: e[k] for k in ROW_KEYS[2:]}}
    out.update(balance=round(e["balance"], 4), utilisation=e["utilisation"], mode=p.mode,
               target_cycles=p.target_cycles, weight_bits=e["weight_bits"],
               calibrated=e["calibrated"],
               depth_bound_mhz=(b := depth_bound_mhz(p.device.family)),
               fps_depth_bound=round(b * 1e6 / e["interval_cycles"], 1) if b else None,
               model={k: cfg["model"][k] for k in ("name", "width", "resolution", "in_channels",
                                                  "classes")})
    return out


def sweep(cfg: dict, wbits: list[int], abits: list[int], fps: float | None = None,
          ladder: int = 6, say=None) -> tuple[list[dict], dict, list[dict]]:
    """Plan and price every ``(w, a)`` in ``wbits x abits``. Returns the rows, the plan of the
    configuration shown per layer (W4A4 if swept, else the first) and the frames/s-vs-LUT points
    (each configuration at its plan's interval times 1, 2, 4, ... ``ladder`` steps).

    Without a target (``fps`` and ``hw.fps`` 0) each configuration gets the fastest folding that
    fits the device budget; a configuration that cannot meet ``fps``, or does not fit even at
    its slowest, still gets a row (its best effort, ``fits`` false, a ``note`` saying why)."""
    from sat_hw.hw.planner import Planner

    hw = cfg["hw"]
    target = fps if fps is not None else (hw["fps"] or None)
    rows, points, shown = [], [], None
    for w in wbits:
        for a in abits:
            c = {**cfg, "quant": {**cfg["quant"], "wbits": int(w), "abits": int(a)}}
            pl = Planner(config_graph(c), hw["device"], hw["fclk_mhz"], cfg.get("fold") or {})
            note = None
            try:
                p = pl.for_fps(target) if target else pl.fastest()
            except ValueError as e:
                note = str(e)
                p = pl.fastest(must_fit=False)
            r = row(c, p)
            r["target_fps"] = target
            r["fits"] = bool(p.estimate.get("fits", True)) and note is None
            if note or p.estimate.get("note"):
                r["note"] = note or p.estimate["note"]
            rows.append(r)
            if shown is None or (w, a) == (4, 4):
                shown = {"wbits": w, "abits": a, "plan": p}
            t = p.estimate["interval_cycles"]
            for _ in range(ladder):
                q = pl.quick(t)
                if q is None:
                    break
                points.append({"wbits": w, "abits": a, "lut": q["lut"], "fps": q["fps"]})
                t *= 2
            if say:
                say(f"W{w}A{a}: {r['fps']:,.0f} frames/s ({r['interval_cycles']:,} cycles), "
                    f"LUT {r['lut']:,} FF {r['ff']:,} BRAM18 {r['bram18']:,} URAM {r['uram']:,} "
                    f"DSP {r['dsp']:,}, balance {r['balance']:.3f}"
                    + ("" if r["fits"] else f" [{r.get('note', 'does not fit')}]"))
    return rows, shown, points


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    keys = [*ROW_KEYS, "balance", "fits", "mode"]
    wr = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    wr.writeheader()
    for r in rows:
        wr.writerow({k: (round(r[k], 2) if isinstance(r[k], float) else r[k]) for k in keys})
    return buf.getvalue()


def markdown(rows: list[dict], shown: dict, cfg: dict, seconds: float) -> str:
    m, hw = cfg["model"], cfg["hw"]
    p = shown["plan"]
    goal = (f"the cheapest folding for {rows[0]['target_fps']:g} frames/s"
            if rows[0].get("target_fps") else "the fastest folding that fits the budget")
    lines = [(f"# sat_hw estimate: {m['name']} width {m['width']}, {m['resolution']} px, "
              f"{m['in_channels']} channel(s), {m['classes']} classes"), "",
             (f"Device {rows[0]['device']} at an assumed {hw['fclk_mhz']:g} MHz, {goal} (budget: "
              f"{LIMITS_TEXT}); {len(rows)} configurations in {seconds:.1f} s. Resources by "
              "the cost model calibrated against Yosys `synth_xilinx` (Yosys is not Vivado). "
              + (f"Frames/s at the logic-depth bound: at the {bound:g} MHz that the RTL blocks' "
                 "worst LUT path allows (docs/estimates.md; an upper bound, no routing)."
                 if (bound := rows[0].get("depth_bound_mhz")) else
                 "No logic-depth bound for this family: its clock is assumed.")),
             "",
             ("| W | A | frames/s | at the depth bound | interval | latency | LUT | FF | BRAM18 "
              "| URAM | DSP | MAC lanes | balance | fits |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        at_bound = f"{r['fps_depth_bound']:,.0f}" if r.get("fps_depth_bound") else "-"
        lines.append(f"| {r['wbits']} | {r['abits']} | {r['fps']:,.0f} | {at_bound} "
                     f"| {r['interval_cycles']:,} "
                     f"| {r['latency_cycles']:,} | {r['lut']:,} | {r['ff']:,} | {r['bram18']:,} "
                     f"| {r['uram']:,} | {r['dsp']:,} | {r['mac_lanes']:,} | {r['balance']:.3f} "
                     f"| {'yes' if r['fits'] else 'no: ' + r.get('note', '')} |")
    lines += ["", f"## Per layer: W{shown['wbits']}A{shown['abits']}", "",
              "| layer | pe | simd | mult | cycles | LUT | FF | BRAM18 | URAM | DSP | why |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in p.costs:
        r = c.resources
        lines.append(f"| {c.name} | {c.fold.pe} | {c.fold.simd} | {c.fold.mult} | {c.cycles:,} "
                     f"| {r.lut:,} | {r.ff:,} | {r.bram18:,} | {r.uram:,} | {r.dsp:,} "
                     f"| {p.why[c.name]} |")
    lines += ["", "![frames/s vs LUTs](pareto.png)", "",
              f"![per-layer cycles and LUTs](layers_w{shown['wbits']}a{shown['abits']}.png)", ""]
    return "\n".join(lines)


LIMITS_TEXT = "LUT and FF <= 70 % of the device, BRAM18, URAM and DSP <= 90 %"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def pareto_png(points: list[dict], rows: list[dict], title: str) -> bytes:
    """Frames/s against LUTs: every configuration's ladder of foldings, the Pareto front (no
    other point has more frames/s for fewer LUTs) drawn as a step line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=110)
    cmap = plt.get_cmap("tab20")
    configs = sorted({(p["wbits"], p["abits"]) for p in points})
    for i, (w, a) in enumerate(configs):
        ps = sorted((p for p in points if (p["wbits"], p["abits"]) == (w, a)),
                    key=lambda p: p["lut"])
        ax.plot([p["lut"] for p in ps], [p["fps"] for p in ps], "o-", ms=3, lw=0.8,
                color=cmap(i % 20), label=f"W{w}A{a}")
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: (p["lut"], -p["fps"])):
        if p["fps"] > best:
            front.append(p)
            best = p["fps"]
    ax.step([p["lut"] for p in front], [p["fps"] for p in front], where="post", color="k",
            lw=1.2, label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LUTs (calibrated model)")
    ax.set_ylabel("frames/s")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    out = _png(fig)
    plt.close(fig)
    return out


def layers_png(plan, title: str) -> bytes:
    """Per layer: cycles per image (bars, the interval as a line) and LUTs."""
    plt = _pyplot()
    names = [c.name for c in plan.costs]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(6.0, 0.3 * len(names) + 2), 5.2), dpi=110,
                                 sharex=True)
    xs = range(len(names))
    a1.bar(xs, [c.cycles for c in plan.costs], color="#8da0cb")
    a1.axhline(plan.estimate["interval_cycles"], color="k", lw=0.8, ls="--", label="interval")
    a1.set_ylabel("cycles per image")
    a1.legend(fontsize=7)
    a1.set_title(title, fontsize=9)
    a2.bar(xs, [c.resources.lut for c in plan.costs], color="#fc8d62")
    a2.set_ylabel("LUTs")
    a2.set_xticks(list(xs))
    a2.set_xticklabels(names, rotation=90, fontsize=7)
    fig.tight_layout()
    out = _png(fig)
    plt.close(fig)
    return out


def build_estimate(hardware, hw: dict) -> tuple[dict, list[dict]]:
    """report.json ``estimate`` and each layer's ``estimate`` of a build's hardware plan
    (``hw``: the configuration's ``[hw]``), from the same cost model as the sweep."""
    from sat_hw.hw.cost import layer_rows, network_cost, summary
    from sat_hw.hw.devices import get_device

    costs = network_cost(hardware)
    return summary(hardware.graph, costs, get_device(hw["device"]), hw["fclk_mhz"]), \
        layer_rows(costs)


def run_estimate(cfg: dict, wbits: list[int], abits: list[int], out: Path | None,
                 fps: float | None = None, say=None) -> list[dict]:
    """``sat_hw estimate``: the sweep, printed, and (with ``out``) its files written at once."""
    for what, vals in (("--wbits", wbits), ("--abits", abits)):
        if not vals:
            raise ValueError(f"{what}: give at least one bit width")
        for v in vals:
            if not 1 <= v <= 8:
                raise ValueError(f"{what}: bit widths must be 1..8, got {v}")
    if out is not None:
        from sat_hw.base.writer import check_writable

        check_writable(Path(out), kind="estimate")  # before the work, not after it
    t0 = time.monotonic()
    rows, shown, points = sweep(cfg, wbits, abits, fps, say=say)
    seconds = time.monotonic() - t0
    target = fps if fps is not None else (cfg["hw"]["fps"] or None)
    if target and not any(r["fits"] for r in rows):
        best = max(rows, key=lambda r: r["fps"])
        flag = "--fps" if fps is not None else "hw.fps"
        raise ValueError(f"{flag} {target:g}: no configuration reaches it at "
                         f"{cfg['hw']['fclk_mhz']:g} MHz on {best['device']} (the fastest that "
                         f"fits: W{best['wbits']}A{best['abits']} at {best['fps']:,.0f} frames/s)"
                         if len(rows) > 1 else f"{flag}: {best['note']}")
    if out is not None:
        from sat_hw.base.writer import write_tree

        m = cfg["model"]
        title = (f"{m['name']} {m['width']:g}x {m['resolution']} px on {rows[0]['device']} at "
                 f"{cfg['hw']['fclk_mhz']:g} MHz")
        tag = f"w{shown['wbits']}a{shown['abits']}"
        files = {"estimate.json": json.dumps(rows, indent=1) + "\n",
                 "estimate.csv": csv_text(rows),
                 "estimate.md": markdown(rows, shown, cfg, seconds),
                 "pareto.png": pareto_png(points, rows, title),
                 f"layers_{tag}.png": layers_png(shown["plan"], f"{title}, "
                                                  f"W{shown['wbits']}A{shown['abits']}")}
        path = write_tree(Path(out), files, kind="estimate")
        if say:
            say(f"wrote {path} ({', '.join(files)}) in {time.monotonic() - t0:.1f} s")
    return rows


__all__ = ["ROW_KEYS", "build_estimate", "config_graph", "csv_text", "estimate_config", "layers_png", "markdown",
           "pareto_png", "row", "run_estimate", "shape_graph", "sweep"]
