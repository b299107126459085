"""The timing instruments of issue 20: logic levels of a synth_xilinx netlist
(sat_hw.tools.timing) and nextpnr-ecp5's report (sat_hw.tools.nextpnr).

The walker and the report parser run on canned input (milliseconds); the runs of Yosys and
nextpnr on tiny designs of known depth are marked ``rtl`` (a few seconds each)."""

from __future__ import annotations

import pytest

from sat_hw.base.errors import ToolError
from sat_hw.tools.nextpnr import parse_report, place_route
from sat_hw.tools.timing import DSP_LEVELS, DSP_REGS, instance_of, levels, walk


def cell(ctype: str, ins: dict, outs: dict, **params) -> dict:
    return {"type": ctype, "parameters": {k: f"{v:032b}" for k, v in params.items()},
            "port_directions": {**{p: "input" for p in ins}, **{p: "output" for p in outs}},
            "connections": {**ins, **outs}}


def netlist(cells: dict, names: dict, ports: dict | None = None) -> dict:
    return {"ports": ports or {}, "cells": cells,
            "netnames": {n: {"hide_name": 0, "bits": b} for n, b in names.items()}}


def ff(d: int, q: int) -> dict:
    return cell("FDRE", {"C": [1], "CE": ["1"], "R": ["0"], "D": [d]}, {"Q": [q]})


def test_walk_counts_luts_muxf_and_carry_between_registers():
    # u_a.r -> LUT6 -> MUXF7 -> CARRY4 -> CARRY4 -> u_b.s; a shorter LUT path beside it
    m = netlist({"f0": ff(2, 10), "l1": cell("LUT6", {"I0": [10], "I1": ["0"]}, {"O": [11]}),
                 "m1": cell("MUXF7", {"I0": [11], "I1": [10], "S": [10]}, {"O": [12]}),
                 "c1": cell("CARRY4", {"CI": [12], "S": [10, 11, 12, 12]}, {"CO": [13]}),
                 "c2": cell("CARRY4", {"CI": [13], "S": [10, 10, 10, 10]}, {"O": [14]}),
                 "f1": ff(14, 20), "l2": cell("LUT2", {"I0": [10], "I1": [20]}, {"O": [15]}),
                 "f2": ff(15, 21), "b": cell("BUFG", {"I": [3]}, {"O": [1]}),
                 **{f"x{i}": cell("LUT1", {"I0": [29 + i]}, {"O": [30 + i]}) for i in (1, 2, 3)},
                 "f3": ff(33, 40), "f4": ff(2, 30)},
                {"u_a.r": [10], "u_b.s": [20], "u_c.t": [21], "u_d.z": [40], "u_d.y": [30]})
    worst, per, deepest, unknown = walk(m)
    assert (worst.lut, worst.muxf, worst.carry, worst.dsp) == (1, 1, 2, 0)
    assert deepest.label == "3+0" and (deepest.start, deepest.end) == ("u_d.y", "u_d.z")
    assert worst.label == "2+2" and worst.start == "u_a.r" and worst.end == "u_b.s"
    assert worst.cells == ("LUT6", "MUXF7", "CARRY4", "CARRY4") and worst.instance == "u_b"
    assert per["u_c"].label == "1+0" and per["u_c"].start in ("u_a.r", "u_b.s")
    assert "u_a" not in per and unknown == ()  # its D is undriven: no path ends there
    assert per["u_d"] == deepest and worst.score > deepest.score


def test_walk_carry_bits_see_only_the_inputs_below_them():
    m = netlist({"f0": ff(2, 10), "a": cell("LUT1", {"I0": [10]}, {"O": [50]}),
                 "b": cell("LUT1", {"I0": [50]}, {"O": [51]}),
                 "c": cell("CARRY4", {"CI": ["0"], "S": [10, "0", "0", 51], "DI": ["0"] * 4},
                           {"O": [60, 61, 62, 63], "CO": [64, 65, 66, 67]}),
                 "f1": ff(60, 70), "f2": ff(63, 71)}, {"u_lo.q": [70], "u_hi.q": [71]})
    worst, per, _, _ = walk(m)
    assert per["u_lo"].label == "0+1" and per["u_hi"].label == "2+1" and worst == per["u_hi"]


def test_walk_dsp_lutram_ports_and_loops():
    # an unregistered DSP is a stage; a registered one cuts the path; a LUTRAM read is a LUT
    m = netlist({"f0": ff(2, 10),
                 "d0": cell("DSP48E2", {"A": [10], "B": ["0"]}, {"P": [11]},
                            **dict.fromkeys(DSP_REGS, 0)),
                 "l0": cell("LUT3", {"I0": [11]}, {"O": [12]}), "f1": ff(12, 13),
                 "d1": cell("DSP48E2", {"A": [13], "CLK": [1]}, {"P": [14]}),  # PREG: 1
                 "r0": cell("RAM64M", {"ADDRA": [14], "DIA": [10], "WE": [10], "WCLK": [1]},
                            {"DOA": [15]}),
                 "l1": cell("LUT1", {"I0": [15]}, {"O": [16]}),
                 "x": cell("MYSTERY", {"I": [16]}, {"O": [17]})},
                {"u_m.a": [10], "u_m.p": [12], "u_m.q": [13], "u_d.p": [14], "u_r.o": [15]},
                {"in": {"direction": "input", "bits": [2]},
                 "out": {"direction": "output", "bits": [17]}})
    worst, per, deepest, unknown = walk(m)
    assert (worst.lut, worst.dsp, worst.end) == (1, 1, "u_m.q") and deepest == worst
    assert worst.label == "1+0 +1 DSP" and worst.score[0] == 1 + DSP_LEVELS
    # the registered DSP's output, the LUTRAM read (a LUT level), LUT1, into MYSTERY (a cut)
    assert per[""].label == "2+0" and (per[""].start, per[""].end) == ("u_d.p", "x")
    assert per["u_r"].label == "0+0" and unknown == ("MYSTERY",)
    loop = netlist({"a": cell("LUT1", {"I0": [5]}, {"O": [6]}),
                    "b": cell("LUT1", {"I0": [6]}, {"O": [5]})}, {})
    with pytest.raises(ToolError, match="combinational loop"):
        walk(loop)
    assert instance_of("u_conv0_mvu.g_pe[0].acc[3]") == "u_conv0_mvu" and instance_of("q") == ""


REPORT = {  # nextpnr-ecp5 --85k --out-of-context --report: sat_skid DATA_W=64, seed 1
    "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
        {"delay": 0.5249999761581421, "type": "clk-to-q",
         "from": {"cell": "m_axis_tvalid_TRELLIS_FF_Q", "loc": [3, 4], "port": "Q"},
         "to": {"cell": "m_axis_tvalid_TRELLIS_FF_Q", "loc": [3, 4], "port": "Q"}},
        {"delay": 0.671999990940094, "type": "routing", "net": "m_axis_tvalid",
         "from": {"cell": "m_axis_tvalid_TRELLIS_FF_Q", "loc": [3, 4], "port": "Q"},
         "to": {"cell": "s_axis_tvalid_LUT4_D", "loc": [3, 4], "port": "B"}},
        {"delay": 0.23600000143051147, "type": "logic",
         "from": {"cell": "s_axis_tvalid_LUT4_D", "loc": [3, 4], "port": "B"},
         "to": {"cell": "s_axis_tvalid_LUT4_D", "loc": [3, 4], "port": "F"}},
        {"delay": 0.9860000014305115, "type": "routing", "net": "s_axis_tvalid_LUT4_D_Z",
         "from": {"cell": "s_axis_tvalid_LUT4_D", "loc": [3, 4], "port": "F"},
         "to": {"cell": "skid_reg_TRELLIS_FF_Q_8", "loc": [6, 6], "port": "CE"}},
        {"delay": 0, "type": "setup",
         "from": {"cell": "skid_reg_TRELLIS_FF_Q_8", "loc": [6, 6], "port": "CE"},
         "to": {"cell": "skid_reg_TRELLIS_FF_Q_8", "loc": [6, 6], "port": "CE"}}]}],
    "fmax": {"clk": {"achieved": 413.39398193359375, "constraint": 12}},
    "utilization": {"DP16KD": {"available": 208, "used": 0},
                    "MULT18X18D": {"available": 156, "used": 0},
                    "TRELLIS_COMB": {"available": 83640, "used": 69},
                    "TRELLIS_FF": {"available": 83640, "used": 130},
                    "TRELLIS_IO": {"available": 365, "used": 0}}}


def test_parse_nextpnr_report():
    r = parse_report(REPORT)
    assert r["fmax"] == {"clk": 413.39}
    (c,) = r["critical"]
    assert c["start"] == "m_axis_tvalid_TRELLIS_FF_Q" and c["end"] == "skid_reg_TRELLIS_FF_Q_8"
    assert c["delay_ns"] == pytest.approx(2.419) and c["routing_ns"] == pytest.approx(1.658)
    assert c["logic"] == 1 and c["logic_ns"] == pytest.approx(0.761)
    assert r["utilisation"] == {"DP16KD": [0, 208], "MULT18X18D": [0, 156],
                                "TRELLIS_COMB": [69, 83640], "TRELLIS_FF": [130, 83640]}


DEPTHS_SV = """
module chain #(parameter int N = 7) (input wire logic clk, input wire logic [N:0] d,
                                     output logic q);
  logic [N:0] r, w;
  assign w[0] = r[0];
  for (genvar i = 1; i <= N; i++) begin : g  // N XORs in a row, as LUT2 cells Yosys keeps
    LUT2 #(.INIT(4'h6)) u_xor (.I0(w[i-1]), .I1(r[i]), .O(w[i]));
  end
  always_ff @(posedge clk) begin r <= d; q <= w[N]; end
endmodule
module xor6 (input wire logic clk, input wire logic [5:0] d, output logic q);
  logic [5:0] r;
  always_ff @(posedge clk) begin r <= d; q <= ^r; end
endmodule
module add16 (input wire logic clk, input wire logic [15:0] a, b, output logic [15:0] s);
  logic [15:0] ra, rb;
  always_ff @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule
module depths (input wire logic clk, input wire logic [7:0] d7, input wire logic [3:0] d3,
               input wire logic [5:0] d6, input wire logic [15:0] a, b,
               output logic [2:0] q, output logic [15:0] s);
  chain #(.N(7)) u_c7 (.clk, .d(d7), .q(q[0]));  // inputs apart: no register shared
  chain #(.N(3)) u_c3 (.clk, .d(d3), .q(q[1]));
  xor6 u_x6 (.clk, .d(d6), .q(q[2]));
  add16 u_add (.clk, .a, .b, .s);
endmodule
"""


@pytest.mark.rtl
def test_levels_of_known_depths(tmp_path, monkeypatch):
    """N XORs in a row (kept LUT2 cells) are N levels, an XOR of 6 bits one LUT6, a 16-bit add a
    LUT and four CARRY4 (Yosys maps xcup's carries to CARRY4 too); each named by its instance."""
    monkeypatch.setenv("SAT_HW_CACHE", str(tmp_path / "cache"))
    (tmp_path / "depths.sv").write_text(DEPTHS_SV)
    r = levels([tmp_path / "depths.sv"], "depths", family="xcup", timeout=120)
    got = {k: v.label for k, v in r.per_instance.items() if k}
    assert got == {"u_c7": "7+0", "u_c3": "3+0", "u_x6": "1+0", "u_add": "1+4"}
    assert r.per_instance["u_add"].cells == ("LUT2", "CARRY4", "CARRY4", "CARRY4", "CARRY4")
    assert r.per_instance["u_add"].end.startswith("u_add.s[")
    assert r.worst.label == "7+0" and (r.worst.start, r.worst.end) == ("u_c7.r[0]", "u_c7.q")
    assert r.deepest == r.worst
    assert r.ff == 8 + 4 + 6 + 32 + 16 + 3 and r.cells["LUT2"] >= 10 + 16
    again = levels([tmp_path / "depths.sv"], "depths", family="xcup")
    assert again.cached and again.worst == r.worst and again.per_instance == r.per_instance
    (tmp_path / "bad.sv").write_text("module bad(input x); assign = ; endmodule\n")
    with pytest.raises(ToolError, match="yosys failed on bad") as e:
        levels([tmp_path / "bad.sv"], "bad", cache=False, timeout=60)
    assert "\n" not in str(e.value)


@pytest.mark.rtl
def test_place_route_on_the_smallest_ecp5(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_HW_CACHE", str(tmp_path / "cache"))
    (tmp_path / "depths.sv").write_text(DEPTHS_SV)
    said = []
    r = place_route([tmp_path / "depths.sv"], "add16", device="25k", timeout=300,
                    progress=said.append, gap=0.5)
    assert r.utilisation["TRELLIS_FF"][0] == 48 and r.utilisation["TRELLIS_COMB"][1] == 24288
    assert 100 < r.fmax_mhz < 1000 and r.worst["end"] and r.phases["synth"] > 0
    assert place_route([tmp_path / "depths.sv"], "add16", device="25k").cached
    with pytest.raises(ToolError, match="yosys synth_ecp5 on depths: ERROR: Module `LUT2'"):
        place_route([tmp_path / "depths.sv"], "depths", cache=False)  # Xilinx cells on ECP5
    with pytest.raises(ToolError, match="timed out in synth"):
        place_route([tmp_path / "depths.sv"], "xor6", cache=False, timeout=0.3)
