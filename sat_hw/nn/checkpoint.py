"""Checkpoints: the self-describing file a trained model is saved to and rebuilt from.

A checkpoint is a ``torch.save`` dict: ``format`` ("sat_hw-checkpoint"), ``version`` (1),
``config`` (the model's architecture, shape, method and per-layer bits: enough to rebuild it with
:func:`sat_hw.nn.models.build_model`), ``state_dict`` (weights, BN statistics, alphas), ``meta``
(training metadata) and whatever ``extra`` keys the writer adds (training's ``train_state``).
Every way a file can be unreadable is one ``ValueError`` line naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from sat_hw.nn.models import MobileNetV1, build_model


def checkpoint_blob(model: MobileNetV1, meta: dict | None = None, extra: dict | None = None) -> dict:
    """The self-describing checkpoint dict (architecture, bits, method, weights, alphas, meta)."""
    blob = {"format": "sat_hw-checkpoint", "version": 1, "config": model.config,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "meta": meta or {}}
    blob.update(extra or {})
    return blob


def checkpoint_bytes(model: MobileNetV1, meta: dict | None = None) -> bytes:
    """The checkpoint as bytes (for the build folder writer)."""
    buf = io.BytesIO()
    torch.save(checkpoint_blob(model, meta), buf)
    return buf.getvalue()


def save_checkpoint(model: MobileNetV1, path: str | Path, meta: dict | None = None,
                    extra: dict | None = None) -> None:
    """Write :func:`checkpoint_blob` to ``path`` (through a temporary file and a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(checkpoint_blob(model, meta, extra), tmp)
        tmp.replace(path)
    except BaseException:  # a full disk or Ctrl-C: no half-written .tmp is left beside it
        tmp.unlink(missing_ok=True)
        raise


ZIP_MAGIC, PICKLE_MAGIC = b"PK\x03\x04", b"\x80"
"""How a file that ``torch.save`` wrote begins: a zip archive, or (the legacy format) a pickle."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at ``path``; one ``ValueError`` line naming the file and what is
    wrong with it (missing, a folder, empty, not a PyTorch file, truncated, foreign)."""
    path = Path(path)
    name = repr(str(path))
    if path.is_dir():
        raise ValueError(f"checkpoint {name} is a folder: give the .pt file")
    if not path.is_file():
        raise ValueError(f"checkpoint {name} does not exist")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ValueError(f"checkpoint {name} is empty (0 bytes)")
    if not head.startswith((ZIP_MAGIC, PICKLE_MAGIC)):
        raise ValueError(f"checkpoint {name} is not a PyTorch file (it begins {head!r}, not a "
                         f"zip archive or a pickle)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        why = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"checkpoint {name} is truncated or corrupt ({why})") from None
    if not isinstance(blob, dict) or blob.get("format") != "sat_hw-checkpoint":
        what = (f"a dict with keys {', '.join(map(repr, list(blob)[:3]))}"
                f"{', ...' if len(blob) > 3 else ''}" if isinstance(blob, dict) and blob
                else f"a {type(blob).__name__}")
        raise ValueError(f"checkpoint {name} is not a sat_hw checkpoint (it holds {what}, no "
                         f"format 'sat_hw-checkpoint')")
    if blob.get("version") != 1:
        raise ValueError(f"checkpoint {name}: unsupported version {blob.get('version')!r}")
    for key in ("config", "state_dict"):
        if not isinstance(blob.get(key), dict):
            what = ("missing" if key not in blob else
                    f"a {type(blob[key]).__name__}, not a dict")
            raise ValueError(f"checkpoint {name} is damaged: its {key!r} is {what}")  # noqa: TRY004
    return blob


def model_from_config(config: dict) -> MobileNetV1:
    c = dict(config)
    name = c.pop("name")
    return build_model(name, **c)


def load_checkpoint(path: str | Path) -> MobileNetV1:
    """Rebuild the model a checkpoint describes, load its weights and alphas, eval mode."""
    blob = read_checkpoint(path)
    try:
        model = model_from_config(blob["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"checkpoint {str(path)!r}: its config does not describe a model "
                         f"({type(e).__name__ if isinstance(e, KeyError) else ''}"
                         f"{' ' if isinstance(e, KeyError) else ''}{_first_line(e)})") from None
    try:
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"checkpoint {str(path)!r}: its weights do not fit its config "
                         f"({_first_line(e, skip_heading=True)})") from None
    model.meta = blob.get("meta") or {}
    return model.eval()


def _first_line(e: BaseException, skip_heading: bool = False) -> str:
    """The first line of an exception's message (``load_state_dict`` puts a heading before the
    line that says what differs; with ``skip_heading``, that line, and how many more follow)."""
    lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
    if skip_heading and len(lines) > 1:
        more = len(lines) - 2
        return lines[1] + (f" (and {more} more)" if more else "")
    return lines[0] if lines else type(e).__name__


__all__ = [
    "checkpoint_blob",
    "checkpoint_bytes",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
