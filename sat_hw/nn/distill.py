"""Knowledge distillation: a teacher checkpoint's soft targets (or an ensemble's: several
checkpoints, comma separated) mixed into the training loss (``train.distill``,
``train.distill_weight``, ``train.distill_temperature``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sat_hw.nn.checkpoint import load_checkpoint


class Ensemble(nn.Module):
    """Several teachers as one: the mean of their logits (so the soft targets at temperature T
    are the normalised geometric mean of the members' own)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def load_teacher(spec: str, cfg: dict, device: torch.device) -> nn.Module:
    """The distillation teacher, eval mode: a checkpoint for the same input and classes, or
    several, comma separated, taken as one :class:`Ensemble`."""
    paths = [p.strip() for p in spec.split(",")]
    if not all(paths):
        raise ValueError(f"train.distill: {spec!r} has an empty checkpoint path")
    m, members = cfg["model"], []
    for path in paths:
        teacher = load_checkpoint(path)
        for k in ("resolution", "in_channels", "classes"):
            if teacher.config[k] != m[k]:
                raise ValueError(f"train.distill: teacher {path!r} has {k} {teacher.config[k]}, "
                                 f"the model being trained has {m[k]}")
        members.append(teacher)
    teacher = members[0] if len(members) == 1 else Ensemble(members)
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
