"""Data loaders: real Fashion-MNIST files, a fake CIFAR-10 folder, an image folder of PNGs."""

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sat_hw.nn.data import FASHION_MNIST_ROOT, TensorImages, adapt, load_split, num_classes

HAVE_FMNIST = (Path(FASHION_MNIST_ROOT) / "t10k-labels-idx1-ubyte.gz").is_file()
needs_fmnist = pytest.mark.skipif(not HAVE_FMNIST, reason="apt-get install dataset-fashion-mnist")


@needs_fmnist
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_real_files(split, n):
    ds = load_split("fashion-mnist", "", split, 28, 1)
    assert isinstance(ds, TensorImages) and len(ds) == n
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    assert ds.labels.min() == 0 and ds.labels.max() == 9
    assert torch.equal(ds.labels.bincount(), torch.full((10,), n // 10))
    assert ds.images.max() == 255 and ds.images.min() == 0
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.uint8 and isinstance(y, int)
    assert num_classes("fashion-mnist") == 10


@needs_fmnist
def test_fashion_mnist_resize_and_channels():
    ds = load_split("fashion-mnist", "", "test", 16, 3)
    assert ds.images.shape == (10000, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[:, 0], ds.images[:, 2])  # 1 -> 3 repeats the plane


def test_fashion_mnist_missing_file(tmp_path):
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist") as e:
        load_split("fashion-mnist", str(tmp_path), "train", 28, 1)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and "\n" not in str(e.value)


def _write_idx(path: Path, a: np.ndarray) -> None:
    header = bytes([0, 0, 8, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + a.astype(np.uint8).tobytes())


def test_fashion_mnist_custom_root(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5))
    ds = load_split("fashion-mnist", str(tmp_path), "test", 28, 1)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(imgs.astype(np.uint8)))
    assert ds.labels.tolist() == [0, 1, 2, 3, 4]
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(4))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        load_split("fashion-mnist", str(tmp_path), "test", 28, 1)


def fake_cifar(folder: Path, per_batch: int = 4, test: int = 6, seed: int = 0) -> Path:
    """A cifar-10-batches-py folder with tiny random batches; returns its parent."""
    root = folder / "cifar-10-batches-py"
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = test if name == "test_batch" else per_batch
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        (root / name).write_bytes(pickle.dumps(d))
    meta = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    (root / "batches.meta").write_bytes(pickle.dumps(meta))
    return folder


def test_cifar10_fake_folder(tmp_path):
    parent = fake_cifar(tmp_path)
    for root in (parent, parent / "cifar-10-batches-py"):  # the folder or its parent
        tr = load_split("cifar10", str(root), "train", 32, 3)
        assert tr.images.shape == (20, 3, 32, 32) and tr.images.dtype == torch.uint8
        assert tr.labels.dtype == torch.int64 and len(tr) == 20
        assert tr.classes == [f"c{i}" for i in range(10)]
    d = pickle.loads((parent / "cifar-10-batches-py" / "test_batch").read_bytes())
    te = load_split("cifar10", str(parent), "test", 32, 3)
    assert torch.equal(te.images.reshape(6, -1), torch.from_numpy(d[b"data"]))
    assert te.labels.tolist() == d[b"labels"]
    gray = load_split("cifar10", str(parent), "val", 16, 1)
    assert gray.images.shape == (6, 1, 16, 16)
    assert num_classes("cifar10", str(parent)) == 10


def test_cifar10_missing(tmp_path):
    with pytest.raises(ValueError, match="data_batch_1.*does not exist"):
        load_split("cifar10", str(tmp_path), "train", 32, 3)
    with pytest.raises(ValueError, match="--data-root"):
        load_split("cifar10", "", "train", 32, 3)


def test_adapt_luminance_and_errors():
    x = torch.tensor([[[[255]], [[0]], [[0]]], [[[10]], [[200]], [[40]]]], dtype=torch.uint8)
    y = adapt(x, 1, 1)
    assert y.dtype == torch.uint8
    luma = [round(0.299 * 255), round(0.299 * 10 + 0.587 * 200 + 0.114 * 40)]
    assert y.flatten().tolist() == luma
    assert adapt(x, 1, 3) is x
    with pytest.raises(ValueError, match="2 channels to in_channels 3"):
        adapt(torch.zeros(1, 2, 4, 4, dtype=torch.uint8), 4, 3)
    with pytest.raises(ValueError, match="3 channels to in_channels 4"):
        adapt(x, 1, 4)
    up = adapt(torch.full((1, 1, 4, 4), 77, dtype=torch.uint8), 8, 1)
    assert up.shape == (1, 1, 8, 8) and (up == 77).all()


def test_invalid_name_and_split():
    with pytest.raises(ValueError, match="'mnist'"):
        load_split("mnist", "", "train", 28, 1)
    with pytest.raises(ValueError, match="'dev'"):
        load_split("fashion-mnist", "", "dev", 28, 1)
    with pytest.raises(ValueError, match="'svhn'"):
        num_classes("svhn")


def test_imagefolder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    colours = {"cat": (255, 0, 0), "dog": (0, 0, 255), "owl": (0, 255, 0)}
    for split in ("train", "val"):
        for name, rgb in colours.items():
            d = tmp_path / split / name
            d.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (20 + 4 * i, 12), rgb).save(d / f"{i}.png")
            (d / "notes.txt").write_text("not an image")
    assert num_classes("imagefolder", str(tmp_path)) == 3
    ds = load_split("imagefolder", str(tmp_path), "train", 8, 3)
    assert len(ds) == 6 and ds.classes == ["cat", "dog", "owl"]
    x, y = ds[2]
    assert x.shape == (3, 8, 8) and x.dtype == torch.uint8 and y == 1
    assert x[2].min() == 255 and x[0].max() == 0  # blue dog, resized and centre-cropped
    g = load_split("imagefolder", str(tmp_path), "test", 8, 1)
    assert g[0][0].shape == (1, 8, 8) and abs(int(g[0][0][0, 0, 0]) - 76) <= 1  # luma of red
    with pytest.raises(ValueError, match="in_channels must be 1 or 3, got 2"):
        load_split("imagefolder", str(tmp_path), "train", 8, 2)
    with pytest.raises(ValueError, match="not a folder"):
        load_split("imagefolder", str(tmp_path / "nowhere"), "train", 8, 3)
