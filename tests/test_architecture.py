"""The house's shape (docs/architecture.md): packages by the data path, imports one way, no
circle, files a reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "sat_hw"
ORDER = {"base": 0, "graph": 1, "nn": 2, "hw": 2, "codegen": 3, "tools": 4, "flow": 5}
"""A package may import those of a lower number only (``nn`` and ``hw`` never each other)."""


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(f: Path, mods: dict[str, Path]) -> set[str]:
    """The ``sat_hw`` modules a file imports (anywhere in it, function bodies included):
    ``from p import m`` of a submodule ``m`` counts as ``p.m`` only."""
    found = set()
    for n in ast.walk(ast.parse(f.read_text())):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("sat_hw"):
            assert n.level == 0, f"{f}: relative import"
            subs = {f"{n.module}.{a.name}" for a in n.names} & mods.keys()
            found |= subs if len(subs) == len(n.names) else subs | {n.module}
        elif isinstance(n, ast.Import):
            found.update(a.name for a in n.names if a.name.startswith("sat_hw"))
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(f, mods) if i in mods and i != m} for m, f in mods.items()}


def test_the_top_level_is_the_data_path():
    entries = sorted(p.name for p in PKG.iterdir() if p.name != "__pycache__")
    assert entries == ["__init__.py", "__main__.py", *sorted(ORDER)]
    for name in ORDER:
        doc = ast.get_docstring(ast.parse((PKG / name / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"sat_hw/{name}/__init__.py says what it holds"


def test_imports_go_one_way():
    bad = []
    for mod, deps in _graph().items():
        src = mod.split(".")[1] if mod.count(".") else None
        for d in deps:
            dst = d.split(".")[1] if d.count(".") else None
            if src in ORDER and dst in ORDER and src != dst and ORDER[dst] >= ORDER[src]:
                bad.append(f"{mod} -> {d}")
    assert not bad


@pytest.mark.parametrize("pkg,forbidden", [
    ("sat_hw.codegen", ("sat_hw.hw.fold", "sat_hw.hw.cost", "sat_hw.hw.planner")),
    ("sat_hw.graph", ("sat_hw.nn",)),
])
def test_renderers_read_the_plan_only(pkg, forbidden):
    """``codegen`` renders the hardware plan and never derives anything from the folding
    itself; ``graph`` stays free of the PyTorch side."""
    for mod, deps in _graph().items():
        if mod.startswith(pkg):
            assert not [d for d in deps if d.startswith(forbidden)], mod


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 2:
            return
        assert state.get(m) != 1, " -> ".join(path + [m])
        state[m] = 1
        for d in sorted(graph[m]):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_no_source_file_over_500_lines():
    files = [*PKG.rglob("*.py"), *(ROOT / "rtl").glob("*.sv"), *(ROOT / "sim").glob("*.py"),
             *(ROOT / "templates").rglob("*.j2"), *(ROOT / "templates").rglob("*.h")]
    long = {str(f.relative_to(ROOT)): n for f in files
            if (n := len(f.read_text().splitlines())) > 500}
    assert not long
