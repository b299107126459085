"""The device table: capacities from the data sheets, names and aliases, errors."""

import dataclasses

import pytest

from sat_hw.flow.config import load_config
from sat_hw.hw.devices import DEVICES, device_names, get_device


@pytest.mark.parametrize("name, part, lut, bram18, uram, dsp", [
    ("xc7z020", "xc7z020clg400-1", 53_200, 280, 0, 220),
    ("pynq-z1", "xc7z020clg400-1", 53_200, 280, 0, 220),
    ("xczu7ev", "xczu7ev-ffvc1156-2-e", 230_400, 624, 96, 1_728),
    ("ZCU104", "xczu7ev-ffvc1156-2-e", 230_400, 624, 96, 1_728),
    ("u250", "xcu250-figd2104-2L-e", 1_728_000, 5_376, 1_280, 12_288),
    ("xcu250-figd2104-2L-e", "xcu250-figd2104-2L-e", 1_728_000, 5_376, 1_280, 12_288),
    ("ecp5-25k", "LFE5U-25F-6BG381C", 24_288, 56, 0, 28),
    ("lfe5u-45f", "LFE5U-45F-6BG381C", 43_848, 108, 0, 72),
    ("ECP5-85K", "LFE5U-85F-6BG381C", 83_640, 208, 0, 156),
])
def test_get_device(name, part, lut, bram18, uram, dsp):
    d = get_device(name)
    assert (d.part, d.lut, d.bram18, d.uram, d.dsp) == (part, lut, bram18, uram, dsp)
    # two flip-flops per LUT6 on Xilinx parts, one per LUT4 on an ECP5
    assert d.ff == (1 if d.family == "ecp5" else 2) * d.lut
    assert d.capacity() == {"lut": d.lut, "ff": d.ff, "bram18": d.bram18, "uram": d.uram,
                            "dsp": d.dsp}


def test_unknown_device_lists_the_known_ones():
    with pytest.raises(ValueError) as e:
        get_device("zcu999")
    msg = str(e.value)
    assert "'zcu999'" in msg and all(n in msg for n in ("xc7z020", "zcu104", "u250"))


def test_devices_are_frozen_and_named_once():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEVICES[0].lut = 1
    names = device_names()
    assert len(names) == len(set(names))


def test_config_validates_the_device():
    assert load_config(None, {"hw": {"device": "pynq-z1"}})["hw"]["device"] == "pynq-z1"
    with pytest.raises(ValueError, match="--device zcu999: must be a known device"):
        load_config(None, {"hw": {"device": "zcu999"}})


def test_ecp5_parts_name_their_nextpnr_device_and_dsp_port():
    from sat_hw.hw.devices import dsp_a_width, pnr_device

    assert [pnr_device(get_device(f"ecp5-{k}")) for k in ("25k", "45k", "85k")] == \
        ["25k", "45k", "85k"]
    assert get_device("ecp5-85k").dsp_mult == (18, 18) and dsp_a_width("ecp5") == 18
    with pytest.raises(ValueError, match="--device xczu7ev: place and route needs an ECP5"):
        pnr_device(get_device("zcu104"))


def test_ecp5_memories_follow_yosys_choices():
    """The ECP5 memory model against synth_ecp5 on the same shapes (measured; see
    sat_hw/hw/memory.py): LUT4 ROMs up to 2 Kb per DP16KD, DP16KD beyond, no URAM."""
    from sat_hw.hw.memory import memory

    assert memory(256, 8, "auto", True, "ecp5") == {"lut": 174, "ff": 8, "bram18": 0, "uram": 0}
    assert memory(512, 8, "auto", True, "ecp5")["bram18"] == 1
    assert memory(1024, 36, "bram", True, "ecp5")["bram18"] == 2  # no 36 Kb form
    assert memory(1024, 36, "bram", True, "xcup")["bram18"] == 2
    assert memory(32, 16, "auto", False, "ecp5")["lut"] == 66
    assert memory(256, 16, "auto", False, "ecp5")["bram18"] == 1
    with pytest.raises(ValueError, match="no UltraRAM"):
        memory(4096, 72, "uram", True, "ecp5")
