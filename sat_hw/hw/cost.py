"""Resources and cycles per layer, from the graph and its folding (numpy-free, torch-free).

A layer is the chain of blocks of the hardware plan (:mod:`sat_hw.hw.plan`, the same list the
RTL renderer instantiates): width converters, the sliding-window generator, the compute block
(``sat_mvu``, ``sat_vvu``, ``sat_avgpool``, ``sat_maxpool``), the thresholds or the bias, and the
FIFOs. Each block costs

- logic: LUTs and flip-flops as a linear model in features of its parameters (lanes times bit
  widths, accumulator widths, ...), whose coefficients are fitted to Yosys ``synth_xilinx`` counts
  of the block itself (``benchmarks/calibrate_yosys.py`` -> ``calibration.json``);
- memories: each ROM and RAM of the block (weights, thresholds, bias, line buffers, FIFO) mapped
  by depth and width onto LUTs, RAMB18 halves or URAM (:mod:`sat_hw.hw.memory`);
- DSP slices: counted exactly from the block's multiply structure.

:class:`Resources` adds up, so a layer is the sum of its blocks and the network the sum of its
layers. Yosys is not Vivado: the coefficients describe Yosys's mapping of our RTL, a consistent
yardstick between designs rather than a promise of a Vivado utilisation report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sat_hw.hw.blocks import (
    FIT_FEATURES,
    Block,
    Resources,
    block_features,
    block_memories,
    dsp_count,
    memory_groups,
    mvu_packing,
    yosys_resources,
)
from sat_hw.hw.cycles import block_delay, block_rate, network_latency, network_timeline, pipe_delay
from sat_hw.hw.fold import Fold, lanes
from sat_hw.hw.memory import memory
from sat_hw.hw.plan import FORK_ROLES, HardwarePlan, LayerPlan

CALIBRATION = Path(__file__).with_name("calibration.json")
CALIBRATION_ECP5 = Path(__file__).with_name("calibration_ecp5.json")
"""The fits against ``synth_ecp5`` (LUT4 sites, ``TRELLIS_FF``) that an ECP5 part's estimate uses;
Xilinx parts (``xc7``, ``xcup``) use :data:`CALIBRATION`."""


def calibration_file(family: str = "xcup") -> Path:
    return CALIBRATION_ECP5 if family == "ecp5" else CALIBRATION


PRIORS: dict[str, dict[str, dict[str, float]]] = {
    # Analytic first guesses, used for a block the calibration has not covered (the estimate
    # says so: ``calibrated`` false).
    "sat_mvu": {"lut": {"pp": 0.5, "tree": 1.0, "acc": 1.0, "sum": 1.0, "dadd": 1.0, "dsrl": 1.0,
                        "one": 40.0},
                "ff": {"treeq": 1.0, "acc": 2.0, "in": 2.0, "wq": 1.0, "dspq": 1.0,
                       "one": 40.0}},
    "sat_vvu": {"lut": {"pp": 0.5, "tree": 1.0, "dot": 2.0, "acc": 1.0, "one": 40.0},
                "ff": {"treeq": 1.0, "inq": 1.0, "dotq": 1.0, "accq": 1.0, "one": 40.0}},
    "sat_thresholds": {"lut": {"cmp": 1.0, "out": 1.0, "one": 20.0},
                       "ff": {"cmp": 1.0, "out": 1.0, "one": 20.0}},
    "sat_bias": {"lut": {"add": 1.0, "one": 10.0}, "ff": {"add": 3.0, "one": 10.0}},
    "sat_swg": {"lut": {"win": 1.0, "rot": 1.0, "ctl": 8.0, "one": 100.0},
                "ff": {"win": 3.0, "bank": 1.0, "ctl": 6.0, "one": 50.0}},
    "sat_dwc": {"lut": {"w": 1.0, "one": 10.0}, "ff": {"w": 2.0, "one": 10.0}},
    "sat_fifo": {"lut": {"w": 0.2, "ctl": 4.0, "one": 10.0}, "ff": {"w": 1.0, "ctl": 3.0}},
    "sat_avgpool": {"lut": {"acc": 2.0, "ctl": 3.0, "one": 20.0},
                    "ff": {"acc": 3.0, "ctl": 2.0, "one": 10.0}},
    "sat_maxpool": {"lut": {"cmp": 1.0, "one": 10.0}, "ff": {"out": 3.0, "one": 10.0}},
    "sat_skid": {"lut": {"w": 1.0, "one": 2.0}, "ff": {"w": 2.0, "one": 2.0}},
    # residual graphs: fitted to Yosys like the others since issue 24 (calibrate_yosys.py);
    # these, rounded from the xcup fit, stand in only where a calibration file lacks them. The
    # add's LUTs per adder bit of the product by its non-power-of-two multiplier (the ROM of
    # per-tensor multipliers folds into the products), its FFs per code bit (skids, copies) and
    # tree register; the fork's two muxes and three registers per bit
    "sat_add": {"lut": {"madd": 0.5, "one": 38.0}, "ff": {"in": 5.7, "treeq": 0.2, "one": 17.0}},
    "sat_fork": {"lut": {"w": 2.0, "one": 7.0}, "ff": {"w": 3.0, "one": 5.0}},
}


@cache
def calibration(path: str | None = None, family: str = "xcup") -> dict:
    """The fitted coefficients ``{module: {"lut": {feature: c}, "ff": {...}}}`` of ``family``
    (empty when the file is absent)."""
    p = Path(path) if path else calibration_file(family)
    if not p.is_file():
        return {"modules": {}}
    return json.loads(p.read_text())


def is_calibrated(module: str, family: str = "xcup") -> bool:
    return module in calibration(family=family)["modules"]


def _coef(module: str, what: str, coefs: dict | None = None,
          family: str = "xcup") -> dict[str, float]:
    fitted = (coefs or calibration(family=family))["modules"].get(module)
    if fitted is not None:
        return fitted[what]["coef"]
    return PRIORS[module][what]


def logic(b: Block, coefs: dict | None = None, family: str = "xcup") -> tuple[float, float]:
    """(LUT, FF) of the block's logic from the fitted linear model of ``family`` (``coefs``: a
    calibration dict in place of the shipped one)."""
    f = block_features(b)
    lut = sum(c * f.get(k, 0.0) for k, c in _coef(b.module, "lut", coefs, family).items())
    ff = sum(c * f.get(k, 0.0) for k, c in _coef(b.module, "ff", coefs, family).items())
    return max(lut, 0.0), max(ff, 0.0)


def block_cost(b: Block, family: str = "xcup", coefs: dict | None = None) -> Resources:
    """Resources of one block: fitted logic, mapped memories, DSP slices."""
    if coefs is None:
        return _cached_cost(b.module, tuple(b.params.items()), b.mem, family)
    return _block_cost(b, family, coefs)


@cache
def _cached_cost(module: str, params: tuple, mem: str, family: str) -> Resources:
    return _block_cost(Block(module, dict(params), "", mem), family, None)


def _block_cost(b: Block, family: str, coefs: dict | None) -> Resources:
    lut, ff = logic(b, coefs, family)
    total = {"lut": lut, "ff": ff, "bram18": 0, "uram": 0, "dsp": dsp_count(b, family)}
    for _, depth, width, rom, style, n in memory_groups(b):
        for k, v in memory(depth, width, style, rom, family).items():
            total[k] += n * v
    return Resources.of(total)


@dataclass
class LayerCost:
    """What one layer costs: its blocks and their resources, its cycles per image in steady state
    (``cycles``, :func:`sat_hw.hw.fold.layer_cycles`), the cycles from its first input to its
    first output (``delay``, without the fork after it), its MACs per image and MAC lanes. A
    forked layer's blocks and resources include its fork and skip FIFO."""

    name: str
    op: str
    fold: Fold
    blocks: list[Block]
    block_resources: list[Resources]
    resources: Resources
    cycles: int
    delay: int
    macs: int
    lanes: int
    weight_bits: int

    def memories(self) -> list[dict]:
        """Each memory of the layer: block, what, depth, width, style and its primitives."""
        from sat_hw.hw.memory import auto_style

        out = []
        for b in self.blocks:
            for what, depth, width, rom, style in block_memories(b):
                s = auto_style(depth, width, rom) if style == "auto" else style
                out.append({"block": b.module, "what": what, "depth": depth, "width": width,
                            "style": s, **memory(depth, width, s, rom)})
        return out


def layer_cost(lp: LayerPlan, family: str = "xcup") -> LayerCost:
    """What the layer of the hardware plan costs on a device of ``family``."""
    node, fold = lp.node, lp.fold
    res = [block_cost(b, family) for b in lp.blocks]
    own = sum(block_delay(b) for b in lp.blocks if b.role not in FORK_ROLES)
    return LayerCost(node.name, node.op, fold, list(lp.blocks), res, sum(res, Resources()),
                     lp.cycles, own, int(node.macs),
                     lanes(node, fold), int(node.weight_memory_bits + node.threshold_memory_bits))


def network_cost(plan: HardwarePlan) -> list[LayerCost]:
    """:class:`LayerCost` of every layer of the plan in order, on the plan's device family."""
    return [layer_cost(lp, plan.family) for lp in plan.layers]


def summary(graph, costs: list[LayerCost], device, fclk_mhz: float) -> dict:
    """report.json ``estimate``: totals, device utilisation, interval, latency, frames/s, MACs,
    MAC lanes and balance (MACs / (lanes * interval): 1.0 when no lane ever idles)."""
    total = sum((c.resources for c in costs), Resources())
    interval = max(c.cycles for c in costs)
    macs = sum(c.macs for c in costs)
    lanes = sum(c.lanes for c in costs)
    util = total.utilisation(device)
    return {"device": device.name, "fclk_mhz": float(fclk_mhz), **total.as_dict(),
            "utilisation": {k: round(v, 4) for k, v in util.items()},
            "interval_cycles": interval, "latency_cycles": network_latency(graph, costs),
            "fps": fclk_mhz * 1e6 / interval, "macs": macs, "mac_lanes": lanes,
            "balance": macs / (lanes * interval) if lanes else 0.0,
            "weight_bits": sum(c.weight_bits for c in costs),
            "calibrated": all(is_calibrated(b.module, device.family) for c in costs
                              for b in c.blocks)}


def layer_rows(costs: list[LayerCost]) -> list[dict]:
    """report.json ``layers[].estimate`` per layer (same order)."""
    return [{**c.resources.as_dict(), "cycles": c.cycles, "delay": c.delay, "lanes": c.lanes,
             "pe": c.fold.pe, "simd": c.fold.simd, "mult": c.fold.mult,
             "mem": getattr(c.fold, "mem", "auto"),
             "blocks": [{"module": b.module, "role": b.role, **r.as_dict()}
                        for b, r in zip(c.blocks, c.block_resources)]} for c in costs]


__all__ = [
    "CALIBRATION",
    "CALIBRATION_ECP5",
    "FIT_FEATURES",
    "PRIORS",
    "Block",
    "LayerCost",
    "Resources",
    "block_cost",
    "block_delay",
    "block_features",
    "block_memories",
    "block_rate",
    "calibration",
    "calibration_file",
    "dsp_count",
    "is_calibrated",
    "layer_cost",
    "layer_rows",
    "logic",
    "memory_groups",
    "mvu_packing",
    "network_cost",
    "network_latency",
    "network_timeline",
    "pipe_delay",
    "summary",
    "yosys_resources",
]
