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
])
def test_get_device(name, part, lut, bram18, uram, dsp):
    d = get_device(name)
    assert (d.part, d.lut, d.bram18, d.uram, d.dsp) == (part, lut, bram18, uram, dsp)
    assert d.ff == 2 * d.lut  # every listed family has two flip-flops per LUT
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
