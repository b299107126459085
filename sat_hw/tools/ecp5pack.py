"""Registers packed into ECP5 block RAMs and multipliers, between ``synth_ecp5`` and nextpnr.

Yosys 0.70's ``synth_ecp5`` maps every block RAM as a DP16KD with ``REGMODE_A/B = "NOREG"`` and
every multiply as a MULT18X18D with no register used, whatever registers the RTL puts around
them. nextpnr-ecp5 then times a block RAM read at its slow unregistered clock-to-out (5.6 ns, on
top of any routing) and a multiply as one combinational stretch between fabric registers. The
vendor's mapper (Diamond) moves such registers into the primitive; this pass does the same on
the Yosys JSON netlist, where it can prove the behaviour unchanged:

- **DP16KD output register** (``REGMODE_A/B = "OUTREG"``): when every used data output bit of
  the block RAM drives exactly one flip-flop (its only load, not a port) and every such
  flip-flop is clocked by the block RAM's read clock, non-inverted, with its reset tied low and
  one clock enable for all (tied high, or one net). The flip-flops go; the data outputs take
  their nets; both ports' output registers take that enable (``OCEA``, ``OCEB``) and that clock
  (``CLKA``/``CLKB`` where tied off, as on a ROM's unused write port, whose ``CEA`` stays 0, so
  nothing is written); the read reset must be unused (``RSTA = RSTB = 0``). Each data bit keeps exactly one
  register after the array's read register, as before.
- **MULT18X18D input and pipeline registers** (``REG_INPUTA/B_CLK``, ``REG_PIPELINE_CLK =
  "CLK0"``): inputs, when every non-constant A and B bit comes from a flip-flop (same clock,
  enable high, reset low) that loads multiplier operands only (Yosys merges the per-multiply
  copies of an activation register: each multiplier then holds its own copy, and the fabric's
  goes when no load is left); the product, when every used P bit drives exactly one such
  flip-flop. ``CLK0`` is the clock, ``CE0`` tied high, ``RST0`` low.
  A constant operand bit stays constant through its register (its value from the first clock
  edge on: the blocks' data are don't-care until their valid flags, which stay in the fabric).

The functions change the netlist dictionary in place and count what they packed; nothing else in
the design moves. ``sat_hw.tools.nextpnr`` runs :func:`pack_registers` on every netlist it places.
"""

from __future__ import annotations

from collections import defaultdict

VERSION = 1
"""Bumped when the pass changes what it packs (the place-and-route cache keys on it)."""


def _loads(module: dict) -> tuple[dict, dict]:
    """``drivers[bit] = (cell, port)`` and ``sinks[bit] = [(cell, port), ...]`` of every net bit
    (port names of the module count as sinks named ``None``)."""
    drivers, sinks = {}, defaultdict(list)
    for name, cell in module["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            for b in bits:
                if isinstance(b, str):
                    continue
                if dirs.get(port) == "output":
                    drivers[b] = (name, port)
                else:
                    sinks[b].append((name, port))
    for port in module.get("ports", {}).values():
        for b in port["bits"]:
            if not isinstance(b, str):
                sinks[b].append((None, port["direction"]))
    return drivers, sinks


def _ff_enable(cell: dict, clock):
    """A TRELLIS_FF clocked by ``clock`` on its rising edge, reset low, no set: its clock enable
    ("1" when tied high, else the net bit); None for any other cell."""
    if cell["type"] != "TRELLIS_FF":
        return None
    p, c = cell["parameters"], cell["connections"]
    lsr_low = c.get("LSR", ["0"]) == ["0"] or p.get("LSRMUX", "LSR").strip() == "0"
    if not (c.get("CLK") == [clock] and p.get("CLKMUX", "CLK").strip() == "CLK" and lsr_low
            and p.get("REGSET", "RESET").strip() == "RESET"):
        return None
    if p.get("CEMUX", "1").strip() == "1" or c.get("CE") == ["1"]:
        return "1"
    ce = c.get("CE", [None])[0]
    return ce if p.get("CEMUX", "CE").strip() == "CE" and not isinstance(ce, str) else None


def _plain_ff(cell: dict, clock) -> bool:
    """A TRELLIS_FF clocked by ``clock`` on its rising edge, enable high, reset low, no set."""
    return _ff_enable(cell, clock) == "1"


def _pack_bram(module: dict, name: str, sinks: dict, dead: set) -> bool:
    cell = module["cells"][name]
    p, c = cell["parameters"], cell["connections"]
    if (p.get("REGMODE_A", "NOREG") != "NOREG" or p.get("REGMODE_B", "NOREG") != "NOREG"
            or c.get("RSTA", ["0"]) != ["0"] or c.get("RSTB", ["0"]) != ["0"]
            or p.get("CLKAMUX", "CLKA") != "CLKA" or p.get("CLKBMUX", "CLKB") != "CLKB"):
        return False
    clocks = {c[k][0] for k in ("CLKA", "CLKB") if k in c and not isinstance(c[k][0], str)}
    if len(clocks) != 1:
        return False
    clock = clocks.pop()
    moves, enables = [], set()  # (data port, flip-flop, its Q bit); their clock enables
    for port, bits in c.items():
        if not port.startswith("DO") or isinstance(bits[0], str) or not sinks.get(bits[0]):
            continue
        loads = sinks[bits[0]]
        if len(loads) != 1 or loads[0][0] is None or loads[0][1] != "DI":
            return False
        ff = module["cells"][loads[0][0]]
        enables.add(_ff_enable(ff, clock))
        if None in enables or len(enables) > 1 or loads[0][0] in dead:
            return False
        moves.append((port, loads[0][0], ff["connections"]["Q"][0]))
    if not moves:
        return False
    for port, ff, q in moves:
        c[port] = [q]
        dead.add(ff)
    p["REGMODE_A"] = p["REGMODE_B"] = "OUTREG"
    c["OCEA"] = c["OCEB"] = [enables.pop()]
    c["CLKA"] = c["CLKB"] = [clock]
    cell.setdefault("port_directions", {}).update(OCEA="input", OCEB="input", CLKA="input",
                                                  CLKB="input")
    return True


def _pack_mult(module: dict, name: str, drivers: dict, sinks: dict, dead: set) -> dict:
    """Pack the operand and product registers of one MULT18X18D; which ones it packed."""
    cell = module["cells"][name]
    p, c = cell["parameters"], cell["connections"]
    if any(p.get(k, "NONE") != "NONE" for k in ("REG_INPUTA_CLK", "REG_INPUTB_CLK",
                                                 "REG_PIPELINE_CLK", "REG_OUTPUT_CLK")):
        return {}
    ports = {"A": [k for k in c if k[0] == "A" and k[1:].isdigit()],
             "B": [k for k in c if k[0] == "B" and k[1:].isdigit()]}
    clock, plan = None, {}
    for side, pins in ports.items():
        ffs = []
        for pin in pins:
            b = c[pin][0]
            if isinstance(b, str):
                continue
            drv = drivers.get(b)
            # the register may load other multipliers' operands too (Yosys merges the copies
            # of one activation): each multiplier gets its own, the fabric's goes once unused
            if (drv is None or drv[1] != "Q" or drv[0] in dead
                    or not all(n is not None and module["cells"][n]["type"] == "MULT18X18D"
                               and pt[0] in "AB" and pt[1:].isdigit() for n, pt in sinks[b])):
                ffs = None
                break
            ff = module["cells"][drv[0]]
            clock = clock if clock is not None else ff["connections"].get("CLK", [None])[0]
            if not _plain_ff(ff, clock):
                ffs = None
                break
            ffs.append((pin, drv[0], ff["connections"]["DI"][0]))
        if ffs:
            plan[side] = ffs
    if ("A" in plan) != ("B" in plan):  # nextpnr takes both operands registered, or neither
        plan.pop("A", None)
        plan.pop("B", None)
    outs = []
    for pin in (k for k in c if k[0] == "P" and k[1:].isdigit()):
        b = c[pin][0]
        if isinstance(b, str) or not sinks.get(b):
            continue
        loads = sinks[b]
        ff = module["cells"].get(loads[0][0]) if loads[0][0] else None
        if clock is None and ff is not None:
            clock = ff["connections"].get("CLK", [None])[0]
        if (len(loads) != 1 or ff is None or loads[0][1] != "DI" or loads[0][0] in dead
                or not _plain_ff(ff, clock)):
            outs = None
            break
        outs.append((pin, loads[0][0], ff["connections"]["Q"][0]))
    if outs:
        plan["P"] = outs
    if not plan or clock is None:
        return {}
    for side, moves in plan.items():
        for pin, ff, other in moves:
            old = c[pin][0]
            c[pin] = [other]  # an operand pin takes the register's D, a product pin its Q
            if side == "P":
                dead.add(ff)
            else:
                sinks[old].remove((name, pin))
                sinks[other].append((name, pin))
                if not sinks[old]:
                    dead.add(ff)
        key = {"A": "REG_INPUTA", "B": "REG_INPUTB", "P": "REG_PIPELINE"}[side]
        p[f"{key}_CLK"], p[f"{key}_CE"], p[f"{key}_RST"] = "CLK0", "CE0", "RST0"
    c["CLK0"], c["CE0"], c["RST0"] = [clock], ["1"], ["0"]
    cell.setdefault("port_directions", {}).update(CLK0="input", CE0="input", RST0="input")
    return {side: len(moves) for side, moves in plan.items()}


def pack_registers(net: dict) -> dict[str, int]:
    """Pack registers into every DP16KD and MULT18X18D of the Yosys JSON ``net`` (in place).
    Returns the counts: block RAMs given their output register, multipliers given input
    (A, B) and pipeline registers, and the flip-flops removed."""
    counts = {"dp16kd_outreg": 0, "mult_inputs": 0, "mult_pipeline": 0, "ffs_packed": 0}
    for module in net.get("modules", {}).values():
        drivers, sinks = _loads(module)
        dead: set[str] = set()
        for name, cell in list(module["cells"].items()):
            if cell["type"] == "DP16KD" and _pack_bram(module, name, sinks, dead):
                counts["dp16kd_outreg"] += 1
            elif cell["type"] == "MULT18X18D":
                got = _pack_mult(module, name, drivers, sinks, dead)
                counts["mult_inputs"] += ("A" in got) + ("B" in got)
                counts["mult_pipeline"] += "P" in got
        for ff in dead:
            del module["cells"][ff]
        counts["ffs_packed"] += len(dead)
    return counts


__all__ = ["VERSION", "pack_registers"]
