"""Headless notebook runs: ``jupyter_mlops.tracking.notebook.execute_notebook`` (papermill)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import InvalidParameterError, NotebookExecutionError
from jupyter_mlops.tracking.notebook import (
    EXECUTED_ARTIFACT,
    execute_notebook,
    load_notebook,
    parse_parameter,
)

TRAIN = (
    ("alpha = 1\nlabel = 'default'", ["parameters"]),
    "import jupyter_mlops as mlops\n"
    "with mlops.start_run('inner') as inner:\n"
    "    mlops.log_metric('alpha', alpha)\n"
    "    mlops.log_param('label', label)",
    "print('alpha is', alpha, label)",
)


@pytest.mark.slow
def test_execute_notebook_tracks_one_run_with_cells_children_and_artifact(
    tmp_store: str, make_notebook, tmp_path: Path
) -> None:
    notebook = make_notebook("train.ipynb", *TRAIN)
    output = tmp_path / "out" / "executed.ipynb"
    output.parent.mkdir()
    run = execute_notebook(notebook, output, {"alpha": 5, "label": "hi"}, experiment="nb-exp")
    assert run.status == "FINISHED"

    record = mlops.get_run(run.run_id)
    assert record.status == "FINISHED"
    assert record.kind == "notebook"
    assert record.name == "train"
    assert record.experiment == "nb-exp"
    assert record.notebook_path == str(notebook.resolve())
    assert record.params == {"alpha": "5", "label": "hi"}
    # papermill injects a parameters cell after the tagged one: 4 executed code cells
    cells = record.cells  # a DataFrame, one row per executed cell
    assert list(cells["position"]) == [0, 1, 2, 3]
    assert set(cells["status"]) == {"FINISHED"}
    assert list(cells["execution_count"]) == [1, 2, 3, 4]
    assert "alpha = 5" in cells["source"][1]
    assert cells["duration_ms"].notna().all()
    assert "print('alpha is', alpha, label)" in record.source

    # the notebook's own run is a child of the notebook run, in the same experiment
    (child_id,) = record.children
    child = mlops.get_run(child_id)
    assert child.name == "inner"
    assert child.parent_run_id == run.run_id
    assert child.experiment == "nb-exp"
    assert child.metrics == {"alpha": 5.0}
    assert child.params == {"label": "hi"}

    # the executed notebook: written where asked, and kept as an artifact
    executed = nbformat.read(output, as_version=4)
    assert "alpha is 5 hi" in json.dumps(executed.cells[-1].outputs)
    assert dict(record.artifacts)[EXECUTED_ARTIFACT] > 0
    stored = mlops.get_store().artifacts.open(run.run_id, EXECUTED_ARTIFACT).read()
    assert b"alpha is 5 hi" in stored
    # the environment of this process is unchanged afterwards
    import os

    assert "JUPYTER_MLOPS_PARENT_RUN" not in os.environ
    assert "JUPYTER_MLOPS_NOTEBOOK" not in os.environ


@pytest.mark.slow
def test_failing_notebook_is_failed_with_the_cells_that_ran(tmp_store: str, make_notebook) -> None:
    notebook = make_notebook(
        "broken.ipynb",
        "x = 1",
        "raise RuntimeError('step 2 exploded')",
        "print('never')",
    )
    with pytest.raises(NotebookExecutionError, match="step 2 exploded") as info:
        execute_notebook(notebook)
    assert "RuntimeError" in str(info.value)
    frame = mlops.runs(filter="kind = 'notebook'")
    assert list(frame["status"]) == ["FAILED"]
    record = mlops.get_run(frame.loc[0, "run_id"])
    assert "step 2 exploded" in record.error
    assert list(record.cells["status"]) == ["FINISHED", "FAILED"]
    assert "RuntimeError" in record.cells["error"][1]
    assert EXECUTED_ARTIFACT in dict(record.artifacts)
    assert mlops.active_run() is None


def test_bad_notebook_paths(tmp_store: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="does not exist"):
        execute_notebook(tmp_path / "missing.ipynb")
    garbage = tmp_path / "garbage.ipynb"
    garbage.write_text("{not json")
    with pytest.raises(InvalidParameterError, match="not a valid Jupyter notebook"):
        load_notebook(garbage)
    assert mlops.runs().empty  # nothing was started


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr=0.1", ("lr", 0.1)),
        ("n=3", ("n", 3)),
        ("name=abc", ("name", "abc")),
        ("s='quoted'", ("s", "quoted")),
        ("flag=true", ("flag", True)),
        ("v=None", ("v", None)),
        ("xs=[1, 2]", ("xs", [1, 2])),
        ("eq=a=b", ("eq", "a=b")),
        (" k = 1", ("k", 1)),
        # literals papermill cannot inject stay text (a set used to fail the started run)
        ("s={1, 2}", ("s", "{1, 2}")),
        ("t=(1,2)", ("t", "(1,2)")),
        ("b=b'x'", ("b", "b'x'")),
        ("c=1j", ("c", "1j")),
        ("d={1: 'a'}", ("d", "{1: 'a'}")),
        ("m={'k': [1, {'x': None}]}", ("m", {"k": [1, {"x": None}]})),
    ],
)
def test_parse_parameter(text: str, expected: tuple[str, object]) -> None:
    assert parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=1", "1x=2", "a-b=3"])
def test_parse_parameter_errors(text: str) -> None:
    with pytest.raises(InvalidParameterError):
        parse_parameter(text)


@pytest.mark.slow
def test_an_unstorable_executed_notebook_still_ends_the_run(
    tmp_store: str, make_notebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.exceptions import StoreError

    notebook = make_notebook("ok.ipynb", "x = 1")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    mlops.get_store()  # opened with the good artifact root; then the root goes bad
    mlops.get_store().artifacts.root = str(blocker / "artifacts")
    with pytest.raises(StoreError, match="Cannot store artifact 'executed.ipynb'"):
        execute_notebook(notebook)
    (status,) = mlops.runs()["status"]
    assert status == "FINISHED"  # not left RUNNING
    assert mlops.active_run() is None


def test_normalize_upgrades_4_2_with_ids_keeping_them() -> None:
    from jupyter_mlops.tracking.notebook import normalize

    node = nbformat.from_dict(
        {
            "nbformat": 4,
            "nbformat_minor": 2,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "code",
                    "id": "keep-me",
                    "metadata": {},
                    "source": "",
                    "outputs": [],
                    "execution_count": None,
                },
                {"cell_type": "markdown", "id": "bad id!", "metadata": {}, "source": ""},
                {
                    "cell_type": "code",
                    "id": "keep-me",
                    "metadata": {},
                    "source": "",
                    "outputs": [],
                    "execution_count": None,
                },
                {
                    "cell_type": "code",
                    "metadata": {},
                    "source": "",
                    "outputs": [],
                    "execution_count": None,
                },
            ],
        }
    )
    out = normalize(node)
    nbformat.validate(out)
    ids = [c["id"] for c in out.cells]
    assert out.nbformat_minor == 5 and ids[0] == "keep-me"
    assert len(set(ids)) == 4  # the invalid, duplicate and missing ids were replaced


@pytest.mark.slow
def test_unknown_parameters_are_refused_unless_allowed(tmp_store: str, make_notebook) -> None:
    from jupyter_mlops.exceptions import UnknownParameterError

    notebook = make_notebook("n.ipynb", ("alpha = 1", ["parameters"]), "print(alpha)")
    with pytest.raises(UnknownParameterError, match="defines alpha"):
        execute_notebook(notebook, parameters={"alpah": 2})
    assert mlops.runs().empty
    run = execute_notebook(notebook, parameters={"beta": 2}, allow_unknown_params=True)
    record = mlops.get_run(run.run_id)
    assert record.params == {"alpha": "1", "beta": "2"}
    assert record.tags == {"mlops.params_given": "beta", "mlops.params_unchecked": "beta"}
