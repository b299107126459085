"""The one place that puts a build on disk: everything into a temporary folder, then a rename.

A failure at any point before the rename leaves no half-written folder behind, and an earlier
build at the same path untouched; the swap itself is two renames on the same file system.
Folders and files get the modes of the process's umask, as any other tool's output (the
temporary folder is made with ``mkdir``, not ``mkdtemp``, whose 0700 would survive the rename).
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, uniquely named folder under ``parent`` with the umask's mode."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def replace_file(path: Path, data: bytes | str) -> None:
    """Write one file of an existing build (``sat_hw sim``, ``sat_hw synth``) through a temporary
    file beside it and a rename: a reader sees the old file or the new one, never half of one;
    the new file gets the umask's mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(out: Path, what: str = "--out") -> None:
    """Fail now, in one line, if the folder ``out`` could not be written later: it exists and is
    not a folder, or its nearest existing ancestor takes no new folder (tried with a probe folder
    that is removed at once; nothing else is created)."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"{what} {str(out)!r} exists and is not a folder")
    base = out.parent
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{what} {str(out)!r}: {str(base)!r} is not a folder")
    try:
        _fresh_dir(base, f".{out.name}.probe-").rmdir()
    except OSError as e:
        raise ValueError(f"{what} {str(out)!r} cannot be written: {e.strerror} in "
                         f"{str(base)!r}") from None


def write_tree(out: Path, files: dict[str, bytes | str]) -> Path:
    """Write ``{relative path: content}`` as the folder ``out``, replacing it atomically."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {str(out)!r} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_dir(out.parent, f".{out.name}.tmp-")
    try:
        for rel, content in files.items():
            path = tmp / rel
            if path.resolve().parent != tmp and tmp not in path.resolve().parents:
                raise ValueError(f"refusing to write {rel!r} outside the build folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                path.write_text(content)
            else:
                path.write_bytes(content)
        old = None
        if out.exists():
            old = _fresh_dir(out.parent, f".{out.name}.old-")
            os.rename(out, old / out.name)
        try:
            os.rename(tmp, out)
        except OSError:
            if old is not None:
                os.rename(old / out.name, out)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
