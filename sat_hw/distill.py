"""Knowledge distillation: a teacher checkpoint's soft targets mixed into the training loss
(``train.distill``, ``train.distill_weight``, ``train.distill_temperature``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import load_checkpoint


def load_teacher(path: str, cfg: dict, device: torch.device) -> nn.Module:
    """The distillation teacher: a checkpoint for the same input and classes, eval mode."""
    teacher = load_checkpoint(path)
    m = cfg["model"]
    for k in ("resolution", "in_channels", "classes"):
        if teacher.config[k] != m[k]:
            raise ValueError(f"train.distill: teacher {path!r} has {k} {teacher.config[k]}, the "
                             f"model being trained has {m[k]}")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.to(device).eval()


def distill_loss(ce: Tensor, logits: Tensor, teacher_logits: Tensor, weight: float,
                 temperature: float) -> Tensor:
    """``(1 - weight) * ce + weight * T^2 * KL(softmax(teacher/T) || softmax(student/T))``,
    the KL averaged over the batch (Hinton et al.'s soft targets; T^2 keeps the gradient's
    scale independent of T)."""
    kl = F.kl_div(F.log_softmax(logits / temperature, 1),
                  F.log_softmax(teacher_logits.detach() / temperature, 1),
                  reduction="batchmean", log_target=True)
    return (1 - weight) * ce + weight * temperature**2 * kl
