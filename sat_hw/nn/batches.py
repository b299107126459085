"""Data order, augmentation and batch loading for training and evaluation.

- ``epoch_batches``: one epoch's index batches of one rank, sharded as DistributedSampler shards.
- ``augment``: random flip, random crop after zero padding, random erasing, on uint8 codes;
  every draw comes from the caller's generator, so a run is reproducible and resumable.
- ``Loader``: (codes, labels) batches on a device, by direct indexing for in-memory datasets.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

PAD = 2  # random-crop padding in pixels


def epoch_batches(n: int, batch_size: int, epoch: int, seed: int, rank: int = 0, world: int = 1,
            shuffle: bool = True, drop_last: bool = True) -> list[Tensor]:
    """Index batches of this rank for one epoch (DistributedSampler's sharding)."""
    if shuffle:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    if world > 1:
        if shuffle:  # pad to a multiple of world, as DistributedSampler does
            order = torch.cat([order, order[: math.ceil(n / world) * world - n]])
        order = order[rank::world]
    if drop_last and len(order) >= batch_size:
        order = order[: len(order) // batch_size * batch_size]
    return list(order.split(batch_size))


ERASE_AREA = (0.02, 0.25)  # random erasing: share of the image area, uniform
ERASE_RATIO = (0.3, 3.3)   # and aspect ratio h/w, log-uniform


def augment(x: Tensor, g: torch.Generator, pad: int = PAD, erase: float = 0.0) -> Tensor:
    """Random horizontal flip, random crop after zero padding by ``pad`` pixels, and with
    probability ``erase`` a random rectangle set to 0 (random erasing / cutout: area share
    ``ERASE_AREA``, aspect ``ERASE_RATIO``), on uint8 codes (N, C, H, W)."""
    n, c, h, w = x.shape
    flip = torch.rand(n, generator=g, device=x.device) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    if pad > 0:
        p = F.pad(x, (pad, pad, pad, pad))
        dy, dx = (torch.randint(0, 2 * pad + 1, (2, n), generator=g, device=x.device))
        rows = (dy.view(n, 1, 1, 1) + torch.arange(h, device=x.device).view(1, 1, h, 1))
        p = p.gather(2, rows.expand(n, c, h, w + 2 * pad))
        cols = (dx.view(n, 1, 1, 1) + torch.arange(w, device=x.device).view(1, 1, 1, w))
        x = p.gather(3, cols.expand(n, c, h, w))
    if erase > 0:
        x = _erase(x, g, erase)
    return x


def _erase(x: Tensor, g: torch.Generator, prob: float) -> Tensor:
    n, _, h, w = x.shape
    u = torch.rand(5, n, generator=g, device=x.device)
    area = (ERASE_AREA[0] + u[0] * (ERASE_AREA[1] - ERASE_AREA[0])) * h * w
    lo, hi = math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1])
    ratio = torch.exp(lo + u[1] * (hi - lo))
    eh = (area * ratio).sqrt().round().clamp(1, h)
    ew = (area / ratio).sqrt().round().clamp(1, w)
    y0 = (u[2] * (h - eh + 1)).floor()
    x0 = (u[3] * (w - ew + 1)).floor()
    on = u[4] < prob
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    box = ((rows >= y0.view(n, 1, 1)) & (rows < (y0 + eh).view(n, 1, 1))
           & (cols >= x0.view(n, 1, 1)) & (cols < (x0 + ew).view(n, 1, 1)) & on.view(n, 1, 1))
    return x.masked_fill(box.unsqueeze(1), 0)


class Loader:
    """Batches of (uint8 codes, labels) on ``device``: direct indexing for in-memory sets."""

    def __init__(self, dataset, device: torch.device, workers: int = 0):
        self.dataset, self.device, self.workers = dataset, device, workers
        self.images = getattr(dataset, "images", None)
        if self.images is not None:
            self.images = self.images.to(device)
            self.labels = dataset.labels.to(device)

    def __len__(self) -> int:
        return len(self.dataset)

    def __call__(self, batches: list[Tensor]):
        if self.images is not None:
            for idx in batches:
                idx = idx.to(self.device)
                yield self.images[idx], self.labels[idx]
            return
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=[b.tolist() for b in batches], num_workers=self.workers,
            pin_memory=self.device.type == "cuda")
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
