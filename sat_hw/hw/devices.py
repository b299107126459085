"""Target FPGAs and their capacities (from AMD's public data sheets).

One frozen :class:`Device` per part; :func:`get_device` takes the part name (``xczu7ev``) or a
board alias (``zcu104``), case-insensitive, and raises ``ValueError`` naming the known ones.
BRAM is counted in 18 Kb halves (``bram18``): a 36 Kb block RAM is two of them. URAM blocks are
288 Kb each. Capacities are those of the whole device (programmable logic for a Zynq).

``family`` is the Yosys ``synth_xilinx -family`` of the part (``xc7``: 7 series, DSP48E1 with a
25x18 multiplier; ``xcup``: UltraScale+, DSP48E2 with 27x18, and URAM).

Sources: DS190 (Zynq-7000 overview), DS891 (Zynq UltraScale+ MPSoC overview), DS962 (Alveo U250).
"""

from __future__ import annotations

from dataclasses import dataclass


def dsp_a_width(family: str) -> int:
    """Signed width of a DSP slice's wide multiplier port: 25 (DSP48E1, 7 series) or 27 (DSP48E2,
    UltraScale+); ``sat_mvu``'s ``DSP_A_W``, which sets how many products one multiply packs."""
    return 25 if family == "xc7" else 27


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
        """Signed multiplier input widths of one DSP slice: (27, 18) or (25, 18) on 7 series."""
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


__all__ = ["DEVICES", "Device", "device_names", "get_device"]
