"""A wheel carries the top-level resources, and sat_hw finds them there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_resources_and_finds_them(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("sat_hw-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        assert "sat_hw/_resources/flow.toml" in z.namelist()
        z.extractall(site)
    code = ("import sat_hw.base.resources as r, sat_hw.flow.config as c; "
            "print(r.resource_path('flow.toml')); c.defaults()")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(site)}).stdout
    assert out.strip() == str(site / "sat_hw" / "_resources" / "flow.toml")
