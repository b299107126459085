"""Fitting the block cost models to Yosys counts (numpy only; used by
``benchmarks/calibrate_yosys.py`` and by the tests that refit the committed data).

A record is one synthesized block: ``{"module", "params", "family", "mem", "yosys": {lut, ff,
bram18, uram, dsp}}``. For each module the LUT and FF counts, less what the memory model assigns to
the block's memories, are fitted as a non-negative linear combination of the block's features
(:func:`sat_hw.hw.blocks.block_features`, limited to :data:`sat_hw.hw.blocks.FIT_FEATURES` where
given), minimising the *relative* squared error of the block's total (each record weighted by
1 / its Yosys count), so small and large configurations count alike. Records are split
deterministically: every :data:`HOLDOUT`-th record of a module (in grid order, starting with the
``HOLDOUT-1``-th) is held out for validation and never fitted.
"""

from __future__ import annotations

import numpy as np

from sat_hw.hw.blocks import FIT_FEATURES, Block, Resources, block_features, block_memories
from sat_hw.hw.cost import block_cost
from sat_hw.hw.memory import memory

HOLDOUT = 4


def nnls(a: np.ndarray, b: np.ndarray, iters: int = 500) -> np.ndarray:
    """Lawson-Hanson non-negative least squares: ``argmin |a x - b|`` over ``x >= 0``."""
    n = a.shape[1]
    x = np.zeros(n)
    passive = np.zeros(n, bool)
    w = a.T @ (b - a @ x)
    for _ in range(iters):
        if passive.all() or (w[~passive] <= 1e-10 * max(1.0, np.abs(w).max())).all():
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > 1e-12
            x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return x


def block_of(rec: dict) -> Block:
    return Block(rec["module"], rec["params"], rec.get("role", ""), rec.get("mem", "auto"))


def memory_part(rec: dict) -> Resources:
    """What the memory model assigns to the block's memories."""
    total = Resources()
    for _, depth, width, rom, style in block_memories(block_of(rec)):
        total = total + Resources.of(memory(depth, width, style, rom, rec.get("family", "xcup")))
    return total


def split(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """``(train, held_out)``: per module, every HOLDOUT-th record in the given order is held out."""
    train, held = [], []
    seen: dict[str, int] = {}
    for r in records:
        i = seen.get(r["module"], 0)
        seen[r["module"]] = i + 1
        (held if i % HOLDOUT == HOLDOUT - 1 else train).append(r)
    return train, held


def fit(records: list[dict]) -> dict:
    """Coefficients ``{"modules": {module: {"lut"|"ff": {"coef": {feature: c}}}}}`` fitted to
    ``records`` (all of them: pass the training split)."""
    out: dict = {}
    for module in sorted({r["module"] for r in records}):
        rows = [r for r in records if r["module"] == module]
        feats = [block_features(block_of(r)) for r in rows]
        every = sorted({k for f in feats for k in f})
        mem = [memory_part(r) for r in rows]
        entry = {}
        for what in ("lut", "ff"):
            allowed = FIT_FEATURES.get(module, {}).get(what)
            names = [k for k in every if allowed is None or k in allowed]
            x = np.array([[f.get(k, 0.0) for k in names] for f in feats], np.float64)
            y = np.array([max(0.0, r["yosys"][what] - getattr(m, what))
                          for r, m in zip(rows, mem)], np.float64)
            # relative error of the block's total (logic + memories), as the error table counts
            wt = 1.0 / np.array([max(r["yosys"][what], 8.0) for r in rows], np.float64)
            scale = np.maximum(np.abs(x).max(axis=0), 1e-12)
            c = nnls(x * wt[:, None] / scale, y * wt) / scale
            entry[what] = {"coef": {k: float(round(v, 6)) for k, v in zip(names, c) if v > 0}}
        out[module] = entry
    return {"modules": out}


def predict(rec: dict, coefs: dict) -> Resources:
    return block_cost(block_of(rec), rec.get("family", "xcup"), coefs)


def errors(records: list[dict], coefs: dict,
           keys: tuple[str, ...] = ("lut", "ff", "bram18", "dsp")) -> dict[str, dict]:
    """Per resource: ``{n, median, p90}`` of ``|model - yosys| / yosys`` over the records where
    Yosys counts at least one (``n`` of them), and the per-record relative errors."""
    out = {}
    for k in keys:
        errs = []
        for r in records:
            y = r["yosys"][k]
            if y <= 0:
                continue
            errs.append(abs(getattr(predict(r, coefs), k) - y) / y)
        out[k] = {"n": len(errs), "median": float(np.median(errs)) if errs else None,
                  "p90": float(np.percentile(errs, 90)) if errs else None}
    return out


__all__ = ["HOLDOUT", "errors", "fit", "memory_part", "nnls", "predict", "split"]
