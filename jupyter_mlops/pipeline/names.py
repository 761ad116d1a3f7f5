"""Static analysis of a step's code: which names it reads, defines and changes.

``ast`` for the module level, in execution order (``x = x + 1`` reads ``x``), and ``symtable``
for the names that functions, classes, lambdas and comprehensions look up globally. IPython
syntax (``%magic``, ``!shell``, ``x = !cmd``) is neutralised first, line by line, so a cell
that runs in Jupyter can be analysed without IPython (importing it costs half a second).
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from ..exceptions import PipelineError

# Names IPython puts in every namespace, besides the builtins.
IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___", "_ih", "_oh"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | {"__file__", "__name__", "__builtins__"}
# Cell magics whose body is Python.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "track"}
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.,\s\[\]()]+?)\s*=\s*[!%]")


@dataclass
class CodeNames:
    reads: list[str] = field(default_factory=list)  # in order of first use
    defines: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)  # x.method(...) statements, x[k] = v, x.a = v
    imports: set[str] = field(default_factory=set)  # absolute module names imported
    bindings: dict[str, set[str]] = field(default_factory=dict)  # bound name -> its modules
    calls: set[str] = field(default_factory=set)  # plain names called: f(...)
    functions: dict[str, set[str]] = field(default_factory=dict)  # def f: globals it reads


def python_source(source: str) -> str:
    """The cell as plain Python: magics and shell escapes become ``pass`` (or ``None``)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()[2:].split()[0] if lines[0].strip()[2:] else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return ""
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        help_line = stripped.endswith("?") and "#" not in stripped
        if stripped.startswith(("%", "!")) or help_line:
            out.append(f"{indent}pass")
        else:
            match = _ASSIGNED_MAGIC.match(line)
            out.append(f"{match.group(1)} = None" if match else line)
    return "\n".join(out)


def analyze(source: str, label: str = "code") -> CodeNames:
    """Names read (before being defined), defined and changed by ``source`` at module level."""
    code = python_source(source)
    try:
        tree = ast.parse(code)
        table = symtable.symtable(code, label, "exec")
    except SyntaxError as exc:
        raise PipelineError(
            f"{label} has a syntax error on line {exc.lineno}: {exc.msg}. Fix it before "
            "running the pipeline."
        ) from None
    result = CodeNames()
    defined_anywhere = _module_definitions(tree) | _declared_globals(table)
    walker = _ModuleWalker(result)
    for statement in tree.body:
        walker.statement(statement)
    result.defines |= _declared_globals(table)
    # Functions, classes, lambdas, comprehensions: their global lookups happen when they run,
    # after the module-level definitions around them.
    for name in sorted(_nested_global_reads(table)):
        if name not in defined_anywhere:
            walker.read(name)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            result.functions[node.name] = _function_globals(table, node.name)
    return result


def _module_definitions(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in _module_level_nodes(tree):
        names |= _stored_names(node)
    return names


def _module_level_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node at module level, without descending into nested scopes' bodies."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _stored_names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return {node.id}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {
            (alias.asname or alias.name.split(".")[0]) for alias in node.names if alias.name != "*"
        }
    if isinstance(node, ast.ExceptHandler) and node.name:
        return {node.name}
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        return {node.name}
    if isinstance(node, ast.MatchMapping) and node.rest:
        return {node.rest}
    return set()


class _ModuleWalker:
    """Module-level statements in execution order: loads before the statement's stores."""

    def __init__(self, result: CodeNames) -> None:
        self.result = result
        self.defined: set[str] = set()
        self._seen: set[str] = set()

    def read(self, name: str) -> None:
        if (
            name in self.defined
            or name in self._seen
            or name in BUILTIN_NAMES
            or name in IPYTHON_NAMES
            or name.startswith("_i")
        ):
            return
        self._seen.add(name)
        self.result.reads.append(name)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.If, ast.While)):
            self.expression(node.test)
            for child in node.body + node.orelse:
                self.statement(child)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expression(node.iter)
            self.store(node.target)
            for child in node.body + node.orelse:
                self.statement(child)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expression(item.context_expr)
                if item.optional_vars is not None:
                    self.store(item.optional_vars)
            for child in node.body:
                self.statement(child)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            node = cast(ast.Try, node)  # ast.TryStar (3.11+) has the same fields
            for child in node.body:
                self.statement(child)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expression(handler.type)
                if handler.name:
                    self.defined.add(handler.name)
                    self.result.defines.add(handler.name)
                for child in handler.body:
                    self.statement(child)
            for child in node.orelse + node.finalbody:
                self.statement(child)
        elif isinstance(node, ast.Match):
            self.expression(node.subject)
            for case in node.cases:
                for sub in ast.walk(case.pattern):
                    for name in _stored_names(sub):
                        self._define(name)
                if case.guard is not None:
                    self.expression(case.guard)
                for child in case.body:
                    self.statement(child)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                self.expression(decorator)
            if isinstance(node, ast.ClassDef):
                for base in node.bases + [k.value for k in node.keywords]:
                    self.expression(base)
            else:
                for default in node.args.defaults + [
                    d for d in node.args.kw_defaults if d is not None
                ]:
                    self.expression(default)
            self._define(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if isinstance(node, ast.Import):
                    modules = {alias.name}
                    bound = alias.asname or alias.name.split(".")[0]
                elif node.module and not node.level:
                    modules = {node.module, f"{node.module}.{alias.name}"}
                    bound = alias.asname or alias.name
                else:
                    continue
                self.result.imports |= modules
                self.result.bindings.setdefault(bound, set()).update(modules)
            for name in _stored_names(node):
                self._define(name)
        else:
            self.expression(node, statement=True)

    def expression(self, node: ast.AST, statement: bool = False) -> None:
        stores: list[ast.AST] = []
        for sub in _module_level_nodes_of(node):
            if isinstance(sub, ast.Name):
                if isinstance(sub.ctx, ast.Load):
                    self.read(sub.id)
                else:
                    stores.append(sub)
            elif isinstance(sub, ast.NamedExpr):
                stores.append(sub.target)
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                self.result.calls.add(sub.func.id)
            elif isinstance(sub, (ast.Subscript, ast.Attribute)) and isinstance(
                sub.ctx, (ast.Store, ast.Del)
            ):
                base = sub.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    self.result.changes.add(base.id)
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and isinstance(node.value.func.value, ast.Name)
        ):
            # `model.fit(X, y)` as a statement: called for its effect on `model`. A call whose
            # result is used (`m = train.mean()`) is taken to leave the value as it was.
            self.result.changes.add(node.value.func.value.id)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            self.read(node.target.id)
        for target in stores:
            self.store(target)

    def store(self, target: ast.AST) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                self._define(sub.id)
            elif isinstance(sub, ast.Name):
                self.read(sub.id)

    def _define(self, name: str) -> None:
        self.defined.add(name)
        self.result.defines.add(name)


def _module_level_nodes_of(node: ast.AST) -> Iterator[ast.AST]:
    """The node and its descendants in source order, skipping nested scopes' bodies (but not
    their module-level parts: a comprehension's first iterable, a lambda's defaults)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children: list[ast.AST]
        if isinstance(current, ast.Lambda):
            children = [*current.args.defaults, *(d for d in current.args.kw_defaults if d)]
        elif isinstance(current, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            children = [current.generators[0].iter]
        else:
            children = list(ast.iter_child_nodes(current))
        stack.extend(reversed(children))


def _nested_global_reads(table: symtable.SymbolTable) -> set[str]:
    names: set[str] = set()
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_referenced() and symbol.is_global() and not symbol.is_assigned():
                names.add(symbol.get_name())
        names |= _nested_global_reads(child)
    return names


def _declared_globals(table: symtable.SymbolTable) -> set[str]:
    """``global x`` then ``x = ...`` inside a function defines a module-level ``x``."""
    names: set[str] = set()
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                names.add(symbol.get_name())
        names |= _declared_globals(child)
    return names


def _function_globals(table: symtable.SymbolTable, name: str) -> set[str]:
    for child in table.get_children():
        if child.get_name() == name and child.get_type() == "function":
            found = {
                s.get_name()
                for s in child.get_symbols()
                if s.is_referenced() and s.is_global() and not s.is_assigned()
            }
            return (found | _nested_global_reads(child)) - BUILTIN_NAMES - IPYTHON_NAMES
    return set()
