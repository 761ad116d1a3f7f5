"""Validation of what callers hand the store: names, run ids, run columns, page and count
arguments. Each refuses, with a typed error naming the problem, what the database would
refuse (or store differently) on one backend, so every backend behaves alike."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from ..exceptions import InvalidFilterError, InvalidParameterError
from .records import RUN_STATUSES
from .schema import MAX_NAME_LENGTH, runs

# The most runs one search returns in a page.
MAX_PAGE = 100_000


def validate_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"{what} must be a non-empty string, got {name!r}.")
    name = name.strip()
    if "\x00" in name:  # PostgreSQL text cannot hold it; refused on every store alike
        raise InvalidParameterError(f"{what} {name!r} contains a NUL character.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterError(
            f"{what} is {len(name)} characters; the limit is {MAX_NAME_LENGTH}."
        )
    return name


def validate_run_id(value: Any, what: str = "run id") -> str:
    """A run id given by a caller (a parent, an explicit id): a string that fits the
    store's run id column on every backend (PostgreSQL refuses a longer one; SQLite would
    store it)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(f"{what} must be a run id (a non-empty string), got {value!r}.")
    value = value.strip()
    limit: int = getattr(runs.c.run_id.type, "length", None) or 32
    if len(value) > limit or "\x00" in value:
        raise InvalidParameterError(
            f"{what} {value[:60]!r} is not a run id: run ids are at most {limit} characters "
            "(32 hex characters as jupyter-mlops makes them)."
        )
    return value


def check_run_columns(columns: dict[str, Any]) -> None:
    """Refuse values for run columns that the database would refuse (too long for the
    column, or holding NUL), the same on every backend."""
    for key, value in columns.items():
        column = runs.c.get(key)
        if column is None or not isinstance(value, str):
            continue
        limit = getattr(column.type, "length", None)
        if limit is not None and len(value) > limit:
            raise InvalidParameterError(
                f"{key} is {len(value)} characters; the store's limit is {limit}."
            )
        if limit is not None and "\x00" in value:
            raise InvalidParameterError(f"{key} {value[:60]!r} contains a NUL character.")


def check_statuses(statuses: Sequence[str]) -> list[str]:
    """Run statuses to select by, upper-cased; an unknown one is an InvalidFilterError."""
    bad = [s for s in statuses if s.upper() not in RUN_STATUSES]
    if bad:
        raise InvalidFilterError(
            f"Unknown status {bad[0]!r}; use one of {', '.join(RUN_STATUSES)}."
        )
    return [s.upper() for s in statuses]


def check_page(limit: Any, offset: Any) -> tuple[int | None, int]:
    """``limit`` (None: all) and ``offset`` of a search page, numpy integers accepted."""
    limit, offset = integer(limit), integer(offset)
    if limit is not None and (not is_count(limit) or limit < 0 or limit > MAX_PAGE):
        raise InvalidParameterError(f"limit must be an integer from 0 to {MAX_PAGE}.")
    if not is_count(offset) or offset < 0:
        raise InvalidParameterError("offset must be a non-negative integer.")
    return limit, offset


def check_max_points(max_points: Any) -> int | None:
    """A history's ``max_points`` (None: every point), numpy integers accepted."""
    max_points = integer(max_points)
    if max_points is not None and (not is_count(max_points) or max_points < 2):
        raise InvalidParameterError("max_points must be an integer >= 2.")
    return max_points


def integer(value: Any) -> Any:
    """A numpy integer (``np.int64(100)``, a DataFrame's ``.shape[0] // 2``...) as an int;
    anything else unchanged, for the caller to accept or refuse."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
