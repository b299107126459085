"""Residual networks with SAT quantized layers: ResNet-20 and MobileNetV2 (docs/residual.md).

The network is a DAG of nodes in topological order (``model.layers``, ``model.inputs``), each a
conv + BN, an add, the global average pool or the fc. Quantizers belong to tensors:
``model.quants[<producer>]`` quantizes that node's output once, and every reader of the tensor (a
fork's two readers) takes the same codes, as the hardware does. A tensor read only by ReLU-free
sums and 1x1 convs is signed (``ActQ(signed=True)``): a residual branch's output before its add,
a projection shortcut, MobileNetV2's block outputs. ``input`` is the 8-bit pixel codes.

In eval mode (quantized methods) every node computes on the integer grid as the golden executor
does: convs sum integer codes (less their zero point) times odd weights; an add computes
``mul_a * a + mul_b * b`` with the multipliers of :func:`sat_hw.graph.passes.add_multipliers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sat_hw.graph.passes import add_multipliers
from sat_hw.nn.layers import (
    ALPHA_NUDGE,
    FC_SCALES,
    ActQ,
    LayerSpec,
    QConv2d,
    QLinear,
    _channels,
    _conv_out,
    _exact,
    _sample,
    check_shape,
    default_bits,
    init_weights,
)
from sat_hw.nn.quant import METHODS, act_codes, act_codes_signed

INPUT = "input"
RESIDUAL_MODELS = ("mbv2", "resnet20")
_MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
         (6, 160, 3, 2), (6, 320, 1, 1)]  # (expansion t, channels c, blocks n, stride s)


@dataclass(frozen=True)
class DagSpec:
    """One node: its shape, its producers and whether its output tensor is signed."""

    spec: LayerSpec
    inputs: tuple[str, ...]
    signed: bool = False

    @property
    def name(self) -> str:
        return self.spec.name


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[DagSpec] = []

    def conv(self, name, op, src, cin, cout, k, s, size, signed=False) -> tuple[str, int]:
        out = _conv_out(size, k, s)
        self.nodes.append(DagSpec(LayerSpec(name, op, cin, cout, k, s, size, out), (src,), signed))
        return name, out

    def add(self, name, a, b, c, size, signed) -> str:
        self.nodes.append(DagSpec(LayerSpec(name, "add", c, c, 1, 1, size, size), (a, b), signed))
        return name

    def head(self, src, c, size, classes) -> list[DagSpec]:
        self.nodes.append(DagSpec(LayerSpec("pool", "pool", c, c, size, 1, size, 1), (src,)))
        self.nodes.append(DagSpec(LayerSpec("fc", "fc", c, classes, 1, 1, 1, 1), ("pool",)))
        return self.nodes


def resnet20_specs(width: float = 1.0, resolution: int = 32, in_channels: int = 3,
                   classes: int = 10) -> list[DagSpec]:
    """CIFAR ResNet-20 (He et al.): conv0 3x3, 3 stages x 3 basic blocks of 16/32/64 x width
    channels (stride 2 and a 1x1 projection shortcut where a stage starts), pool, fc."""
    check_shape(width, resolution, in_channels, classes)
    b = _Builder()
    c = _channels(16, width)
    x, size = b.conv("conv0", "conv", INPUT, in_channels, c, 3, 1, resolution)
    i = 0
    for stage, base in enumerate((16, 32, 64)):
        co = _channels(base, width)
        for j in range(3):
            i += 1
            s = 2 if stage and j == 0 else 1
            h, out = b.conv(f"b{i}_conv1", "conv", x, c, co, 3, s, size)
            h, _ = b.conv(f"b{i}_conv2", "conv", h, co, co, 3, 1, out, signed=True)
            skip = x
            if s != 1 or co != c:
                skip, _ = b.conv(f"b{i}_short", "pw", x, c, co, 1, s, size, signed=True)
            x, c, size = b.add(f"b{i}_add", h, skip, co, out, False), co, out
    return b.head(x, c, size, classes)


def mbv2_specs(width: float = 1.0, resolution: int = 224, in_channels: int = 3,
               classes: int = 1000) -> list[DagSpec]:
    """MobileNetV2 (Sandler et al.): conv0 3x3 s2, 17 inverted-residual blocks (1x1 expand,
    3x3 depthwise, 1x1 linear projection; an add where stride 1 keeps the channels), a 1x1 head
    to 1280 x width channels, pool, fc. Below 128 px conv0 and the stage of 160 channels keep
    stride 1 (28 px -> 4x4 before the pool, as mbv1's small-input schedule)."""
    check_shape(width, resolution, in_channels, classes)
    small = resolution < 128
    b = _Builder()
    c = _channels(32, width)
    x, size = b.conv("conv0", "conv", INPUT, in_channels, c, 3, 1 if small else 2, resolution)
    i = 0
    for t, base, n, stride in _MBV2:
        co = _channels(base, width)
        for j in range(n):
            i += 1
            s = stride if j == 0 and not (small and base == 160) else 1
            h = x
            if t != 1:
                h, _ = b.conv(f"b{i}_expand", "pw", x, c, c * t, 1, 1, size)
            h, out = b.conv(f"b{i}_dw", "dw", h, c * t, c * t, 3, s, size)
            h, _ = b.conv(f"b{i}_project", "pw", h, c * t, co, 1, 1, out, signed=True)
            x = b.add(f"b{i}_add", h, x, co, out, True) if s == 1 and co == c else h
            c, size = co, out
    ch = _channels(1280, width)
    x, _ = b.conv("head", "pw", x, c, ch, 1, 1, size)
    return b.head(x, ch, size, classes)


def dag_specs(name: str, **shape) -> list[DagSpec]:
    if name == "resnet20":
        return resnet20_specs(**shape)
    if name == "mbv2":
        return mbv2_specs(**shape)
    raise ValueError(f"model must be one of {', '.join(RESIDUAL_MODELS)}, got {name!r}")


def tensor_bits(nodes: list[DagSpec], bits: dict) -> dict[str, int]:
    """Bits of each node's output tensor: the ``abits`` of its first reader (an add reads both
    operands at its own ``abits``). A later reader of a fork must agree (one-line error)."""
    out: dict[str, tuple[int, str]] = {}
    for n in nodes:
        for p in n.inputs:
            a = int(bits[n.name]["abits"])
            if p not in out:
                out[p] = (a, n.name)
            elif out[p][0] != a and n.spec.op != "add":
                raise ValueError(f"bits.{n.name}.abits {a}: it reads {p}'s codes, which "
                                 f"{out[p][1]} reads at {out[p][0]} bits; a fork has one set of codes")
    return {p: v[0] for p, v in out.items()}


class _Op:
    """A quantized operand: ``value`` (float), and in integer eval ``codes``, ``step``, ``zero``
    and ``bits``."""

    def __init__(self, value: Tensor, codes: Tensor | None = None, step: float = 1.0,
                 zero: int = 0, bits: int = 8):
        self.value, self.codes, self.step, self.zero, self.bits = value, codes, step, zero, bits


class ConvBN(nn.Module):
    """Conv (SAT weights) + BN on a quantized operand."""

    def __init__(self, spec: LayerSpec, wbits: int, method: str, scaled: bool):
        super().__init__()
        self.spec = spec
        groups = spec.in_ch if spec.op == "dw" else 1
        self.conv = QConv2d(spec.in_ch, spec.out_ch, spec.kernel, spec.stride, spec.kernel // 2,
                            groups=groups, bias=False, wbits=wbits, method=method, scaled=scaled)
        self.bn = nn.BatchNorm2d(spec.out_ch)

    def forward(self, x: _Op, integer: bool) -> Tensor:
        if not integer:
            return self.bn(self.conv(x.value))
        c = self.conv
        w, factor = c.integer_weight()
        bound = w[0].numel() * (2**c.wbits - 1) * (2**x.bits - 1)  # |code - zero| <= 2^b - 1

        def conv(a: Tensor, b: Tensor) -> Tensor:
            return F.conv2d(a, b, None, c.stride, c.padding, c.dilation, c.groups)

        return self.bn(_exact(conv, x.codes - x.zero, w, bound, x.step * factor, x.value.dtype))


class AddNode(nn.Module):
    """The residual sum of two quantized operands (integer form: docs/residual.md)."""

    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.spec = spec

    def forward(self, a: _Op, b: _Op, integer: bool) -> Tensor:
        if not integer:
            return a.value + b.value
        ma, mb, u = add_multipliers(a.step, b.step)
        acc = a.codes.double() * ma + b.codes.double() * mb
        return (acc * u - u * (ma * a.zero + mb * b.zero)).to(a.value.dtype)


class PoolNode(nn.Module):
    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.spec = spec

    def forward(self, x: _Op, integer: bool) -> Tensor:
        if not integer:
            return x.value.mean(dim=(2, 3))
        return x.codes.sum(dim=(2, 3)) * (x.step / (x.codes.shape[2] * x.codes.shape[3]))


class FCNode(nn.Module):
    def __init__(self, spec: LayerSpec, wbits: int, method: str, scaled: bool, fan: str):
        super().__init__()
        self.spec = spec
        self.fc = QLinear(spec.in_ch, spec.out_ch, wbits=wbits, method=method, scaled=scaled,
                          fan=fan)

    def forward(self, x: _Op, integer: bool) -> Tensor:
        if not integer:
            return self.fc(x.value)
        w, factor = self.fc.integer_weight()
        bound = w.shape[1] * (2**self.fc.wbits - 1) * (2**x.bits - 1)
        return _exact(F.linear, x.codes, w, bound, x.step * factor, x.value.dtype) + self.fc.bias


class ResidualNet(nn.Module):
    """A residual network (``name`` in :data:`RESIDUAL_MODELS`) on uint8 input codes (as
    floats), returning logits; the arguments are :class:`sat_hw.nn.models.MobileNetV1`'s."""

    def __init__(self, name: str = "resnet20", width: float = 1.0, resolution: int = 32,
                 in_channels: int = 3, classes: int = 10, bits: dict | None = None,
                 method: str = "sat", scale_all_convs: bool = False, wbits: int = 4,
                 abits: int = 4, fc_scale: str = "fan_out"):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if fc_scale not in FC_SCALES:
            raise ValueError(f"fc_scale must be one of {', '.join(FC_SCALES)}, got {fc_scale!r}")
        nodes = dag_specs(name, width=width, resolution=resolution, in_channels=in_channels,
                          classes=classes)
        self.specs = [n.spec for n in nodes]
        bits = bits or default_bits(self.specs, wbits, abits)
        missing = [s.name for s in self.specs if s.name not in bits]
        if missing:
            raise ValueError(f"bits: no entry for layer {missing[0]!r}")
        if bits["conv0"]["abits"] != 8:
            raise ValueError(f"layer conv0: abits must be 8 (input codes), got {bits['conv0']['abits']}")
        self.config = {"name": name, "width": width, "resolution": resolution,
                       "in_channels": in_channels, "classes": classes, "method": method,
                       "scale_all_convs": scale_all_convs, "fc_scale": fc_scale,
                       "bits": {s.name: dict(bits[s.name]) for s in self.specs}}
        self.inputs = {n.name: n.inputs for n in nodes}
        tbits = tensor_bits(nodes, bits)
        sat = method == "sat"
        layers, quants = {}, {}
        for n in nodes:
            s, b = n.spec, bits[n.name]
            if s.op == "add":
                layers[s.name] = AddNode(s)
            elif s.op == "pool":
                layers[s.name] = PoolNode(s)
            elif s.op == "fc":
                layers[s.name] = FCNode(s, b["wbits"], method, sat, fc_scale)
            else:
                layers[s.name] = ConvBN(s, b["wbits"], method, sat and scale_all_convs)
            if s.op != "fc":
                quants[s.name] = ActQ(tbits[s.name], method, signed=n.signed)
        self.layers, self.quants = nn.ModuleDict(layers), nn.ModuleDict(quants)
        self.integer_eval = True
        init_weights(self)

    def act_quantizers(self) -> list[tuple[str, ActQ]]:
        return list(self.quants.items())

    def _integer(self) -> bool:
        return not self.training and self.integer_eval and self.config["method"] != "fp"

    def _operand(self, p: str, vals: dict, integer: bool, record: dict | None) -> _Op:
        x = vals[p]
        if p == INPUT:
            codes = torch.round(x * 255.0) if integer else None
            if record is not None:
                record[p] = torch.round(x * 255.0)
            return _Op(x, codes, 1 / 255, 0, 8)
        act = self.quants[p]
        if not integer:
            y = act(x)
            if record is not None:
                record[p] = torch.round(y.detach() * ((2**act.bits - 1 - act.zero) /
                                                      float(act.alpha)) + act.zero)
            return _Op(y)
        a = float(act.alpha.detach())
        codes = act_codes_signed(x, a, act.bits) if act.signed else act_codes(x, a, act.bits)
        step = a / (2**act.bits - 1 - act.zero)
        if record is not None:
            record[p] = codes
        return _Op((codes - act.zero) * step, codes, step, act.zero, act.bits)

    def forward(self, x: Tensor, record: dict | None = None) -> Tensor:
        """Logits; ``record`` (a dict) receives every tensor's codes ``{producer: codes}``."""
        integer = self._integer()
        vals: dict[str, Tensor] = {INPUT: x / 255.0}
        ops: dict[str, _Op] = {}
        readers = {p: sum(p in ins for ins in self.inputs.values()) for p in vals | self.inputs}
        for name, layer in self.layers.items():
            args = []
            for p in self.inputs[name]:
                if p not in ops:
                    ops[p] = self._operand(p, vals, integer, record)
                args.append(ops[p])
                readers[p] -= 1
                if not readers[p]:
                    del ops[p], vals[p]
            vals[name] = layer(*args, integer=integer)
        return vals["fc"]


@torch.no_grad()
def calibrate_dag(model: ResidualNet, images, percentile: float = 99.9, chunk: int = 64,
                  bn: bool = True) -> ResidualNet:
    """:func:`sat_hw.nn.models.calibrate` for a residual network: node by node, BN statistics
    from the batch (if ``bn``), then the alpha of the node's output tensor from the
    ``percentile`` of its values (of ``|values|`` when signed)."""
    model.eval()
    images = torch.as_tensor(images)
    vals = {INPUT: [c / 255.0 for c in images.float().split(chunk)]}
    quantized = {INPUT: [_Op(v) for v in vals[INPUT]]}
    for name, layer in model.layers.items():
        args = [quantized[p] for p in model.inputs[name]]
        if isinstance(layer, ConvBN) and bn:
            ys = [layer.conv(a.value) for a in args[0]]
            cat = torch.cat([y.transpose(0, 1).reshape(y.shape[1], -1) for y in ys], dim=1)
            layer.bn.running_mean.copy_(cat.mean(1))
            layer.bn.running_var.copy_(cat.var(1))
            layer.bn.num_batches_tracked.fill_(1)
            out = [layer.bn(y) for y in ys]
        else:
            out = [layer(*ops, integer=False) for ops in zip(*args, strict=True)]
        if name in model.quants:
            act = model.quants[name]
            if act.method != "fp":
                pos = torch.cat([_sample(y.abs() if act.signed else y) for y in out])
                a = torch.quantile(pos.float(), percentile / 100.0).item()
                act.alpha.fill_(max(a, 1e-3) * ALPHA_NUDGE)
            quantized[name] = [_Op(act(y)) for y in out]
    return model


__all__ = ["INPUT", "RESIDUAL_MODELS", "DagSpec", "ResidualNet", "calibrate_dag", "dag_specs",
           "mbv2_specs", "resnet20_specs", "tensor_bits"]
