"""Wheel builds copy the top-level resources (flow.toml, templates/, rtl/, sim/) into the package.

An editable install or a source checkout reads them where they are (see sat_hw/base/resources.py).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = ("flow.toml", "templates", "rtl", "sim", "zoo")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        here = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "sat_hw" / "_resources"
        for name in RESOURCES:
            src = here / name
            if src.is_dir():
                shutil.copytree(src, dest / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif src.is_file():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)


setup(cmdclass={"build_py": BuildWithResources})
