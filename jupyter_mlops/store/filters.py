"""MLflow-style run filter and order-by expressions, compiled to SQL.

Filter: comparisons joined by ``and``, e.g.
``metrics.acc > 0.9 and params.lr = '0.1' and tags.team != 'x' and status = 'FINISHED'
and name LIKE 'sgd%'``. Keys with spaces or dots go in backticks: ``metrics.`val loss` < 1``.
Order by: ``metrics.acc DESC``, ``params.lr``, ``start_time ASC`` (comma separated or a list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, not_, select

from ..exceptions import InvalidFilterError
from .records import RUN_STATUSES
from .schema import experiments, metric_series, params, runs, tags

ATTRIBUTES = {
    "run_id": runs.c.run_id,
    "name": runs.c.name,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "last_update_time": runs.c.last_update_time,
    "user": runs.c.user,
    "host": runs.c.host,
    "kind": runs.c.kind,
    "notebook_path": runs.c.notebook_path,
    "parent_run_id": runs.c.parent_run_id,
    "experiment_id": runs.c.experiment_id,
}
ENTITY_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
COMPARATORS = ("<=", ">=", "!=", "<>", "=", "==", "<", ">")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<paren>[(),])
      | (?P<ident>(?:[A-Za-z_][\w]*\.)?(?:`[^`]+`|[A-Za-z_][\w.\-/:]*))
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Identifier:
    entity: str  # metric | param | tag | attribute
    key: str


def parse_identifier(text: str) -> Identifier:
    """``metrics.acc`` -> Identifier('metric', 'acc'); a bare name is an attribute."""
    text = text.strip()
    prefix, dot, rest = text.partition(".")
    if dot and prefix.lower() in ENTITY_PREFIXES:
        entity, key = ENTITY_PREFIXES[prefix.lower()], rest
    else:
        entity, key = "attribute", text
    if key.startswith("`") and key.endswith("`") and len(key) >= 2:
        key = key[1:-1]
    if not key:
        raise InvalidFilterError(f"Missing key after {prefix!r} in {text!r}.")
    if entity == "attribute" and key not in ATTRIBUTES and key != "experiment":
        known = ", ".join(sorted([*ATTRIBUTES, "experiment"]))
        raise InvalidFilterError(
            f"Unknown run attribute {key!r}; use metrics.KEY, params.KEY, tags.KEY or one of: "
            f"{known}."
        )
    return Identifier(entity, key)


def _tokens(expression: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match or match.end() == pos:
            raise InvalidFilterError(
                f"Cannot parse filter at position {pos}: {expression[pos : pos + 20]!r}"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(expression) and expression[pos].isspace():
            pos += 1
    return out


def _unquote(token: str) -> str:
    quote = token[0]
    body = token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


def _value(kind: str, token: str) -> Any:
    if kind == "string":
        return _unquote(token)
    if kind == "number":
        if not any(c in token.lower() for c in ".e"):
            integer = int(token)  # exact: float() would round a 17-digit start_time
            # Beyond BIGINT, PostgreSQL refuses the bound value; as a float it compares.
            return integer if -(2**63) <= integer < 2**63 else float(integer)
        return float(token)
    raise InvalidFilterError(f"Expected a value (a number or a 'quoted string'), got {token!r}.")


def compile_filter(expression: str | None) -> list[ColumnElement[bool]]:
    """SQL conditions on ``runs`` for a filter expression (empty list for none)."""
    if expression is None:
        return []
    if not isinstance(expression, str):
        raise InvalidFilterError(
            f'filter must be a string such as "metrics.acc > 0.9", got '
            f"{type(expression).__name__} {expression!r}."
        )
    if not expression.strip():
        return []
    tokens = _tokens(expression)
    conditions: list[ColumnElement[bool]] = []
    i = 0
    while i < len(tokens):
        kind, token = tokens[i]
        if kind != "ident":
            raise InvalidFilterError(f"Expected a key such as metrics.acc, got {token!r}.")
        ident = parse_identifier(token)
        i += 1
        if i >= len(tokens):
            raise InvalidFilterError(f"Missing comparison after {token!r}.")
        kind, op = tokens[i]
        negate = False
        if kind == "ident" and op.upper() == "NOT":
            negate = True
            i += 1
            kind, op = tokens[i] if i < len(tokens) else ("", "")
        if kind == "ident" and op.upper() in ("LIKE", "ILIKE", "IN"):
            op = op.upper()
        elif kind == "ident" and op.upper() == "IS":
            # IS NULL / IS NOT NULL
            rest = [t[1].upper() for t in tokens[i + 1 : i + 3]]
            if rest[:1] == ["NULL"]:
                conditions.append(_condition(ident, "IS NULL", None))
                i += 2
            elif rest[:2] == ["NOT", "NULL"]:
                conditions.append(_condition(ident, "IS NOT NULL", None))
                i += 3
            else:
                raise InvalidFilterError("IS must be followed by NULL or NOT NULL.")
            i = _expect_and(tokens, i)
            continue
        elif kind != "op":
            raise InvalidFilterError(
                f"Expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN) after "
                f"{token!r}, got {op!r}."
            )
        i += 1
        if op == "IN":
            values, i = _in_list(tokens, i)
            value: Any = values
        else:
            if i >= len(tokens):
                raise InvalidFilterError(f"Missing value after {token} {op}.")
            value = _value(*tokens[i])
            i += 1
        condition = _condition(ident, op, value)
        conditions.append(not_(condition) if negate else condition)
        i = _expect_and(tokens, i)
    return conditions


def _expect_and(tokens: list[tuple[str, str]], i: int) -> int:
    if i < len(tokens):
        kind, token = tokens[i]
        if kind != "ident" or token.upper() != "AND":
            raise InvalidFilterError(
                f"Expected 'and' between comparisons, got {token!r} (only 'and' is supported)."
            )
        i += 1
        if i >= len(tokens):
            raise InvalidFilterError("Filter ends with 'and'.")
    return i


def _in_list(tokens: list[tuple[str, str]], i: int) -> tuple[list[Any], int]:
    if i >= len(tokens) or tokens[i][1] != "(":
        raise InvalidFilterError("IN must be followed by a list such as ('a', 'b').")
    i += 1
    values: list[Any] = []
    while i < len(tokens) and tokens[i][1] != ")":
        values.append(_value(*tokens[i]))
        i += 1
        if i < len(tokens) and tokens[i][1] == ",":
            i += 1
    if i >= len(tokens):
        raise InvalidFilterError("Unclosed IN list.")
    if not values:
        raise InvalidFilterError("IN list is empty.")
    return values, i + 1


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op in ("=", "=="):
        return column == value
    if op in ("!=", "<>"):
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return func.lower(column).like(func.lower(value))
    if op == "IN":
        return column.in_(value)
    if op == "IS NULL":
        return column.is_(None)
    if op == "IS NOT NULL":
        return column.is_not(None)
    raise InvalidFilterError(f"Unsupported comparison {op!r}.")


def _condition(ident: Identifier, op: str, value: Any) -> ColumnElement[bool]:
    if ident.entity == "metric":
        if op in ("LIKE", "ILIKE") or (
            op not in ("IS NULL", "IS NOT NULL")
            and any(isinstance(v, str) for v in (value if isinstance(value, list) else [value]))
        ):
            raise InvalidFilterError(
                f"metrics.{ident.key} is numeric: compare it with a number, not {value!r}."
            )
        if op == "IS NULL":
            return not_(
                exists().where(
                    metric_series.c.run_id == runs.c.run_id, metric_series.c.key == ident.key
                )
            )
        return exists().where(
            metric_series.c.run_id == runs.c.run_id,
            metric_series.c.key == ident.key,
            _compare(metric_series.c.latest_value, op, value),
        )
    if ident.entity in ("param", "tag"):
        table = params if ident.entity == "param" else tags
        if op in ("<", "<=", ">", ">="):
            raise InvalidFilterError(
                f"{ident.entity}s.{ident.key} values are strings: use =, !=, LIKE, ILIKE or IN."
            )
        if op == "IS NULL":
            return not_(exists().where(table.c.run_id == runs.c.run_id, table.c.key == ident.key))
        if isinstance(value, list):
            value = [str(v) for v in value]
        elif value is not None:
            value = str(value)
        return exists().where(
            table.c.run_id == runs.c.run_id,
            table.c.key == ident.key,
            _compare(table.c.value, op, value),
        )
    _check_attribute_values(ident.key, op, value)
    if ident.key == "experiment":
        return runs.c.experiment_id.in_(
            select(experiments.c.experiment_id).where(_compare(experiments.c.name, op, value))
        )
    column = ATTRIBUTES[ident.key]
    if ident.key == "status" and op in ("=", "==", "!=", "<>", "IN"):
        # A misspelt status would silently match nothing (or everything, with !=).
        given = value if isinstance(value, list) else [value]
        values = [v.upper() if isinstance(v, str) else v for v in given]
        bad = [g for g, v in zip(given, values, strict=True) if v not in RUN_STATUSES]
        if bad:
            raise InvalidFilterError(
                f"Unknown status {bad[0]!r}; use one of {', '.join(RUN_STATUSES)}."
            )
        value = values if op == "IN" else values[0]
    return _compare(column, op, value)


# Run attributes holding numbers (milliseconds since the epoch); every other one is text.
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "last_update_time"})


def _check_attribute_values(key: str, op: str, value: Any) -> None:
    """Refuse comparisons across types: SQLite quietly answers them with nothing, PostgreSQL
    fails the query ("operator does not exist: bigint > character varying")."""
    if op in ("IS NULL", "IS NOT NULL"):
        return
    values = value if isinstance(value, list) else [value]
    if key in NUMERIC_ATTRIBUTES:
        if op in ("LIKE", "ILIKE") or any(isinstance(v, str) for v in values):
            raise InvalidFilterError(
                f"{key} is a number (milliseconds since the epoch): compare it with a number, "
                f"not {value!r}."
            )
    elif any(not isinstance(v, str) for v in values):
        raise InvalidFilterError(
            f"{key} is text: compare it with a 'quoted string', not {value!r}."
        )


@dataclass(frozen=True)
class OrderTerm:
    ident: Identifier
    descending: bool


def parse_order_by(order_by: str | Iterable[str] | None) -> list[OrderTerm]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        items = order_by.split(",")
    elif isinstance(order_by, Iterable) and not isinstance(order_by, (bytes, dict)):
        items = list(order_by)
    else:
        items = [order_by]
    terms = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidFilterError(
                f"order_by takes strings such as 'metrics.acc DESC', got "
                f"{type(item).__name__} {item!r}."
            )
        words = item.strip()
        if not words:
            continue
        descending = False
        head, _, last = words.rpartition(" ")
        if head and last.upper() in ("ASC", "DESC"):
            descending, words = last.upper() == "DESC", head.strip()
        if " " in words and not words.endswith("`"):
            raise InvalidFilterError(
                f"Cannot order by {item.strip()!r}: use KEY [ASC|DESC], with a key that has "
                "spaces in backticks (metrics.`val loss` DESC)."
            )
        terms.append(OrderTerm(parse_identifier(words), descending))
    return terms
