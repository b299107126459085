"""The training guard (``train.guard``): a run whose loss turns non-finite or whose accuracy
collapses stops with one line naming the epoch, the step and the quantity that ran away, and the
last good checkpoint stays as it was (docs/training.md says how the limits were chosen).

- **Non-finite loss**: any step's loss that is NaN or infinite.
- **Training collapse**: the training top-1 over the last ``WINDOW`` steps (every rank's images)
  falls more than ``TRAIN_DROP`` points below its best over any earlier ``WINDOW`` steps of
  this run; or, when the run started from ``--init`` and its starting point was scored, the
  training top-1 of the run's steps so far (from ``CHECK_EVERY`` steps on, at most ``WINDOW``)
  falls more than ``TRAIN_DROP`` points below that starting test top-1 (a fine-tune that
  collapses within its first steps has no earlier window to fall from).
- **Test collapse**: an epoch's test top-1 falls more than ``TEST_DROP`` points below the best
  earlier one (the model as training started counts when it started from ``--init``), judged
  only on at least ``MIN_TEST_IMAGES`` test images.

The guard reads the per-step loss and correct counts every ``CHECK_EVERY`` steps (one device
synchronisation and, under torchrun, one all-reduce of ``3 * CHECK_EVERY`` numbers), so a
collapse stops the run at most ``CHECK_EVERY - 1`` steps after the step that shows it, and
every rank stops at the same step. The quantity that ran away is the first non-finite
parameter or buffer, else the scalar (an alpha, a BN layer's mean running variance or mean
|gamma|, a layer's rms weight) that moved furthest, by ratio, since the last good checkpoint (or
the start).
"""

from __future__ import annotations

import math
from collections import deque

import torch
from torch import Tensor, nn

from sat_hw.base.errors import TrainingCollapse

WINDOW = 50
"""Steps whose training top-1 the training rule compares (12,800 images at batch 256)."""
TRAIN_DROP = 10.0
"""Percentage points the windowed training top-1 may fall below its best before the run stops."""
TEST_DROP = 50.0
"""Percentage points an epoch's test top-1 may fall below the best earlier one."""
MIN_TEST_IMAGES = 1000
"""Fewer test images than this are too noisy to judge a fall (1000: one standard error ~1.6
points at 50 %)."""
CHECK_EVERY = 10
"""Steps between the guard's reads of the loss and accuracy."""


def watched(model: nn.Module) -> dict[str, float]:
    """The scalars the guard compares to name what ran away (see the module doc)."""
    out: dict[str, float] = {}
    with torch.no_grad():
        for name, m in model.named_modules():
            alpha = getattr(m, "alpha", None)
            if isinstance(alpha, Tensor) and alpha.requires_grad:
                out[f"{name}.alpha"] = float(alpha)
            if isinstance(m, nn.BatchNorm2d):
                out[f"{name}.running_var (mean)"] = float(m.running_var.mean())
                out[f"{name}.weight (mean |gamma|)"] = float(m.weight.abs().mean())
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                out[f"{name}.weight (rms)"] = float(m.weight.pow(2).mean().sqrt())
    return out


def _first_nonfinite(model: nn.Module) -> str | None:
    with torch.no_grad():
        for kind, items in (("parameter", model.named_parameters()),
                            ("buffer", model.named_buffers())):
            for name, t in items:
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    return f"{kind} {name} is not finite"
    return None


def ran_away(model: nn.Module, before: dict[str, float], since: str) -> str:
    """One phrase naming the quantity that ran away (see the module doc)."""
    bad = _first_nonfinite(model)
    if bad is not None:
        return bad
    now = watched(model)
    best, score = None, -1.0
    for k, b in before.items():
        a = now.get(k)
        if a is None:
            continue
        if a <= 0 < b or b <= 0 < a or (a == 0) != (b == 0):
            s = math.inf
        else:
            s = abs(math.log(abs(a) / abs(b))) if a and b else 0.0
        if s > score:
            best, score = k, s
    if best is None:
        return "no watched quantity"
    return f"moved most since {since}: {best} {before[best]:.4g} -> {now[best]:.4g}"


class Guard:
    """Watches one run; :meth:`after_step` and :meth:`after_epoch` raise
    :class:`TrainingCollapse`.

    ``all_sum(list[float]) -> list[float]`` sums over the ranks (identity for one process).
    ``out`` is the checkpoint path (named in the message). ``start_top1`` is the test top-1 the
    run starts from, if measured; ``history`` the epochs already done (``resume``).
    """

    def __init__(self, model: nn.Module, all_sum, out, enabled: bool = True,
                 history: list[dict] | None = None, start_top1: float | None = None,
                 test_images: int = 0):
        self.enabled, self.all_sum, self.out = enabled, all_sum, out
        self.pending: list[tuple[int, int, Tensor, Tensor, int]] = []
        self.window: deque[tuple[float, float]] = deque(maxlen=WINDOW)
        self.best_window: float | None = None
        self.start = (100 * start_top1 if start_top1 is not None
                      and test_images >= MIN_TEST_IMAGES else None)
        self.history = list(history or [])
        tops = [h["top1"] for h in self.history if h.get("test_images", 0) >= MIN_TEST_IMAGES]
        if start_top1 is not None and test_images >= MIN_TEST_IMAGES:
            tops.append(start_top1)
        self.best_test = max(tops) if tops else None
        self.good = self.history[-1] if self.history else None
        self.reference = watched(model)

    def _kept(self) -> str:
        if self.good is None:
            return f"no checkpoint of this run was written to {str(self.out)!r}"
        return (f"the last good checkpoint {str(self.out)!r} (epoch {self.good['epoch']}, "
                f"test {100 * self.good['top1']:.2f} %) is kept")

    def _since(self) -> str:
        return "the start" if self.good is None else f"epoch {self.good['epoch']}"

    def _stop(self, model: nn.Module, epoch: int, step: int, what: str) -> None:
        raise TrainingCollapse(f"stopped at epoch {epoch}, step {step}: {what}; "
                               f"{ran_away(model, self.reference, self._since())}; "
                               f"{self._kept()}")

    def after_step(self, model: nn.Module, epoch: int, step: int, loss: Tensor,
                   correct: Tensor, seen: int) -> None:
        """Record one step (``epoch`` counts from 1); every CHECK_EVERY steps judge them."""
        if not self.enabled:
            return
        self.pending.append((epoch, step, loss.detach().float(), correct.detach(), seen))
        if len(self.pending) >= CHECK_EVERY:
            self.flush(model)

    def flush(self, model: nn.Module) -> None:
        """Judge the steps recorded since the last judgement."""
        if not self.enabled or not self.pending:
            return
        steps, self.pending = self.pending, []
        losses = torch.stack([s[2] for s in steps])
        bad = (~torch.isfinite(losses)).double().cpu().tolist()
        correct = torch.stack([s[3] for s in steps]).double().cpu().tolist()
        sums = self.all_sum(bad + correct + [float(s[4]) for s in steps])
        k = len(steps)
        bad, correct, seen = sums[:k], sums[k:2 * k], sums[2 * k:]
        for i, (epoch, step, loss, _, _) in enumerate(steps):
            if bad[i] > 0:
                v = float(loss)
                self._stop(model, epoch, step, f"the loss is {v}" if not math.isfinite(v)
                           else "the loss is not finite on another rank")
            self.window.append((correct[i], seen[i]))
            n = len(self.window)
            if n < CHECK_EVERY:
                continue
            acc = 100 * sum(c for c, _ in self.window) / sum(k for _, k in self.window)
            refs = [] if self.start is None else [(self.start, "the starting point's test top-1")]
            if self.best_window is not None:
                refs.append((self.best_window, f"its best over {WINDOW} steps"))
            for ref, what in refs:
                if ref - acc > TRAIN_DROP:
                    self._stop(model, epoch, step,
                               f"training top-1 over the last {n} steps fell to {acc:.2f} %, "
                               f"{ref - acc:.2f} points below {what} {ref:.2f} % "
                               f"(limit {TRAIN_DROP:g})")
            if n == WINDOW:
                self.best_window = acc if self.best_window is None else max(self.best_window,
                                                                            acc)

    def after_epoch(self, model: nn.Module, rec: dict) -> None:
        """Judge an epoch's record (before its checkpoint is written); it becomes the last good
        one if it passes."""
        if self.enabled:
            self.flush(model)
            top = rec["top1"]
            if (rec.get("test_images", 0) >= MIN_TEST_IMAGES and self.best_test is not None
                    and 100 * (self.best_test - top) > TEST_DROP):
                self._stop(model, rec["epoch"], rec["step"],
                           f"test top-1 fell to {100 * top:.2f} %, "
                           f"{100 * (self.best_test - top):.2f} points below the best "
                           f"{100 * self.best_test:.2f} % (limit {TEST_DROP:g})")
            if rec.get("test_images", 0) >= MIN_TEST_IMAGES:
                self.best_test = top if self.best_test is None else max(self.best_test, top)
        self.good = rec
        self.reference = watched(model)
