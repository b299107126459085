"""Scoring: top-1 of a model on a dataset (each epoch of training, sharded over torchrun ranks)
and of a checkpoint on a test split (``sat_hw eval``)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from sat_hw.nn.batches import Loader, epoch_batches
from sat_hw.nn.checkpoint import load_checkpoint
from sat_hw.nn.data import load_split, serves


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model: nn.Module, dataset, batch_size: int = 256, rank: int = 0,
             world: int = 1) -> float:
    """Top-1 accuracy (a fraction in [0, 1]) of ``model`` on ``dataset``.

    With ``world`` > 1 every rank scores its shard and the counts are summed over the group.
    """
    device = _model_device(model)
    was_training = model.training
    model.eval()
    loader = dataset if isinstance(dataset, Loader) else Loader(dataset, device)
    batches = epoch_batches(len(loader), batch_size, 0, 0, rank, world, shuffle=False,
                            drop_last=False)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    total = 0
    for x, y in loader(batches):
        correct += (model(x.float()).argmax(1) == y).sum()
        total += len(y)
    counts = torch.tensor([float(correct), float(total)], dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(counts)
    model.train(was_training)
    return float(counts[0] / counts[1]) if counts[1] > 0 else 0.0


def first_items(dataset, count: int):
    """The first ``count`` items of a dataset (in-memory sets stay in memory)."""
    from sat_hw.nn.data import TensorImages

    if count >= len(dataset):
        return dataset
    if isinstance(dataset, TensorImages):
        return TensorImages(dataset.images[:count], dataset.labels[:count], dataset.classes)
    return torch.utils.data.Subset(dataset, range(count))


def run_eval(ckpt_path: str | Path, data_cfg: dict | None = None, batch_size: int = 256,
             images: int | None = None) -> dict:
    """Top-1 of a checkpoint on a test split.

    The dataset is ``data_cfg["name"]`` when given, else the one the checkpoint was trained on
    (its ``meta["data"]``; root from ``data_cfg["root"]``, else the checkpoint's), else an
    error. ``images``: score the first N test images (default all). The input shape comes from
    the checkpoint. Returns {top1 (fraction), images, checkpoint, data, data_source, method,
    device}.
    """
    model = load_checkpoint(ckpt_path)
    c, meta = model.config, getattr(model, "meta", {}) or {}
    data_cfg = dict(data_cfg or {})
    if data_cfg.get("name"):
        name, source = data_cfg["name"], "--data"
    elif meta.get("data"):
        name, source = meta["data"], "the dataset the checkpoint was trained on"
    else:
        raise ValueError(f"checkpoint {str(ckpt_path)!r} does not record its dataset: pass --data")
    root = data_cfg.get("root") or (meta.get("data_root", "") if name == meta.get("data") else "")
    why = serves(name, root, c["in_channels"], c["classes"])
    if why is not None:
        raise ValueError(f"checkpoint {str(ckpt_path)!r} cannot be scored on {name}: {why}")
    test = load_split(name, root, "test", c["resolution"], c["in_channels"])
    if images is not None:
        test = first_items(test, images)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    loader = Loader(test, device, data_cfg.get("workers", 0))
    top1 = evaluate(model, loader, batch_size)
    return {"top1": top1, "images": len(test), "checkpoint": str(ckpt_path), "data": name,
            "data_source": source, "method": c["method"], "device": str(device)}


__all__ = ["evaluate", "first_items", "run_eval"]
