"""The one place that puts a build on disk: everything into a temporary folder, then a rename.

A failure at any point before the rename leaves no half-written folder behind, and an earlier
build at the same path untouched; the swap itself is two renames on the same file system.
Folders and files get the modes of the process's umask, as any other tool's output (the
temporary folder is made with ``mkdir``, not ``mkdtemp``, whose 0700 would survive the rename).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import signal
import tempfile
import threading
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


def probe(base: Path, name: str) -> None:
    """Make and remove a folder ``.<name>.probe-*`` in ``base``: an ``OSError`` now, where a
    later write there would fail (nothing else is created)."""
    _fresh_dir(Path(base), f".{name}.probe-").rmdir()


def _write_file(path: Path, content: bytes | str) -> None:
    """Every file sat_hw puts on disk goes through here (one place to fail in tests)."""
    with open(path, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)


@contextlib.contextmanager
def _interrupt_deferred():
    """Hold a Ctrl-C (SIGINT) that comes inside the block until the block ends, then raise it
    (``KeyboardInterrupt``); yields a list that is non-empty once one came, so that the block
    can undo what it did. Only the main thread can set a handler (and Python runs handlers
    there only); an ignored SIGINT stays ignored."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield got
        return
    prev = signal.signal(signal.SIGINT, lambda sig, frame: got.append(sig))
    try:
        yield got
    finally:
        signal.signal(signal.SIGINT, prev)
    if got and callable(prev):
        prev(signal.SIGINT, None)
    elif got and prev == signal.SIG_DFL:
        raise KeyboardInterrupt


def _temp_beside(path: Path, data: bytes | str) -> Path:
    """``data`` in a new temporary file beside ``path``, with the umask's mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.close(fd)
        _write_file(Path(tmp), data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def replace_file(path: Path, data: bytes | str) -> None:
    """Write one file of an existing build (``sat_hw sim``, ``sat_hw synth``) through a temporary
    file beside it and a rename: a reader sees the old file or the new one, never half of one;
    the new file gets the umask's mode. A write that fails (a full disk) is one ``ValueError``
    line naming the file, which is left as it was."""
    replace_files(Path(path).parent, {Path(path).name: data})


def replace_files(folder: Path, files: dict[str, bytes | str | None]) -> None:
    """Update several files of an existing build folder together: each new content is written
    to a temporary file beside its target first, and only when all are written are they renamed
    into place (and the ``None`` entries removed), with Ctrl-C held off for the renames. A write
    that fails leaves every file as it was (one ``ValueError`` line naming the file)."""
    folder = Path(folder)
    temps: dict[Path, Path] = {}
    try:
        for rel, data in files.items():
            if data is None:
                continue
            path = folder / rel
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                temps[path] = _temp_beside(path, data)
            except OSError as e:
                raise ValueError(f"{path} could not be written: {e.strerror or e}; the folder "
                                 f"{str(folder)!r} was left as it was") from None
        with _interrupt_deferred():
            for path, tmp in temps.items():
                os.replace(tmp, path)
            for rel, data in files.items():
                if data is None:
                    (folder / rel).unlink(missing_ok=True)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


MARKER = ".sat_hw"
"""The file that marks a folder as one sat_hw wrote: JSON ``{"kind": ..., "tool": "sat_hw",
"version": ...}``. sat_hw replaces or updates only folders that carry it (or are empty)."""

KINDS = {
    "build": ("flow.toml", "model.pt", "graph", "rtl", "hls", "sim", "report.json", "report.md",
              "report_cycles.png", "synth.json", "synth.md"),
    "estimate": ("estimate.json", "estimate.csv", "estimate.md", "pareto.png"),
}
"""What each kind of folder holds at its top: how a folder written before the marker existed is
still recognised (every entry one of these, plus the kind's main file)."""


def marker_text(kind: str) -> str:
    import json
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("sat_hw")
    except PackageNotFoundError:
        v = "unknown"
    return json.dumps({"kind": kind, "tool": "sat_hw", "version": v}) + "\n"


def folder_kind(folder: Path) -> str | None:
    """``"build"`` or ``"estimate"`` for a folder sat_hw wrote (its marker, or for a folder
    written before markers existed, entries that are all that kind's), else None."""
    import json

    folder = Path(folder)
    try:
        kind = json.loads((folder / MARKER).read_text()).get("kind")
        return kind if kind in KINDS else None
    except (OSError, ValueError, AttributeError):
        pass
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return None
    for kind, known in KINDS.items():
        main = "report.json" if kind == "build" else "estimate.json"
        if main in names and names <= set(known) | {p for p in names if _layers_png(p, kind)}:
            return kind
    return None


def _layers_png(name: str, kind: str) -> bool:
    return kind == "estimate" and name.startswith("layers_") and name.endswith(".png")


def _describe(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(repr(n) for n in names[:3])
    return (f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: {shown}"
            f"{', ...' if len(names) > 3 else ''}")


def check_replaceable(out: Path, kind: str, what: str = "--out") -> None:
    """Fail in one line unless ``out`` is absent, an empty folder, or a ``kind`` folder that
    sat_hw wrote: nothing else is ever replaced (a user's folder, ``--out .``, a build given
    as an estimate's ``--out``)."""
    out = Path(out)
    cwd = Path.cwd().resolve()
    if out.resolve() == cwd or out.resolve() in cwd.parents:
        raise ValueError(f"{what} {str(out)!r} is the working folder or holds it: sat_hw "
                         f"writes its output as a new folder; give a path below it")
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ValueError(f"{what} {str(out)!r} exists and is not a folder")
    if not any(out.iterdir()):
        return
    found = folder_kind(out)
    if found == kind:
        return
    why = (f"it is a sat_hw {found} folder" if found else
           f"it is not a folder sat_hw wrote (it holds {_describe(out)})")
    raise ValueError(f"{what} {str(out)!r} exists and {why}; sat_hw replaces only its own "
                     f"{kind} folders: choose another {what} or remove it yourself")


def require_kind(folder: Path, kind: str = "build") -> Path:
    """``folder`` must be a ``kind`` folder sat_hw wrote (``sat_hw sim``/``synth`` update
    files in a build, nothing else); one line otherwise."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is a file, not a sat_hw {kind} folder")
    if not folder.is_dir():
        raise ValueError(f"{kind} folder {str(folder)!r} does not exist")
    found = folder_kind(folder)
    if found != kind:
        why = f"a sat_hw {found} folder" if found else "not a folder sat_hw wrote"
        raise ValueError(f"{str(folder)!r} is {why}, not a sat_hw {kind} (no {MARKER} "
                         f"marker of kind {kind!r})")
    return folder


def check_writable(out: Path, what: str = "--out", kind: str = "build") -> None:
    """Fail now, in one line, if the folder ``out`` could not be written later: it exists and is
    not a ``kind`` folder sat_hw may replace (:func:`check_replaceable`), or its nearest existing
    ancestor takes no new folder (tried with a probe folder that is removed at once; nothing else
    is created)."""
    check_replaceable(out, kind, what)
    out = Path(out).resolve()
    base = out.parent
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{what} {str(out)!r}: {str(base)!r} is not a folder")
    try:
        probe(base, out.name)
    except OSError as e:
        raise ValueError(f"{what} {str(out)!r} cannot be written: {e.strerror} in "
                         f"{str(base)!r}") from None


def write_tree(out: Path, files: dict[str, bytes | str], kind: str = "build",
               what: str = "--out") -> Path:
    """Write ``{relative path: content}`` and the :data:`MARKER` of ``kind`` as the folder
    ``out``, replacing it atomically, and only if :func:`check_replaceable` allows it. A write
    that fails (a full disk) is one ``ValueError`` line naming ``out``; it, an error or a
    Ctrl-C leave ``out`` as it was and no temporary folder beside it."""
    out = Path(out).resolve()
    check_replaceable(out, kind, what)
    tmp = old = None
    done = False
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _fresh_dir(out.parent, f".{out.name}.tmp-")
        for rel, content in {**files, MARKER: marker_text(kind)}.items():
            path = tmp / rel
            if path.resolve().parent != tmp and tmp not in path.resolve().parents:
                raise ValueError(f"refusing to write {rel!r} outside the build folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_file(path, content)
        if out.exists():
            check_replaceable(out, kind, what)  # again: it may have changed meanwhile
            old = _fresh_dir(out.parent, f".{out.name}.old-")
        done = _swap(tmp, out, old)
    except OSError as e:
        raise ValueError(f"{what} {str(out)!r} could not be written: {e.strerror or e}"
                         f"{_which(e, tmp)}; nothing was changed there") from None
    finally:
        if tmp is not None and not done:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (done or not (old / out.name).exists()):
            shutil.rmtree(old, ignore_errors=True)  # kept only if the earlier build is in it
    return out


def _swap(tmp: Path, out: Path, old: Path | None) -> bool:
    """Put ``tmp`` at ``out``, moving an earlier ``out`` into ``old`` first, as one step: an
    error or a Ctrl-C during the two renames puts the earlier ``out`` back (the interrupt is
    raised afterwards, as ``KeyboardInterrupt``). True once the new folder is in place."""
    with _interrupt_deferred() as interrupted:
        moved = False
        try:
            if old is not None:
                os.rename(out, old / out.name)
                moved = True
            os.rename(tmp, out)
        except BaseException:
            if moved:
                os.rename(old / out.name, out)
            raise
        if interrupted:  # the user asked to stop: undo, so that out is as it was
            os.rename(out, tmp)
            if moved:
                os.rename(old / out.name, out)
            raise KeyboardInterrupt
    return True


def _which(e: OSError, tmp: Path | None) -> str:
    """`` (the file)`` an OSError names, relative to the build folder, not its temporary one."""
    if not e.filename:
        return ""
    name = str(e.filename)
    if tmp is not None and name.startswith(str(tmp)):
        name = name[len(str(tmp)):].lstrip("/")
    return f" ({name})" if name else ""
