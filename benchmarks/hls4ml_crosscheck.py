"""Cross-check with hls4ml: the same integer computation built through hls4ml's Python API
(PyTorch frontend, precisions set from our bits), its C emulation against our golden executor.

What hls4ml expresses exactly, and so what is compared: a stack of fully connected layers on
integer codes, each followed by a requantization that hls4ml has too -- ReLU into an
``ap_ufixed<b, b, AP_RND, AP_SAT>`` result, i.e. ``code = clip(round_half_up(acc / 2^s), 0,
2^b - 1)`` -- which in our graph is the threshold row ``T_k = (k - 1/2) * 2^s`` (direction +1),
and a last layer with the fixed-point bias ``out = acc * 2^F + bias``. Weights are SAT's odd
integers ``w`` (``w / 2^s`` in hls4ml, exact in ``ap_fixed``), inputs 8-bit codes.

What hls4ml cannot express, and why (printed by the script, written in docs/hls.md):

- per-channel integer thresholds with arbitrary spacing (BN, the SAT scale and the next
  quantizer folded together) and the negative-slope direction: hls4ml requantizes by casting a
  fixed-point value (power-of-two steps) or by a BatchNormalization multiply-add in fixed point
  followed by a cast, which rounds the scale and so is not exact for a general threshold row;
- depthwise convolution through the PyTorch frontend: its ``Conv2d`` handler reads neither
  ``groups`` nor the grouped weight shape (``(C, 1, k, k)``), so ``Conv2d(groups=C)`` is not
  converted as a depthwise layer (the script shows what happens);
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

from sat_hw.graph.golden import run_golden
from sat_hw.graph.ir import Conv, Graph, Input, Linear, acc_bits_for, acc_bound, levels, verify
from sat_hw.hlssim import hls_phase
from sat_hw.hw.fold import resolve_folding

RESULTS = Path(__file__).resolve().parent / "results" / "hls4ml_crosscheck.json"
# in, out, wbits, abits, out_bits per layer
LAYERS = ((16, 32, 4, 8, 4), (32, 24, 3, 4, 3), (24, 16, 2, 3, 5))
FC = (16, 10, 5, 5, 8)  # in, out, wbits, abits, bias_frac_bits


def _odd(rng, shape, bits):
    n = levels(bits)
    return (2 * rng.integers(0, n + 1, shape) - n).astype(np.int64)


def pow2_graph(seed: int = 0) -> tuple[Graph, list[int]]:
    """A pointwise stack on 1x1 'images' whose thresholds are ``(k - 1/2) * 2^s``, and the shifts
    ``s`` per layer (chosen so that the codes spread over their range)."""
    rng = np.random.default_rng(seed)
    nodes, shifts = [Input("input", (LAYERS[0][0], 1, 1), 8)], []
    for i, (cin, cout, wb, ab, ob) in enumerate(LAYERS):
        w = _odd(rng, (cout, cin, 1, 1), wb)
        bound = acc_bound(cin, wb, ab)
        std = math.sqrt(cin * np.mean(w.astype(float) ** 2) * levels(ab) ** 2 / 3)
        s = max(1, round(math.log2(2 * std / levels(ob))))
        k = np.arange(1, levels(ob) + 1)
        t = np.clip((2 * k - 1) << (s - 1), -bound - 1, bound + 1)
        nodes.append(Conv(f"pw{i}", (cin, 1, 1), (cout, 1, 1), 1, 1, 0, 1, wb, ab, ob, w,
                          np.tile(t, (cout, 1)), np.ones(cout, np.int8), acc_bits_for(bound)))
        shifts.append(s)
    cin, cout, wb, ab, f = FC
    w = _odd(rng, (cout, cin), wb)
    bias = rng.integers(-(200 << f), (200 << f) + 1, cout)
    out_bound = (acc_bound(cin, wb, ab) << f) + int(np.abs(bias).max())
    nodes.append(Linear("fc", (cin, 1, 1), (cout, 1, 1), wb, ab, w, bias, 0.01, f,
                        acc_bits_for(out_bound)))
    return verify(Graph("pow2_stack", 1.0, 1, LAYERS[0][0], cout, tuple(nodes))), shifts


def torch_twin(graph: Graph, shifts: list[int]):
    """The same computation as a torch module: Linear(w / 2^s) -> ReLU per layer, Linear(w, b)."""
    import torch
    from torch import nn

    mods = []
    for node, s in zip(graph.layers[:-1], shifts):
        lin = nn.Linear(node.in_shape[0], node.out_shape[0], bias=False)
        lin.weight.data = torch.tensor(node.weights[:, :, 0, 0] / 2.0**s, dtype=torch.float32)
        mods += [lin, nn.ReLU()]
    fc = graph.layers[-1]
    lin = nn.Linear(fc.in_shape[0], fc.out_shape[0])
    lin.weight.data = torch.tensor(fc.weights, dtype=torch.float32)
    lin.bias.data = torch.tensor(fc.bias / 2.0**fc.bias_frac_bits, dtype=torch.float32)
    return nn.Sequential(*mods, lin).eval()


def hls4ml_model(graph: Graph, shifts: list[int], out_dir: Path, rounding: str = "AP_RND"):
    """The torch twin converted by hls4ml (Vivado backend, io_parallel) with our precisions;
    ``rounding`` of the requantizing casts (``AP_RND`` is ours; anything else must differ)."""
    import hls4ml

    model = torch_twin(graph, shifts)
    cfg = hls4ml.utils.config_from_pytorch_model(model, (graph.input.shape[0],),
                                                  granularity="name", backend="Vivado")
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
                                            "bias": f"ap_fixed<{fc.bias_bits},{fc.bias_bits - f}>",
                                            "accum": f"ap_fixed<{ob},{ob - f}>",
                                            "result": f"ap_fixed<{ob},{ob - f}>"}
    for name in lc:
        lc[name]["Trace"] = False
    hm = hls4ml.converters.convert_from_pytorch_model(
        model, hls_config=cfg, output_dir=str(out_dir), backend="Vivado", io_type="io_parallel")
    return hm


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
    graph, shifts = pow2_graph()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (a.images, *graph.input.shape), dtype=np.uint8)
    gold = run_golden(graph, x)
    codes = [gold.codes[n.name] for n in graph.layers[1:]]
    spread = [f"{n.name}: codes {int(c.min())}..{int(c.max())}"
              for n, c in zip(graph.layers[1:], codes)]
    print(f"graph: {' -> '.join(n.name for n in graph.layers)}, shifts {shifts}; "
          f"{'; '.join(spread)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="sat_hw_hls4ml-") as d:
        t0 = time.perf_counter()
        hm = hls4ml_model(graph, shifts, Path(d) / "stack")
        hm.compile()
        t1 = time.perf_counter()
        y = np.asarray(hm.predict(x.reshape(len(x), -1).astype(np.float64)), np.float64)
        t2 = time.perf_counter()
        out = y * 2.0 ** graph.layers[-1].bias_frac_bits
        mism = int(np.count_nonzero(out != gold.outputs.astype(np.float64)))
        probe = "skipped" if a.no_probe else depthwise_probe(Path(d) / "dw")
    _, ours = hls_phase(graph, resolve_folding(graph, {}, 64), x, gold.outputs, "crosscheck")
    res = {"images": a.images, "layers": len(graph.layers), "hls4ml_version": _version(),
           "hls4ml_mismatches": mism, "hls4ml_compile_s": round(t1 - t0, 1),
           "hls4ml_predict_s": round(t2 - t1, 2), "sat_hw_csim": ours,
           "depthwise_pytorch_frontend": probe}
    print(json.dumps(res, indent=1))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    return 0 if mism == 0 and ours["mismatches"] == 0 else 1


def _version() -> str:
    import importlib.metadata

    return importlib.metadata.version("hls4ml")


if __name__ == "__main__":
    sys.exit(main())
