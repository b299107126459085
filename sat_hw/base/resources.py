"""Where the non-Python parts (flow.toml, templates/, rtl/, sim/) live.

In a source checkout or an editable install they sit beside the ``sat_hw`` package at the
repository's top level. A wheel carries copies under ``sat_hw/_resources/`` (setup.py puts them
there at build time). Both layouts are tried, in that order.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parents[1]  # the sat_hw package
_ROOTS = (_PKG.parent, _PKG / "_resources")


def resource_path(name: str) -> Path:
    """Path of a shipped resource (``"flow.toml"``, ``"templates"``, ``"rtl"``, ``"sim"``)."""
    for root in _ROOTS:
        p = root / name
        if p.exists() and (root != _PKG.parent or (root / "pyproject.toml").exists()):
            return p
    raise FileNotFoundError(f"sat_hw resource {name!r} not found (looked in "
                            f"{', '.join(str(r) for r in _ROOTS)}); reinstall sat_hw")
