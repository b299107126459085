"""Cross-check with hls4ml: the same integer computation built through hls4ml's Python API
(PyTorch frontend, precisions set from our bits), its C emulation against our golden executor.

What hls4ml expresses exactly, and so what is compared: two networks on 8-bit codes (``NETS``):
a fully connected stack, and a small conv net (3x3 convolutions with padding and stride 2 down to
1x1, then fc). Every layer but the last is followed by a requantization that hls4ml has too --
ReLU into an ``ap_ufixed<b, b, AP_RND, AP_SAT>`` result, i.e. ``code = clip(round_half_up(acc /
2^s), 0, 2^b - 1)`` -- which in our graph is the threshold row ``T_k = (k - 1/2) * 2^s``
(direction +1); the last layer has the fixed-point bias ``out = acc * 2^F + bias``. Weights are
SAT's odd integers ``w`` (``w / 2^s`` in hls4ml, exact in ``ap_fixed``).

What hls4ml cannot express, and why (printed by the script, written in docs/hls.md):

- per-channel integer thresholds with arbitrary spacing (BN, the SAT scale and the next
  quantizer folded together) and the negative-slope direction: hls4ml requantizes by casting a
  fixed-point value (power-of-two steps) or by a BatchNormalization multiply-add in fixed point
  followed by a cast, which rounds the scale and so is not exact for a general threshold row;
- depthwise convolution through the PyTorch frontend: ``Conv2d(groups=C)`` is refused ("Non-default
  options for groups not implemented yet"; its ``Conv2d`` handler has no ``groups``), so
  MobileNet's depthwise layers cannot be brought in from our PyTorch models;
- SAT's k-encoding and the folding of our blocks (PE/SIMD) have no hls4ml counterpart
  (hls4ml's ``ReuseFactor`` folds a layer's multiplications, not per PE x SIMD lanes).

Run: ``.venv/bin/python benchmarks/hls4ml_crosscheck.py [--images N]``; prints the figures
and writes ``benchmarks/results/hls4ml_crosscheck.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sat_hw.graph.checks import verify
from sat_hw.graph.golden import run_golden
from sat_hw.graph.ir import (
    Conv,
    Graph,
    Input,
    Linear,
    acc_bits_for,
    acc_bound,
    conv_out,
    levels,
)
from sat_hw.hw.plan import hardware_plan
from sat_hw.hw.planner import resolve_folding
from sat_hw.tools.hlssim import hls_phase

RESULTS = Path(__file__).resolve().parent / "results" / "hls4ml_crosscheck.json"
# Two networks: (in_shape, [(c_out, kernel, stride, pad, wbits, abits, out_bits)], fc)
NETS = {
    # pointwise / fully connected stack on 1x1 "images"
    "dense": ((16, 1, 1), [(32, 1, 1, 0, 4, 8, 4), (24, 1, 1, 0, 3, 4, 3),
                           (16, 1, 1, 0, 2, 3, 5)], (10, 5, 8)),
    # small conv net: 3x3 (padded, strided) convolutions down to 1x1, then fc
    "conv": ((3, 8, 8), [(8, 3, 1, 1, 4, 8, 4), (8, 3, 2, 1, 3, 4, 3), (16, 3, 2, 1, 3, 3, 4),
                         (16, 2, 1, 0, 2, 4, 5)], (10, 5, 8)),
}
FC_BIAS_STEPS = 200  # |bias| <= this many accumulator steps


def _odd(rng, shape, bits):
    n = levels(bits)
    return (2 * rng.integers(0, n + 1, shape) - n).astype(np.int64)


def pow2_graph(net: str = "conv", seed: int = 0) -> tuple[Graph, list[int]]:
    """The network ``net`` of :data:`NETS` with seeded odd weights, thresholds
    ``(k - 1/2) * 2^s`` (direction +1), a fixed-point fc bias; and the shifts ``s`` per layer
    (chosen so that the codes spread over their range)."""
    rng = np.random.default_rng(seed)
    (c, size, _), convs, (classes, fc_wbits, frac) = NETS[net]
    nodes, shifts = [Input("input", (c, size, size), 8)], []
    for i, (cout, k, st, p, wb, ab, ob) in enumerate(convs):
        w = _odd(rng, (cout, c, k, k), wb)
        fan = c * k * k
        bound = acc_bound(fan, wb, ab)
        std = math.sqrt(fan * np.mean(w.astype(float) ** 2) * levels(ab) ** 2 / 3)
        s = max(1, round(math.log2(2 * std / levels(ob))))
        t = np.clip((2 * np.arange(1, levels(ob) + 1) - 1) << (s - 1), -bound - 1, bound + 1)
        out = conv_out(size, k, st, p)
        nodes.append(Conv(f"l{i}", (c, size, size), (cout, out, out), k, st, p, 1, wb, ab, ob, w,
                          np.tile(t, (cout, 1)), np.ones(cout, np.int8), acc_bits_for(bound)))
        shifts.append(s)
        c, size = cout, out
    ab = convs[-1][-1]
    w = _odd(rng, (classes, c), fc_wbits)
    bias = rng.integers(-(FC_BIAS_STEPS << frac), (FC_BIAS_STEPS << frac) + 1, classes)
    out_bound = (acc_bound(c, fc_wbits, ab) << frac) + int(np.abs(bias).max())
    nodes.append(Linear("fc", (c, 1, 1), (classes, 1, 1), fc_wbits, ab, w, bias, 0.01, frac,
                        acc_bits_for(out_bound)))
    g = Graph(f"pow2_{net}", 1.0, NETS[net][0][1], NETS[net][0][0], classes, tuple(nodes))
    return verify(g), shifts


def torch_twin(graph: Graph, shifts: list[int]):
    """The same computation as a torch module: Conv2d(w / 2^s) -> ReLU per layer (Linear for a
    1x1 stack), Flatten, Linear(w, b / 2^F). The requantization lives in hls4ml's types."""
    import torch
    from torch import nn

    dense = graph.input.shape[1:] == (1, 1)
    mods = []
    for node, s in zip(graph.layers[:-1], shifts):
        w = torch.tensor(node.weights / 2.0**s, dtype=torch.float32)
        if dense:
            m = nn.Linear(node.in_shape[0], node.out_shape[0], bias=False)
            w = w[:, :, 0, 0]
        else:
            m = nn.Conv2d(node.in_shape[0], node.out_shape[0], node.kernel, node.stride, node.pad,
                          bias=False)
        m.weight.data = w
        mods += [m, nn.ReLU()]
    fc = graph.layers[-1]
    lin = nn.Linear(fc.in_shape[0], fc.out_shape[0])
    lin.weight.data = torch.tensor(fc.weights, dtype=torch.float32)
    lin.bias.data = torch.tensor(fc.bias / 2.0**fc.bias_frac_bits, dtype=torch.float32)
    return nn.Sequential(*mods, *([] if dense else [nn.Flatten()]), lin).eval()


def hls4ml_model(graph: Graph, shifts: list[int], out_dir: Path, rounding: str = "AP_RND"):
    """The torch twin converted by hls4ml (Vivado backend, io_parallel) with our precisions;
    ``rounding`` of the requantizing casts (``AP_RND`` is ours; anything else must differ)."""
    import hls4ml

    model = torch_twin(graph, shifts)
    shape = graph.input.shape if graph.input.shape[1:] != (1, 1) else (graph.input.shape[0],)
    cfg = hls4ml.utils.config_from_pytorch_model(model, shape, granularity="name",
                                                  backend="Vivado")
    lc = cfg["LayerName"]  # a Sequential's layers are named _0, _1, ...
    inp = next(n for n in lc if n not in {f"_{i}" for i in range(len(model))})
    lc[inp]["Precision"]["result"] = f"ap_ufixed<{graph.input.bits},{graph.input.bits}>"
    for i, (node, s) in enumerate(zip(graph.layers[:-1], shifts)):
        wb, ab = node.wbits + 1, node.acc_bits  # w signed odd: wbits + 1 bits
        lc[f"_{2 * i}"]["Precision"] = {"weight": f"ap_fixed<{wb + s},{wb}>",
                                        "bias": f"ap_fixed<{wb + s},{wb}>",
                                        "accum": f"ap_fixed<{ab + s},{ab}>",
                                        "result": f"ap_fixed<{ab + s},{ab}>"}
        lc[f"_{2 * i + 1}"]["Precision"] = {"result": f"ap_ufixed<{node.out_bits},"
                                                      f"{node.out_bits},{rounding},AP_SAT>"}
    fc = graph.layers[-1]
    f, ob = fc.bias_frac_bits, fc.acc_bits
    lc[f"_{len(model) - 1}"]["Precision"] = {"weight": f"ap_fixed<{fc.wbits + 1},{fc.wbits + 1}>",
                                             "bias": f"ap_fixed<{fc.bias_bits},"
                                                     f"{fc.bias_bits - f}>",
                                             "accum": f"ap_fixed<{ob},{ob - f}>",
                                             "result": f"ap_fixed<{ob},{ob - f}>"}
    for name in lc:
        lc[name]["Trace"] = False
    return hls4ml.converters.convert_from_pytorch_model(
        model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado", io_type="io_parallel")


def hls4ml_outputs(graph: Graph, shifts: list[int], x: np.ndarray, out_dir: Path,
                   rounding: str = "AP_RND") -> tuple[np.ndarray, float, float]:
    """Compile the hls4ml model and run its C emulation on uint8 codes ``x`` (N, C, H, W):
    ``(outputs * 2^F as float64, compile s, predict s)``; exact, outputs are multiples of 2^-F."""
    t0 = time.perf_counter()
    hm = hls4ml_model(graph, shifts, out_dir, rounding)
    hm.compile()
    t1 = time.perf_counter()
    xin = x.reshape(len(x), -1) if graph.input.shape[1:] == (1, 1) else x
    y = np.asarray(hm.predict(np.ascontiguousarray(xin, dtype=np.float64)), np.float64)
    t2 = time.perf_counter()
    out = y.reshape(len(x), -1) * 2.0 ** graph.layers[-1].bias_frac_bits
    return out, t1 - t0, t2 - t1


def depthwise_probe(out_dir: Path) -> str:
    """What hls4ml's PyTorch frontend makes of a depthwise ``Conv2d(groups=C)``."""
    import hls4ml
    import torch
    from torch import nn

    c = 4
    model = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)).eval()
    try:
        cfg = hls4ml.utils.config_from_pytorch_model(model, (c, 6, 6), granularity="name",
                                                      backend="Vivado")
        hm = hls4ml.converters.convert_from_pytorch_model(
            model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado",
            io_type="io_parallel")
        hm.compile()
        x = np.random.default_rng(0).integers(0, 4, (2, c, 6, 6)).astype(np.float64)
        y = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(2, 6, 6, c)
        ref = model(torch.tensor(x, dtype=torch.float32)).detach().numpy().transpose(0, 2, 3, 1)
        return (f"converted without an error, but max |hls4ml - torch| = "
                f"{float(np.abs(y - ref).max()):.3g} (groups ignored)")
    except Exception as e:  # noqa: BLE001 -- the probe reports whatever hls4ml raises
        return f"refused: {type(e).__name__}: {' '.join(str(e).split())[:200]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--no-probe", action="store_true", help="skip the depthwise probe")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    a = ap.parse_args(argv)
    res: dict = {"images": a.images, "hls4ml_version": _version(), "nets": {}}
    ok = True
    with tempfile.TemporaryDirectory(prefix="sat_hw_hls4ml-") as d:
        for net in NETS:
            graph, shifts = pow2_graph(net)
            x = np.random.default_rng(1).integers(0, 256, (a.images, *graph.input.shape),
                                                  dtype=np.uint8)
            gold = run_golden(graph, x)
            spread = {n.name: [int(gold.codes[n.name].min()), int(gold.codes[n.name].max())]
                      for n in graph.layers[1:]}
            out, comp, pred = hls4ml_outputs(graph, shifts, x, Path(d) / net)
            mism = int(np.count_nonzero(out != gold.outputs.astype(np.float64)))
            _, ours = hls_phase(hardware_plan(graph, resolve_folding(graph, {}, 64)), x, gold.outputs, net)
            res["nets"][net] = {
                "layers": [f"{n.name} {n.op} {'x'.join(map(str, n.out_shape))}"
                           for n in graph.layers],
                "shifts": shifts, "code_ranges": spread, "hls4ml_mismatches": mism,
                "hls4ml_compile_s": round(comp, 1), "hls4ml_predict_s": round(pred, 2),
                "sat_hw_csim": ours}
            ok = ok and mism == 0 and ours["mismatches"] == 0
        res["depthwise_pytorch_frontend"] = "skipped" if a.no_probe else \
            depthwise_probe(Path(d) / "dw")
    print(json.dumps(res, indent=1))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    return 0 if ok else 1


def _version() -> str:
    import importlib.metadata

    return importlib.metadata.version("hls4ml")


if __name__ == "__main__":
    sys.exit(main())
