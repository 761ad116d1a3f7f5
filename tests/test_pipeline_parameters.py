"""Pipeline parameters: declared by the parameters cell, overrides typed by their defaults."""

from __future__ import annotations

import pytest

from jupyter_mlops.exceptions import PipelineParameterError
from jupyter_mlops.pipeline.parameters import declared_parameters, parse_assignments, resolve

CELL = (
    "n = 100\nlr = 0.1\nname = 'run'\nfast = False\nlayers = [1, 2]\nseed: int = 0\nday = today()\n"
)


def test_declared():
    declared = declared_parameters(CELL)
    assert list(declared) == ["n", "lr", "name", "fast", "layers", "seed", "day"]
    assert declared["lr"].default == 0.1 and declared["seed"].default == 0
    assert not declared["day"].typed


def test_text_values_are_typed_by_defaults():
    declared = declared_parameters(CELL)
    texts = parse_assignments(
        ["n=5", "lr=1", "name=123", "fast=true", "layers=[3]", "day=2024-01-01"]
    )
    assert resolve(declared, texts, from_text=True) == {
        "n": 5,
        "lr": 1.0,
        "name": "123",
        "fast": True,
        "layers": [3],
        "day": "2024-01-01",
    }


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ({"n": "abc"}, r"'n' expects an int \(default 100\), got str 'abc'"),
        ({"n": "1.5"}, "'n' expects an int"),
        ({"fast": "maybe"}, "'fast' expects a bool"),
        ({"layers": "3"}, "'layers' expects a list"),
    ],
)
def test_wrong_type(given, match):
    with pytest.raises(PipelineParameterError, match=match):
        resolve(declared_parameters(CELL), given, from_text=True)


def test_api_values_are_checked_too():
    declared = declared_parameters(CELL)
    assert resolve(declared, {"lr": 2}) == {"lr": 2.0}
    with pytest.raises(PipelineParameterError, match="'n' expects an int"):
        resolve(declared, {"n": True})


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(PipelineParameterError, match=r"no parameter 'nn' \(its parameters: n=100"):
        resolve(declared_parameters(CELL), {"nn": 1})


def test_bad_assignments():
    with pytest.raises(PipelineParameterError, match="KEY=VALUE"):
        parse_assignments(["novalue"])
    with pytest.raises(PipelineParameterError, match="given twice"):
        parse_assignments(["a=1", "a=2"])
