"""Exponential moving average of a model during training (``train.ema``)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class Ema:
    """Exponential moving average of a model's parameters and floating buffers (BN statistics),
    ``avg = decay * avg + (1 - decay) * value`` after every optimizer step, starting from the
    model's state; integer buffers (BN's batch count) are copied. ``model`` is the average, a
    copy of the trained model that evaluates and saves as it does."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        own = self.model.state_dict()
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                own[k].mul_(self.decay).add_(v, alpha=1 - self.decay)
            else:
                own[k].copy_(v)
