"""MobileNetV1 with SAT quantized layers and calibration (checkpoints: ``checkpoint``).

Layer names are stable and shared by flow.toml, the integer graph and the reports:
``conv0`` (3x3 full conv), ``dw1``/``pw1`` .. ``dw13``/``pw13`` (depthwise 3x3 / pointwise 1x1),
``pool`` (global average pool) and ``fc``.

Each layer's activation quantizer sits at its *input* (as in the reference code): a layer's
``abits`` are the bits of the codes it consumes. ``conv0`` consumes the 8-bit input codes
(``round(255 * img)``, the forward takes them as floats and divides by 255); it has no quantizer of
its own and its ``abits`` are 8. ``pool`` quantizes the last block's output before averaging, so
every tensor crossing a layer boundary is an activation code. ``fc`` quantizes the average again.

Stride schedule: at ``resolution >= 128`` the ImageNet schedule (conv0 stride 2; dw2, dw4, dw6, dw12
stride 2: 224 -> 7). Below that the small-input schedule drops two of them (conv0 and dw12 stride 1:
32 -> 4, 28 -> 4), so 28/32 px inputs keep a 4x4 map before the pool.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sat_hw.nn.layers import (
    ALPHA_NUDGE,
    ActQ,
    LayerSpec,
    QConv2d,
    QLinear,
    _channels,
    _codes,
    _conv_out,
    _exact,
    _sample,
    check_shape,
    default_bits,
    init_weights,
)
from sat_hw.nn.quant import METHODS
from sat_hw.nn.residual import ResidualNet, calibrate_dag, dag_specs

MODEL_NAMES = ("mbv1", "mbv2", "resnet20")
_MBV1 = [  # (out channels at width 1.0, stride of the depthwise conv) for blocks 1..13
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
]


def mbv1_specs(width: float = 1.0, resolution: int = 224, in_channels: int = 3,
               classes: int = 1000) -> list[LayerSpec]:
    """The layer list of MobileNetV1 for the given shape (see the module doc for strides)."""
    check_shape(width, resolution, in_channels, classes)
    small = resolution < 128
    specs = []
    c, size = _channels(32, width), resolution
    s0 = 1 if small else 2
    out = _conv_out(size, 3, s0)
    specs.append(LayerSpec("conv0", "conv", in_channels, c, 3, s0, size, out))
    size = out
    for i, (co, s) in enumerate(_MBV1, start=1):
        if small and i == 12:
            s = 1
        co = _channels(co, width)
        out = _conv_out(size, 3, s)
        specs.append(LayerSpec(f"dw{i}", "dw", c, c, 3, s, size, out))
        specs.append(LayerSpec(f"pw{i}", "pw", c, co, 1, 1, out, out))
        c, size = co, out
    specs.append(LayerSpec("pool", "pool", c, c, size, 1, size, 1))
    specs.append(LayerSpec("fc", "fc", c, classes, 1, 1, 1, 1))
    return specs


def model_specs(name: str, **shape) -> list[LayerSpec]:
    """The layer list of the named model (a residual model's nodes in topological order)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {name!r}")
    if name != "mbv1":
        return [n.spec for n in dag_specs(name, **shape)]
    return mbv1_specs(**shape)


def _integer_eval(layer: nn.Module, method: str) -> bool:
    return not layer.training and layer.integer_eval and method != "fp"


class ConvLayer(nn.Module):
    """[act quantizer] -> conv -> BN. ``act`` is None for conv0 (it consumes input codes).

    In eval mode (``integer_eval``, quantized methods) the same values are computed on the
    integer grid, as the accelerator does: the conv sums integer codes times odd integer weights
    exactly, and one multiply applies the activation step, the weight scale and 1/(2^b-1) before
    BN. Training keeps the plain fake-quant graph; the two differ only by float32 rounding, which
    the integer form keeps away from the long sums (fewer codes land on the other side of a
    rounding boundary than golden).
    """

    def __init__(self, spec: LayerSpec, wbits: int, abits: int, method: str, scaled: bool):
        super().__init__()
        self.spec = spec
        self.act = None if spec.op == "conv" else ActQ(abits, method)
        groups = spec.in_ch if spec.op == "dw" else 1
        self.conv = QConv2d(spec.in_ch, spec.out_ch, spec.kernel, spec.stride, spec.kernel // 2,
                            groups=groups, bias=False, wbits=wbits, method=method, scaled=scaled)
        self.bn = nn.BatchNorm2d(spec.out_ch)

        self.integer_eval = True

    def forward(self, x: Tensor) -> Tensor:
        if _integer_eval(self, self.conv.method):
            return self.bn(self._integer_conv(x))
        if self.act is not None:
            x = self.act(x)
        return self.bn(self.conv(x))

    def _integer_conv(self, x: Tensor) -> Tensor:
        if self.act is None:  # conv0: the model divided the 8-bit codes by 255
            codes, step, abits = torch.round(x * 255.0), 1 / 255, 8
        else:
            (codes, step), abits = _codes(self.act, x), self.act.bits
        c = self.conv
        w, factor = c.integer_weight()
        fan_in = w[0].numel()
        bound = fan_in * (2**c.wbits - 1) * (2**abits - 1)
        def conv(a: Tensor, b: Tensor) -> Tensor:
            return F.conv2d(a, b, None, c.stride, c.padding, c.dilation, c.groups)

        return _exact(conv, codes, w, bound, step * factor, x.dtype)


class PoolLayer(nn.Module):
    """act quantizer -> global average pool -> flatten."""

    def __init__(self, spec: LayerSpec, abits: int, method: str):
        super().__init__()
        self.spec, self.act = spec, ActQ(abits, method)

        self.integer_eval = True

    def forward(self, x: Tensor) -> Tensor:
        if _integer_eval(self, self.act.method):  # exact sum of codes, one multiply
            codes, step = _codes(self.act, x)
            return codes.sum(dim=(2, 3)) * (step / (x.shape[2] * x.shape[3]))
        return self.act(x).mean(dim=(2, 3))


class FCLayer(nn.Module):
    """act quantizer -> linear (with bias); outputs the logits."""

    def __init__(self, spec: LayerSpec, wbits: int, abits: int, method: str, scaled: bool,
                 fan: str = "fan_out"):
        super().__init__()
        self.spec, self.act = spec, ActQ(abits, method)
        self.fc = QLinear(spec.in_ch, spec.out_ch, wbits=wbits, method=method, scaled=scaled,
                          fan=fan)

        self.integer_eval = True

    def forward(self, x: Tensor) -> Tensor:
        if _integer_eval(self, self.fc.method):  # exact integer dot products, then scale + bias
            codes, step = _codes(self.act, x)
            w, factor = self.fc.integer_weight()
            bound = w.shape[1] * (2**self.fc.wbits - 1) * (2**self.act.bits - 1)
            return _exact(F.linear, codes, w, bound, step * factor, x.dtype) + self.fc.bias
        return self.fc(self.act(x))


class MobileNetV1(nn.Module):
    """MobileNetV1 on uint8 input codes (given as floats), returning logits.

    ``bits`` maps each layer name to ``{"wbits", "abits"}`` (pool's wbits is 0: it has no
    weights). ``method`` is one of fp, pact, cgpact, sat. Scale adjustment (method sat only) is on
    for fc, and for every conv too when ``scale_all_convs``; ``fc_scale`` is the fc's ``n`` (see
    :class:`QLinear`; "fan_out", the paper's, for checkpoints that do not name one).
    """

    def __init__(self, width: float = 1.0, resolution: int = 224, in_channels: int = 3,
                 classes: int = 1000, bits: dict | None = None, method: str = "sat",
                 scale_all_convs: bool = False, wbits: int = 4, abits: int = 4,
                 fc_scale: str = "fan_out"):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        specs = mbv1_specs(width, resolution, in_channels, classes)
        bits = bits or default_bits(specs, wbits, abits)
        missing = [s.name for s in specs if s.name not in bits]
        if missing:
            raise ValueError(f"bits: no entry for layer {missing[0]!r}")
        if bits["conv0"]["abits"] != 8:
            raise ValueError(f"layer conv0: abits must be 8 (input codes), got {bits['conv0']['abits']}")
        self.config = {"name": "mbv1", "width": width, "resolution": resolution,
                       "in_channels": in_channels, "classes": classes, "method": method,
                       "scale_all_convs": scale_all_convs, "fc_scale": fc_scale,
                       "bits": {s.name: dict(bits[s.name]) for s in specs}}
        self.specs = specs
        sat = method == "sat"
        layers = {}
        for s in specs:
            b = bits[s.name]
            if s.op == "pool":
                layers[s.name] = PoolLayer(s, b["abits"], method)
            elif s.op == "fc":
                layers[s.name] = FCLayer(s, b["wbits"], b["abits"], method, sat, fc_scale)
            else:
                layers[s.name] = ConvLayer(s, b["wbits"], b["abits"], method, sat and scale_all_convs)
        self.layers = nn.ModuleDict(layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = x / 255.0
        for layer in self.layers.values():
            x = layer(x)
        return x

    def act_quantizers(self) -> list[tuple[str, ActQ]]:
        return [(n, m.act) for n, m in self.layers.items() if getattr(m, "act", None) is not None]


def build_model(name: str, seed: int | None = None, **kw) -> MobileNetV1 | ResidualNet:
    """The named model (mbv1, or a residual network: :mod:`sat_hw.nn.residual`); ``seed`` (if given) seeds torch's generator first, for reproducible init."""
    if seed is not None:
        torch.manual_seed(seed)
    if name not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}, got {name!r}")
    if name != "mbv1":
        return ResidualNet(name, **kw)
    return MobileNetV1(**kw)




@torch.no_grad()
def calibrate(model: MobileNetV1, images: Tensor | np.ndarray, percentile: float = 99.9,
              chunk: int = 64, bn: bool = True) -> MobileNetV1:
    """Set BN statistics (if ``bn``) and every alpha from ``images`` (uint8 codes as floats).

    Layer by layer, in order: a layer's alpha becomes the ``percentile`` of its input (its
    quantizer's clipping level then covers that share of the values); its BN running mean and
    variance become the batch statistics of its conv output over all images. Returns the model in
    eval mode.
    """
    if isinstance(model, ResidualNet):
        return calibrate_dag(model, images, percentile, chunk, bn)
    model.eval()
    images = torch.as_tensor(images)
    xs = [c / 255.0 for c in images.float().split(chunk)]
    for layer in model.layers.values():
        act = getattr(layer, "act", None)
        if act is not None and act.method != "fp":
            pos = torch.cat([_sample(x) for x in xs])
            a = torch.quantile(pos.float(), percentile / 100.0).item()
            # Off the input's own grid: a percentile of discrete inputs (the pool's means of
            # codes) is one of them, and alpha on that grid puts many inputs exactly on rounding
            # boundaries, where float32 and exact integer arithmetic may round differently.
            act.alpha.fill_(max(a, 1e-3) * ALPHA_NUDGE)
        if isinstance(layer, ConvLayer) and bn:
            ys = [layer.conv(layer.act(x) if layer.act is not None else x) for x in xs]
            cat = torch.cat([y.transpose(0, 1).reshape(y.shape[1], -1) for y in ys], dim=1)
            layer.bn.running_mean.copy_(cat.mean(1))
            layer.bn.running_var.copy_(cat.var(1))
            layer.bn.num_batches_tracked.fill_(1)
            xs = [layer.bn(y) for y in ys]
        else:
            xs = [layer(x) for x in xs]
    return model


__all__ = [
    "LayerSpec",
    "MobileNetV1",
    "build_model",
    "calibrate",
    "default_bits",
    "mbv1_specs",
    "model_specs",
]
