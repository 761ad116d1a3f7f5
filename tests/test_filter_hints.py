"""Hints for filters that fail: ``jupyter_mlops.tracking.filter_hints``."""

from __future__ import annotations

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import InvalidFilterError
from jupyter_mlops.tracking.filter_hints import unquoted_date


@pytest.mark.parametrize(
    ("expression", "date"),
    [
        ("params.start_date = 2020-01-01", "2020-01-01"),
        ("params.t > 2020-01-01T10:00 and status = 'FINISHED'", "2020-01-01T10:00"),
        ("params.start_date = '2020-01-01'", None),
        ('params.start_date = "2020-01-01"', None),
        ("`params.2020-01-01` = 'x'", None),
        ("metrics.acc > 0.9", None),
    ],
)
def test_unquoted_date(expression: str, date: str | None) -> None:
    assert unquoted_date(expression) == date


def test_runs_says_to_quote_a_date(tmp_store: str) -> None:
    with pytest.raises(InvalidFilterError, match="Hint: quote dates.*'2020-01-01'"):
        mlops.runs(filter="params.start_date = 2020-01-01")
    with pytest.raises(InvalidFilterError) as info:
        mlops.runs(filter="params.x = = 1")
    assert "Hint" not in str(info.value)  # no date, no hint
