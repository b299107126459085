"""The blocks a layer is built of, and what is known of each without the fitted model: its
memories, the features its LUT and FF models are linear in, and its DSP slices; and
:class:`Resources`, what a block, a layer or a network costs. :mod:`sat_hw.hw.cost` prices
blocks with these (numpy-free, torch-free).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sat_hw.hw.cycles import (
    add_latency,
    mvu_latency,
    thresholds_latency,
    tree_stages,
    vvu_latency,
)
from sat_hw.hw.devices import dsp_a_width
from sat_hw.hw.memory import memory


@dataclass(frozen=True)
class Resources:
    """FPGA resources: LUTs (logic and LUT memory), flip-flops, RAMB18 halves, URAM, DSP slices.

    Adds (``a + b``, ``sum([...])``), scales by an integer (``3 * r``) and compares with a
    device's capacity.
    """

    lut: int = 0
    ff: int = 0
    bram18: int = 0
    uram: int = 0
    dsp: int = 0

    KEYS = ("lut", "ff", "bram18", "uram", "dsp")

    def __add__(self, other: Resources) -> Resources:
        if not isinstance(other, Resources):
            return NotImplemented
        return Resources(self.lut + other.lut, self.ff + other.ff, self.bram18 + other.bram18,
                         self.uram + other.uram, self.dsp + other.dsp)

    def __radd__(self, other):
        if other == 0:  # sum() starts at 0
            return self
        return self.__add__(other)

    def __mul__(self, n: int) -> Resources:
        return Resources(*(getattr(self, k) * int(n) for k in self.KEYS))

    __rmul__ = __mul__

    def as_dict(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in self.KEYS}

    @classmethod
    def of(cls, d: dict) -> Resources:
        g = d.get
        return cls(round(g("lut", 0)), round(g("ff", 0)), round(g("bram18", 0)),
                   round(g("uram", 0)), round(g("dsp", 0)))

    def utilisation(self, device) -> dict[str, float]:
        """Share of the device's capacity per resource (0 where the device has none and the
        design uses none, ``inf`` where it uses some the device lacks)."""
        cap = device.capacity()
        return {k: (getattr(self, k) / cap[k] if cap[k] else
                    (0.0 if getattr(self, k) == 0 else math.inf)) for k in self.KEYS}

    def over(self, device, limits: dict[str, float]) -> list[str]:
        """The resources above ``limits`` (shares of capacity), in :attr:`KEYS` order."""
        u = self.utilisation(device)
        return [k for k in self.KEYS if u[k] > limits.get(k, 1.0) + 1e-12]


@dataclass(frozen=True)
class Block:
    """One RTL block instance (:mod:`sat_hw.hw.plan` makes them): module, its parameters (those
    of the RTL module), its role in the layer's chain, the memory style of its main memory
    (weights of ``sat_mvu``/``sat_vvu``), its instance name, layer, output stream width in bits
    and its extra output ports (``(port, wire)``; an empty wire leaves the port open)."""

    module: str
    params: dict
    role: str
    mem: str = "auto"
    name: str = ""
    layer: str = ""
    out_w: int = 0
    ports: tuple[tuple[str, str], ...] = ()


# ---- per-block memories, logic features and DSPs -------------------------------------------

def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(int(n), 2))))


def block_memories(b: Block) -> list[tuple[str, int, int, bool, str]]:
    """``(what, depth, width, rom, style)`` of each memory of the block (the blocks' preambles);
    ``b.mem == "none"`` leaves out the weights (priced separately by the planner)."""
    return [g[:5] for g in memory_groups(b) for _ in range(g[5])]


def memory_groups(b: Block) -> list[tuple[str, int, int, bool, str, int]]:
    """:func:`block_memories` as ``(what, depth, width, rom, style, count)`` groups of equal
    memories."""
    p, m = b.params, b.module
    if m == "sat_mvu":
        wb = p["WBITS"] + (p.get("ENCODING", "k") != "k")
        sf, nf = p["MW"] // p["SIMD"], p["MH"] // p["PE"]
        out = [] if b.mem == "none" else [("weights", nf * sf, p["PE"] * p["SIMD"] * wb, True,
                                          b.mem, 1)]
        if nf > 1:  # vector buffer: two halves of 2^ceil(log2(sf)) words (filled, replayed)
            out.append(("vector buffer", 2 << _clog2(sf), p["SIMD"] * p["ABITS"], False, "auto",
                        1))
        return out + [outq_group(p["PE"] * p["ACC_BITS"], outq_depth(mvu_latency(p), sf))]
    if m == "sat_vvu":
        wb = p["WBITS"] + (p.get("ENCODING", "k") != "k")
        depth = (p["CH"] // p["PE"]) * (p["K2"] // p["SIMD"])
        out = [] if b.mem == "none" else [("weights", depth, p["PE"] * p["SIMD"] * wb, True,
                                           b.mem, 1)]
        qd = outq_depth(vvu_latency(p), p["K2"] // p["SIMD"])
        return out + [outq_group(p["PE"] * p["ACC_BITS"], qd)]
    if m == "sat_thresholds":
        # a binary search: per lane and stage j, (CH/PE)*2^j thresholds (stage 0: + direction)
        g = p["CH"] // p["PE"]
        return [(f"thresholds s{j}", g << j, p["ACC_BITS"] + (j == 0), True, "auto", p["PE"])
                for j in range(p["OUT_BITS"])] + \
            [outq_group(p["PE"] * p["OUT_BITS"], thresholds_latency(p) + 1)]
    if m == "sat_bias":
        return [("bias", p["CH"] // p["PE"], p["PE"] * p["BIAS_BITS"], True, "auto", 1)]
    if m == "sat_swg":
        k = p["K"]
        depth = -(-p["IN_W"] // k) * (p["CH"] // p["SIMD"])
        return [("line buffer", depth, p["SIMD"] * p["ELEM_W"], False, "auto",
                 p.get("ROWS", k + p["STRIDE"]) * k)]
    if m == "sat_fifo":
        style = {"distributed": "lut", "block": "bram", "registers": "reg"}.get(
            p.get("RAM_STYLE", "auto"), "auto")
        return [("fifo", max(p["DEPTH"] - 1, 2), p["DATA_W"], False, style, 1)]
    if m == "sat_avgpool":
        return [("running sums", p["CH"] // p["PE"], p["PE"] * p["ACC_BITS"], False, "auto", 1)]
    if m == "sat_add":
        # the multiplier ROM (CH/PE words of PE (mul_a, mul_b) pairs) holds one pair for every
        # channel (lowering's per-tensor multipliers): Yosys folds it into the products, so it
        # costs no memory (block_features); the output queue, add_latency credits
        return [outq_group(p["PE"] * p["ACC_BITS"], add_latency(p))]
    return []


def _dsp_fields(wbits: int, abits: int, dsp_a_w: int, overlap: bool) -> tuple[int, int, bool]:
    """sat_mvu_dsp's packing: (field bits S, most fields per multiply, LSB repair used)."""
    s = max(1, ((1 << wbits) - 1) * ((1 << abits) - 1)).bit_length()
    ua = dsp_a_w - 1
    clean = 1 + (ua - wbits) // s
    over = 1 + (ua - wbits) // (s - 1) if wbits >= 2 and s >= 3 else 0
    corr = overlap and over > clean
    return s, (over if corr else clean), corr


def mvu_packing(wbits: int, abits: int, pe: int, dsp_a_w: int = 27,
                overlap: bool = True) -> int:
    """Products per DSP multiply in ``sat_mvu`` with ``MULT = "dsp"`` (its LANES): fields of
    ``S = bits((2^W-1)(2^A-1))`` bits in the ``DSP_A_W - 1`` unsigned bits of the wide port, one
    bit closer with the LSB repair (``DSP_OVERLAP``), at most PE."""
    return max(1, min(_dsp_fields(wbits, abits, dsp_a_w, overlap)[1], pe))


def mvu_dsp_fabric(wbits: int, abits: int, pe: int, dsp_a_w: int = 27,
                   overlap: bool = True) -> tuple[int, int, int]:
    """(logic bits, register bits, repaired fields) of ``sat_mvu_dsp`` in the fabric per column
    (one activation, ``ceil(PE / LANES)`` multiplies), as its RTL builds them (Yosys 0.70 packs
    neither the post-adder nor a register into a DSP48E2: sat_mvu's header). A multiply of NL
    fields STEP apart gives a TW = (NL-1)*STEP + S bit product M. With the LSB repair (fields
    S-1 apart), each field j > 0 needs an AND for its known LSB and ABITS-1 for its repair term
    ``(k_j[0] ? a>>1 : 0)``, which the post-adder ``P = M + C`` adds at bits j*STEP+1 on: a LUT
    there, the carry chain alone elsewhere. Registers kept as flip-flops: M and P (TW each) and
    C twice; the operands and the known LSBs are copies of the inputs delayed (the weights
    three registers after the ROM word: shift registers, SRL16E on Xilinx)."""
    s, lmax, corr = _dsp_fields(wbits, abits, dsp_a_w, overlap)
    lanes = max(1, min(lmax, pe))
    step = s - 1 if corr else s
    logic = regs = reps = 0
    for g in range(0, pe, lanes):
        nl = min(lanes, pe - g)
        rep = nl - 1 if corr else 0  # fields with a repaired LSB
        logic += rep * (2 * abits - 1)  # the ANDs, the post-adder's LUT bits
        regs += 2 * ((nl - 1) * step + s) + 2 * rep * (abits - 1)
        reps += rep
    return logic, regs, reps


LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM32X1D": 2,
               "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1,
               "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8}
"""LUTs each distributed-RAM primitive occupies."""


ECP5_LUTS = {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 6}
"""``synth_ecp5`` cells in LUT4 sites (nextpnr's ``TRELLIS_COMB``): a carry cell spans two, a 16x4
LUTRAM six (measured with nextpnr-ecp5: a 16x4 RAM takes 7 sites, a 64x16 one 165 = 68 LUT4 +
16 x 6 + 1); PFUMX and L6MUX21 are the slices' own muxes, free."""


def is_ecp5_netlist(cells: dict) -> bool:
    """Whether a cell table is ``synth_ecp5``'s (Lattice cells) rather than ``synth_xilinx``'s."""
    return any(n in cells for n in ("TRELLIS_FF", "CCU2C", "TRELLIS_DPR16X4", "DP16KD",
                                    "PDPW16KD", "MULT18X18D", "PFUMX", "L6MUX21"))


def yosys_resources(cells: dict) -> Resources:
    """Our :class:`Resources` from Yosys ``stat -tech xilinx`` cell counts: LUTs include the LUTs
    of distributed RAM primitives, shift registers (SRL16E/SRLC32E) and INV (a LUT1); MUXF7/8/9
    and carry chains are not LUTs; a RAMB36 is two RAMB18."""
    g = lambda *names: sum(int(cells.get(n, 0)) for n in names)
    if is_ecp5_netlist(cells):  # LUT4 sites
        return Resources(sum(int(cells.get(n, 0)) * k for n, k in ECP5_LUTS.items()),
                         g("TRELLIS_FF"), g("DP16KD", "PDPW16KD"), 0, g("MULT18X18D"))
    lut = g("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "SRL16E", "SRLC32E")
    lut += sum(int(cells.get(n, 0)) * k for n, k in LUTRAM_LUTS.items())
    return Resources(lut, g("FDRE", "FDSE", "FDCE", "FDPE"),
                     g("RAMB18E1", "RAMB18E2") + 2 * g("RAMB36E1", "RAMB36E2"), g("URAM288"),
                     g("DSP48E1", "DSP48E2"))


def block_features(b: Block) -> dict[str, float]:
    """Features of the block's logic (memories excluded); LUT and FF models are linear in them."""
    p, m = b.params, b.module
    if m == "sat_mvu":
        # per lane: its adder tree (sat_mvu_tree geometry) over the SIMD*WB partial products
        # (MULT "lut": an AND each, into the first adders) or the SIMD products of the packed
        # DSPs; the accumulator; shared: the code-sum tree, the input beat. Registers: the
        # trees' stages, the ROM word's copies and the codes' (issue 20), the DSPs' product and
        # post-adder registers (in the fabric where Yosys packs none: DSP48E2), the
        # accumulators and the output queue's output register (its memory: memory_groups)
        pe, simd, ab = p["PE"], p["SIMD"], p["ABITS"]
        lanes = pe * simd
        wb = p["WBITS"] + (p.get("ENCODING", "k") != "k")
        dsp = p.get("MULT") == "dsp"
        sa, sr = tree_bits(simd, (1 << ab) - 1, p["ACC_BITS"])
        f = {"acc": pe * p["ACC_BITS"], "sum": sa, "in": simd * ab, "one": 1.0}
        # a weight ROM in LUTs costs Yosys more inside the block than alone (the memory model's
        # count): a fitted share of its LUTs on top
        w = [g for g in memory_groups(b) if g[0] == "weights"]
        lut_rom = False
        if w:
            _, depth, width, rom, style, _ = w[0]
            f["wrom"] = memory(depth, width, style, rom)["lut"]
            lut_rom = f["wrom"] > 0
        fl, fr, reps = (mvu_dsp_fabric(p["WBITS"], ab, pe, p.get("DSP_A_W", 27),
                                       bool(p.get("DSP_OVERLAP", 1))) if dsp else (0, 0, 0))
        # the weight registers (issue 21): "wq", every copy of the ROM word in the fabric (its
        # read register when the ROM is in LUTs, the two copies after it, the DSPs' B
        # operands); "wqf", those that are not three in a row (shift registers, which Yosys
        # maps to SRL16E LUTs on Xilinx): the two copies after a block RAM (MULT "dsp": only
        # the LSBs the repair clears, which leave the chain before B)
        f["wq"] = ((3 if lut_rom else 2) + dsp) * lanes * wb
        f["wqf"] = 0 if lut_rom else 2 * (simd * reps if dsp else lanes * wb)
        if dsp:
            # after the multiplies (issue 21): "dadd", per lane the tree over its SIMD products
            # (VMAX (2^W-1)(2^A-1), as sat_mvu instantiates it) and per column sat_mvu_dsp's
            # LSB repair; "dsrl", the weights delayed into the DSPs' B operands (the ROM word's
            # copies and B: a shift register, SRL16E LUTs on Xilinx, flip-flops on an ECP5);
            # "dspq", the registers that stay flip-flops: the tree's stages, M, P and C
            pmax = ((1 << p["WBITS"]) - 1) * ((1 << ab) - 1)
            ta, tr = tree_bits(simd, pmax, p["ACC_BITS"])
            f |= {"dadd": pe * ta + simd * fl, "dsrl": lanes * wb, "dspq": pe * tr + simd * fr,
                  "treeq": sr}
        else:
            ta, tr = tree_bits(simd * wb, ((1 << ab) - 1) << (wb - 1), p["ACC_BITS"])
            f |= {"tree": pe * ta, "treeq": pe * tr + sr, "pp": lanes * wb * ab}
        return f
    if m == "sat_vvu":
        # per lane p: the SIMD*UB partial products (an AND each, into the first adders) and
        # their pipelined tree, the tree of its SIMD codes, the correction and the dot product;
        # the accumulator (K2 = SIMD: every beat starts a channel group, a copy of the dot
        # product); registers: the input beat and ROM word, the trees' stages, correction, dot
        # product, accumulator and the output queue's output register (its memory is priced
        # by memory_groups)
        pe, simd, ab = p["PE"], p["SIMD"], p["ABITS"]
        ub = p["WBITS"] + (p.get("ENCODING", "k") != "k")
        dot = p["WBITS"] + ab + (simd - 1).bit_length() + 2  # DOT_W
        pmax = ((1 << ab) - 1) << (ub - 1)
        ts = vvu_latency(p) - 6
        pa, pr = tree_bits(simd * ub, pmax, dot, ts - tree_stages(simd * ub))
        sa, sr = tree_bits(simd, (1 << ab) - 1, dot, ts - tree_stages(simd) - 1)
        acc = p["ACC_BITS"] if p["K2"] > simd else 0
        in_one_word = (p["CH"] // pe) * (p["K2"] // simd) == 1  # constant weights
        return {"pp": 0 if in_one_word else pe * simd * ub * ab, "tree": pe * (pa + sa),
                "dot": pe * dot, "acc": pe * acc, "treeq": pe * (pr + sr),
                "inq": pe * simd * (ab + (0 if in_one_word else ub)),
                "dotq": 2 * pe * dot, "accq": pe * p["ACC_BITS"], "one": 1.0}
    if m == "sat_thresholds":
        # the compares; the accumulator carried down the pipeline (a copy per cycle)
        return {"cmp": p["PE"] * p["OUT_BITS"] * p["ACC_BITS"],
                "out": p["PE"] * p["OUT_BITS"] ** 2,
                "pipe": p["PE"] * p["ACC_BITS"] * thresholds_latency(p), "one": 1.0}
    if m == "sat_bias":  # "rom": as sat_mvu's "wrom", the bias ROM's bits / 64 when in LUTs
        _, depth, width, rom, style, _ = memory_groups(b)[0]
        in_luts = memory(depth, width, style, rom)["lut"] > 0
        return {"add": p["PE"] * p["OUT_BITS"], "rom": depth * width / 64 if in_luts else 0.0,
                "one": 1.0}
    if m == "sat_swg":
        # the window (its rotation and the output skid's two beats) and the banks' second
        # read register (issue 20): ROWS * K banks of SIMD codes
        win = p["K"] ** 2 * p["SIMD"] * p["ELEM_W"]
        banks = p.get("ROWS", p["K"] + p["STRIDE"]) * p["K"] * p["SIMD"] * p["ELEM_W"]
        return {"win": win, "rot": win * _clog2(p["K"]), "bank": banks,
                "ctl": _clog2(p["IN_W"]) + _clog2(p["IN_H"]) + _clog2(p["CH"] // p["SIMD"]),
                "one": 1.0}
    if m == "sat_dwc":
        if p["IN_N"] == p["OUT_N"]:
            return {}
        # split: a shift register that loads or shifts (a mux per bit it shifts); pack: none
        r = max(p["IN_N"], p["OUT_N"]) // min(p["IN_N"], p["OUT_N"])
        return {"w": max(p["IN_N"], p["OUT_N"]) * p["ELEM_W"],
                "shift": max(0, p["IN_N"] - p["OUT_N"]) * p["ELEM_W"],
                "ctl": _clog2(r), "wrap": _clog2(r) if r & (r - 1) else 0,  # a mod-r counter
                "one": 1.0}
    if m == "sat_fifo":
        return {"w": p["DATA_W"], "ctl": _clog2(p["DEPTH"]), "one": 1.0}
    if m == "sat_avgpool":
        return {"acc": p["PE"] * p["ACC_BITS"], "ctl": _clog2(p["PIXELS"]) + _clog2(p["CH"]),
                "one": 1.0}
    if m == "sat_maxpool":
        n = p["PE"] * (p["K2"] - 1)  # a tree of K2-1 compare-and-select nodes per lane
        a = p["ABITS"]
        # "sel": an output bit of a node is one 4-input LUT for codes of up to 2 bits; wider codes
        # need a comparator (carry chain) and a select per bit
        return {"cmp": n * a, "cmp2": n * a ** 2, "node": n, "sel": n * (a if a > 2 else a / 2),
                "out": p["PE"] * a, "one": 1.0}
    if m == "sat_skid":
        return {"w": p["DATA_W"], "one": 1.0}
    if m == "sat_add":
        # per lane mul_a * a + mul_b * b: ABITS + BBITS partial products (a code bit selecting
        # its multiplier, shifted) summed by a sat_mvu_tree. The ROM holds the same pair for
        # every channel (lowering's per-tensor multipliers, the larger one 2^F), so Yosys folds
        # it into the products: the shift by 2^F is wiring, and what is left is the product
        # of the other code by a constant and the sum. "madd": that product of a k-bit code,
        # k - 1 adders of MUL_BITS + k bits, averaged over which operand it is (the model does
        # not see the multipliers, whose value moves the LUTs: benchmarks/results/
        # calibration.md); "in": the codes (both skids hold two beats, then RD copies and the
        # tree's first level); "treeq": the tree's registers at the RTL's widths (a share of
        # them: constant bits go); the output queue's memory and output register: memory_groups
        pe, ab, bb, mb = p["PE"], p["ABITS"], p["BBITS"], p["MUL_BITS"]
        vmax = 1 << (mb + max(ab, bb) - 2)
        _, tr = tree_bits(ab + bb, vmax, p["ACC_BITS"], signed=True)
        madd = ((ab - 1) * (mb + ab) + (bb - 1) * (mb + bb)) / 2
        return {"madd": pe * madd, "in": pe * (ab + bb), "treeq": pe * tr, "one": 1.0}
    if m == "sat_fork":  # per bit two output registers' muxes; registers: the two and the park
        return {"w": p["DATA_W"], "one": 1.0}
    raise ValueError(f"no cost model for block {m}")


FIT_FEATURES: dict[str, dict[str, tuple[str, ...]]] = {
    # The features a block's LUT or FF model may use (all of block_features where absent): the
    # registers a block has are known from its RTL, and a free choice among logic features
    # there fits noise.
    "sat_mvu": {"lut": ("tree", "pp", "acc", "sum", "wrom", "dadd", "dsrl", "one"),
                "ff": ("treeq", "acc", "in", "wq", "wqf", "dspq", "one")},
    "sat_vvu": {"lut": ("pp", "tree", "dot", "acc", "one"),
                "ff": ("treeq", "inq", "dotq", "accq", "one")},
    "sat_thresholds": {"lut": ("cmp", "out", "one"), "ff": ("cmp", "out", "pipe", "one")},
    "sat_swg": {"lut": ("win", "rot", "ctl", "one"), "ff": ("win", "bank", "ctl", "one")},
    "sat_bias": {"ff": ("add", "one")},
    "sat_maxpool": {"lut": ("sel", "out", "one")},
    "sat_add": {"lut": ("madd", "one"), "ff": ("in", "treeq", "one")},
}

def tree_bits(n: int, vmax: int, r: int, delay: int = 0, signed: bool = False) -> tuple[int, int]:
    """(adder bits, register bits) of ``sat_mvu_tree`` summing ``n`` values of at most ``vmax``
    into ``r`` bits with ``delay`` registers after the root: level l has ceil(n / 2^l) nodes of
    bits(min(n, 2^l) * vmax) (+1 signed) bits, registered after every odd level and the root."""
    levels = (n - 1).bit_length()
    add = reg = 0
    nodes = n
    for lv in range(1, levels + 1):
        nodes = -(-nodes // 2)
        w = (min(n, 1 << lv) * vmax).bit_length() + signed
        add += nodes * w
        if lv % 2 == 1 or lv == levels:
            reg += nodes * w
    return add, reg + max(0, delay) * r


def outq_depth(latency: int, period: int) -> int:
    """``sat_outq``'s credits for full throughput: max(3, ceil(LAT / T) + 1), T the cycles
    between output beats in free flow."""
    return max(3, -(-latency // max(1, period)) + 1)


def outq_group(width: int, depth: int) -> tuple[str, int, int, bool, str, int]:
    """The memory of a ``sat_outq`` of ``depth`` beats (its ``sat_fifo``, distributed)."""
    return ("output queue", max(depth - 1, 2), width, False, "lut", 1)


def dsp_count(b: Block, family: str = "xcup") -> int:
    """DSP slices of a block: ``sat_mvu`` with ``MULT = "dsp"`` uses one multiply per column per
    group of :func:`mvu_packing` rows, ``ceil(PE / LANES) * SIMD`` (Yosys maps each to one
    DSP48E2 / DSP48E1); every other block none (``sat_vvu`` sums partial products in LUTs)."""
    p = b.params
    if b.module != "sat_mvu" or p.get("MULT") != "dsp":
        return 0
    lanes = mvu_packing(p["WBITS"], p["ABITS"], p["PE"], p.get("DSP_A_W", dsp_a_width(family)))
    return -(-p["PE"] // lanes) * p["SIMD"]
