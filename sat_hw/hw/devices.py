"""Target FPGAs and their capacities (from the vendors' public data sheets).

One frozen :class:`Device` per part; :func:`get_device` takes the part name (``xczu7ev``) or a
board alias (``zcu104``), case-insensitive, and raises ``ValueError`` naming the known ones.
BRAM is counted in 18 Kb halves (``bram18``): a 36 Kb block RAM is two of them. URAM blocks are
288 Kb each. Capacities are those of the whole device (programmable logic for a Zynq).

``family`` is the Yosys ``synth_xilinx -family`` of the part (``xc7``: 7 series, DSP48E1 with a
25x18 multiplier; ``xcup``: UltraScale+, DSP48E2 with 27x18, and URAM), or ``ecp5``: a Lattice
ECP5 (Yosys ``synth_ecp5``, nextpnr-ecp5), whose logic is LUT4s (``lut`` counts LUT4 sites, as
nextpnr's ``TRELLIS_COMB``: a LUT4, half a carry cell, a sixth of a 16x4 LUTRAM), one flip-flop
per LUT4, 18 Kb DP16KD block RAMs (counted as ``bram18``) and 18x18 multipliers (``dsp``:
MULT18X18D). The ECP5 parts are named as ``sat_hw pnr --device`` names them (``ecp5-85k``) and by
their part (``lfe5u-85f``), in the CABGA381 package that nextpnr places them in.

Sources: DS190 (Zynq-7000 overview), DS891 (Zynq UltraScale+ MPSoC overview), DS962 (Alveo U250),
Lattice FPGA-DS-02012 (ECP5 family data sheet, table 1.1); the ECP5 LUT4 counts are the
``TRELLIS_COMB`` sites nextpnr-ecp5 reports for each part.
"""

from __future__ import annotations

from dataclasses import dataclass


def dsp_a_width(family: str) -> int:
    """Signed width of a DSP slice's wide multiplier port: 25 (DSP48E1, 7 series) or 27 (DSP48E2,
    UltraScale+); ``sat_mvu``'s ``DSP_A_W``, which sets how many products one multiply packs."""
    return {"xc7": 25, "ecp5": 18}.get(family, 27)


FAMILIES = ("xc7", "xcup", "ecp5")


@dataclass(frozen=True)
class Device:
    """One FPGA: ``name`` (the short part name), the full ``part`` of the board it is on, the
    ``boards`` that carry it (aliases), its resource capacities and its Yosys ``family``."""

    name: str
    part: str
    boards: tuple[str, ...]
    lut: int
    ff: int
    bram18: int
    uram: int
    dsp: int
    family: str = "xcup"

    @property
    def dsp_mult(self) -> tuple[int, int]:
        """Signed multiplier input widths of one DSP slice: (27, 18), (25, 18) on 7 series, (18,
        18) on an ECP5."""
        return (dsp_a_width(self.family), 18)

    def capacity(self) -> dict[str, int]:
        return {"lut": self.lut, "ff": self.ff, "bram18": self.bram18, "uram": self.uram,
                "dsp": self.dsp}


DEVICES: tuple[Device, ...] = (
    # Zynq-7020 (PYNQ-Z1): 140 BRAM36, no URAM
    Device("xc7z020", "xc7z020clg400-1", ("pynq-z1",), lut=53_200, ff=106_400, bram18=280,
           uram=0, dsp=220, family="xc7"),
    # Zynq UltraScale+ ZU7EV (ZCU104): 312 BRAM36, 96 URAM
    Device("xczu7ev", "xczu7ev-ffvc1156-2-e", ("zcu104",), lut=230_400, ff=460_800, bram18=624,
           uram=96, dsp=1_728),
    # Alveo U250 (XCU250): 2688 BRAM36, 1280 URAM
    Device("xcu250", "xcu250-figd2104-2L-e", ("u250",), lut=1_728_000, ff=3_456_000,
           bram18=5_376, uram=1_280, dsp=12_288),
    # Lattice ECP5 (no URAM, one FF per LUT4; DP16KD = 18 Kb; MULT18X18D)
    Device("lfe5u-25f", "LFE5U-25F-6BG381C", ("ecp5-25k",), lut=24_288, ff=24_288, bram18=56,
           uram=0, dsp=28, family="ecp5"),
    Device("lfe5u-45f", "LFE5U-45F-6BG381C", ("ecp5-45k",), lut=43_848, ff=43_848, bram18=108,
           uram=0, dsp=72, family="ecp5"),
    Device("lfe5u-85f", "LFE5U-85F-6BG381C", ("ecp5-85k",), lut=83_640, ff=83_640, bram18=208,
           uram=0, dsp=156, family="ecp5"),
)


def device_names() -> list[str]:
    """Every name :func:`get_device` accepts: part names, then board aliases."""
    return [d.name for d in DEVICES] + [b for d in DEVICES for b in d.boards]


def get_device(name: str) -> Device:
    """The device with this part name or board alias (case-insensitive)."""
    key = str(name).strip().lower()
    for d in DEVICES:
        if key == d.name or key in d.boards or key == d.part.lower():
            return d
    raise ValueError(f"unknown device {name!r} (known: {', '.join(device_names())})")


def pnr_device(d: Device) -> str:
    """nextpnr-ecp5's name of an ECP5 part (``85k`` for the LFE5U-85F)."""
    if d.family != "ecp5":
        raise ValueError(f"--device {d.name}: place and route needs an ECP5 part "
                         f"(ecp5-25k, ecp5-45k, ecp5-85k)")
    return d.boards[0].split("-")[1]


__all__ = ["DEVICES", "FAMILIES", "Device", "device_names", "dsp_a_width", "get_device",
           "pnr_device"]
