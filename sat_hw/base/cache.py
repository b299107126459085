"""Where sat_hw keeps what it compiles once and reuses (Verilator models, HLS C-simulations,
Yosys counts, the training kernels): ``$SAT_HW_CACHE``, else ``$XDG_CACHE_HOME/sat_hw``, else
``~/.cache/sat_hw``. Each user keys its entries by a hash of everything that makes them."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def cache_root() -> Path:
    base = os.environ.get("SAT_HW_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sat_hw"


def design_entry(kind: str, salt: str, top: str, params: dict | None, rest: tuple,
                 sources, files: dict[str, str] | None) -> Path:
    """``cache_root()/<kind>/<top>-<hash>.json`` of a tool run on a design: the hash over
    ``salt`` (the tools' versions and anything else that changes the result), the top, its
    parameters, ``rest`` (the run's options), the sources' names and contents and the extra
    files (ROM images) written beside them."""
    h = hashlib.sha256(salt.encode())
    h.update(repr((top, sorted((params or {}).items()), *rest)).encode())
    for s in sources:
        h.update(Path(s).name.encode() + b"\0" + Path(s).read_bytes())
    for name, text in sorted((files or {}).items()):
        h.update(name.encode() + b"\0" + text.encode())
    return cache_root() / kind / f"{top}-{h.hexdigest()[:20]}.json"


def keep_entry(path: Path, data: dict) -> None:
    """Write a cache entry as JSON through a temporary file named by process and thread and a
    rename, so concurrent runs of the same design never leave half an entry."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
