"""Where a trained quantized model loses accuracy: raise one group's bits to 8 after training.

The latent weights and the alphas stay as trained; only the bits of one group change (depthwise
weights, pointwise weights, the activations into depthwise or pointwise layers, or every
activation). BN statistics are then re-estimated as a plain average over ``--batches`` batches of
un-augmented training images (the same draw for every variant), and the test set is scored.
Not a test: it prints a table.

    python benchmarks/bit_sensitivity.py zoo/mbv1_fm_sat_w4a4.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sat_hw.flow.evaluate import evaluate
from sat_hw.nn.checkpoint import load_checkpoint
from sat_hw.nn.data import load_split
from sat_hw.nn.ema import reestimate_bn
from sat_hw.nn.models import ConvLayer


def weights_to(op: str, bits: int):
    def change(model) -> None:
        for layer in model.layers.values():
            if isinstance(layer, ConvLayer) and layer.spec.op == op:
                layer.conv.wbits = bits
    return change


def activations_to(bits: int, op: str | None = None):
    def change(model) -> None:
        for layer in model.layers.values():
            act = getattr(layer, "act", None)
            spec = getattr(layer, "spec", None)
            if act is not None and (op is None or (spec is not None and spec.op == op)):
                act.bits = bits
    return change


VARIANTS = [
    ("as trained", None, False),
    ("as trained, BN re-estimated", lambda m: None, True),
    ("depthwise weights 8-bit", weights_to("dw", 8), True),
    ("pointwise weights 8-bit", weights_to("pw", 8), True),
    ("activations into depthwise 8-bit", activations_to(8, "dw"), True),
    ("activations into pointwise 8-bit", activations_to(8, "pw"), True),
    ("every activation 8-bit", activations_to(8), True),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--batches", type=int, default=40, help="BN re-estimation batches of 256")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = load_checkpoint(a.checkpoint)
    meta, cfg = base.meta or {}, base.config
    data, root = meta.get("data", "fashion-mnist"), meta.get("data_root") or ""
    train = load_split(data, root, "train", cfg["resolution"], cfg["in_channels"])
    test = load_split(data, root, "test", cfg["resolution"], cfg["in_channels"])
    idx = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(0))
    images = train.images[idx[: a.batches * 256]]
    print(f"{a.checkpoint}: test top-1 on {len(test)} images")
    print("| variant | top-1 (%) |\n|---|---|")
    for name, change, bn in VARIANTS:
        model = load_checkpoint(a.checkpoint)
        if change is not None:
            change(model)
        if bn:
            reestimate_bn(model, images)
        print(f"| {name} | {100 * evaluate(model, test):.2f} |", flush=True)


if __name__ == "__main__":
    main()
