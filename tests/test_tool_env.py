"""The external tools run from a clean shell: a fresh Debian has ``python3`` but no ``python``,
and the PATH of ``env -i`` is ``/usr/local/bin:/usr/bin:/bin``."""

from __future__ import annotations

import os

import pytest

from sat_hw.tools.streamtb import rtl_sources
from sat_hw.tools.verilator import build

pytestmark = pytest.mark.rtl


def test_verilator_build_needs_no_python_on_path(tmp_path, monkeypatch):
    """Issue 18: the wheel's verilated.mk runs ``python`` for its includer script; with only
    ``python3`` on PATH every build failed (make: Error 127). A ``python`` that fails is put
    first on PATH here: the build must not call it."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\necho 'python: not this one' >&2\nexit 127\n")
    (fake / "python").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SAT_HW_CACHE", str(tmp_path / "cache"))
    b = build(rtl_sources("sat_skid"), "sat_skid", {"DATA_W": 8})
    assert not b.cached and (b.path / b.top).is_file()
