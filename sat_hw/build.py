"""``sat_hw build``: configuration -> model -> integer graph -> golden -> build folder.

The pipeline, in order (each step a plain function):

1. ``make_model``: load ``--checkpoint``, or a seeded model calibrated on real training images
   when the model fits the configured dataset (else on seeded random codes);
2. ``lower`` + ``verify``: the integer layer graph;
3. ``make_inputs``: ``--images`` real test images when the model fits them, else seeded codes;
4. ``run_golden``: the bit-exact integer outputs; ``torch_codes`` + ``agreement``: how far the
   PyTorch fake-quant model agrees with it;
5. ``write_tree``: every file at once, into a temporary folder renamed into place.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .config import layer_bits, model_from_config, to_toml
from .graph.agreement import agreement
from .graph.golden import run_golden
from .graph.lower import lower, torch_codes
from .graph.serialize import files_hash, graph_files
from .report import make_report, render_markdown
from .writer import npy_bytes, write_tree

MODEL_KEYS = ("name", "width", "resolution", "in_channels", "classes")
EDGE_LAYERS = ("conv0", "pool", "fc")  # bits not set by --wbits/--abits


def _inner_bits(ckpt_cfg: dict) -> list[dict]:
    """The checkpoint's bits of the layers that --wbits/--abits set."""
    return [b for n, b in ckpt_cfg["bits"].items() if n not in EDGE_LAYERS]


def _say(msg: str) -> None:
    print(f"sat_hw build: {msg}", file=sys.stderr, flush=True)


def _dataset_fits(cfg: dict) -> bool:
    """Real images are used when the dataset's channels and classes match the model."""
    from .data import num_classes

    d, m = cfg["data"], cfg["model"]
    native = {"fashion-mnist": 1, "cifar10": 3}.get(d["name"])
    if native is None or m["in_channels"] != native:
        return False
    try:
        return num_classes(d["name"], d["root"]) == m["classes"]
    except ValueError:
        return False


def _real_images(cfg: dict, split: str, count: int, seed: int) -> np.ndarray | None:
    """``count`` images of ``split`` (seeded choice), uint8 (N, C, H, W); None if unavailable."""
    from .data import load_split

    if not _dataset_fits(cfg):
        return None
    m, d = cfg["model"], cfg["data"]
    try:
        ds = load_split(d["name"], d["root"], split, m["resolution"], m["in_channels"])
    except ValueError as e:
        _say(f"no real {split} images ({e}); using random codes")
        return None
    images = ds.images.numpy()
    if split == "test":  # the first test images: reproducible and easy to look up
        return images[:count]
    idx = np.random.default_rng(seed).choice(len(images), min(count, len(images)), replace=False)
    return images[np.sort(idx)]


def _random_codes(cfg: dict, count: int, seed: int) -> np.ndarray:
    m = cfg["model"]
    shape = (count, m["in_channels"], m["resolution"], m["resolution"])
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _check_against_checkpoint(ckpt_cfg: dict, explicit: dict) -> None:
    """A flag that contradicts the checkpoint is an error (the checkpoint fixes the model)."""
    for key, v in (explicit.get("model") or {}).items():
        if v is not None and ckpt_cfg.get(key) != v:
            raise ValueError(f"--{key.replace('_', '-')} {v} contradicts the checkpoint's "
                             f"{key} {ckpt_cfg.get(key)}")
    q = explicit.get("quant") or {}
    for key in ("wbits", "abits"):
        v = q.get(key)
        inner = {b[key] for b in _inner_bits(ckpt_cfg)}
        if v is not None and inner != {v}:
            raise ValueError(f"--{key} {v} contradicts the checkpoint's {key} {sorted(inner)}")


def default_out(cfg: dict) -> str:
    """``builds/<model>_w<wbits>a<abits>``: one folder per bit configuration."""
    q = cfg["quant"]
    return f"builds/{cfg['model']['name']}_w{q['wbits']}a{q['abits']}"


def make_model(cfg: dict, checkpoint: Path | None, explicit: dict):
    """The model to build and a line saying where it came from. Updates ``cfg`` from a checkpoint."""
    from .models import calibrate, load_checkpoint

    if checkpoint is not None:
        model = load_checkpoint(checkpoint)
        c = model.config
        _check_against_checkpoint(c, explicit)
        cfg["model"].update({k: c[k] for k in MODEL_KEYS})
        cfg["quant"].update(method=c["method"], scale_all_convs=c["scale_all_convs"])
        inner = _inner_bits(c)
        cfg["quant"].update(wbits=inner[0]["wbits"], abits=inner[0]["abits"],
                            first_wbits=c["bits"]["conv0"]["wbits"],
                            last_wbits=c["bits"]["fc"]["wbits"])
        defaults = layer_bits({**cfg, "quant": {**cfg["quant"], "layers": {}}})
        cfg["quant"]["layers"] = {n: {k: v for k, v in b.items() if defaults[n].get(k) != v}
                                  for n, b in c["bits"].items() if b != defaults[n]}
        _say(f"loaded checkpoint {checkpoint}")
        return model, f"checkpoint {checkpoint}"
    if cfg["quant"]["method"] == "fp":
        raise ValueError("quant.method fp has no integer form: build needs pact, cgpact or sat")
    seed = cfg["build"]["seed"]
    model = model_from_config(cfg, seed=seed)
    n = cfg["quant"]["calib_images"]
    images = _real_images(cfg, "train", n, seed)
    source = f"{cfg['data']['name']} training images" if images is not None else "random codes"
    if images is None:
        images = _random_codes(cfg, n, seed + 1)
    calibrate(model, images, cfg["quant"]["calib_percentile"])
    _say(f"no --checkpoint: untrained model, seed {seed}, calibrated on {len(images)} {source}")
    return model, f"untrained, seed {seed}, calibrated on {len(images)} {source}"


def make_inputs(cfg: dict) -> tuple[np.ndarray, str]:
    n, seed = cfg["build"]["images"], cfg["build"]["seed"]
    images = _real_images(cfg, "test", n, seed)
    if images is not None:
        return images, f"the first {len(images)} {cfg['data']['name']} test images"
    return _random_codes(cfg, n, seed + 2), f"seeded random codes (seed {seed + 2})"


def build(cfg: dict, checkpoint: Path | None = None, explicit: dict | None = None,
          no_sim: bool = False) -> Path:
    """Run the pipeline and write the build folder ``cfg['build']['out']``; returns its path."""
    from .models import checkpoint_bytes

    model, weights = make_model(cfg, checkpoint, explicit or {})
    out = Path(cfg["build"]["out"] or default_out(cfg))
    graph = lower(model)  # verified by its last pass
    gfiles = graph_files(graph)
    digest = files_hash(gfiles)
    _say(f"lowered to {len(graph.layers)} layers (graph {digest})")
    inputs, source = make_inputs(cfg)
    golden = run_golden(graph, inputs)
    agree = agreement(torch_codes(model, inputs), golden, graph=graph)
    twin = agreement(torch_codes(model, inputs, precision="float64"), golden)
    agree["float64"] = {k: twin[k] for k in ("code_match_rate", "top1_match_rate")}
    iso = agree["isolated"]
    _say(f"golden on {len(inputs)} images; PyTorch (float32) agreement: codes "
         f"{100 * agree['code_match_rate']:.3f} %, top-1 {100 * agree['top1_match_rate']:.1f} %; "
         f"layer by layer {100 * iso['code_match_rate']:.4f} % ({iso['ties']} of "
         f"{iso['mismatches']} differences are rounding ties); float64 model: codes "
         f"{100 * twin['code_match_rate']:.3f} %")
    q = cfg["quant"]
    info = {"wbits": q["wbits"], "abits": q["abits"], "method": q["method"], "weights": weights,
            "inputs": source, "graph_hash": digest, "seed": cfg["build"]["seed"],
            "simulated": False if no_sim else "not yet (no generator in this version)"}
    report = make_report(graph, agree, info)
    files: dict[str, bytes | str] = {f"graph/{k}": v for k, v in gfiles.items()}
    files.update({
        "flow.toml": to_toml(cfg),
        "model.pt": checkpoint_bytes(model, {"source": weights, **getattr(model, "meta", {})}),
        "sim/inputs.npy": npy_bytes(np.ascontiguousarray(inputs, dtype=np.uint8)),
        "sim/golden.npy": npy_bytes(golden.outputs.astype(np.int64)),
        "report.json": json.dumps(report, indent=1) + "\n",
        "report.md": render_markdown(report),
    })
    path = write_tree(out, files)
    _say(f"wrote {path}")
    return path


__all__ = ["build", "make_inputs", "make_model"]
