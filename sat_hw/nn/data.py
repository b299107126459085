"""Datasets as uint8 input codes. Nothing is ever downloaded.

Every item is ``(codes, label)``: ``codes`` a uint8 tensor (C, H, W) holding ``round(255 * img)``
(the model's input contract, no mean/std normalisation) and ``label`` an int.

- ``fashion-mnist``: the IDX ``.gz`` files of Debian's ``dataset-fashion-mnist`` (default folder
  ``/usr/share/datasets/fashion-mnist``), 60000 train / 10000 test images, 1x28x28.
- ``cifar10``: the python-batches folder ``cifar-10-batches-py`` (``data_batch_1..5`` for train,
  ``test_batch`` for test); ``root`` is that folder or its parent. 3x32x32.
- ``imagefolder``: ``root/train/<class>/*`` and ``root/val/<class>/*`` (jpg, jpeg, png), decoded
  lazily with Pillow: shorter side resized to ``resolution`` (bilinear), then a centre crop.

The first two are held in memory (:class:`TensorImages`, ``.images`` (N, C, H, W) uint8 and
``.labels`` (N,) int64) so training can batch by indexing. Their shape is adapted to the model:
a different resolution is resized (bilinear, antialiased when shrinking) and rounded back to uint8;
1 -> 3 channels repeats the plane, 3 -> 1 takes the luminance ``0.299 R + 0.587 G + 0.114 B``
(rounded; Pillow's ``L`` conversion uses the same weights). Splits: ``train``, and ``test`` (``val``
is the same held-out split).

One rule for training and building: a dataset serves a model when its classes equal the model's
and its channels convert (same, 1 -> 3 or 3 -> 1); the images are then adapted as above and
:func:`adaptation` says how in words. Training refuses a dataset that does not serve the model;
``sat_hw build`` then calibrates and tests on seeded random codes instead, and says so.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

DATASETS = ("fashion-mnist", "cifar10", "imagefolder")
SPLITS = ("train", "test", "val")
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
NATIVE_SHAPE = {"fashion-mnist": (1, 28), "cifar10": (3, 32)}
"""(channels, resolution) of the in-memory datasets' files."""
_LUMA = (0.299, 0.587, 0.114)


class TensorImages(Dataset):
    """An in-memory dataset: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    def __init__(self, images: Tensor, labels: Tensor, classes: list[str]):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got "
                             f"{tuple(labels.shape)}")
        self.images, self.labels = images, labels.to(torch.int64)
        self.classes = list(classes)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], int(self.labels[i])


class ImageFolderCodes(Dataset):
    """``root/<class>/<image>`` decoded on access to uint8 codes (C, resolution, resolution)."""

    def __init__(self, folder: Path, resolution: int, in_channels: int):
        if in_channels not in (1, 3):
            raise ValueError(f"imagefolder: in_channels must be 1 or 3, got {in_channels}")
        self.folder, self.resolution, self.in_channels = folder, resolution, in_channels
        self.classes = _class_dirs(folder)
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(self.classes):
            files = sorted(p for p in (folder / name).iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            self.samples += [(p, label) for p in files]
        if not self.samples:
            raise ValueError(f"imagefolder: no {'/'.join(IMAGE_SUFFIXES)} images under "
                             f"{str(folder)!r}")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        path, label = self.samples[i]
        return decode_image(path, self.resolution, self.in_channels), label


def decode_image(path: Path, resolution: int, in_channels: int) -> Tensor:
    """An image file as uint8 codes (C, resolution, resolution).

    The shorter side is resized to ``resolution`` (bilinear), then the centre is cropped.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("imagefolder needs Pillow: pip install pillow") from None
    with Image.open(path) as im:
        im = im.convert("L" if in_channels == 1 else "RGB")
        w, h = im.size
        s = resolution / min(w, h)
        nw, nh = max(resolution, round(w * s)), max(resolution, round(h * s))
        im = im.resize((nw, nh), Image.Resampling.BILINEAR)
        left, top = (nw - resolution) // 2, (nh - resolution) // 2
        im = im.crop((left, top, left + resolution, top + resolution))
        a = np.array(im, dtype=np.uint8)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(a))


def _check(name: str, split: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def _class_dirs(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise ValueError(f"imagefolder: {str(folder)!r} is not a folder (expected "
                         f"<root>/train/<class>/ and <root>/val/<class>/)")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not names:
        raise ValueError(f"imagefolder: no class folders under {str(folder)!r}")
    return names


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) of unsigned bytes as a numpy array."""
    if not path.is_file():
        raise ValueError(f"fashion-mnist: {str(path)!r} does not exist; install it with "
                         f"`apt-get install dataset-fashion-mnist` or pass --data-root "
                         f"(data.root in flow.toml)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"fashion-mnist: {str(path)!r} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"fashion-mnist: {str(path)!r} holds {data.size} bytes, header says "
                         f"{dims}")
    return data.reshape(dims)


def _fashion_mnist(root: str, split: str) -> TensorImages:
    folder = Path(root or FASHION_MNIST_ROOT)
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"fashion-mnist {split}: {images.shape[0]} images but "
                         f"{labels.shape[0]} labels in {str(folder)!r}")
    return TensorImages(torch.from_numpy(images.copy()).unsqueeze(1),
                        torch.from_numpy(labels.astype(np.int64)), list(FASHION_MNIST_CLASSES))


def _cifar_folder(root: str) -> Path:
    if not root:
        raise ValueError("cifar10: pass --data-root (data.root in flow.toml): the "
                         "cifar-10-batches-py folder")
    folder = Path(root)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    return folder


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"cifar10: {str(path)!r} does not exist (expected the python-batches "
                         f"folder cifar-10-batches-py)")
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def _cifar10(root: str, split: str) -> TensorImages:
    folder = _cifar_folder(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for n in names:
        d = _unpickle(folder / n)
        x = np.asarray(d["data"], dtype=np.uint8)
        if x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
            raise ValueError(f"cifar10: {str(folder / n)!r} data must be (N, 3072), got {x.shape}")
        xs.append(x.reshape(-1, 3, 32, 32))
        ys.append(np.asarray(d["labels"], dtype=np.int64))
    meta = folder / "batches.meta"
    classes = [f"class{i}" for i in range(10)]
    if meta.is_file():
        classes = [c.decode() if isinstance(c, bytes) else c
                   for c in _unpickle(meta).get("label_names", classes)]
    return TensorImages(torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)),
                        classes)


_IMAGEFOLDER_ROOT = ("imagefolder: pass --data-root (data.root in flow.toml): a folder with "
                     "train/<class>/ and val/<class>/")


def channels_convert(have: int, want: int) -> bool:
    """Whether :func:`adapt` turns ``have`` channels into ``want`` (same, 1 -> 3, 3 -> 1)."""
    return have == want or (have, want) in ((1, 3), (3, 1))


def serves(name: str, root: str, in_channels: int, classes: int) -> str | None:
    """None when dataset ``name`` serves a model of this shape, else the reason in words."""
    have = num_classes(name, root)
    if have != classes:
        return f"model.classes is {classes} but dataset {name} has {have} classes"
    if name == "imagefolder":  # decoded to grey or RGB as asked
        ok, native = in_channels in (1, 3), "1 or 3"
    else:
        native = NATIVE_SHAPE[name][0]
        ok = channels_convert(native, in_channels)
    if not ok:
        return (f"model.in_channels is {in_channels} but dataset {name} has {native} channel(s) "
                f"(only 1 -> 3 and 3 -> 1 convert)")
    return None


def adaptation(name: str, resolution: int, in_channels: int) -> str:
    """How the images of ``name`` are adapted to the model's input, in words ("" if not)."""
    if name == "imagefolder":
        return (f"shorter side resized to {resolution} px, centre crop"
                + (", grey" if in_channels == 1 else ""))
    c, r = NATIVE_SHAPE[name]
    notes = []
    if r != resolution:
        notes.append(f"resized from {r}x{r} to {resolution}x{resolution} px (bilinear)")
    if (c, in_channels) == (1, 3):
        notes.append("grey plane repeated into 3 channels")
    elif (c, in_channels) == (3, 1):
        notes.append("converted to grey (0.299 R + 0.587 G + 0.114 B)")
    return ", ".join(notes)


def adapt(images: Tensor, resolution: int, in_channels: int, chunk: int = 4096) -> Tensor:
    """uint8 (N, C, H, W) codes to ``in_channels`` x ``resolution``^2 (see the module doc)."""
    n, c, h, w = images.shape
    if c != in_channels and not (c == 1 and in_channels == 3) and not (c == 3 and in_channels == 1):
        raise ValueError(f"cannot convert images with {c} channels to in_channels {in_channels} "
                         f"(only 1 -> 3 and 3 -> 1)")
    if (h, w) == (resolution, resolution) and c == in_channels:
        return images
    out = torch.empty((n, in_channels, resolution, resolution), dtype=torch.uint8)
    luma = torch.tensor(_LUMA).view(1, 3, 1, 1)
    for i in range(0, n, chunk):
        x = images[i:i + chunk].float()
        if c == 3 and in_channels == 1:
            x = (x * luma).sum(1, keepdim=True)
        if (h, w) != (resolution, resolution):
            shrink = resolution < max(h, w)
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear",
                              align_corners=False, antialias=shrink)
        if c == 1 and in_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        out[i:i + chunk] = x.round().clamp(0, 255).to(torch.uint8)
    return out


def load_split(name: str, root: str, split: str, resolution: int, in_channels: int) -> Dataset:
    """The ``split`` of dataset ``name`` as uint8 codes (in_channels, resolution, resolution).

    ``root`` "" means the dataset's default folder (only fashion-mnist has one).
    """
    _check(name, split)
    if name == "imagefolder":
        if not root:
            raise ValueError(_IMAGEFOLDER_ROOT)
        return ImageFolderCodes(Path(root) / ("train" if split == "train" else "val"),
                                resolution, in_channels)
    ds = _fashion_mnist(root, split) if name == "fashion-mnist" else _cifar10(root, split)
    ds.images = adapt(ds.images, resolution, in_channels)
    return ds


def num_classes(name: str, root: str = "") -> int:
    """Classes of dataset ``name`` (imagefolder: the class folders under ``root/train``)."""
    _check(name, "train")
    if name == "imagefolder":
        if not root:
            raise ValueError(_IMAGEFOLDER_ROOT)
        return len(_class_dirs(Path(root) / "train"))
    return 10


__all__ = [
    "DATASETS",
    "SPLITS",
    "ImageFolderCodes",
    "TensorImages",
    "adapt",
    "adaptation",
    "channels_convert",
    "decode_image",
    "load_split",
    "num_classes",
    "serves",
]
