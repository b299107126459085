"""How a memory of ``depth`` words of ``width`` bits maps onto Xilinx primitives.

Styles, as ``ram_style`` / ``rom_style`` name them:

- ``lut``: distributed memory. A ROM of arbitrary content is one LUT6 per output bit per 64 words
  (MUXF7/MUXF8 combine up to four slices for free); deeper ROMs need LUT muxes as well, which
  Yosys's ABC mapping makes about 1.36 LUTs per bit per 64 words in all (measured: 512x8 ROM 87
  LUTs, 2048x4 173). A RAM written at run time (line buffers, FIFOs) uses LUTRAM: on UltraScale+
  RAM32M16 (14 bits x 32 words in 8 LUTs) and RAM64M8 (7 bits x 64 words in 8 LUTs), on 7 series
  RAM32M (6 bits x 32) and RAM64M (3 bits x 64) in 4 LUTs; a RAM deeper than 64 words is a bank
  of 64-word slices with a read mux per bit (``ceil((slices-1)/3)`` LUTs, a LUT6 is a 4:1 mux)
  and a write-enable decode LUT per slice (measured: 128x8 42 LUTs, 304x8 101, 192x16 91, 512x4
  84). Output register: ``width`` flip-flops.
- ``bram``: block RAM in RAMB18 halves: the cheapest aspect ratio per 18 Kb half (16Kx1 ..
  1Kx18, 512x36 simple dual port) or per 36 Kb block (counted as two: 32Kx1 .. 512x72), whole
  primitives in depth and width.
- ``uram``: UltraRAM (UltraScale+), 4Kx72 per block.
- ``external``: weights loaded at run time into block RAM (a RAM with a write port that the
  bitstream leaves empty): priced as ``bram``.
- ``reg``: flip-flops (``depth * width``) and a ``depth``:1 read mux per bit.

``auto`` is what Yosys's ``memory_libmap`` picks in ``synth_xilinx`` (measured on a ROM and a RAM
of each shape and on the blocks' memories, see ``benchmarks/calibrate_yosys.py``): a ROM stays in
LUTs while it holds at most ``ROM_LUT_BITS_PER_BRAM18`` bits (its depth rounded up to a power of
two, as Yosys sizes the address) per RAMB18 its block-RAM form would take (128x512, 2048x4 and
256x32 stay in LUTs; 256x384, 512x20, 512x64, 1024x36 go to block RAM); a RAM uses LUTRAM while
its LUTRAM form costs at most ``RAM_LUT_LUTS_PER_BRAM18`` per RAMB18 of its block-RAM form
(304x8, 512x4, 192x16, 64x128 LUTRAM; 96x32, 128x32, 256x16, 512x8, 128x88 block RAM). ``auto`` never picks URAM: synthesis infers it only when asked
(``ram_style = "ultra"``), so a URAM memory is always an explicit choice.

On an ECP5 (``family="ecp5"``, ``synth_ecp5``; LUTs are LUT4 sites as
:data:`sat_hw.hw.blocks.ECP5_LUTS` counts them) the same rules hold with its primitives: a ROM of
arbitrary content is one LUT4 per bit per 16 words (the slices' PFUMX/L6MUX21 combine up to four
for free, deeper ones ``DEEP_ROM_FACTOR`` as above: 256x8 is 176 LUT4); a RAM is TRELLIS_DPR16X4
(16 words x 4 bits, six sites each) with a LUT4 read mux per bit per further 16 words and a
write decode per 16 words (measured: 32x16 66 sites, 64x16 164, 128x8 152); block RAM is the
DP16KD, 18 Kb (16Kx1 .. 1Kx18, 512x36 pseudo dual port), no 36 Kb form and no URAM. ``auto``
(Yosys's choices on the same ROMs and RAMs): a ROM stays in LUT4s up to
``ECP5_ROM_LUT_BITS_PER_BRAM18`` bits per DP16KD (256x8 stays; 512x8, 128x64, 2048x4 go to block
RAM), a RAM up to ``ECP5_RAM_LUT_LUTS_PER_BRAM18`` (half its RAM sites plus its mux and decode
LUT4s) per DP16KD (32x16, 64x16, 128x8 LUTRAM; 256x16, 512x8, 64x128 block RAM).
"""

from __future__ import annotations

from functools import cache

STYLES = ("auto", "lut", "bram", "uram", "reg", "external")
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
BRAM36_SHAPES = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
URAM_SHAPE = (4096, 72)
ROM_LUT_BITS_PER_BRAM18 = 8192
"""``auto``: a ROM of at most this many bits (power-of-two depth) per RAMB18 of its block-RAM form
stays in LUTs (Yosys: 8192 stays, 8937 (256x384 in 11) goes to block RAM)."""
RAM_LUT_LUTS_PER_BRAM18 = 63
"""``auto``: a RAM is LUTRAM while half the LUTs of its RAM primitives plus its mux and decode LUTs
are at most this many per RAMB18 of its block-RAM form, block RAM beyond. Fitted to Yosys's
choices: 304x8 (40 + 21 per RAMB18), 512x4 (52), 192x16 (55) stay LUTRAM; 256x16 (68), 96x32 and
128x32 (74), 128x88 (194 for 3) go to block RAM."""
RAM_LUT_MAX_DEPTH = 64
"""Kept for callers: the deepest RAM that is LUTRAM whatever its width (one slice deep)."""
ECP5_ROM_LUT_BITS_PER_BRAM18 = 2048
ECP5_RAM_LUT_LUTS_PER_BRAM18 = 128
DEEP_ROM_FACTOR = 1.36
"""LUTs per bit per 64 words of a distributed ROM deeper than 256 words (mux LUTs included)."""


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


@cache
def bram18(depth: int, width: int, family: str = "xcup") -> int:
    """RAMB18 halves (DP16KD blocks on an ECP5) for ``depth x width`` (0 for an empty memory)."""
    if depth <= 0 or width <= 0:
        return 0
    best = min(cdiv(depth, d) * cdiv(width, w) for d, w in BRAM18_SHAPES)
    if family == "ecp5":
        return best
    return min(best, min(2 * cdiv(depth, d) * cdiv(width, w) for d, w in BRAM36_SHAPES))


def uram(depth: int, width: int) -> int:
    if depth <= 0 or width <= 0:
        return 0
    return cdiv(depth, URAM_SHAPE[0]) * cdiv(width, URAM_SHAPE[1])


def lut_rom(depth: int, width: int, family: str = "xcup") -> int:
    """LUTs (LUT4s on an ECP5) of a ROM of arbitrary content in distributed form."""
    if depth <= 0 or width <= 0:
        return 0
    slices = cdiv(depth, 16 if family == "ecp5" else 64)
    if slices <= 4:
        return width * slices
    return round(width * slices * DEEP_ROM_FACTOR)


def _lut_ram_parts(depth: int, width: int, family: str = "xcup") -> tuple[int, int]:
    """(LUTs in RAM primitives, read-mux and write-decode LUTs) of a distributed RAM."""
    if depth <= 0 or width <= 0:
        return 0, 0
    if family == "ecp5":  # TRELLIS_DPR16X4: 16 x 4 in six LUT4 sites
        s16 = cdiv(depth, 16)
        return 6 * cdiv(width, 4) * s16, 0 if s16 == 1 else width * (s16 - 1) + s16
    b32, b64, luts = (6, 3, 4) if family == "xc7" else (14, 7, 8)
    if depth <= 32:
        return luts * cdiv(width, b32), 0
    slices = cdiv(depth, 64)
    mux = 0 if slices == 1 else width * cdiv(slices - 1, 3) + slices
    return luts * cdiv(width, b64) * slices, mux


def lut_ram(depth: int, width: int, family: str = "xcup") -> int:
    """LUTs of a one-write-port distributed RAM (see the module doc for the primitives)."""
    return sum(_lut_ram_parts(depth, width, family))


def reg_luts(depth: int, width: int) -> int:
    """Read mux of a register file: ``width`` muxes of ``depth`` inputs (a LUT6 is a 4:1 mux)."""
    n, words = 0, depth
    while words > 1:
        words = cdiv(words, 4)
        n += words
    return width * n


def auto_style(depth: int, width: int, rom: bool = True, family: str = "xcup") -> str:
    """The style ``auto`` resolves to (see the module doc)."""
    if depth <= 1:
        return "reg"
    ecp5 = family == "ecp5"
    if rom:
        words = 1 << (int(depth) - 1).bit_length()
        per = ECP5_ROM_LUT_BITS_PER_BRAM18 if ecp5 else ROM_LUT_BITS_PER_BRAM18
        lut = words * width <= per * bram18(depth, width, family)
    else:
        prim, mux = _lut_ram_parts(depth, width, family)
        per = ECP5_RAM_LUT_LUTS_PER_BRAM18 if ecp5 else RAM_LUT_LUTS_PER_BRAM18
        lut = prim / 2 + mux <= per * bram18(depth, width, family)
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
        style = auto_style(depth, width, rom, family)
    if style == "external":
        style = "bram"
    if style == "lut":
        out["lut"] = lut_rom(depth, width, family) if rom else lut_ram(depth, width, family)
        out["ff"] = width
    elif style == "reg":
        out["lut"] = reg_luts(depth, width)
        out["ff"] = (0 if rom else depth * width) + width
    elif style == "bram":
        out["bram18"] = bram18(depth, width, family)
    elif family == "ecp5":
        raise ValueError(f"memory style uram: an ECP5 has no UltraRAM ({depth}x{width})")
    else:
        out["uram"] = uram(depth, width)
    return out


def efficiency(depth: int, width: int, style: str) -> float:
    """Share of the primitives' bits the memory fills (1.0 = no waste), for the report."""
    bits = depth * width
    style = "bram" if style == "external" else style
    cap = {"bram": bram18(depth, width) * 18 * 1024, "uram": uram(depth, width) * 288 * 1024,
           "lut": cdiv(depth, 64) * 64 * width}.get(style, bits)
    return bits / cap if cap else 1.0


__all__ = ["ECP5_RAM_LUT_LUTS_PER_BRAM18", "ECP5_ROM_LUT_BITS_PER_BRAM18", "RAM_LUT_LUTS_PER_BRAM18", "RAM_LUT_MAX_DEPTH", "ROM_LUT_BITS_PER_BRAM18", "STYLES",
           "auto_style", "bram18", "cdiv", "efficiency", "lut_ram", "lut_rom", "memory",
           "reg_luts", "uram"]
