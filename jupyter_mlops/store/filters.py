"""MLflow-style run filter and order-by expressions, compiled to SQL.

Filter: comparisons joined by ``and``, e.g.
``metrics.acc > 0.9 and params.lr = '0.1' and tags.team != 'x' and status = 'FINISHED'
and name LIKE 'sgd%'``. Keys with spaces or dots go in backticks: ``metrics.`val loss` < 1``.
Order by: ``metrics.acc DESC``, ``params.lr``, ``start_time ASC`` (comma separated or a list).

Params compared with a number compare as numbers (``params.lr < 0.01`` matches ``'1e-3'``; a
param that is not a number never matches), with a quoted string as text. Times
(``start_time``, ``end_time``, ``last_update_time``) take milliseconds since the epoch, a date
or date-time in UTC (``'2026-12-01'``, ``'2026-12-01 14:30'``, ISO 8601 with an offset), or a
time relative to now (``-1d``, ``-2h``, ``'-30m'``; units s, m, h, d, w).

The sidebar evaluates the same syntax in the browser (``labextension/src/filter.ts``); both
run the expressions of ``tests/data/filter_corpus.json``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    UnaryExpression,
    asc,
    desc,
    exists,
    func,
    not_,
    nulls_last,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

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
      | (?P<relative>[-+]?\d+(?:\.\d+)?(?:s|m|h|d|w)(?![\w.]))
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
    elif key.startswith("`") or key.endswith("`"):
        raise InvalidFilterError(
            f"Unclosed backtick in {text!r}: quote the whole key, as in metrics.`val loss`."
        )
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


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class RelativeTime:
    """``-1d``: a time relative to when the filter is compiled (times only)."""

    text: str


def _value(kind: str, token: str) -> Any:
    if kind == "string":
        return _unquote(token)
    if kind == "relative":
        return RelativeTime(token)
    if kind == "number":
        if not any(c in token.lower() for c in ".e"):
            integer = int(token)  # exact: float() would round a 17-digit start_time
            # Beyond BIGINT, PostgreSQL refuses the bound value; as a float it compares.
            return integer if -(2**63) <= integer < 2**63 else float(integer)
        return float(token)
    raise InvalidFilterError(f"Expected a value (a number or a 'quoted string'), got {token!r}.")


def compile_filter(expression: str | None, now_ms: int | None = None) -> list[ColumnElement[bool]]:
    """SQL conditions on ``runs`` for a filter expression (empty list for none).

    ``now_ms``: the time relative times (``-1d``) count from (default: now)."""
    now = _now_ms() if now_ms is None else now_ms
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
        condition = _condition(ident, op, value, now)
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


def _condition(ident: Identifier, op: str, value: Any, now: int = 0) -> ColumnElement[bool]:
    values = value if isinstance(value, list) else [value]
    relative = next((v for v in values if isinstance(v, RelativeTime)), None)
    if relative is not None and not (
        ident.entity == "attribute" and ident.key in NUMERIC_ATTRIBUTES
    ):
        raise InvalidFilterError(
            f"A relative time ({relative.text}) compares with a time only: "
            f"{', '.join(sorted(NUMERIC_ATTRIBUTES))}."
        )
    if ident.entity == "metric":
        if op in ("LIKE", "ILIKE") or (
            op not in ("IS NULL", "IS NOT NULL") and any(isinstance(v, str) for v in values)
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
    if ident.entity == "param":
        return _param_condition(ident.key, op, value)
    if ident.entity == "tag":
        if op in ("<", "<=", ">", ">="):
            raise InvalidFilterError(
                f"tags.{ident.key} values are strings: use =, !=, LIKE, ILIKE or IN."
            )
        if op == "IS NULL":
            return not_(exists().where(tags.c.run_id == runs.c.run_id, tags.c.key == ident.key))
        if isinstance(value, list):
            value = [str(v) for v in value]
        elif value is not None:
            value = str(value)
        return exists().where(
            tags.c.run_id == runs.c.run_id,
            tags.c.key == ident.key,
            _compare(tags.c.value, op, value),
        )
    value = _check_attribute_values(ident.key, op, value, now)
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _param_condition(key: str, op: str, value: Any) -> ColumnElement[bool]:
    """A number compares with the param as a number (a param that is not one never matches);
    a quoted string compares with its text."""
    if op == "IS NULL":
        return not_(exists().where(params.c.run_id == runs.c.run_id, params.c.key == key))
    of_run = (params.c.run_id == runs.c.run_id, params.c.key == key)
    if op == "IS NOT NULL":
        return exists().where(*of_run)
    values = value if isinstance(value, list) else [value]
    numbers = [v for v in values if _is_number(v)]
    if op in ("LIKE", "ILIKE") and numbers:
        raise InvalidFilterError(f"{op} needs a quoted pattern, not {value!r}.")
    if numbers and len(numbers) != len(values):
        raise InvalidFilterError(
            f"params.{key}: the IN list mixes numbers and strings ({value!r}); use one kind."
        )
    if numbers:
        return exists().where(*of_run, _compare(ParamNumber(params.c.value), op, value))
    if op in ("<", "<=", ">", ">="):
        raise InvalidFilterError(
            f"params.{key} compares as a number with {op}: give a number, not {value!r} "
            "(a quoted value compares as text, with =, !=, LIKE, ILIKE or IN)."
        )
    return exists().where(*of_run, _compare(params.c.value, op, value))


class ParamNumber(FunctionElement[float]):
    """A text column as a number when it holds one (``0.01``, ``-3``, ``1e-5``), else NULL.

    Params are stored as text. ``CAST`` alone would fail on PostgreSQL for text that is not a
    number, and on SQLite turn it into 0; so the cast is guarded by a pattern.
    """

    type = Float()
    inherit_cache = True
    name = "param_number"


NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


# What SQLite's GLOB must rule out for text to match NUMBER_PATTERN (it has no regular
# expressions): other characters, a second e or dot, a dot after the e, a sign other than
# first or right after the e, an e with no digit before it, nothing after the e or a sign.
_NOT_NUMBER_GLOBS = (
    "*[^0-9eE.+-]*",
    "*[eE]*[eE]*",
    "*.*.*",
    "*[eE]*.*",
    "*[+-][+-]*",
    "*[0-9.][+-]*",
    "*[eE]",
    "*[+-]",
    "[eE]*",
    "[.+-][eE]*",
    "[+-].[eE]*",
)


@compiles(ParamNumber)
def _param_number_sqlite(element: ParamNumber, compiler: Any, **kw: Any) -> str:
    text = compiler.process(element.clauses, **kw)
    guards = " ".join(f"AND {text} NOT GLOB '{glob}'" for glob in _NOT_NUMBER_GLOBS)
    return f"(CASE WHEN {text} GLOB '*[0-9]*' {guards} THEN CAST({text} AS REAL) END)"


@compiles(ParamNumber, "postgresql")
def _param_number_postgresql(element: ParamNumber, compiler: Any, **kw: Any) -> str:
    text = compiler.process(element.clauses, **kw)
    pattern = NUMBER_PATTERN.replace("'", "''")
    return f"(CASE WHEN {text} ~ '{pattern}' THEN CAST({text} AS DOUBLE PRECISION) END)"


# Run attributes holding numbers (milliseconds since the epoch); every other one is text.
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "last_update_time"})

TIME_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_RELATIVE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_DATE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
TIME_HELP = (
    "milliseconds since the epoch, a date or date-time in UTC ('2026-12-01', "
    "'2026-12-01 14:30', '2026-12-01T14:30:00+02:00') or a time relative to now "
    "(-1d, -2h, -30m, -1w)"
)


def parse_time(text: str, now_ms: int) -> int | None:
    """Milliseconds since the epoch for a date, date-time (UTC unless it has an offset) or a
    relative time such as ``-1d``; None when ``text`` is none of them."""
    relative = _RELATIVE.match(text)
    if relative:
        return now_ms + round(float(relative.group(1)) * TIME_UNITS_MS[relative.group(2)])
    match = _DATE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
    try:
        stamp = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    millis = int((fraction or "0").ljust(3, "0")[:3])
    return int(stamp.timestamp()) * 1000 + millis - offset * 60_000


def _check_attribute_values(key: str, op: str, value: Any, now: int) -> Any:
    """Refuse comparisons across types: SQLite quietly answers them with nothing, PostgreSQL
    fails the query ("operator does not exist: bigint > character varying"). Times given as
    dates or relative times become milliseconds."""
    if op in ("IS NULL", "IS NOT NULL"):
        return value
    values = value if isinstance(value, list) else [value]
    if key in NUMERIC_ATTRIBUTES:
        if op in ("LIKE", "ILIKE"):
            raise InvalidFilterError(f"{key} is a time: compare it with {TIME_HELP}.")
        converted = []
        for v in values:
            if isinstance(v, (str, RelativeTime)):
                text = v if isinstance(v, str) else v.text
                stamp = parse_time(text, now)
                if stamp is None:
                    raise InvalidFilterError(
                        f"{key} is a time: compare it with {TIME_HELP}, not {text!r}."
                    )
                v = stamp
            converted.append(v)
        return converted if isinstance(value, list) else converted[0]
    if any(not isinstance(v, str) for v in values):
        raise InvalidFilterError(
            f"{key} is text: compare it with a 'quoted string', not {value!r}."
        )
    return value


def search_condition(text: str) -> ColumnElement[bool]:
    """Free text (not a LIKE pattern: "lr_0.1" or "50%" match themselves only): the run's
    name, notebook path or a tag value contains it, or its run id starts with it."""
    needle = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{needle}%"
    return or_(
        func.lower(runs.c.name).like(pattern, escape="\\"),
        func.lower(runs.c.notebook_path).like(pattern, escape="\\"),
        runs.c.run_id.like(f"{needle}%", escape="\\"),
        exists().where(
            tags.c.run_id == runs.c.run_id,
            func.lower(tags.c.value).like(pattern, escape="\\"),
        ),
    )


@dataclass(frozen=True)
class OrderTerm:
    ident: Identifier
    descending: bool


def parse_order_by(order_by: str | Iterable[str] | None) -> list[OrderTerm]:
    if order_by is None:
        return []
    items: list[Any]
    if isinstance(order_by, str):
        items = order_by.split(",")
    elif isinstance(order_by, Iterable) and not isinstance(order_by, (bytes, dict)):
        items = list(order_by)
    else:
        items = [order_by]  # not text: refused below, naming it
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


def compile_order_by(order_by: str | Iterable[str] | None) -> list[UnaryExpression[Any]]:
    """The ORDER BY of a run search: the given terms (metrics by their latest value, params
    and tags by their text, missing values last), then the tie-breakers. Ties (same start
    millisecond) go by run id, which is time-ordered within a process (``ids.new_run_id``):
    newest first by default, oldest first when sorting by ``start_time ASC``."""
    ordering = []
    terms = parse_order_by(order_by)
    for term in terms:
        column = _order_column(term.ident)
        ordering.append(nulls_last(desc(column) if term.descending else asc(column)))
    oldest_first = any(
        t.ident == Identifier("attribute", "start_time") and not t.descending for t in terms
    )
    ordering += [
        desc(runs.c.start_time),
        asc(runs.c.run_id) if oldest_first else desc(runs.c.run_id),
    ]
    return ordering


def _order_column(ident: Identifier) -> ColumnElement[Any]:
    if ident.entity == "metric":
        return (
            select(metric_series.c.latest_value)
            .where(metric_series.c.run_id == runs.c.run_id, metric_series.c.key == ident.key)
            .scalar_subquery()
        )
    if ident.entity in ("param", "tag"):
        table = params if ident.entity == "param" else tags
        return (
            select(table.c.value)
            .where(table.c.run_id == runs.c.run_id, table.c.key == ident.key)
            .scalar_subquery()
        )
    if ident.key == "experiment":
        return (
            select(experiments.c.name)
            .where(experiments.c.experiment_id == runs.c.experiment_id)
            .scalar_subquery()
        )
    return ATTRIBUTES[ident.key]
