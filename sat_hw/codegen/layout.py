"""Weights, thresholds and biases in the order the hardware blocks read them (numpy only).

Shared by the RTL and HLS renderers; the orders are those of docs/hardware.md:

- a matrix-vector unit sees a kxk conv's input vector as the sliding-window generator emits it:
  channel group ``g`` (``S = gcd(SIMD, C_in)`` channels), then tap ``t = ky*k + kx``, then channel
  ``c`` within the group: column ``(g*k*k + t)*S + c``;
- a depthwise vector unit holds ``(C, k*k)``, taps in ``ky*k + kx`` order;
- memories are words of equal-width lanes, lane ``i`` at bits ``[i*bits +: bits]``; signed values
  are stored two's complement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sat_hw.graph.ir import Conv, Linear, levels
from sat_hw.hw.plan import LayerPlan


def mvu_matrix(lp: LayerPlan) -> np.ndarray:
    """int64 ``(rows, fan_in)``: the weights the layer's matrix-vector unit multiplies its input
    vector by, columns in stream order (``lp.group`` channels per window word)."""
    node = lp.node
    if isinstance(node, Linear):
        return node.weights.astype(np.int64)
    if node.groups != 1:
        raise ValueError(f"layer {node.name}: grouped conv (groups {node.groups}) has no "
                         f"matrix-vector form")
    co, ci, k, _ = node.weights.shape
    s = lp.group
    w = node.weights.astype(np.int64).reshape(co, ci // s, s, k * k)  # (co, g, c, t)
    return w.transpose(0, 1, 3, 2).reshape(co, ci * k * k)           # (co, g, t, c)


def vvu_matrix(node: Conv) -> np.ndarray:
    """int64 ``(C, k*k)``: a depthwise conv's weights, taps in ``ky*k + kx`` order."""
    c = node.weights.shape[0]
    return node.weights.astype(np.int64).reshape(c, -1)


def k_codes(w: np.ndarray, wbits: int) -> np.ndarray:
    """SAT's unsigned weight codes ``k = (w + 2^wbits - 1) / 2`` (``w`` odd, ``|w| <= 2^b-1``)."""
    k = (np.asarray(w, np.int64) + levels(wbits)) // 2
    if k.size and (k.min() < 0 or k.max() > levels(wbits)):
        raise ValueError(f"weights outside the {wbits}-bit SAT levels")
    return k


def pack_words(lanes: np.ndarray, bits: int) -> list[int]:
    """Rows of ``lanes`` (int, ``(depth, n)``) as integers, lane ``i`` at ``[i*bits +: bits]``;
    negative values two's complement in ``bits``."""
    a = np.asarray(lanes, np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    if a.size and (a.min() < lo or a.max() > hi):
        raise ValueError(f"value {int(a.min()) if a.min() < lo else int(a.max())} does not fit "
                         f"{bits} bits")
    mask = (1 << bits) - 1
    words = []
    for row in a.reshape(a.shape[0], -1).tolist():
        v = 0
        for i, x in enumerate(row):
            v |= (x & mask) << (i * bits)
        words.append(v)
    return words


def hex_lines(words: list[int], width: int) -> str:
    """``$readmemh`` text: one word per line, ``ceil(width/4)`` lowercase hex digits."""
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _encode(w: np.ndarray, wbits: int, encoding: str) -> tuple[np.ndarray, int]:
    if encoding == "k":
        return k_codes(w, wbits), wbits
    if encoding == "signed":
        return w, wbits + 1
    raise ValueError(f"encoding must be k or signed, got {encoding!r}")


def mvu_lanes(lp: LayerPlan, encoding: str = "k") -> tuple[np.ndarray, int]:
    """The MVU weights as int64 ``(depth, PE, SIMD)`` and their width ``WB``: entry ``[f*(MW/SIMD)
    + s, p, i]`` multiplies column ``s*SIMD + i`` into row ``f*PE + p``."""
    w = mvu_matrix(lp)
    mh, mw = w.shape
    pe, simd = lp.fold.pe, lp.fold.simd
    vals, wb = _encode(w, lp.node.wbits, encoding)
    # (f, p, s, i) -> (f, s, p, i)
    v = vals.reshape(mh // pe, pe, mw // simd, simd).transpose(0, 2, 1, 3)
    return v.reshape(-1, pe, simd), wb


def mvu_rom(lp: LayerPlan, encoding: str = "k") -> tuple[list[int], int]:
    """The MVU weight ROM: ``(words, word width)``; depth ``(MH/PE)*(MW/SIMD)``, word
    ``f*(MW/SIMD) + s``, lane ``(p, i)`` at ``(p*SIMD + i)*WB``."""
    v, wb = mvu_lanes(lp, encoding)
    return pack_words(v.reshape(v.shape[0], -1), wb), lp.fold.pe * lp.fold.simd * wb


def vvu_lanes(lp: LayerPlan, encoding: str = "k") -> tuple[np.ndarray, int]:
    """The VVU weights as int64 ``(depth, SIMD, PE)`` and their width: entry ``[g*(K2/SIMD) + s,
    i, p]`` is tap ``s*SIMD + i`` of channel ``g*PE + p``."""
    w = vvu_matrix(lp.node)
    c, k2 = w.shape
    pe, simd = lp.fold.pe, lp.fold.simd
    vals, wb = _encode(w, lp.node.wbits, encoding)
    v = vals.reshape(c // pe, pe, k2 // simd, simd).transpose(0, 2, 3, 1)  # (g, s, i, p)
    return v.reshape(-1, simd, pe), wb


def vvu_rom(lp: LayerPlan, encoding: str = "k") -> tuple[list[int], int]:
    """The VVU weight ROM: depth ``(C/PE)*(K2/SIMD)``, word ``g*(K2/SIMD) + s``, lane ``(i, p)``
    at ``(i*PE + p)*WB``."""
    v, wb = vvu_lanes(lp, encoding)
    return pack_words(v.reshape(v.shape[0], -1), wb), lp.fold.pe * lp.fold.simd * wb


def threshold_lanes(thresholds: np.ndarray, direction: np.ndarray,
                    pe: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds int64 ``(C/PE, PE, NT)`` (ascending) and the direction flags uint8
    ``(C/PE, PE)`` (1 = count ``acc <= T``) of channel ``g*PE + p`` at ``[g, p]``."""
    t = np.asarray(thresholds, np.int64)
    c, nt = t.shape
    down = (np.asarray(direction) < 0).astype(np.uint8)
    return t.reshape(c // pe, pe, nt), down.reshape(c // pe, pe)


def threshold_files(thresholds: np.ndarray, direction: np.ndarray, acc_bits: int, pe: int,
                    prefix: str) -> dict[str, str]:
    """The memories of ``sat_thresholds`` (a binary search, one memory per lane and stage) as
    ``{file name: $readmemh text}``: ``f"{prefix}_p{p}_s{j}.hex"`` for lane ``p`` < PE and stage
    ``j`` < B, where ``NT = 2^B - 1`` thresholds per channel (``thresholds`` ``(C, NT)``,
    ascending; ``direction`` ``(C,)`` of +1/-1).

    Stage ``j``, word ``g*2^j + m`` (group ``g`` < C/PE, ``m`` < 2^j): threshold ``T_k`` of channel
    ``g*PE + p``, ``k = (2m+1) * 2^(B-1-j)`` (1-based), two's complement in ``acc_bits``; stage 0
    words add the direction flag (1 = count ``acc <= T``) at bit ``acc_bits``.
    """
    t = np.asarray(thresholds, np.int64)
    d = np.asarray(direction)
    if t.ndim != 2 or d.shape != (t.shape[0],):
        raise ValueError(f"thresholds must be (C, NT) and direction (C,), got {t.shape} and "
                         f"{d.shape}")
    c, nt = t.shape
    b = (nt + 1).bit_length() - 1
    if nt < 1 or nt + 1 != 1 << b:
        raise ValueError(f"thresholds per channel must be 2^B - 1, got {nt}")
    if pe < 1 or c % pe:
        raise ValueError(f"PE {pe} must divide the {c} channels")
    if not np.isin(d, (-1, 1)).all():
        raise ValueError(f"directions must be +1 or -1, got {sorted(set(d.tolist()))}")
    if nt > 1 and (np.diff(t, axis=1) < 0).any():
        raise ValueError("thresholds must be ascending within each channel")
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    if t.size and (t.min() < lo or t.max() > hi):
        bad = int(t.min()) if t.min() < lo else int(t.max())
        raise ValueError(f"threshold {bad} does not fit {acc_bits} signed bits")
    g = c // pe
    tl = (t & ((1 << acc_bits) - 1)).reshape(g, pe, nt)
    down = (d < 0).astype(np.int64).reshape(g, pe)
    files = {}
    for p in range(pe):
        for j in range(b):
            k = ((2 * np.arange(1 << j) + 1) << (b - 1 - j)) - 1      # 0-based indices
            words = tl[:, p, k].reshape(-1)                            # word g*2^j + m
            width = acc_bits
            if j == 0:
                words = words | (down[:, p] << acc_bits)
                width += 1
            files[f"{prefix}_p{p}_s{j}.hex"] = hex_lines([int(w) for w in words], width)
    return files


def bias_rom(bias: np.ndarray, pe: int) -> tuple[list[int], int]:
    """The bias ROM of the last layer: depth ``C/PE``, lane ``p`` at ``p*BIAS_BITS``."""
    b = np.asarray(bias, np.int64)
    bits = max(1, max(max(int(b.max()), 0).bit_length(), max(int(-b.min() - 1), 0).bit_length())
               + 1) if b.size else 1
    return pack_words(b.reshape(-1, pe), bits), pe * bits


def add_mul_rom(mul_a: np.ndarray, mul_b: np.ndarray, pe: int,
                mul_bits: int) -> tuple[list[int], int]:
    """The multiplier ROM of ``sat_add`` (``MUL_FILE``): ``(words, word width)``; depth ``C/PE``,
    word ``g`` holds ``mul_a`` of channel ``g*PE + p`` at ``[p*MUL_BITS +: MUL_BITS]`` and
    ``mul_b`` at ``[(PE + p)*MUL_BITS +: MUL_BITS]``, two's complement; width
    ``2*PE*MUL_BITS`` (``sat_hw.hw.plan.mul_bits`` gives ``MUL_BITS``)."""
    a, b = np.asarray(mul_a, np.int64), np.asarray(mul_b, np.int64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"mul_a and mul_b must be (C,) of one shape, got {a.shape} and {b.shape}")
    if pe < 1 or a.size % pe:
        raise ValueError(f"PE {pe} must divide the {a.size} channels")
    lo, hi = -(1 << (mul_bits - 1)), (1 << (mul_bits - 1)) - 1
    both = np.concatenate([a, b])
    if both.size and (both.min() < lo or both.max() > hi):
        bad = int(both.min()) if both.min() < lo else int(both.max())
        raise ValueError(f"multiplier {bad} does not fit {mul_bits} signed bits")
    lanes = np.concatenate([a.reshape(-1, pe), b.reshape(-1, pe)], axis=1)  # (C/PE, 2*PE)
    return pack_words(lanes, mul_bits), 2 * pe * mul_bits


WLOAD_BITS = 32
"""TDATA bits of the weight-load stream (``s_axis_wload``, ``rtl/sat_wload.sv``)."""
WLOAD_MAX_WORDS = (1 << 24) - 1
"""The most words one layer's memory may have (the header's 24-bit count)."""


@dataclass(frozen=True)
class WloadLayer:
    """One run-time layer's section of the weight-load stream: its ``index`` (its header's
    bits [7:0]), its memory's ``depth`` words of ``width`` bits, each sent as ``beats``
    32-bit beats LSB first, and the words themselves in address order."""

    name: str
    index: int
    depth: int
    width: int
    words: tuple[int, ...]

    @property
    def beats(self) -> int:
        return -(-self.width // WLOAD_BITS)


def wload_layers(layers: list[LayerPlan]) -> list[WloadLayer]:
    """The sections of the weight-load stream of ``layers`` (the plan's run-time layers,
    :func:`sat_hw.hw.plan.runtime_layers`, in stream order: index = position), each with the
    words of its ``sat_mvu`` or ``sat_vvu`` memory (:func:`mvu_rom`, :func:`vvu_rom`)."""
    if len(layers) > 256:
        raise ValueError(f"{len(layers)} layers with run-time weights: the weight-load header "
                         f"names at most 256")
    out = []
    for i, lp in enumerate(layers):
        b = next(b for b in lp.blocks if b.module in ("sat_mvu", "sat_vvu"))
        words, width = (mvu_rom if b.module == "sat_mvu" else vvu_rom)(lp, b.params["ENCODING"])
        if len(words) > WLOAD_MAX_WORDS:
            raise ValueError(f"layer {lp.name}: {len(words)} weight words, the weight-load "
                             f"header counts at most {WLOAD_MAX_WORDS}")
        out.append(WloadLayer(lp.name, i, len(words), width, tuple(words)))
    return out


def wload_beats(sections: list[WloadLayer]) -> list[tuple[int, bool]]:
    """The weight-load stream as ``(TDATA, TLAST)`` beats: per section a header (bits [7:0]
    the index, [31:8] the word count), then each word in ``beats`` beats, bits ``[32k+31:32k]``
    in beat ``k``, TLAST on the section's last beat."""
    mask = (1 << WLOAD_BITS) - 1
    out: list[tuple[int, bool]] = []
    for s in sections:
        out.append((s.index | s.depth << 8, False))
        for w in s.words:
            out += [((w >> (WLOAD_BITS * k)) & mask, False) for k in range(s.beats)]
        out[-1] = (out[-1][0], True)
    return out


def wload_lines(sections: list[WloadLayer]) -> str:
    """``$readmemh``/``$fscanf`` text of :func:`wload_beats`: one beat a line, 9 hex digits,
    bit 32 the TLAST and bits 31..0 the TDATA (``rtl/tb/wload.hex``)."""
    return "".join(f"{int(last) << WLOAD_BITS | d:09x}\n" for d, last in wload_beats(sections))


def wload_bytes(sections: list[WloadLayer]) -> bytes:
    """The TDATA of :func:`wload_beats`, little-endian, 4 bytes a beat: what a DMA sends (its
    TLAST at the end of each section's bytes: ``4 * (1 + depth * beats)`` of them)."""
    return b"".join(d.to_bytes(4, "little") for d, _ in wload_beats(sections))


__all__ = [
    "WLOAD_BITS",
    "WLOAD_MAX_WORDS",
    "WloadLayer",
    "add_mul_rom",
    "bias_rom",
    "hex_lines",
    "k_codes",
    "mvu_lanes",
    "mvu_matrix",
    "mvu_rom",
    "pack_words",
    "threshold_files",
    "threshold_lanes",
    "vvu_lanes",
    "vvu_matrix",
    "vvu_rom",
    "wload_beats",
    "wload_bytes",
    "wload_layers",
    "wload_lines",
]
