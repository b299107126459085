"""How a memory of ``depth`` words of ``width`` bits maps onto Xilinx primitives.

Styles, as ``ram_style`` / ``rom_style`` name them:

- ``lut``: distributed memory. A ROM of arbitrary content is one LUT6 per output bit per 64 words
  (MUXF7/MUXF8 combine up to four slices for free); deeper ROMs need LUT muxes as well, which
  Yosys's ABC mapping makes about 1.36 LUTs per bit per 64 words in all (measured: 512x8 ROM 87
  LUTs, 2048x4 173). A RAM written at run time (line buffers, FIFOs) uses LUTRAM: on UltraScale+
  RAM32M16 (14 bits x 32 words in 8 LUTs) and RAM64M8 (7 bits x 64 words in 8 LUTs), on 7 series
  RAM32M (6 bits x 32) and RAM64M (3 bits x 64) in 4 LUTs. Output register: ``width`` flip-flops.
- ``bram``: block RAM in RAMB18 halves: the cheapest aspect ratio per 18 Kb half (16Kx1 ..
  1Kx18, 512x36 simple dual port) or per 36 Kb block (counted as two: 32Kx1 .. 512x72), whole
  primitives in depth and width.
- ``uram``: UltraRAM (UltraScale+), 4Kx72 per block.
- ``reg``: flip-flops (``depth * width``) and a ``depth``:1 read mux per bit.

``auto`` is what Yosys's ``memory_libmap`` picks in ``synth_xilinx`` (measured on a ROM and a RAM
of each shape, see ``benchmarks/calibrate_yosys.py``): a ROM stays in LUTs while it holds at most
``ROM_LUT_BITS_PER_BRAM18`` bits per RAMB18 its block-RAM form would take (128x512, 2048x4 and
256x32 stay in LUTs; 512x64, 1024x36, 512x512 go to block RAM); a RAM uses LUTRAM up to 64 words
and block RAM beyond. ``auto`` never picks URAM: synthesis infers it only when asked
(``ram_style = "ultra"``), so a URAM memory is always an explicit choice.
"""

from __future__ import annotations

from functools import cache

STYLES = ("auto", "lut", "bram", "uram", "reg")
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
BRAM36_SHAPES = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
URAM_SHAPE = (4096, 72)
ROM_LUT_BITS_PER_BRAM18 = 12288
"""``auto``: a ROM of at most this many bits per RAMB18 of its block-RAM form stays in LUTs
(Yosys: 8192 stays, 16384 goes to block RAM)."""
RAM_LUT_MAX_DEPTH = 64
"""``auto``: a RAM up to this depth is LUTRAM, deeper is block RAM (Yosys: 64 LUTRAM, 128 BRAM)."""
DEEP_ROM_FACTOR = 1.36
"""LUTs per bit per 64 words of a distributed ROM deeper than 256 words (mux LUTs included)."""


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


@cache
def bram18(depth: int, width: int) -> int:
    """RAMB18 halves for ``depth x width`` (0 for an empty memory)."""
    if depth <= 0 or width <= 0:
        return 0
    best = min(cdiv(depth, d) * cdiv(width, w) for d, w in BRAM18_SHAPES)
    return min(best, min(2 * cdiv(depth, d) * cdiv(width, w) for d, w in BRAM36_SHAPES))


def uram(depth: int, width: int) -> int:
    if depth <= 0 or width <= 0:
        return 0
    return cdiv(depth, URAM_SHAPE[0]) * cdiv(width, URAM_SHAPE[1])


def lut_rom(depth: int, width: int) -> int:
    """LUTs of a ROM of arbitrary content in distributed form."""
    if depth <= 0 or width <= 0:
        return 0
    slices = cdiv(depth, 64)
    if slices <= 4:
        return width * slices
    return round(width * slices * DEEP_ROM_FACTOR)


def lut_ram(depth: int, width: int, family: str = "xcup") -> int:
    """LUTs of a one-write-port distributed RAM (see the module doc for the primitives)."""
    if depth <= 0 or width <= 0:
        return 0
    b32, b64, luts = (6, 3, 4) if family == "xc7" else (14, 7, 8)
    if depth <= 32:
        return luts * cdiv(width, b32)
    slices = cdiv(depth, 64)
    mux = 0 if slices <= 4 else cdiv(slices, 4)
    return luts * cdiv(width, b64) * slices + width * mux


def reg_luts(depth: int, width: int) -> int:
    """Read mux of a register file: ``width`` muxes of ``depth`` inputs (a LUT6 is a 4:1 mux)."""
    n, words = 0, depth
    while words > 1:
        words = cdiv(words, 4)
        n += words
    return width * n


def auto_style(depth: int, width: int, rom: bool = True) -> str:
    """The style ``auto`` resolves to (see the module doc)."""
    if depth <= 1:
        return "reg"
    if rom:
        lut = depth * width <= ROM_LUT_BITS_PER_BRAM18 * bram18(depth, width)
    else:
        lut = depth <= RAM_LUT_MAX_DEPTH
    return "lut" if lut else "bram"


def memory(depth: int, width: int, style: str = "auto", rom: bool = True,
           family: str = "xcup") -> dict[str, int]:
    """``{lut, ff, bram18, uram}`` of one memory with a registered read port; ``style`` one of
    :data:`STYLES`. An empty memory (depth or width 0) costs nothing."""
    if style not in STYLES:
        raise ValueError(f"memory style must be one of {', '.join(STYLES)}, got {style!r}")
    out = {"lut": 0, "ff": 0, "bram18": 0, "uram": 0}
    if depth <= 0 or width <= 0:
        return out
    if style == "auto":
        style = auto_style(depth, width, rom)
    if style == "lut":
        out["lut"] = lut_rom(depth, width) if rom else lut_ram(depth, width, family)
        out["ff"] = width
    elif style == "reg":
        out["lut"] = reg_luts(depth, width)
        out["ff"] = (0 if rom else depth * width) + width
    elif style == "bram":
        out["bram18"] = bram18(depth, width)
    else:
        out["uram"] = uram(depth, width)
    return out


def efficiency(depth: int, width: int, style: str) -> float:
    """Share of the primitives' bits the memory fills (1.0 = no waste), for the report."""
    bits = depth * width
    cap = {"bram": bram18(depth, width) * 18 * 1024, "uram": uram(depth, width) * 288 * 1024,
           "lut": cdiv(depth, 64) * 64 * width}.get(style, bits)
    return bits / cap if cap else 1.0


__all__ = ["RAM_LUT_MAX_DEPTH", "ROM_LUT_BITS_PER_BRAM18", "STYLES", "auto_style", "bram18",
           "cdiv", "efficiency", "lut_ram", "lut_rom", "memory", "reg_luts", "uram"]
