"""A notebook's parameters cell: ``jupyter_mlops.tracking.parameters``."""

from __future__ import annotations

import datetime as dt

import nbformat
import pytest

from jupyter_mlops.exceptions import InvalidParameterError, UnknownParameterError
from jupyter_mlops.tracking.parameters import (
    GIVEN_TAG,
    UNCHECKED_TAG,
    find_parameters_cell,
    for_papermill,
    resolve_parameters,
)


def notebook(
    *cells: str | tuple[str, list[str]], language: str = "python"
) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": language}
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        node = nbformat.v4.new_code_cell(source)
        node.metadata["tags"] = tags
        nb.cells.append(node)
    return nb


def test_defaults_of_the_parameters_cell() -> None:
    nb = notebook(
        "import os",
        (
            "%matplotlib inline\n"
            "start_date = '2020-01-01'  # a comment\n"
            "CANDIES: int = 20\n"
            "low, high = 0.1, [1, 2]\n"
            "data_dir = os.path.join('a', 'b')\n"
            "flags = {'a': True}\n"
            "unset: str\n"
            "if False:\n"
            "    hidden = 1\n",
            ["parameters"],
        ),
    )
    cell = find_parameters_cell(nb)
    assert cell is not None and cell.index == 1 and cell.tag == "parameters"
    assert cell.defaults == {
        "start_date": "2020-01-01",
        "CANDIES": 20,
        "low": 0.1,
        "high": [1, 2],
        "data_dir": "os.path.join('a', 'b')",  # not a literal: its source text
        "flags": {"a": True},
    }


def test_papermills_tag_wins_over_kales_and_kales_is_used_alone() -> None:
    both = notebook(("a = 1", ["pipeline-parameters"]), ("b = 2", ["parameters"]))
    assert find_parameters_cell(both).defaults == {"b": 2}
    assert for_papermill(both) is both

    kale = notebook(("import math", ["imports"]), ("a = 1", ["pipeline-parameters"]), "a")
    cell = find_parameters_cell(kale)
    assert (cell.index, cell.tag, cell.defaults) == (1, "pipeline-parameters", {"a": 1})
    tagged = for_papermill(kale)
    assert tagged.cells[1].metadata["tags"] == ["pipeline-parameters", "parameters"]
    assert kale.cells[1].metadata["tags"] == ["pipeline-parameters"]  # the input is untouched
    assert find_parameters_cell(notebook("x = 1")) is None


def test_resolve_records_defaults_and_given_values() -> None:
    nb = notebook(("start_date = '2020-01-01'\nCANDIES = 20", ["parameters"]))
    resolved = resolve_parameters(nb, {"CANDIES": 30})
    assert resolved.given == {"CANDIES": 30}
    params, tags = resolved.record()
    assert params == {"start_date": "2020-01-01", "CANDIES": 30}
    assert tags == {GIVEN_TAG: "CANDIES"}
    assert resolve_parameters(nb, {}).record() == (
        {"start_date": "2020-01-01", "CANDIES": 20},
        {GIVEN_TAG: ""},  # every value is a default
    )


def test_unknown_names_are_refused_naming_the_notebooks_parameters() -> None:
    nb = notebook(("start_date = '2020-01-01'\nCANDIES = 20", ["parameters"]))
    with pytest.raises(UnknownParameterError) as info:
        resolve_parameters(nb, {"start_dat": "2020-02-01"}, name="Notebook 'x.ipynb'")
    message = str(info.value)
    assert "Notebook 'x.ipynb' has no parameter start_dat" in message
    assert "defines start_date, CANDIES" in message
    assert "Did you mean 'start_date'?" in message
    assert isinstance(info.value, InvalidParameterError)

    with pytest.raises(UnknownParameterError, match="has no parameters cell"):
        resolve_parameters(notebook("CANDIES = 20"), {"CANDIES": 30})

    allowed = resolve_parameters(notebook("CANDIES = 20"), {"CANDIES": 30}, allow_unknown=True)
    assert allowed.record() == ({"CANDIES": 30}, {GIVEN_TAG: "CANDIES", UNCHECKED_TAG: "CANDIES"})


def test_given_values_are_normalized_as_papermill_injects_them() -> None:
    nb = notebook(("day = '2020-01-01'\nwhen = None", ["parameters"]))
    resolved = resolve_parameters(
        nb, {"day": dt.date(2021, 3, 4), "when": [dt.datetime(2021, 1, 1)]}
    )
    assert resolved.given == {"day": "2021-03-04", "when": ["2021-01-01T00:00:00"]}
    with pytest.raises(InvalidParameterError, match="cannot be set"):
        resolve_parameters(nb, {"day": {1, 2}})


def test_a_language_papermill_cannot_inspect_is_not_refused() -> None:
    r_notebook = notebook(('alpha = 0.5\nname = "x"', ["parameters"]), language="R")
    r_notebook.metadata["kernelspec"]["name"] = "ir"
    cell = find_parameters_cell(r_notebook)
    # papermill cannot inspect R: the names cannot be checked, so they are let through and
    # recorded as unchecked, rather than refused
    assert cell is not None and not cell.inspected
    resolved = resolve_parameters(r_notebook, {"alpha": 0.3})
    assert resolved.record() == ({"alpha": 0.3}, {GIVEN_TAG: "alpha", UNCHECKED_TAG: "alpha"})
