"""Checks over the repository as a whole: the faces' modules import each other without cycles
(``cli/``, ``server/``), and the docs are self-contained.

A cycle (``cli/main`` importing ``cli/run_notebook``, which imported ``main`` back) works only
as long as every import of it stays inside a function; this test reads the imports, at module
level and inside functions, and fails on any cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jupyter_mlops"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports when it runs, at module level or in a function
    (``from . import x`` included); ``if TYPE_CHECKING:`` imports never run, so they are not."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else node.module or base
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            # `from . import serialize` imports the submodule (its package is only its parent)
            found.update(submodules & known or {target})
    return {module for module in found if module in known and module != name}


def cycles(folder: str) -> list[list[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        name: imports_of(path, set(files))
        for name, path in files.items()
        if name.startswith(f"jupyter_mlops.{folder}")
    }
    found: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt in graph:
                visit(nxt, stack + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


@pytest.mark.parametrize("folder", ["cli", "server"])
def test_no_import_cycles(folder: str) -> None:
    assert cycles(folder) == []


def test_the_check_sees_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself: two modules importing each other inside functions are a cycle."""
    package = tmp_path / "jupyter_mlops"
    (package / "faces").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "faces" / "__init__.py").write_text("")
    (package / "faces" / "a.py").write_text("def f():\n    from .b import g\n")
    (package / "faces" / "b.py").write_text("from . import a\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert ["jupyter_mlops.faces.a", "jupyter_mlops.faces.b", "jupyter_mlops.faces.a"] in cycles(
        "faces"
    )


def test_docs_and_code_name_no_outside_document() -> None:
    """What users and maintainers need lives in this repository (docs/), so nothing refers
    to a design document kept elsewhere."""
    outside = "DESIGN" + ".md"  # spelled apart so this file does not match itself
    offenders = [
        str(path.relative_to(ROOT))
        for pattern in ("*.py", "*.md", "*.ts", "*.tsx", "*.yaml", "*.toml", "*.ipynb")
        for path in ROOT.rglob(pattern)
        if not {"node_modules", ".git", "lib"} & set(path.relative_to(ROOT).parts)
        and outside in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_public_surface_lists_every_public_name() -> None:
    import jupyter_mlops

    text = (ROOT / "docs" / "public-surface.md").read_text(encoding="utf-8")
    missing = [name for name in jupyter_mlops.__all__ if f"`{name}" not in text]
    assert missing == []
