"""sat_hw.tools.ecp5pack: registers moved into DP16KD and MULT18X18D only where behaviour is kept."""

import copy

from sat_hw.tools.ecp5pack import pack_registers

CLK = 2


def _ff(d, q, clk=CLK, ce=None, lsr="0"):
    params = {"CEMUX": "1 " if ce is None else "CE", "CLKMUX": "CLK", "GSR": "DISABLED",
              "LSRMUX": "LSR", "REGSET": "RESET"}
    conn = {"CLK": [clk], "DI": [d], "LSR": [lsr], "Q": [q]}
    if ce is not None:
        conn["CE"] = [ce]
    return {"type": "TRELLIS_FF", "parameters": params, "connections": conn,
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "CE": "input",
                                "Q": "output"}}


def _bram(do_bits, clka="0"):
    conn = {"CLKA": [clka], "CLKB": [CLK], "CEA": ["0"], "CEB": ["1"], "OCEA": ["0"],
            "OCEB": ["1"], "RSTA": ["0"], "RSTB": ["0"], "ADB5": [10]}
    dirs = {k: "input" for k in conn}
    for i, b in enumerate(do_bits):
        conn[f"DOA{i}"] = [b]
        dirs[f"DOA{i}"] = "output"
    return {"type": "DP16KD", "connections": conn, "port_directions": dirs,
            "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG", "CLKAMUX": "CLKA",
                           "CLKBMUX": "CLKB"}}


def _lut(a, z):
    return {"type": "LUT4", "parameters": {"INIT": "1010101010101010"},
            "connections": {"A": [a], "Z": [z]},
            "port_directions": {"A": "input", "Z": "output"}}


def _net(cells, ports=None):
    return {"modules": {"top": {"cells": cells, "ports": ports or {}, "netnames": {}}}}


def test_bram_output_register_packed():
    # DO bits 20, 21 -> flip-flops (Q 30, 31) -> LUTs
    cells = {"rom": _bram([20, 21]), "f0": _ff(20, 30), "f1": _ff(21, 31),
             "l0": _lut(30, 40), "l1": _lut(31, 41)}
    net = _net(cells)
    counts = pack_registers(net)
    m = net["modules"]["top"]["cells"]
    assert counts == {"dp16kd_outreg": 1, "mult_inputs": 0, "mult_pipeline": 0, "ffs_packed": 2}
    assert set(m) == {"rom", "l0", "l1"}
    rom = m["rom"]
    assert rom["parameters"]["REGMODE_A"] == rom["parameters"]["REGMODE_B"] == "OUTREG"
    assert rom["connections"]["DOA0"] == [30] and rom["connections"]["DOA1"] == [31]
    assert rom["connections"]["OCEA"] == rom["connections"]["OCEB"] == ["1"]
    assert rom["connections"]["CLKA"] == rom["connections"]["CLKB"] == [CLK]


def test_bram_not_packed_when_behaviour_would_change():
    cases = {
        "a LUT after the read": {"rom": _bram([20, 21]), "f0": _ff(20, 30), "l1": _lut(21, 41)},
        "two loads": {"rom": _bram([20]), "f0": _ff(20, 30), "l0": _lut(20, 40)},
        "two enables": {"rom": _bram([20, 21]), "f0": _ff(20, 30, ce=7), "f1": _ff(21, 31)},
        "a reset": {"rom": _bram([20]), "f0": _ff(20, 30, lsr=8)},
        "another clock": {"rom": _bram([20]), "f0": _ff(20, 30, clk=3)},
        "two clocks": {"rom": _bram([20], clka=3), "f0": _ff(20, 30)},
    }
    for what, cells in cases.items():
        net = _net(cells)
        before = copy.deepcopy(net)
        assert pack_registers(net)["ffs_packed"] == 0, what
        assert net == before, what
    # a data bit that is a port of the module
    net = _net({"rom": _bram([20]), "f0": _ff(20, 30)},
               {"q": {"direction": "output", "bits": [20]}})
    assert pack_registers(net)["ffs_packed"] == 0


def _mult(a_bits, b_bits, p_bits):
    conn, dirs = {}, {}
    for side, bits in (("A", a_bits), ("B", b_bits)):
        for i, b in enumerate(bits):
            conn[f"{side}{i}"], dirs[f"{side}{i}"] = [b], "input"
    for i, b in enumerate(p_bits):
        conn[f"P{i}"], dirs[f"P{i}"] = [b], "output"
    params = {k: "NONE" for k in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_PIPELINE_CLK",
                                  "REG_OUTPUT_CLK")}
    return {"type": "MULT18X18D", "parameters": params, "connections": conn,
            "port_directions": dirs}


def test_mult_registers_packed():
    # operand flip-flops a (D 50 -> Q 60), b (D 51 -> Q 61) with a constant bit; product P0 ->
    # flip-flop (Q 80); P1 unused
    cells = {"m": _mult([60, "0"], [61], [70, 71]), "fa": _ff(50, 60), "fb": _ff(51, 61),
             "fp": _ff(70, 80), "l": _lut(80, 90)}
    net = _net(cells)
    counts = pack_registers(net)
    m = net["modules"]["top"]["cells"]
    assert counts == {"dp16kd_outreg": 0, "mult_inputs": 2, "mult_pipeline": 1, "ffs_packed": 3}
    assert set(m) == {"m", "l"}
    c, p = m["m"]["connections"], m["m"]["parameters"]
    assert c["A0"] == [50] and c["A1"] == ["0"] and c["B0"] == [51] and c["P0"] == [80]
    assert c["CLK0"] == [CLK] and c["CE0"] == ["1"] and c["RST0"] == ["0"]
    assert p["REG_INPUTA_CLK"] == p["REG_INPUTB_CLK"] == p["REG_PIPELINE_CLK"] == "CLK0"
    assert p["REG_OUTPUT_CLK"] == "NONE"


def test_mult_operand_with_a_fabric_load_not_packed():
    # the A flip-flop also feeds a LUT: neither operand is packed (nextpnr times both or
    # neither), the product is
    cells = {"m": _mult([60], [61], [70]), "fa": _ff(50, 60), "fb": _ff(51, 61),
             "fp": _ff(70, 80), "la": _lut(60, 90)}
    net = _net(cells)
    counts = pack_registers(net)
    assert counts["mult_inputs"] == 0 and counts["mult_pipeline"] == 1
    m = net["modules"]["top"]["cells"]
    assert "fa" in m and "fb" in m and m["m"]["parameters"]["REG_INPUTA_CLK"] == "NONE"


def test_mult_operand_shared_by_two_multipliers():
    # one activation register (Q 60) loads B of two multipliers: each takes its own copy
    cells = {"m0": _mult([61], [60], [70]), "m1": _mult([62], [60], [71]), "fa": _ff(50, 60),
             "f1": _ff(51, 61), "f2": _ff(52, 62), "p0": _ff(70, 80), "p1": _ff(71, 81)}
    net = _net(cells)
    counts = pack_registers(net)
    assert counts == {"dp16kd_outreg": 0, "mult_inputs": 4, "mult_pipeline": 2, "ffs_packed": 5}
    m = net["modules"]["top"]["cells"]
    assert set(m) == {"m0", "m1"}
    assert m["m0"]["connections"]["B0"] == m["m1"]["connections"]["B0"] == [50]


def test_bram_output_register_takes_the_common_enable():
    cells = {"rom": _bram([20, 21]), "f0": _ff(20, 30, ce=7), "f1": _ff(21, 31, ce=7)}
    net = _net(cells)
    assert pack_registers(net)["dp16kd_outreg"] == 1
    rom = net["modules"]["top"]["cells"]["rom"]
    assert rom["connections"]["OCEA"] == rom["connections"]["OCEB"] == [7]
