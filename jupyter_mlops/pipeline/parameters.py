"""A pipeline's parameters: declared by its parameters cells, overridden by ``-p`` / ``params``.

The parameters cells (``pipeline-parameters``, or papermill's ``parameters``) run at the top
of every step; papermill injects the overrides after them. Each simple assignment of a literal
declares a parameter with a type (its default's); an override must be a declared name and of
that type, checked before anything runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import PipelineError, PipelineParameterError

_UNTYPED = object()  # assigned from an expression: any override is accepted


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any  # _UNTYPED when the default is not a literal

    @property
    def typed(self) -> bool:
        return self.default is not _UNTYPED and self.default is not None

    def describe(self) -> str:
        if self.default is _UNTYPED:
            return self.name
        return f"{self.name}={self.default!r}"


def declared_parameters(source: str, label: str = "parameters cell") -> dict[str, Parameter]:
    """Parameters assigned at the top level of ``source``, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise PipelineError(
            f"The {label} has a syntax error on line {exc.lineno}: {exc.msg}."
        ) from None
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            try:
                default = ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                default = _UNTYPED
            found[target.id] = Parameter(target.id, default)
    return found


def parse_assignments(texts: Iterable[str]) -> dict[str, str]:
    """``["lr=0.1", ...]`` -> {"lr": "0.1"}: raw text values, checked against the types later."""
    values: dict[str, str] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PipelineParameterError(f"Parameter must be KEY=VALUE, got {text!r}.")
        if key in values and values[key] != raw:
            raise PipelineParameterError(
                f"Parameter {key} is given twice ({values[key]!r} and {raw!r})."
            )
        values[key] = raw
    return values


def resolve(
    declared: Mapping[str, Parameter],
    given: Mapping[str, Any],
    *,
    from_text: bool = False,
) -> dict[str, Any]:
    """The override values, typed as their defaults; unknown names and wrong types raise.

    ``from_text``: values are what a user typed (``-p lr=0.1``) and are parsed for the
    parameter's type; otherwise (the Python API) they must already have it.
    """
    resolved: dict[str, Any] = {}
    for name, value in given.items():
        parameter = declared.get(name)
        if parameter is None:
            have = ", ".join(p.describe() for p in declared.values()) or "none"
            raise PipelineParameterError(
                f"The pipeline has no parameter {name!r} (its parameters: {have})."
            )
        resolved[name] = _typed(parameter, value, from_text)
    return resolved


def _typed(parameter: Parameter, value: Any, from_text: bool) -> Any:
    if from_text:
        value = _parse_text(parameter, str(value))
    if not parameter.typed:
        return value
    default = parameter.default
    expected = type(default)
    ok = isinstance(value, expected)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    if not ok:
        raise PipelineParameterError(
            f"Parameter {parameter.name!r} expects {_article(expected.__name__)} "
            f"(default {default!r}), got {type(value).__name__} {value!r}."
        )
    return value


def _parse_text(parameter: Parameter, raw: str) -> Any:
    default = parameter.default
    text = raw.strip()
    if isinstance(default, str):
        return raw
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        return raw
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        lowered = text.lower()
        return {"true": True, "false": False, "none": None, "null": None}.get(lowered, raw)
    return value


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
