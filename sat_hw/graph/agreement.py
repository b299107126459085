"""PyTorch fake-quant model vs golden executor: agreement rates and the rounding-tie analysis.

Torch-free: it compares arrays, such as ``sat_hw.nn.lower.torch_codes`` returns
(``{layer name: uint8 codes consumed, NCHW}`` plus ``"logits"``) with a
:class:`~sat_hw.graph.golden.GoldenResult`.

Why codes can differ at all: the golden executor compares exact integers with thresholds derived in
float64; torch computes the same convolution, BatchNorm and rounding in float32 in some summation
order. The two differ only where the real value lies within float32 rounding error of a rounding
boundary ``(k - 1/2) * alpha / (2^b - 1)`` (a "tie"), and a differing code then propagates to the
layers after it. :func:`tie_analysis` feeds every layer the *torch* codes (so nothing propagates)
and reports, for each remaining difference, its distance to the boundary in units of one code step.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sat_hw.graph.golden import (
    GoldenResult,
    code_key,
    code_keys,
    layer_acc,
    requantize,
    run_node,
)
from sat_hw.graph.ir import Add, AvgPool, Conv, Graph, Linear, MaxPool, out_step


def agreement(torch_codes: Mapping[str, np.ndarray], golden: GoldenResult,
              graph: Graph | None = None) -> dict:
    """Share of identical codes per layer boundary and overall, and top-1 agreement.

    Returns ``{"layers": {name: rate}, "mismatches": {name: count}, "code_match_rate": float,
    "codes_compared": int, "top1_match_rate": float, "images": int}``, keyed by the layer that
    consumes the codes. The first layer's input (the images, given not computed) is not counted.
    These are end to end: a code that differs at one boundary propagates to the next ones.
    With ``graph``, ``"isolated"`` adds :func:`tie_analysis` (each layer fed torch's own codes).
    """
    names = list(golden.codes)
    if not names:
        raise ValueError("golden result holds no codes: run it with keep_codes=True")
    layers, mism = {}, {}
    same = total = 0
    for name in names[1:]:
        if name not in torch_codes:
            raise ValueError(f"torch codes have no entry for layer {name!r}")
        a, b = np.asarray(torch_codes[name]), golden.codes[name]
        if a.shape != b.shape:
            raise ValueError(f"layer {name}: torch codes {a.shape} vs golden {b.shape}")
        eq = int(np.count_nonzero(a == b))
        layers[name] = eq / a.size if a.size else 1.0
        mism[name] = a.size - eq
        same, total = same + eq, total + a.size
    logits = np.asarray(torch_codes["logits"])
    if logits.shape != golden.outputs.shape:
        raise ValueError(f"torch logits {logits.shape} vs golden outputs {golden.outputs.shape}")
    n = logits.shape[0]
    top1 = np.argmax(logits, axis=1) == np.argmax(golden.outputs, axis=1)
    res = {"layers": layers, "mismatches": mism, "code_match_rate": same / total if total else 1.0,
           "codes_compared": total, "top1_match_rate": float(top1.mean()) if n else 1.0,
           "images": n}
    if graph is not None:
        res["isolated"] = tie_analysis(graph, torch_codes)
    return res


def _margins(node: Conv | AvgPool | Add, acc: np.ndarray, got: np.ndarray, want: np.ndarray,
             where: np.ndarray) -> np.ndarray:
    """Distance (in code steps) of the float64 value ``slope*acc+offset`` from the rounding
    boundary between the golden and the torch code, at the mismatched elements."""
    ch = np.nonzero(where)[1]
    y = node.slope[ch] * acc[where].astype(np.float64) + node.offset[ch]
    u = y / out_step(node) + node.out_zero
    boundary = np.maximum(got[where], want[where]).astype(np.float64) - 0.5
    return np.abs(u - boundary)


def _fc_analysis(node: Linear, outs: np.ndarray, logits: np.ndarray) -> dict:
    """Top-1 of torch logits vs golden outputs ``out = acc * 2^F + bias``; gaps and errors in
    accumulator steps (``out / 2^F`` is exact in float64: ``|out| < 2^53``)."""
    steps = np.ldexp(outs.astype(np.float64), -int(node.bias_frac_bits))
    want, got = np.argmax(logits, 1), np.argmax(outs, 1)
    differ = want != got
    shared = (outs == outs.max(1, keepdims=True)).sum(1) > 1
    rows = np.nonzero(differ)[0]
    gap = steps[rows, got[rows]] - steps[rows, want[rows]]
    return {"top1_mismatches": int(rows.size),
            "top1_ties": int(np.count_nonzero(differ & shared)),
            "top1_max_gap_scale": float(gap.max()) if rows.size else 0.0,
            "max_logit_error_scale": float(np.abs(logits / node.scale - steps).max())
            if outs.size else 0.0}


def tie_analysis(graph: Graph, torch_codes: Mapping[str, np.ndarray],
                 tie_lsb: float = 1e-3) -> dict:
    """Each layer run on torch's own input codes, its output compared with torch's next codes.

    Returns ``{"layers": {name: {"elements", "mismatches", "ties", "max_margin_lsb"}},
    "elements", "mismatches", "ties", "code_match_rate", "max_margin_lsb": float | None,
    "fc": {...}}``, keyed by the
    layer that *produces* the codes. A mismatch is a tie when its float64 value lies within
    ``tie_lsb`` code steps of the rounding boundary (needs the nodes' ``slope``/``offset``; without
    them margins are None). ``fc`` reports ``top1_mismatches``, how many of them are ``top1_ties``
    (the golden's largest integer is shared by several classes; argmax takes the first),
    ``top1_max_gap_scale``, the largest gap between the golden's outputs for its own and for
    torch's top class among those mismatches (0.0 when there are none), and
    ``max_logit_error_scale``, the largest difference between torch logits and the golden's
    ``scale * out / 2^F``; both in accumulator steps (units of ``scale``), where the fixed-point
    bias's rounding contributes at most ``2^-(F+1)``.
    """
    out: dict = {"layers": {}, "elements": 0, "mismatches": 0, "ties": 0, "max_margin_lsb": None}
    key = {(n.name, slot): k for k, n, slot in code_keys(graph)}
    for node in graph.layers:
        x = np.asarray(torch_codes[node.name])
        xb = np.asarray(torch_codes[code_key(node.name, 1)]) if isinstance(node, Add) else None
        if isinstance(node, Linear):
            out["fc"] = _fc_analysis(node, layer_acc(node, x),
                                     np.asarray(torch_codes["logits"], np.float64))
            continue
        reader = graph.consumers(node.name)[0]  # its codes, as its first reader takes them
        want = np.asarray(torch_codes[key[reader.name,
                                          graph.producers(reader).index(node.name)]])
        if isinstance(node, MaxPool):  # no accumulator: codes pass through
            got, acc = run_node(node, x), None
        else:
            acc = layer_acc(node, x, xb)
            got = requantize(node, acc)
        where = got != want
        count = int(np.count_nonzero(where))
        rec = {"elements": int(want.size), "mismatches": count, "ties": 0, "max_margin_lsb": None}
        if count and acc is not None and node.slope is not None:
            m = _margins(node, acc, got, want, where)
            rec["ties"] = int(np.count_nonzero(m < tie_lsb))
            rec["max_margin_lsb"] = float(m.max())
            prev = out["max_margin_lsb"]
            out["max_margin_lsb"] = rec["max_margin_lsb"] if prev is None else max(prev, m.max())
        elif not count:
            rec["max_margin_lsb"] = 0.0
        out["layers"][node.name] = rec
        out["elements"] += rec["elements"]
        out["mismatches"] += count
        out["ties"] += rec["ties"]
    if out["max_margin_lsb"] is None and out["mismatches"] == 0:
        out["max_margin_lsb"] = 0.0
    e = out["elements"]
    out["code_match_rate"] = (e - out["mismatches"]) / e if e else 1.0
    return out


__all__ = ["agreement", "tie_analysis"]
