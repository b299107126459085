"""Exponential moving average of a model during training (``train.ema``)."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

BN_IMAGES = 10240
"""Training images (a seeded draw, un-augmented) that re-estimate the average's BN statistics."""


class Ema:
    """Exponential moving average of a model's parameters (weights, BN affine, alphas),
    ``avg = decay * avg + (1 - decay) * value`` after every optimizer step, starting from the
    model's. ``model`` is the average: a copy of the trained model that evaluates and saves as it
    does once :meth:`refresh_bn` has set its BN statistics. Running statistics are not averaged:
    averaged weights, quantized, give other conv outputs than any of the models they average
    (measured: SAT W4A4 at epoch 13 scored 89.60 % with averaged statistics, 92.68 % with
    re-estimated ones, 92.19 % for the raw weights)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for avg, p in zip(self.model.parameters(), model.parameters()):
            avg.mul_(self.decay).add_(p, alpha=1 - self.decay)

    def refresh_bn(self, images: Tensor, batch: int = 256) -> None:
        reestimate_bn(self.model, images, batch)


@torch.no_grad()
def reestimate_bn(model: nn.Module, images: Tensor, batch: int = 256) -> None:
    """Every BN's running statistics as the plain average over ``images`` (uint8 codes) in
    batches of ``batch`` (in order): "precise BN". Leaves the model in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for x in images.split(batch):
        model(x.float())
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    model.eval()
