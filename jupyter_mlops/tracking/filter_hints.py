"""Hints for filter expressions that fail in a way a new user does not see at once.

Params are text, so ``params.start_date = 2020-01-01`` fails to parse (``2020 - 01 - 01`` is
not a value); the fix is to quote the date. The parser says what it expected; this adds
what to type.
"""

from __future__ import annotations

import re

from ..exceptions import InvalidFilterError

# A date or date-time not inside quotes: 2020-01-01, 2020-01-01T10:00, 2020-01-01 10:00:00.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")


def unquoted_date(expression: str) -> str | None:
    """The first date in ``expression`` outside quotes, or None."""
    bare = _QUOTED.sub(lambda m: " " * len(m.group()), expression)
    found = _DATE.search(bare)
    return found.group() if found else None


def with_hint(error: InvalidFilterError, expression: str | None) -> InvalidFilterError:
    """``error`` with a hint appended when the expression holds an unquoted date."""
    date = unquoted_date(expression) if isinstance(expression, str) else None
    if date is None:
        return error
    return InvalidFilterError(
        f"{error} Hint: quote dates, as params and tags are text: '{date}'"
        + (f" (in {expression!r})." if expression else ".")
    )
