"""The folding planner: PE, SIMD, multiply style and weight memory per layer, for a target
frames/s at a clock, or for the highest frames/s that fits a device.

Method. Every layer lists its candidate folds (every PE and SIMD that divide, ``mult`` lut or dsp
for matrix-vector layers, weights in LUTs, block RAM or URAM) with their cycles per image and
their resources by the calibrated cost model (:mod:`sat_hw.hw.cost`). For a target interval ``T``
each layer takes its cheapest candidate with ``cycles <= T``, "cheapest" being a weighted sum of
its resources, each weighted by the inverse of the budget for it; when the sum over layers
exceeds the budget of some resource, that resource's weight grows and the choice is made again
(a few rounds of multiplicative weights: LUT-hungry layers move to DSPs, block-RAM-hungry
weights to URAM or LUTs). Cheapest-per-layer at ``T`` mostly balances the pipeline: every layer
slows down to just under ``T``. Where the cheapest fold is still much faster than the slowest
layer (its lanes idle), a last pass gives that layer the fold with the fewest lanes that meets the
interval, as long as the whole design stays within the budget (most idle lane-cycles first).

- ``fps`` given: ``T = floor(fclk / fps)``; error if the fastest folding cannot reach it or the
  cheapest that does exceeds the budget.
- ``fps`` not given: the smallest ``T`` (among the cycle counts the candidates can take) whose
  plan fits the budget, by bisection.

Budget: shares of the device's capacity, :data:`LIMITS` by default (70 % of LUTs and FFs, 90 % of
block RAM, URAM and DSPs). Explicit ``[fold.<layer>]`` keys pin those choices; the planner fills
the rest around them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from sat_hw.graph.ir import Graph, Layer
from sat_hw.hw.cost import (
    LayerCost,
    Resources,
    block_cost,
    network_cost,
    summary,
)
from sat_hw.hw.devices import Device, dsp_a_width, get_device
from sat_hw.hw.fold import (
    DEFAULT_LANES,
    MEMS,
    Fold,
    Folding,
    check_fold,
    default_folding,
    divisors,
    fold_for_cycles,
    fold_limits,
    is_mvu,
    lanes,
    layer_cycles,
)
from sat_hw.hw.plan import hardware_plan, layer_plan

LIMITS = {"lut": 0.70, "ff": 0.70, "bram18": 0.90, "uram": 0.90, "dsp": 0.90}
KEYS = Resources.KEYS
ROUNDS = 48
URAM_PENALTY = 4.0
"""Initial weight of URAM relative to its budget share: weights go to URAM only when block RAM
and LUTs run short, since a URAM cannot be initialised by the bitstream (run-time loading)."""
DSP_DISCOUNT = 0.25
"""Initial weight of DSPs relative to their budget share: products go to DSP slices while they
last (a DSP slice left idle buys nothing; LUTs also carry the adder trees, thresholds and width
converters). Without it, fewer weight bits can move products from DSPs into LUTs, as LUT
products get cheaper, and a W3A4 plan end up with more LUTs than W4A4's."""


@dataclass
class Candidates:
    """One layer's candidate folds: ``cycles[i]`` and ``res[i]`` (LUT, FF, BRAM18, URAM, DSP)."""

    node: Layer
    folds: list[Fold]
    cycles: np.ndarray
    res: np.ndarray


@dataclass
class Plan:
    """A planned folding, its cost per layer and in total, and why each layer got its fold."""

    folding: dict[str, Fold]
    costs: list[LayerCost]
    estimate: dict
    target_cycles: int
    mode: str
    device: Device
    limits: dict[str, float]
    why: dict[str, str] = field(default_factory=dict)


def _mems(node: Layer, device: Device, uram_weights: bool) -> list[str]:
    if node.wbits == 0:
        return ["auto"]
    out = ["lut", "bram"]
    if device.uram and uram_weights:
        out.append("uram")
    return out


def layer_candidates(node: Layer, device: Device, fixed: dict | None = None,
                     mults: tuple[str, ...] = ("lut", "dsp"),
                     uram_weights: bool = True) -> Candidates:
    """Every fold of ``node`` compatible with the explicit keys ``fixed`` (pe, simd, mult, mem),
    with its cycles and resources (without the input width converter, which depends on the
    producer)."""
    fixed = fixed or {}
    n_pe, n_simd = fold_limits(node)
    pes = [fixed["pe"]] if "pe" in fixed else divisors(n_pe)
    simds = [fixed["simd"]] if "simd" in fixed else divisors(n_simd)
    ms = [fixed["mult"]] if "mult" in fixed else (list(mults) if is_mvu(node) else ["lut"])
    mems = [fixed["mem"]] if "mem" in fixed else _mems(node, device, uram_weights)
    folds, cyc, res = [], [], []
    fam = device.family
    for pe in pes:
        for simd in simds:
            check_fold(node, Fold(pe, simd, ms[0], mems[0]))
            for m in ms:
                f = Fold(pe, simd, m, "none")
                blocks = layer_plan(node, f, dsp_a_w=dsp_a_width(fam)).blocks
                c = layer_cycles(node, f)
                compute = [b for b in blocks if b.module in ("sat_mvu", "sat_vvu")]
                rest = sum((block_cost(b, fam) for b in blocks
                            if b.module not in ("sat_mvu", "sat_vvu")), Resources())
                for mem in mems:
                    # the compute block priced with its weights in ``mem`` (its logic can depend
                    # on where the weights are: a LUT ROM inside sat_mvu, see blocks.block_features)
                    r = sum((block_cost(replace(b, mem=mem), fam) for b in compute), rest)
                    folds.append(Fold(pe, simd, m, mem))
                    cyc.append(c)
                    res.append((r.lut, r.ff, r.bram18, r.uram, r.dsp))
    return Candidates(node, folds, np.array(cyc, np.int64), np.array(res, np.float64))


def _budget(device: Device, limits: dict[str, float]) -> np.ndarray:
    cap = device.capacity()
    return np.array([limits.get(k, 1.0) * cap[k] for k in KEYS], np.float64)


def _choose(cands: list[Candidates], target: int, w: np.ndarray) -> list[int] | None:
    """Index of the cheapest candidate per layer with cycles <= target (None if a layer has
    none). Ties: fewer resources overall, then more cycles (fewer lanes)."""
    picks = []
    for c in cands:
        ok = c.cycles <= target
        if not ok.any():
            return None
        cost = c.res @ w
        cost = np.where(ok, cost, np.inf)
        best = np.flatnonzero(cost <= cost.min() * (1 + 1e-9) + 1e-12)
        picks.append(int(best[np.argmax(c.cycles[best])]))
    return picks


def _fit(cands: list[Candidates], target: int, budget: np.ndarray) -> tuple[list[int] | None, bool]:
    """Choose per layer at ``target`` under the budget by multiplicative weights; returns the
    picks (None if some layer cannot reach the target) and whether they fit."""
    big = 1e9
    w = np.where(budget > 0, 1.0 / np.maximum(budget, 1e-9), big)
    w[KEYS.index("uram")] *= URAM_PENALTY
    w[KEYS.index("dsp")] *= DSP_DISCOUNT
    picks = None
    for _ in range(ROUNDS):
        picks = _choose(cands, target, w)
        if picks is None:
            return None, False
        total = sum(c.res[i] for c, i in zip(cands, picks))
        ratio = np.where(budget > 0, total / np.maximum(budget, 1e-9),
                         np.where(total > 0, np.inf, 0.0))
        if (ratio <= 1.0 + 1e-12).all():
            return picks, True
        over = ratio > 1.0
        w = np.where(over, w * np.minimum(np.maximum(ratio, 1.25), 4.0), w)
        w = np.minimum(w, big)
    return picks, False


def _why(c: LayerCost, cands: Candidates, target: int, interval: int,
         rebalanced: bool = False) -> str:
    f = c.fold
    mems = [m for m in c.memories() if m["what"] == "weights"]
    mem = ""
    if mems:
        m = mems[0]
        where = {"lut": f"{m['lut']} LUTs", "bram": f"{m['bram18']} BRAM18",
                 "uram": f"{m['uram']} URAM", "reg": "registers",
                 "external": f"{m['bram18']} BRAM18 loaded at run time"}[m["style"]]
        mem = f"; weights {m['depth']}x{m['width']} b in {where} ({m['style']})"
    n = int((cands.cycles <= target).sum())
    lanes = f"{c.lanes} lanes" if c.lanes else "no MAC lanes"
    if rebalanced:
        n = int((cands.cycles <= interval).sum())
        how = (f"fewest lanes of {n} folds within the interval ({interval:,} cycles) that keeps "
               f"the design within the budget (balance)")
    else:
        how = f"cheapest of {n} folds within {target:,} cycles"
    return (f"pe {f.pe} simd {f.simd} ({lanes}, mult {f.mult}): {c.cycles:,} cycles = "
            f"{100 * c.cycles / interval:.1f} % of the interval{mem}; {how}")


def check_layer_names(graph: Graph, explicit: dict[str, dict]) -> None:
    """Every ``[fold.<layer>]`` table names a layer of ``graph`` (one-line error otherwise)."""
    names = [n.name for n in graph.layers]
    for name in explicit:
        if name not in names:
            raise ValueError(f"fold.{name}: the graph has no layer {name!r} "
                             f"(layers: {', '.join(names)})")


class Planner:
    """The candidates of every layer of ``graph`` on ``device``, computed once; :meth:`at` plans
    for a target interval, :meth:`for_fps` for frames/s, :meth:`fastest` for the device budget."""

    def __init__(self, graph: Graph, device: str | Device = "u250", fclk_mhz: float = 333.0,
                 explicit: dict[str, dict] | None = None, limits: dict[str, float] | None = None,
                 mults: tuple[str, ...] = ("lut", "dsp"), uram_weights: bool = True):
        self.graph = graph
        self.device = device if isinstance(device, Device) else get_device(device)
        if not fclk_mhz > 0:
            raise ValueError(f"fclk_mhz must be > 0, got {fclk_mhz!r}")
        self.fclk_mhz = float(fclk_mhz)
        self.limits = {**LIMITS, **(limits or {})}
        explicit = explicit or {}
        check_layer_names(graph, explicit)
        self.cands = [layer_candidates(n, self.device, explicit.get(n.name), mults, uram_weights)
                      for n in graph.layers]
        self.budget = _budget(self.device, self.limits)
        self.fastest_cycles = max(int(c.cycles.min()) for c in self.cands)

    def targets(self) -> np.ndarray:
        """Every interval a plan can have (the candidates' cycle counts from the fastest up)."""
        ts = np.unique(np.concatenate([c.cycles for c in self.cands]))
        return ts[ts >= self.fastest_cycles]

    def _total(self, picks: list[int]) -> np.ndarray:
        """The whole network's resources for ``picks``, width converters between layers
        included (which the candidates leave out)."""
        folding = {c.node.name: c.folds[i] for c, i in zip(self.cands, picks)}
        plan = hardware_plan(self.graph, folding, self.device.family)
        total = sum((c.resources for c in network_cost(plan)), Resources())
        return np.array([getattr(total, k) for k in KEYS], np.float64)

    def _solve(self, target: int) -> tuple[list[int] | None, bool]:
        """:func:`_fit` at ``target``, the budget lowered by what the width converters between
        layers add until the whole network fits (a few rounds)."""
        overhead = np.zeros(len(KEYS))
        picks = None
        for _ in range(4):
            picks, ok = _fit(self.cands, target, self.budget - overhead)
            if not ok:
                return picks, False
            full = self._total(picks)
            if (full <= self.budget + 1e-9).all():
                return picks, True
            own = sum(c.res[i] for c, i in zip(self.cands, picks))
            overhead = np.maximum(overhead, full - own)
        return picks, False

    def _rebalance(self, picks: list[int]) -> tuple[list[int], set[str]]:
        """Balance the pipeline: a layer whose lanes idle at the plan's interval (it is faster
        than the slowest, as the cheapest fold under the target can be) takes the fold with the
        fewest lanes that still meets the interval, where the whole design stays within the
        budget; layers with the most idle lane-cycles first. Returns the picks and the layers
        changed."""
        picks = list(picks)
        interval = max(int(c.cycles[i]) for c, i in zip(self.cands, picks))
        n_lanes = [np.array([lanes(c.node, f) for f in c.folds]) for c in self.cands]
        macs = [int(c.node.macs) for c in self.cands]
        w = np.where(self.budget > 0, 1.0 / np.maximum(self.budget, 1e-9), 1e9)
        idle = lambda j: int(n_lanes[j][picks[j]]) * interval - macs[j]
        changed = set()
        for j in sorted(range(len(picks)), key=lambda j: -idle(j)):
            c = self.cands[j]
            if idle(j) <= 0:
                continue
            ok = np.flatnonzero((c.cycles <= interval) & (n_lanes[j] < n_lanes[j][picks[j]]))
            for i in sorted(ok, key=lambda i: (int(n_lanes[j][i]), float(c.res[i] @ w))):
                trial = picks[:j] + [int(i)] + picks[j + 1:]
                if (self._total(trial) <= self.budget + 1e-9).all():
                    picks = trial
                    changed.add(c.node.name)
                    break
        return picks, changed

    def _plan(self, picks: list[int], target: int, mode: str, fits: bool = True) -> Plan:
        changed: set[str] = set()
        if fits:
            picks, changed = self._rebalance(picks)
        folding = {c.node.name: c.folds[i] for c, i in zip(self.cands, picks)}
        costs = network_cost(hardware_plan(self.graph, folding, self.device.family))
        est = summary(self.graph, costs, self.device, self.fclk_mhz)
        est["fits"] = fits
        why = {c.name: _why(c, k, target, est["interval_cycles"], c.name in changed)
               for c, k in zip(costs, self.cands)}
        return Plan(folding, costs, est, target, mode, self.device, self.limits, why)

    def at(self, target: int, mode: str = "cycles") -> Plan:
        """The cheapest plan with every layer within ``target`` cycles that fits the budget."""
        if target < self.fastest_cycles:
            raise ValueError(f"{target:,} cycles per image: the fastest folding takes "
                             f"{self.fastest_cycles:,} "
                             f"({self.fclk_mhz * 1e6 / self.fastest_cycles:,.0f} frames/s at "
                             f"{self.fclk_mhz:g} MHz)")
        picks, ok = self._solve(target)
        if not ok:  # a plan for a tighter interval meets this one too (see fastest)
            for t in self.targets()[::-1]:
                if t < target:
                    tighter, ok = self._solve(int(t))
                    if ok:
                        return self._plan(tighter, target, mode)
            raise ValueError(_over_msg(self.cands, picks, self.device, self.limits,
                                       f"{target:,} cycles per image"))
        return self._plan(picks, target, mode)

    def quick(self, target: int) -> dict | None:
        """Totals and interval of the plan :meth:`at` would make (without pricing the width
        converters between layers or explaining it); None if it does not fit."""
        if target < self.fastest_cycles:
            return None
        picks, ok = self._solve(target)
        if not ok:
            return None
        total = self._total(picks)
        interval = max(int(c.cycles[i]) for c, i in zip(self.cands, picks))
        return {**dict(zip(KEYS, (int(v) for v in total))), "interval_cycles": interval,
                "fps": self.fclk_mhz * 1e6 / interval}

    def for_fps(self, fps: float) -> Plan:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        target = math.floor(self.fclk_mhz * 1e6 / fps)
        try:
            return self.at(target, "fps")
        except ValueError as e:
            raise ValueError(f"{fps:g} frames/s at {self.fclk_mhz:g} MHz on {self.device.name}: "
                             f"{e}") from None

    def fastest(self, must_fit: bool = True) -> Plan:
        """The plan with the smallest interval that fits the budget: the candidates' intervals
        tried from the fastest up. Not a bisection: whether :meth:`_solve` finds a fitting plan
        is not monotone in the interval (its reweighting can settle on block RAM at one interval
        and on URAM at the next, over budget both times, where a tighter interval's plan fits:
        the ZCU104 with 8-bit last-layer weights, issue 21). If even the slowest does not fit:
        an error, or with ``must_fit`` false the cheapest plan, marked ``fits: false``."""
        ts = self.targets()
        for t in ts:
            picks, ok = self._solve(int(t))
            if ok:
                return self._plan(picks, int(t), "budget")
        msg = _over_msg(self.cands, picks, self.device, self.limits, "the slowest folding")
        if must_fit or picks is None:
            raise ValueError(msg)
        p = self._plan(picks, int(ts[-1]), "over budget", fits=False)
        p.estimate["note"] = msg
        return p


def plan(graph: Graph, device: str | Device = "u250", fclk_mhz: float = 333.0,
         fps: float | None = None, explicit: dict[str, dict] | None = None,
         limits: dict[str, float] | None = None, mults: tuple[str, ...] = ("lut", "dsp"),
         uram_weights: bool = True) -> Plan:
    """Plan the folding of ``graph`` (see the module doc): the cheapest that meets ``fps``, or
    without it the fastest that fits. ``explicit``: ``{layer: {pe, simd, mult, mem}}`` tables
    that win. Raises ``ValueError`` (one line) when no folding meets the target within the
    budget."""
    p = Planner(graph, device, fclk_mhz, explicit, limits, mults, uram_weights)
    return p.fastest() if fps is None else p.for_fps(fps)


def _over_msg(cands: list[Candidates], picks: list[int] | None, dev: Device,
              limits: dict[str, float], what: str) -> str:
    if picks is None:
        return f"no folding reaches {what}"
    total = sum(c.res[i] for c, i in zip(cands, picks))
    cap = dev.capacity()
    over = [f"{k} {int(v):,} > {limits[k]:.0%} of {cap[k]:,}"
            for k, v in zip(KEYS, total) if v > limits[k] * cap[k]]
    return (f"{what} does not fit {dev.name} within the budget: the cheapest folding found "
            f"needs {'; '.join(over)}")


def resolve_folding(graph: Graph, explicit: dict[str, dict] | None = None,
                    max_lanes: int = DEFAULT_LANES, target_cycles: int | None = None, *,
                    fps: float | None = None, fclk_mhz: float = 333.0,
                    device: str | None = None, budget: bool = False,
                    uram_weights: bool = True) -> Folding:
    """Explicit ``[fold.<layer>]`` tables win; the rest come from the default rule: the planner
    (:func:`plan`: the cheapest folding for ``fps`` frames/s at ``fclk_mhz`` on
    ``device``, or with ``budget`` the fastest that fits the device) when ``fps > 0`` or
    ``budget``; else a target interval when given, else the lane budget. Every fold is
    checked. ``uram_weights`` false: the planner keeps weights out of URAM."""
    explicit = explicit or {}
    check_layer_names(graph, explicit)
    if (fps and fps > 0) or budget:
        base = plan(graph, device or "u250", fclk_mhz, fps=fps if fps and fps > 0 else None,
                    explicit=explicit, uram_weights=uram_weights).folding
    elif target_cycles:
        base = fold_for_cycles(graph, target_cycles)
    else:
        base = default_folding(graph, max_lanes)
    out: Folding = {}
    for node in graph.layers:
        f = Fold(**{**base[node.name].as_dict(), **explicit.get(node.name, {})})
        check_fold(node, f)
        out[node.name] = f
    return out


__all__ = ["LIMITS", "MEMS", "Candidates", "Plan", "Planner", "layer_candidates", "plan",
           "resolve_folding"]
