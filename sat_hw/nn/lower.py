"""Torch model -> integer layer graph, and the PyTorch side of the agreement check.

The only module of ``sat_hw.graph`` that imports torch. :func:`lower` is the pipeline::

    layers = read_model(model)            torch -> float64 LayerParams (the one torch step)
    layers = integerise_weights(layers)   levels k -> odd integers w = 2k - (2^b-1)
    layers = fold_batchnorm(layers)       BN + input/weight steps -> y = slope*acc + offset
    layers = fold_last_scale(layers)      fc: SAT scale, bias in fixed point (8 fraction bits)
    layers = size_accumulators(layers)    acc_bound, acc_bits
    layers = fuse_thresholds(layers)      next layer's quantizer -> integer thresholds (float64)
    graph  = to_graph(layers, ...)        IR nodes, verify()

See :mod:`sat_hw.graph.passes` for the arithmetic of each pass.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from sat_hw.graph.golden import code_key
from sat_hw.graph.ir import Graph, levels
from sat_hw.graph.passes import (
    LayerParams,
    fold_batchnorm,
    fold_last_scale,
    fuse_thresholds,
    integerise_weights,
    size_accumulators,
    to_graph,
)
from sat_hw.nn import quant
from sat_hw.nn.models import ActQ, ConvLayer, FCLayer, MobileNetV1, PoolLayer, QConv2d, QLinear
from sat_hw.nn.residual import INPUT, AddNode, ConvBN, FCNode, PoolNode, ResidualNet


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


def _check_act(name: str, act: ActQ) -> None:
    if act.method == "fp":
        raise ValueError(f"layer {name}: activation method 'fp' (plain ReLU) has no integer form; "
                         "lower a quantized model (pact, cgpact or sat)")
    a = float(act.alpha.detach())
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"layer {name}: alpha must be finite and > 0, got {a!r}")


def _weight_params(name: str, mod) -> dict:
    if mod.method == "fp":
        raise ValueError(f"layer {name}: weight method 'fp' has no integer form; "
                         "lower a quantized model (pact, cgpact or sat)")
    k = _np(quant.weight_levels(mod.weight, mod.wbits))
    scale = 1.0
    if mod.scaled:
        with torch.no_grad():
            scale = quant.weight_scale(quant.quantize_weight(mod.weight, mod.wbits), mod.scale_n)
    return {"wbits": int(mod.wbits), "levels": k, "wscale": float(scale)}


def _conv_params(name: str, layer: ConvLayer | ConvBN, common: dict) -> LayerParams:
    """A conv + BN layer's parameters (square, bias-free convolutions only)."""
    c, bn, s = layer.conv, layer.bn, layer.spec
    if c.kernel_size[0] != c.kernel_size[1] or c.stride[0] != c.stride[1] \
            or c.padding[0] != c.padding[1] or c.bias is not None:
        raise ValueError(f"layer {name}: only square, bias-free convolutions lower")
    gamma = _np(bn.weight) if bn.weight is not None else np.ones(s.out_ch)
    beta = _np(bn.bias) if bn.bias is not None else np.zeros(s.out_ch)
    return LayerParams(
        **common, out_shape=(s.out_ch, s.out_size, s.out_size), kernel=c.kernel_size[0],
        stride=c.stride[0], pad=c.padding[0], groups=c.groups, **_weight_params(name, c),
        bn_gamma=gamma, bn_beta=beta, bn_mean=_np(bn.running_mean),
        bn_var=_np(bn.running_var), bn_eps=float(bn.eps))


def _head_params(name: str, layer, common: dict) -> LayerParams:
    """The global pool's or the fc's parameters (either model family)."""
    s = layer.spec
    if not hasattr(layer, "fc"):
        return LayerParams(**common, out_shape=(s.out_ch, 1, 1), kernel=s.in_size)
    fc = layer.fc
    bias = _np(fc.bias) if fc.bias is not None else None
    return LayerParams(**common, out_shape=(s.out_ch, 1, 1), **_weight_params(name, fc),
                       bias=bias)


def read_model(model: MobileNetV1) -> list[LayerParams]:
    """Float64 copies of everything lowering needs, one :class:`LayerParams` per layer.

    A layer's ``in_alpha`` is the clipping level of the codes it consumes (1.0 for the first
    layer, which consumes the 8-bit pixel codes ``round(255 * img)``); its ``out_bits`` and
    ``out_alpha`` are the *next* layer's quantizer, whose codes its thresholds emit.
    """
    if getattr(model, "config", {}).get("method") == "fp":
        raise ValueError("model method is 'fp' (full precision): it has no integer form; "
                         "lower a quantized model (pact, cgpact or sat)")
    items = list(model.layers.items())
    out = []
    for i, (name, layer) in enumerate(items):
        s = layer.spec
        act = layer.act
        if act is None:
            abits, in_alpha = int(model.config["bits"][name]["abits"]), 1.0
            if abits != 8:
                raise ValueError(f"layer {name}: consumes 8-bit pixel codes, got abits {abits}")
        else:
            _check_act(name, act)
            abits, in_alpha = int(act.bits), float(act.alpha.detach())
        nxt = items[i + 1][1] if i + 1 < len(items) else None
        out_bits = out_alpha = None
        if nxt is not None:
            _check_act(items[i + 1][0], nxt.act)
            out_bits, out_alpha = int(nxt.act.bits), float(nxt.act.alpha.detach())
        common = {"name": name, "op": s.op, "in_shape": (s.in_ch, s.in_size, s.in_size),
                  "abits": abits, "in_alpha": in_alpha, "out_bits": out_bits,
                  "out_alpha": out_alpha}
        if isinstance(layer, ConvLayer):
            out.append(_conv_params(name, layer, common))
        elif isinstance(layer, (PoolLayer, FCLayer)):
            out.append(_head_params(name, layer, common))
        else:
            raise ValueError(f"layer {name}: cannot lower {type(layer).__name__}")  # noqa: TRY004
    return out


def _quant(model: ResidualNet, producer: str) -> tuple[int, float, int]:
    """``(bits, alpha, zero)`` of a tensor's codes (the input's: 8-bit pixels, alpha 1)."""
    if producer == INPUT:
        return 8, 1.0, 0
    act = model.quants[producer]
    _check_act(producer, act)
    return int(act.bits), float(act.alpha.detach()), int(act.zero)


def read_dag(model: ResidualNet) -> list[LayerParams]:
    """:func:`read_model` for a residual network: each node's operands are its producers'
    tensors (``inputs``, bits, alpha, zero point), its output quantizer its own tensor's."""
    if model.config.get("method") == "fp":
        raise ValueError("model method is 'fp' (full precision): it has no integer form; "
                         "lower a quantized model (pact, cgpact or sat)")
    out = []
    for name, layer in model.layers.items():
        s, prods = layer.spec, model.inputs[name]
        abits, in_alpha, in_zero = _quant(model, prods[0])
        out_bits = out_alpha = None
        out_zero = 0
        if name in model.quants:
            out_bits, out_alpha, out_zero = _quant(model, name)
        common = {"name": name, "op": s.op, "in_shape": (s.in_ch, s.in_size, s.in_size),
                  "abits": abits, "in_alpha": in_alpha, "in_zero": in_zero, "inputs": prods,
                  "out_bits": out_bits, "out_alpha": out_alpha, "out_zero": out_zero}
        if isinstance(layer, ConvBN):
            out.append(_conv_params(name, layer, common))
        elif isinstance(layer, AddNode):
            bbits, b_alpha, b_zero = _quant(model, prods[1])
            out.append(LayerParams(**common, out_shape=(s.out_ch, s.out_size, s.out_size),
                                   bbits=bbits, b_alpha=b_alpha, b_zero=b_zero))
        elif isinstance(layer, (PoolNode, FCNode)):
            out.append(_head_params(name, layer, common))
        else:
            raise ValueError(f"layer {name}: cannot lower {type(layer).__name__}")  # noqa: TRY004
    return out


def lower(model: MobileNetV1 | ResidualNet) -> Graph:
    """Lower a quantized (pact / cgpact / sat), calibrated or trained model to a verified Graph."""
    layers = read_dag(model) if isinstance(model, ResidualNet) else read_model(model)
    layers = integerise_weights(layers)
    layers = fold_batchnorm(layers)
    layers = fold_last_scale(layers)
    layers = size_accumulators(layers)
    layers = fuse_thresholds(layers)
    cfg = model.config
    meta = {"method": cfg.get("method"), "scale_all_convs": bool(cfg.get("scale_all_convs"))}
    return to_graph(layers, cfg["name"], cfg["width"], cfg["resolution"], cfg["in_channels"],
                    cfg["classes"], meta)


def float64_twin(model: MobileNetV1) -> MobileNetV1:
    """A float64 copy of ``model`` that evaluates exactly the real-valued model lowering uses.

    Same weight levels ``k`` (taken from the float32 weights, as :func:`read_model` takes them),
    SAT scales, alphas and BN statistics; only the precision of the arithmetic differs. Its codes
    differ from the golden ones only within float64 rounding of a rounding boundary, which
    separates float32 rounding in the real model from any lowering error. (Depthwise convolutions
    run as a sum over taps: torch's float64 grouped convolution takes seconds per new shape.)
    """
    twin = copy.deepcopy(model).double().eval()
    if isinstance(model, ResidualNet):  # its eval form is the integer one: keep it, in float64
        for src, dst in zip(model.modules(), twin.modules(), strict=True):
            if isinstance(src, (QConv2d, QLinear)) and src.method != "fp":
                w, factor = src.integer_weight()
                w = w.double()
                dst.integer_weight = lambda w=w, f=factor: (w, f)
        return twin
    for m in twin.modules():  # the plain fake-quant graph, in float64
        if hasattr(m, "integer_eval"):
            m.integer_eval = False
    for src, dst in zip(model.modules(), twin.modules(), strict=True):
        if isinstance(src, (QConv2d, QLinear)) and src.method != "fp":
            p = _weight_params("?", src)
            n = levels(p["wbits"])
            q = torch.from_numpy((2 * p["levels"] - n) / n * p["wscale"])
            dst.qweight = lambda q=q: q  # instance attribute: fixed float64 weights
            if isinstance(src, QConv2d) and src.groups > 1 and src.groups == src.in_channels \
                    == src.out_channels:
                dst.forward = lambda x, q=q, c=src: _depthwise(x, q, c.stride[0], c.padding[0])
    return twin


def _depthwise(x: torch.Tensor, w: torch.Tensor, stride: int, pad: int) -> torch.Tensor:
    """Depthwise convolution (no bias) as a sum over the kernel taps."""
    k = w.shape[-1]
    ho = (x.shape[2] + 2 * pad - k) // stride + 1
    wo = (x.shape[3] + 2 * pad - k) // stride + 1
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    out = torch.zeros(x.shape[0], x.shape[1], ho, wo, dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            tap = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out += tap * w[:, 0, i, j].view(1, -1, 1, 1)
    return out


@torch.no_grad()
def torch_codes(model: MobileNetV1, images: np.ndarray, batch: int = 64,
                precision: str = "float32") -> dict[str, np.ndarray]:
    """Activation codes of the PyTorch fake-quant model at every layer boundary, and its logits.

    ``images``: uint8 ``(N, C, H, W)``. Returns ``{layer name: uint8 codes that layer consumes,
    shape (N, C, H, W) ((N, C, 1, 1) for fc)}`` in layer order (the first layer's entry is the
    images themselves) plus ``"logits"`` ``(N, classes)``. Codes are recomputed from each
    quantizer's input exactly as the quantizer rounds (``quant.act_codes``), in eval mode.
    ``precision`` "float32" runs the model as it is; "float64" runs :func:`float64_twin`.
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be float32 or float64, got {precision!r}")
    if isinstance(model, ResidualNet):
        return _dag_codes(model, images, batch, precision)
    dtype = np.float32
    if precision == "float64":
        model, dtype = float64_twin(model), np.float64
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be uint8 (N, C, H, W), N >= 1, got {images.dtype} "
                         f"{images.shape}")
    names = list(model.layers.keys())
    got: dict[str, list[np.ndarray]] = {n: [] for n in names}
    hooks = []

    def capture(name):
        def hook(mod, inp, _out):
            c = quant.act_codes(inp[0], float(mod.alpha.detach()), mod.bits).to(torch.uint8).numpy()
            got[name].append(c.reshape(c.shape[0], c.shape[1], *(c.shape[2:] or (1, 1))))
        return hook

    for name, layer in model.layers.items():
        if getattr(layer, "act", None) is not None:
            _check_act(name, layer.act)
            hooks.append(layer.act.register_forward_hook(capture(name)))
    was_training = model.training
    model.eval()
    logits = []
    try:
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch].astype(dtype))
            logits.append(model(x).numpy())
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = {names[0]: images.copy()}
    for n in names[1:]:
        out[n] = np.concatenate(got[n])
    out["logits"] = np.concatenate(logits)
    return out


@torch.no_grad()
def _dag_codes(model: ResidualNet, images: np.ndarray, batch: int, precision: str) -> dict:
    """:func:`torch_codes` for a residual network: every tensor's codes recorded in the forward,
    then keyed by their readers as the golden result keys them (an add's second operand under
    ``"<add>.b"``). ``float64`` runs the same model in float64 (the weight levels are taken
    from the float32 weights first, as lowering takes them)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be uint8 (N, C, H, W), N >= 1, got {images.dtype} "
                         f"{images.shape}")
    run, dtype = model, np.float32
    if precision == "float64":
        run, dtype = float64_twin(model), np.float64
    was_training = run.training
    run.eval()
    rec: dict[str, list[np.ndarray]] = {}
    logits = []
    try:
        for i in range(0, len(images), batch):
            got: dict = {}
            logits.append(run(torch.from_numpy(images[i:i + batch].astype(dtype)), record=got)
                          .numpy())
            for k, v in got.items():
                v = v.to(torch.uint8).numpy()
                rec.setdefault(k, []).append(v.reshape(v.shape[0], v.shape[1], *(v.shape[2:]
                                                                                  or (1, 1))))
    finally:
        run.train(was_training)
    tensors = {k: np.concatenate(v) for k, v in rec.items()}
    out = {}
    for name in model.layers:
        for i, p in enumerate(model.inputs[name]):
            out[code_key(name, i)] = tensors[p]
    out["logits"] = np.concatenate(logits)
    return out


__all__ = ["float64_twin", "lower", "read_dag", "read_model", "torch_codes"]
