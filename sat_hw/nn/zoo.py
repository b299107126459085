"""The model zoo: trained SAT checkpoints shipped in ``zoo/`` (listed in ``zoo/index.json``).

Each entry of the index: ``file`` (beside the index), ``data`` (the dataset it was trained on),
``config`` (the checkpoint's model config: architecture, shape, method, per-layer bits), ``top1``
(test top-1, a fraction, measured on the full test set) and ``command`` (how it was trained).
``sat_hw build`` with no ``--checkpoint`` takes the entry whose config equals the configuration's
model exactly (shape, method, scale adjustment of the convs and every layer's bits; the fc's
``fc_scale`` comes with the checkpoint) and whose dataset is the
configured one; with none it builds the seeded calibrated model.
"""

from __future__ import annotations

import json
from pathlib import Path

from sat_hw.base.resources import resource_path

INDEX = "index.json"


def zoo_dir() -> Path | None:
    try:
        return resource_path("zoo")
    except FileNotFoundError:
        return None


def entries() -> list[dict]:
    """The index entries, each with ``path`` added; [] when no zoo is installed."""
    folder = zoo_dir()
    if folder is None or not (folder / INDEX).is_file():
        return []
    try:
        rows = json.loads((folder / INDEX).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"zoo index {str(folder / INDEX)!r} is not valid JSON: {e}") from None
    return [dict(r, path=folder / r["file"]) for r in rows]


def find(model_config: dict, data: str) -> dict | None:
    """The entry trained on ``data`` whose model config equals ``model_config``, or None."""
    want = _matched(json.loads(json.dumps(model_config)))  # the index's JSON types
    for e in entries():
        if e["data"] == data and _matched(e["config"]) == want and e["path"].is_file():
            return e
    return None


def _matched(config: dict) -> dict:
    """What a zoo model must match: all but ``fc_scale``, a training choice the checkpoint
    carries (the build takes it from the checkpoint)."""
    return {k: v for k, v in config.items() if k != "fc_scale"}


__all__ = ["entries", "find", "zoo_dir"]
