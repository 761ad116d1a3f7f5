"""Which names a cell reads from, and writes to, the namespace it runs in (static, via ``ast``).

The inputs of a remote cell are the names it reads that exist locally; its outputs are the
names it binds at top level (assignments, ``for`` targets, ``with ... as``, imports, ``def`` and
``class``, walrus). Names bound inside functions, lambdas, classes and comprehensions are local
to them and are neither. ``--in`` / ``--out`` override both.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import RemoteError

# Names IPython keeps in the user namespace for itself: never shipped, never brought back.
IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


@dataclass
class CellNames:
    """The names a cell reads (free at top level or in nested scopes) and binds at top level."""

    reads: set[str] = field(default_factory=set)
    writes: list[str] = field(default_factory=list)  # in source order, no duplicates


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.names = CellNames()
        self._depth = 0  # > 0 inside a function, lambda, class body or comprehension

    def _bind(self, name: str) -> None:
        if self._depth == 0 and name not in self.names.writes:
            self.names.writes.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.names.reads.add(node.id)
        elif isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):  # `n += 1` reads n before it binds it
            self.names.reads.add(node.target.id)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # A walrus binds in the enclosing function scope, through comprehensions (PEP 572).
        top = self._depth == 0 or self._comprehensions_only
        if top and isinstance(node.target, ast.Name) and node.target.id not in self.names.writes:
            self.names.writes.append(node.target.id)
        self.visit(node.value)

    _comprehensions_only = False  # every scope around this node is a comprehension

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            self._bind((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        # `global x` inside a function: the function assigns the namespace's x when called.
        for name in node.names:
            if name not in self.names.writes:
                self.names.writes.append(name)

    def _scope(
        self,
        node: ast.AST,
        name: str | None,
        decorators: Iterable[ast.AST] = (),
        comp: bool = False,
    ) -> None:
        for decorator in decorators:
            self.visit(decorator)
        if name is not None:
            self._bind(name)
        outer = self._comprehensions_only
        self._comprehensions_only = comp and (outer or self._depth == 0)
        self._depth += 1
        for child in ast.iter_child_nodes(node):
            if child not in decorators:
                self.visit(child)
        self._depth -= 1
        self._comprehensions_only = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Defaults are evaluated where the function is defined.
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self._scope(node, node.name, node.decorator_list)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in [*node.bases, *node.keywords]:
            self.visit(base)
        self._scope(node, node.name, node.decorator_list)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, None)

    def _comprehension(self, node: ast.AST) -> None:
        self._scope(node, None, comp=True)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def scan(code: str, filename: str = "<cell>") -> CellNames:
    """The names ``code`` (plain Python, IPython syntax already transformed) reads and binds.

    A syntax error propagates as :class:`SyntaxError` (in ``filename``), as running the cell
    would raise it.
    """
    scanner = _Scanner()
    scanner.visit(ast.parse(code, filename))
    return scanner.names


def split_names(text: str | None, option: str) -> list[str] | None:
    """``"a,b c"`` -> ``["a", "b", "c"]`` for ``--in``/``--out``; None stays None."""
    if text is None:
        return None
    names = [name for part in text.split(",") for name in part.split()]
    for name in names:
        if not name.isidentifier():
            raise RemoteError(f"{option} expects variable names separated by commas, got {name!r}.")
    return names


def inputs_for(
    names: CellNames, namespace: Mapping[str, Any], explicit: list[str] | None = None
) -> list[str]:
    """The variables to ship: ``explicit`` (each must exist locally), else the names the cell
    reads that exist in ``namespace``, without builtins, IPython's own and ``_``-private names.
    """
    if explicit is not None:
        missing = [name for name in explicit if name not in namespace]
        if missing:
            raise RemoteError(
                f"--in names {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                "not defined locally."
            )
        return list(explicit)
    found = []
    for name in sorted(names.reads):
        if name in IPYTHON_NAMES or name.startswith("_") or name not in namespace:
            continue
        if name in vars(builtins) and namespace[name] is vars(builtins)[name]:
            continue
        found.append(name)
    return found


def outputs_for(names: CellNames, explicit: list[str] | None = None) -> list[str]:
    """The variables to bring back: ``explicit``, else what the cell binds at top level."""
    if explicit is not None:
        return list(explicit)
    return [n for n in names.writes if n not in IPYTHON_NAMES and not n.startswith("_")]
