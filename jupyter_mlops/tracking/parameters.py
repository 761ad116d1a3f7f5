"""A notebook's parameters cell: which cell it is, the names it defines and their defaults.

papermill injects ``-p`` values in a new cell after the cell tagged ``parameters``. A name that
cell does not define is injected all the same, and a notebook without such a cell gets the
values at its top, where the notebook's own assignments overwrite them: the run would record
a value that was never applied. So the given names are checked against the cell first
(:func:`resolve_parameters`), and the run records every parameter the notebook ran with: the
cell's defaults, and the given values over them (:meth:`ResolvedParameters.record`).

Kubeflow Kale's ``pipeline-parameters`` tag names the parameters cell of a notebook that has
no ``parameters`` cell (:func:`for_papermill` tags it for papermill).
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidParameterError, UnknownParameterError
from .run import injectable_value

if TYPE_CHECKING:  # importing nbformat costs over a second (its JSON-schema stack), and the
    import nbformat  # CLI imports this module for its tag names: imported where it is used

PARAMETERS_TAGS = ("parameters", "pipeline-parameters")
# Tags of a run whose parameters came from a parameters cell and a caller: the names the
# caller gave (the others are the cell's defaults), and those of them the cell does not
# define (injected unchecked, with --allow-unknown-params). Comma-separated, sorted.
GIVEN_TAG = "mlops.params_given"
UNCHECKED_TAG = "mlops.params_unchecked"


@dataclass(frozen=True)
class ParametersCell:
    """The parameters cell of a notebook."""

    index: int  # position in ``notebook.cells``
    tag: str  # "parameters" (papermill) or "pipeline-parameters" (Kale)
    # name -> default: the value when the assignment is a literal, else the expression's
    # source text (``start = date.today()`` -> "date.today()").
    defaults: dict[str, Any] = field(default_factory=dict)
    # False when the cell's language cannot be inspected (papermill has no inspection for
    # R, Julia, ...): given names cannot be checked then, and are recorded as unchecked.
    inspected: bool = True


@dataclass(frozen=True)
class ResolvedParameters:
    """What a notebook runs with: ``given`` is injected, ``values`` is what it ran with."""

    given: dict[str, Any]
    values: dict[str, Any]  # the cell's defaults, then the given values over them
    unchecked: tuple[str, ...]  # given names the cell does not define (allowed by the caller)
    cell: ParametersCell | None

    def record(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The params and tags of the run: every value, and which names were given."""
        tags = {}
        if self.given or self.cell is not None:  # "" when every value is a default
            tags[GIVEN_TAG] = ",".join(sorted(self.given))
        if self.unchecked:
            tags[UNCHECKED_TAG] = ",".join(sorted(self.unchecked))
        return dict(self.values), tags


def find_parameters_cell(notebook: nbformat.NotebookNode) -> ParametersCell | None:
    """The first cell tagged ``parameters``, else the first tagged ``pipeline-parameters``."""
    found = _tagged(notebook)
    if found is None:
        return None
    index, tag = found
    defaults = cell_defaults(notebook["cells"][index], notebook)
    return ParametersCell(index, tag, defaults or {}, defaults is not None)


def _tagged(notebook: Mapping[str, Any]) -> tuple[int, str] | None:
    cells = notebook.get("cells", [])
    for tag in PARAMETERS_TAGS:
        for index, cell in enumerate(cells):
            if tag in (cell.get("metadata", {}).get("tags") or []):
                return index, tag
    return None


def cell_defaults(cell: Mapping[str, Any], notebook: Mapping[str, Any]) -> dict[str, Any] | None:
    """The names a parameters cell assigns, with their defaults, in order; None when its
    language cannot be inspected."""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    language = (
        notebook.get("metadata", {}).get("kernelspec", {}).get("language")
        or notebook.get("metadata", {}).get("language_info", {}).get("name")
        or "python"
    )
    if language.lower() == "python":
        try:
            return _python_defaults(source)
        except SyntaxError:
            pass
    return _papermill_defaults(cell, notebook)


def _python_defaults(source: str) -> dict[str, Any]:
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(source)  # %magics, !shell lines
    tree = ast.parse(code)
    found: dict[str, Any] = {}

    def default(node: ast.expr) -> Any:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return ast.get_source_segment(code, node) or ast.unparse(node)
        return value if injectable_value(value) else ast.get_source_segment(code, node)

    def assign(target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            found[target.id] = None if value is None else default(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            pairs = (
                value.elts
                if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
                else [None] * len(target.elts)
            )
            for sub, sub_value in zip(target.elts, pairs, strict=True):
                assign(sub, sub_value)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                assign(target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            assign(node.target, node.value)
    return found


def _papermill_defaults(
    cell: Mapping[str, Any], notebook: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Other kernels' languages: papermill's own inspection of the cell (defaults as text)."""
    import nbformat
    from papermill.translators import papermill_translators

    spec = notebook.get("metadata", {}).get("kernelspec", {})
    try:
        translator = papermill_translators.find_translator(
            spec.get("name"), spec.get("language") or "python"
        )
        found = translator.inspect(nbformat.from_dict(dict(cell)))
    except Exception:  # no translator for the language, or one without inspection
        return None
    return {p.name: p.default for p in found}


def normalize_value(value: Any) -> Any:
    """A value a notebook can be given: YAML's dates and times become ISO text (papermill
    injects their text too); anything papermill cannot inject is refused."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return [normalize_value(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize_value(v) for k, v in value.items()}
    if not injectable_value(value):
        raise InvalidParameterError(
            f"A notebook parameter cannot be {type(value).__name__} {value!r}: use numbers, "
            "text, true/false, null, lists and mappings of them."
        )
    return value


def resolve_parameters(
    notebook: nbformat.NotebookNode,
    given: Mapping[str, Any] | None,
    *,
    allow_unknown: bool = False,
    name: str = "The notebook",
) -> ResolvedParameters:
    """Check ``given`` against the notebook's parameters cell.

    Raises :class:`UnknownParameterError` naming the notebook's parameters when a given name
    is not one of them (or the notebook has no parameters cell), unless ``allow_unknown``:
    then those names are injected as papermill does, and listed as unchecked.
    """
    given = {key: normalize_value(value) for key, value in (given or {}).items()}
    cell = find_parameters_cell(notebook)
    defaults = dict(cell.defaults) if cell is not None else {}
    unknown = [key for key in given if key not in defaults]
    if unknown and not allow_unknown and (cell is None or cell.inspected):
        raise UnknownParameterError(_unknown_message(name, cell, unknown))
    values = dict(defaults)
    values.update(given)
    return ResolvedParameters(given, values, tuple(unknown), cell)


def _unknown_message(name: str, cell: ParametersCell | None, unknown: list[str]) -> str:
    names = ", ".join(unknown)
    allow = "Pass --allow-unknown-params to inject it anyway, as papermill does."
    if cell is None:
        return (
            f"{name} has no parameters cell (a cell tagged 'parameters' or "
            f"'pipeline-parameters'), so -p {names} would be injected at its top, where the "
            f"notebook's own assignments may overwrite it. Tag the cell that assigns the "
            f"parameters 'parameters'. {allow}"
        )
    known = list(cell.defaults)
    hint = ""
    close = difflib.get_close_matches(unknown[0], known, n=1)
    if close:
        hint = f" Did you mean {close[0]!r}?"
    plural = "s" if len(unknown) > 1 else ""
    return (
        f"{name} has no parameter{plural} {names}: its {cell.tag!r} cell (cell "
        f"{cell.index + 1}) defines {', '.join(known) or 'nothing'}.{hint} {allow}"
    )


def for_papermill(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``notebook`` as papermill must see it: a Kale notebook's ``pipeline-parameters`` cell
    also tagged ``parameters``, so values are injected after it (a copy when changed)."""
    found = _tagged(notebook)
    if found is None or found[1] == "parameters":
        return notebook
    tagged = copy.deepcopy(notebook)
    metadata = tagged.cells[found[0]].setdefault("metadata", {})
    metadata["tags"] = [*(metadata.get("tags") or []), "parameters"]
    return tagged
