"""The fuzzer's case generator (benchmarks/fuzz.py): one seeded random network per case index.

``draw_case(seed, index)`` is deterministic: the case's numpy generator is seeded with
``[seed, index]``, so the two numbers reproduce a case exactly. A case holds a verified IR graph
(built with :mod:`sat_hw.graph.synthetic`), a legal folding (every fold passes ``check_fold``),
the DSP family (``xc7``: DSP48E1, 25-bit port; ``xcup``: DSP48E2, 27-bit), the input images and the
stream-end duty cycles of the simulation.

What is drawn: square inputs of 1..12 px (odd too; 1 and 2 px rarely) with 1..4 channels; 0..4
body layers (dense conv k 1/3/5, depthwise k 1/3/5, pointwise, max pool k 2/3; stride 1/2; any
legal padding; 1..32 channels), then a head that reaches 1x1 (global average pool, a conv or max
pool as large as the map, or none when the map is 1x1 already) and the fc. Per layer weight and
activation bits 1..8 (the first layer reads 8-bit codes; a producer emits its consumer's
``abits``); weights uniform over their odd levels or at the extremes. Folding: any PE/SIMD that
divide what ``fold_limits`` says, up to ``LANE_CAP`` lanes a layer; LUT or DSP products for MVU
layers. Coverage is forced where chance would be slow: case ``k`` puts DSP products at the bit
pair ``divmod(k % 64, 8) + 1`` on one MVU layer (every pair, 1-bit activations included, in any
64 consecutive cases) and alternates the DSP family so each pair meets both in 128. About one case
in 25 is "wide": a pointwise expansion to 64..128 channels and a depthwise layer with PE 64..128
at 6..8 bits.

Residual graphs (``RESIDUAL_P`` of the cases that are not wide; :class:`_Dag`): a stem conv (k
1/3/5, emitting the forced pair's activation bits), 1..3 blocks, now and then a plain layer between
two, then the head as above. A block forks its input: identity blocks add it to a main branch of
1..3 layers (conv k3/5, depthwise, pointwise, max pool k3, windows padded ``k // 2``); projection
blocks add a 1x1 conv of it (stride 1 or 2, any channels) to a main branch of 1..3 layers (the
first carries the stride); a projection block that draws no main layers makes its 1x1 conv the main
operand and the fork itself the skip (an identity block with a 1x1 main branch: the hardware
refuses the other way round). Consecutive blocks fork an add. Signed codes (``out_zero = 2^(b-1)``)
come from adds, projections and a main branch's last conv, and are read by 1x1 convs, adds and the
unpadded head only. Each add draws its output bits 1..8 (operands at their producers' bits, mixed)
and its multipliers up to 1, 3, 64, 1024, 4096 or 65536; its PE any divisor of its channels. The
forced DSP pair goes to the first MVU layer after the stem that reads its activation bits (else a
global pool before the fc emits them).

Not drawn (see ``NOT_DRAWN``): grouped convs other than depthwise, DSP products outside MVU
layers, weight memory styles, non-square inputs, nested residual blocks, other than 8-bit input
codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sat_hw.graph import synthetic as sy
from sat_hw.graph.ir import Graph, conv_out, levels
from sat_hw.hw.fold import Fold, Folding, check_fold, divisors, fold_limits, is_mvu

GEN_VERSION = 3
"""Bumped whenever the same ``(seed, index)`` would draw a different case (2: residual cases;
3: a projection block without main layers adds its 1x1 conv as operand ``a``, not ``b``)."""
RESIDUAL_P = 0.3
"""Share of the (not wide) cases that draw a residual graph."""
LANE_CAP = 256
"""Most PE x SIMD lanes of an ordinary layer (a wide case's layers: ``WIDE_LANE_CAP``)."""
WIDE_LANE_CAP = 1024
WIDE_P = 1 / 25
FAMILIES = ("xc7", "xcup")
CHANNELS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 18, 24, 32)
IMAGE_KINDS = ("uniform", "zeros", "max", "extreme", "low")
WEIGHT_KINDS = ("uniform", "extreme", "max", "min")
NOT_DRAWN = {
    "grouped conv (1 < groups < C)": "no hardware block: fold_limits refuses it",
    "depthwise with a channel multiplier": "a grouped conv in the IR (op is dw only when "
                                           "groups == C_in == C_out)",
    "DSP products in dw / pool / maxpool": "check_fold: only MVU layers (conv, pw, fc) map to "
                                           "DSPs",
    "weight memory style (fold.mem)": "changes only the cost model, not the generated RTL/HLS",
    "more than LANE_CAP (256) lanes a layer": "keeps a case to seconds (wide cases: 1024)",
    "non-square inputs": "the graph has one resolution (synthetic.chain refuses others)",
    "Linear before the end": "the IR ends with its Linear (verify)",
    "nested residual blocks (a fork on another's branch)": "the hardware plan tells a fork's "
                                                          "branches apart along single-reader "
                                                          "paths only (hw.dag.forks refuses it)",
    "the input forked, a tensor read by 3+ layers": "hardware forks a layer's output in two",
    "padded readers of signed codes": "verify refuses them (a padded pixel is code 0)",
    "an add reading its fork as operand a, a projection as b": "hardware_plan refuses it "
                                                               "(hw.dag.forks: it would hang); "
                                                               "drawn with the operands "
                                                               "swapped",
    "input codes of other than 8 bits": "the contract's first layer reads 8-bit pixels",
}


@dataclass
class Spec:
    """One layer before its bits are drawn."""

    kind: str            # conv, dw, maxpool, pool, fc (a conv with kernel 1 is a pw)
    out_ch: int
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    wide: bool = False


@dataclass(frozen=True)
class Tensor:
    """A tensor of a residual case: its producer, shape, bits and zero point (signed codes)."""

    name: str
    shape: tuple
    bits: int
    zero: int = 0


@dataclass
class Case:
    seed: int
    index: int
    graph: Graph
    folding: Folding
    family: str
    inputs: np.ndarray           # uint8 (N, C, H, W)
    image_kinds: list[str]
    valid_pct: int
    ready_pct: int
    forced: str | None           # the layer that carries the forced DSP bit pair
    weight_kinds: dict[str, str] = field(default_factory=dict)
    wide: bool = False
    blocks: int = 0              # residual blocks (adds); 0: a chain


def _pick(rng: np.random.Generator, items, p=None):
    return items[int(rng.choice(len(items), p=p))]


def _pad(rng: np.random.Generator, h: int, k: int, top: int) -> int:
    """A padding in ``lo..top`` (``lo`` makes the padded map hold one window), half the time
    ``k // 2`` where that is legal."""
    lo = max(0, -(-(k - h) // 2))
    if lo <= k // 2 <= top and rng.random() < 0.5:
        return k // 2
    return int(rng.integers(lo, top + 1))


def _window(rng: np.random.Generator, h: int, kind: str, kernels, kp) -> tuple[int, int, int]:
    """Kernel, stride, pad whose output is 1..14 px."""
    for _ in range(20):
        k = _pick(rng, kernels, kp)
        s = _pick(rng, (1, 2), (0.6, 0.4))
        p = _pad(rng, h, k, k // 2 if kind == "maxpool" else k - 1)
        if 1 <= conv_out(h, k, s, p) <= 14 and h + 2 * p >= k:
            return k, s, p
    return 1, 1, 0


def _body(rng: np.random.Generator, c: int, h: int, n: int) -> tuple[list[Spec], int, int]:
    specs = []
    for _ in range(n):
        kind = _pick(rng, ("conv", "dw", "pw", "maxpool"), (0.3, 0.25, 0.25, 0.2))
        if kind == "dw" and c == 1:
            kind = "conv"
        if kind == "pw":
            k, s, p = 1, _pick(rng, (1, 2), (0.8, 0.2)), 0
            kind = "conv"
        elif kind == "maxpool":
            k, s, p = _window(rng, h, kind, (2, 3), None)
        else:
            k, s, p = _window(rng, h, kind, (1, 3, 5), (0.2, 0.55, 0.25) if kind == "conv"
                              else (0.1, 0.6, 0.3))
        out = c if kind in ("dw", "maxpool") else _pick(rng, CHANNELS)
        specs.append(Spec(kind, out, k, s, p))
        c, h = out, conv_out(h, k, s, p)
    return specs, c, h


def _head(rng: np.random.Generator, c: int, h: int) -> list[Spec]:
    r = rng.random()
    if h == 1:
        pre = [] if r < 0.6 else [Spec("pool", c)]
    elif h in (3, 5) and r < 0.15:
        pre = [Spec("conv", _pick(rng, CHANNELS), h, 1, 0)]
    elif h in (2, 3) and r < 0.3:
        pre = [Spec("maxpool", c, h, _pick(rng, (1, h)), 0)]
    else:
        pre = [Spec("pool", c)]
    return pre + [Spec("fc", int(rng.integers(1, 11)))]


def _specs(rng: np.random.Generator, wide: bool) -> tuple[int, int, list[Spec]]:
    c, size = int(rng.integers(1, 5)), int(rng.integers(3, 6 if wide else 13))
    if not wide and rng.random() < 0.1:
        size = int(rng.integers(1, 3))  # 1x1 and 2x2 images: windows mostly padding
    n = int(rng.choice(5, p=(0.05, 0.3, 0.3, 0.2, 0.15)))
    specs, ch, h = _body(rng, c, size, min(n, 2) if wide else n)
    if wide:
        wc = _pick(rng, (64, 96, 128))
        k = _pick(rng, (3, 5)) if h >= 3 else 3
        specs += [Spec("conv", wc, 1, 1, 0, True), Spec("dw", wc, k, 1, k // 2, True)]
        ch = wc
    specs += _head(rng, ch, h)
    if all(s.kind == "maxpool" for s in specs[:-1]):  # some layer must emit the fc's codes
        specs.insert(-1, Spec("pool", ch))
    return c, size, specs


def _source(specs: list[Spec], i: int) -> int:
    """Index of the layer whose out_bits layer ``i`` consumes (max pools pass codes through);
    -1 for the input."""
    j = i - 1
    while j >= 0 and specs[j].kind == "maxpool":
        j -= 1
    return j


def _bits(rng: np.random.Generator, specs: list[Spec], index: int
          ) -> tuple[list[int], list[int], int | None]:
    """Per layer ``wbits`` and ``out_bits``; the forced DSP pair's layer (or None)."""
    wbits = [int(rng.integers(1, 9)) for _ in specs]
    out_bits = [int(rng.integers(1, 9)) for _ in specs]
    fw, fa = divmod(index % 64, 8)
    eligible = [i for i, s in enumerate(specs)
                if s.kind in ("conv", "fc") and _source(specs, i) >= 0]
    forced = eligible[int(rng.integers(len(eligible)))] if eligible else None
    for i, s in enumerate(specs):
        if s.wide:
            wbits[i] = int(rng.integers(6, 9))
            if s.kind == "dw":
                out_bits[_source(specs, i)] = int(rng.integers(6, 9))
    if forced is not None:
        wbits[forced], out_bits[_source(specs, forced)] = fw + 1, fa + 1
    return wbits, out_bits, forced


def _weights(rng: np.random.Generator, shape: tuple, wbits: int, kind: str) -> np.ndarray | None:
    m = levels(wbits)
    if kind == "uniform":
        return None
    if kind == "extreme":
        return (m * rng.choice(np.array([-1, 1]), shape)).astype(np.int16)
    return np.full(shape, m if kind == "max" else -m, np.int16)


def _make(rng: np.random.Generator, s: Spec, name: str, shape: tuple, bits: int, wb: int,
          ob: int, inputs: tuple = ()) -> tuple:
    """Layer ``s`` reading ``shape`` codes at ``bits``; ``(node, its weights' kind or None)``.
    ``inputs``: its producer when not the node before it (convs only)."""
    wk = _pick(rng, WEIGHT_KINDS, (0.8, 0.1, 0.05, 0.05))
    if s.kind == "maxpool":
        node = sy.maxpool(name, shape, s.kernel, s.stride, s.pad, abits=bits)
    elif s.kind == "pool":
        node = sy.avgpool(rng, name, shape, abits=bits, out_bits=ob)
    elif s.kind == "fc":
        frac = _pick(rng, (0, 4, 8, 16))
        w = _weights(rng, (s.out_ch, shape[0]), wb, wk)
        node = sy.linear(rng, "fc", shape[0], s.out_ch, wbits=wb, abits=bits,
                         bias_max=int(rng.integers(1, 2000)), bias_frac_bits=frac, weights=w)
    else:
        groups = shape[0] if s.kind == "dw" else 1
        w = _weights(rng, (s.out_ch, shape[0] // groups, s.kernel, s.kernel), wb, wk)
        node = sy.conv(rng, name, shape, s.out_ch, s.kernel, s.stride, s.pad, groups,
                       wbits=wb, abits=bits, out_bits=ob, weights=w, inputs=inputs)
    return node, (wk if node.wbits else None)


def _name(s: Spec, i) -> str:
    if s.kind in ("conv", "dw"):
        return ("dw" if s.kind == "dw" else "pw" if s.kernel == 1 else "conv") + str(i)
    return {"maxpool": "max", "pool": "pool", "fc": "fc"}[s.kind] + ("" if s.kind == "fc"
                                                                     else str(i))


def _nodes(rng: np.random.Generator, c: int, size: int, specs: list[Spec], wbits, out_bits
           ) -> tuple[list, dict[str, str]]:
    nodes, kinds = [], {}
    shape, bits = (c, size, size), 8
    for i, (s, wb, ob) in enumerate(zip(specs, wbits, out_bits)):
        node, wk = _make(rng, s, _name(s, i), shape, bits, wb, ob)
        if wk:
            kinds[node.name] = wk
        nodes.append(node)
        shape, bits = node.out_shape, getattr(node, "out_bits", 0)
    return nodes, kinds


class _Dag:
    """A residual case's layers, drawn in graph order: a stem conv, 1..3 blocks (each a fork, a
    main branch, the skip or a 1x1 projection of it, an add), a plain layer between blocks now
    and then, the head. Signed tensors (``out_zero``) are read only by 1x1 convs, adds and the
    unpadded head, as in MobileNetV2. The forced DSP pair goes to the first MVU layer (not the
    stem) that reads its activation bits; the stem emits them, and failing that a global pool
    before the fc does."""

    def __init__(self, rng: np.random.Generator, index: int) -> None:
        self.rng, self.nodes, self.kinds, self.forced = rng, [], {}, None
        fw, fa = divmod(index % 64, 8)
        self.fw, self.fa = fw + 1, fa + 1

    def bits(self, signed_p: float = 0.0) -> tuple[int, int]:
        """Out bits 1..8 and the zero point (signed with chance ``signed_p``, at >= 2 bits)."""
        ob = int(self.rng.integers(1, 9))
        return ob, (1 << (ob - 1) if ob >= 2 and self.rng.random() < signed_p else 0)

    def layer(self, s: Spec, name: str, t: Tensor, ob: int, zero: int = 0) -> Tensor:
        """Layer ``s`` reading tensor ``t``; the tensor it emits."""
        wb = int(self.rng.integers(1, 9))
        if self.forced is None and s.kind in ("conv", "fc") and t.bits == self.fa \
                and self.nodes:
            wb, self.forced = self.fw, name
        last = self.nodes[-1].name if self.nodes else "input"
        node, wk = _make(self.rng, s, name, t.shape, t.bits, wb, ob,
                         (t.name,) if t.name != last else ())
        if zero:
            node = replace(node, out_zero=zero)
        if wk:
            self.kinds[name] = wk
        self.nodes.append(node)
        return Tensor(name, node.out_shape, getattr(node, "out_bits", 0), zero)

    def add(self, name: str, a: Tensor, b: Tensor) -> Tensor:
        ob, zero = self.bits(0.3)
        mul = _pick(self.rng, (1, 3, 64, 1024, 4096, 1 << 16), (0.15, 0.15, 0.15, 0.2, 0.3, 0.05))
        self.nodes.append(sy.add(self.rng, name, a.shape, (a.name, b.name), a.bits, b.bits, ob,
                                 mul, zero))
        return Tensor(name, a.shape, ob, zero)

    def main_spec(self, t: Tensor, first: bool, last: bool, out_c: int, stride: int) -> Spec:
        """One main-branch layer: stride on the first, ``out_c`` channels from the last; a
        1x1 conv where it reads signed codes; windows padded ``k // 2`` (shapes match)."""
        c, rng = t.shape[0], self.rng
        kinds = ("pw",) if t.zero else ("conv", "dw", "pw", "maxpool")
        p = (1.0,) if t.zero else (0.35, 0.3, 0.2, 0.15)
        kind = _pick(rng, kinds, p)
        if kind == "dw" and c == 1:
            kind = "conv"
        if last and kind in ("dw", "maxpool") and c != out_c:
            kind = "conv"
        s = stride if first else 1
        out = out_c if last else c if kind in ("dw", "maxpool") else _pick(rng, CHANNELS)
        if kind == "pw":
            return Spec("conv", out, 1, s, 0)
        k = 3 if kind == "maxpool" else _pick(rng, (3, 5), (0.7, 0.3))
        return Spec(kind, out, k, s, k // 2)

    def block(self, j: int, x: Tensor) -> Tensor:
        rng = self.rng
        c, h, _ = x.shape
        proj = rng.random() < 0.45
        n = int(rng.choice(4, p=(0.1, 0.45, 0.3, 0.15) if proj else (0, 0.5, 0.33, 0.17)))
        stride = 2 if proj and n and h >= 2 and rng.random() < 0.5 else 1
        out_c = _pick(rng, CHANNELS[:13]) if proj and n else c
        t = x
        for k in range(n):
            s = self.main_spec(t, k == 0, k == n - 1, out_c, stride)
            ob, zero = self.bits(0.3 if k == n - 1 and s.kind == "conv" else 0.0)
            t = self.layer(s, f"b{j}_{_name(s, k)}", t, ob, zero)
        skip = x
        if proj:
            ob, zero = self.bits(0.4)
            skip = self.layer(Spec("conv", out_c, 1, stride, 0), f"b{j}_short", x, ob, zero)
        if not n:  # the 1x1 conv is the main operand, the fork the skip (hw.dag.forks)
            return self.add(f"b{j}_add", skip, x)
        return self.add(f"b{j}_add", t, skip)

    def draw(self) -> tuple[tuple, int]:
        """The layers; ``(input shape, blocks)``."""
        rng = self.rng
        c, size = int(rng.integers(1, 5)), int(rng.integers(3, 11))
        if rng.random() < 0.08:
            size = int(rng.integers(1, 3))
        k = _pick(rng, (1, 3, 5), (0.3, 0.5, 0.2))
        stem = Spec("conv", _pick(rng, CHANNELS[:13]), k,
                    2 if size >= 6 and rng.random() < 0.3 else 1, k // 2)
        t = self.layer(stem, _name(stem, 0), Tensor("input", (c, size, size), 8), self.fa)
        blocks = int(rng.choice((1, 2, 3), p=(0.45, 0.35, 0.2)))
        for j in range(blocks):
            if j and rng.random() < 0.25:  # a plain layer between two blocks
                s = Spec("conv", _pick(rng, CHANNELS), 1, 1, 0) if t.zero else \
                    _body(rng, t.shape[0], t.shape[1], 1)[0][0]
                t = self.layer(s, f"t{j}_{_name(s, 0)}", t, *self.bits())
            t = self.block(j + 1, t)
        head = _head(rng, t.shape[0], t.shape[1])
        if self.forced is None and (len(head) == 1 or head[0].kind == "maxpool") \
                and t.bits != self.fa:
            head = [Spec("pool", t.shape[0]), head[-1]]
        for i, s in enumerate(head[:-1]):
            ob = self.fa if self.forced is None else int(rng.integers(1, 9))
            t = self.layer(s, _name(s, len(self.nodes)), t, ob)
        self.layer(head[-1], "fc", t, 0)
        return (c, size, size), blocks


def draw_fold(rng: np.random.Generator, node, mult: str, wide: bool = False) -> Fold:
    """A legal fold: PE and SIMD divide what ``fold_limits`` says, at most the lane cap; a
    fifth of the time the most PE, or the most SIMD, within it. Wide layers take PE >= C/2;
    DSP layers mostly PE >= 2 (the rows one multiply packs)."""
    n_pe, n_simd = fold_limits(node)
    cap = WIDE_LANE_CAP if wide else LANE_CAP
    simds = divisors(n_simd)
    pes = [p for p in divisors(n_pe) if 2 * p >= n_pe] if wide else divisors(n_pe)
    if wide and not is_mvu(node):
        simds = simds[:2]
    if mult == "dsp" and len(pes) > 1 and rng.random() < 0.75:
        pes = pes[1:]  # a DSP packs the products of several rows (PE): PE 1 packs nothing
    pairs = [(p, s) for p in pes for s in simds if p * s <= cap] or [(min(pes), 1)]
    r = rng.random()
    if r < 0.1:
        pe, simd = max(pairs)
    elif r < 0.2:
        pe, simd = max(pairs, key=lambda q: (q[1], -q[0]))
    else:
        pe, simd = pairs[int(rng.integers(len(pairs)))]
    fold = Fold(int(pe), int(simd), mult if is_mvu(node) else "lut")
    check_fold(node, fold)
    return fold


def _images(rng: np.random.Generator, shape: tuple, n: int) -> tuple[np.ndarray, list[str]]:
    kinds = ["uniform"] + [_pick(rng, IMAGE_KINDS) for _ in range(n - 1)]
    x = np.empty((n, *shape), np.uint8)
    for i, k in enumerate(kinds):
        x[i] = {"uniform": lambda: rng.integers(0, 256, shape),
                "zeros": lambda: np.zeros(shape),
                "max": lambda: np.full(shape, 255),
                "extreme": lambda: 255 * rng.integers(0, 2, shape),
                "low": lambda: rng.integers(0, 4, shape)}[k]()
    return x, kinds


def _duty(rng: np.random.Generator) -> tuple[int, int]:
    mode = int(rng.integers(4))  # 0 free flowing, 1 idle input, 2 backpressure, 3 both
    v = int(rng.integers(5, 96)) if mode in (1, 3) else 100
    r = int(rng.integers(5, 96)) if mode in (2, 3) else 100
    return v, r


def draw_case(seed: int, index: int, images: int = 3) -> Case:
    """The case ``index`` of the run seeded ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, index])
    wide = bool(rng.random() < WIDE_P)
    blocks, wides = 0, set()
    if not wide and rng.random() < RESIDUAL_P:
        dag = _Dag(rng, index)
        shape, blocks = dag.draw()
        nodes, wkinds, forced = dag.nodes, dag.kinds, dag.forced
    else:
        c, size, specs = _specs(rng, wide)
        shape = (c, size, size)
        wbits, out_bits, fi = _bits(rng, specs, index)
        nodes, wkinds = _nodes(rng, c, size, specs, wbits, out_bits)
        forced = nodes[fi].name if fi is not None else None
        wides = {n.name for n, s in zip(nodes, specs) if s.wide}
    graph = sy.chain(nodes, name=f"fuzz_s{seed}_c{index}")
    folding = {}
    for node in nodes:
        mult = "dsp" if node.name == forced or (is_mvu(node) and rng.random() < 0.5) else "lut"
        folding[node.name] = draw_fold(rng, node, mult, node.name in wides)
    family = FAMILIES[(index + index // 64) % 2]
    x, kinds = _images(rng, shape, images)
    v, r = _duty(rng)
    return Case(seed, index, graph, folding, family, x, kinds, v, r, forced, wkinds, wide,
                blocks)


__all__ = ["FAMILIES", "GEN_VERSION", "LANE_CAP", "NOT_DRAWN", "Case", "draw_case", "draw_fold"]
