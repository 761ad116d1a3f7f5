"""Cell tags -> steps: Kale's vocabulary (step:/block:/prev:/imports/functions/parameters/
metrics/skip, cluster tags kept as metadata), and clear errors naming the cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlops.exceptions import DuplicateStepError, NotebookFormatError, TagError
from jupyter_mlops.pipeline.tags import load_spec, parse_notebook


def write(path: Path, *cells, metadata=None) -> Path:
    """A notebook from (source, tags) cells, written as plain nbformat-4 JSON."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [],
    }
    nb["metadata"].update(metadata or {})
    for i, cell in enumerate(cells):
        source, tags = (cell, []) if isinstance(cell, str) else cell
        nb["cells"].append(
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {"tags": tags} if tags else {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    path.write_text(json.dumps(nb))
    return path


def test_kale_vocabulary(tmp_path):
    nb = write(
        tmp_path / "kale.ipynb",
        "print('before any step: ignored')",
        ("import numpy as np", ["imports"]),
        "import pandas as pd",  # continues the imports block
        ("def double(x):\n    return 2 * x", ["functions"]),
        ("n = 10", ["pipeline-parameters"]),
        ("data = np.arange(n)", ["block:load"]),
        "data = data + 1",  # continues step load
        ("print('scratch')", ["skip"]),
        ("total = double(data).sum()", ["step:total", "prev:load", "limit:nvidia.com/gpu:1"]),
        ("", ["block:"]),  # Kale's extension writes an empty block: it continues the step
        (
            "mean = data.mean()",
            ["step:mean", "prev:load", "annotation:team:ml", "label:tier:gold", "nocache"],
        ),
        ("print(total)\nprint(mean)", ["pipeline-metrics"]),
        metadata={
            "kubeflow_notebook": {
                "pipeline_name": "kale-demo",
                "experiment": {"name": "kale-exp"},
                "steps_defaults": ["label:owner:data-team"],
            }
        },
    )
    spec = parse_notebook(nb)
    assert spec.name == "kale-demo"
    assert spec.experiment == "kale-exp"
    assert [s.name for s in spec.steps] == ["load", "total", "mean"]
    assert [c.index for c in spec.ignored] == [0]
    assert len(spec.imports) == 2 and len(spec.functions) == 1
    assert spec.parameters[0].source == "n = 10"
    load, total, mean = spec.steps
    assert load.source == "data = np.arange(n)\n\ndata = data + 1"
    assert total.prev == ["load"]
    assert total.metadata["limits"] == {"nvidia.com/gpu": "1"}
    assert total.metadata["labels"] == {"owner": "data-team"}
    assert mean.metadata["annotations"] == {"team": "ml"}
    assert mean.metadata["labels"] == {"tier": "gold", "owner": "data-team"}
    assert mean.nocache and not total.nocache
    assert "print('scratch')" not in "".join(s.source for s in spec.steps)
    assert spec.metrics[0].source.startswith("print(total)")


def test_unknown_tag_names_the_cell(tmp_path):
    nb = write(tmp_path / "a.ipynb", ("x = 1", ["step:a"]), ("y = 2", ["steps:b"]))
    with pytest.raises(TagError) as info:
        parse_notebook(nb)
    message = str(info.value)
    assert "'steps:b'" in message and "cell 1" in message and "c1" in message
    assert "y = 2" in message


def test_two_steps_with_one_name(tmp_path):
    nb = write(
        tmp_path / "a.ipynb",
        ("x = 1", ["step:load"]),
        ("y = x", ["step:train"]),
        ("z = 3", ["step:load"]),
    )
    with pytest.raises(DuplicateStepError, match="Two steps are named 'load'.*cell 0.*cell 2"):
        parse_notebook(nb)


def test_contiguous_step_tag_continues_the_step(tmp_path):
    nb = write(tmp_path / "a.ipynb", ("x = 1", ["step:load"]), ("y = 2", ["step:load"]))
    assert parse_notebook(nb).steps[0].source == "x = 1\n\ny = 2"


@pytest.mark.parametrize(
    ("tags", "match"),
    [
        (["prev:load"], "prev:load but no step:NAME"),
        (["imports", "step:a"], "tagged 'imports' and also names a step"),
        (["step:a", "step:b"], "names several steps"),
        ([3], "Tag 3 .* is not text"),
    ],
)
def test_misused_tags(tmp_path, tags, match):
    nb = write(tmp_path / "a.ipynb", ("x = 1", ["step:load"]), ("y = 2", tags))
    with pytest.raises(TagError, match=match):
        parse_notebook(nb)


def test_notebook_without_steps(tmp_path):
    nb = write(tmp_path / "a.ipynb", "x = 1")
    with pytest.raises(TagError, match="no step: tagged cells"):
        parse_notebook(nb)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json at all", "not JSON"),
        ('{"nbformat": 4}', "no 'cells' list"),
        ('{"nbformat": 3, "cells": []}', "notebook format 3"),
        ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}', "cell 0 source"),
        ('{"nbformat": 4, "cells": [{"source": ""}]}', "cell 0 has no valid cell_type"),
    ],
)
def test_invalid_notebook(tmp_path, content, match):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookFormatError, match=match):
        parse_notebook(path)


def test_missing_notebook(tmp_path):
    with pytest.raises(NotebookFormatError, match="does not exist"):
        parse_notebook(tmp_path / "nope.ipynb")


def test_pipeline_yaml_of_notebooks(tmp_path):
    write(tmp_path / "load.ipynb", ("n = 3", ["parameters"]), "data = list(range(n))")
    write(tmp_path / "train.ipynb", "model = sum(data)", ("print(model)", ["pipeline-metrics"]))
    (tmp_path / "pipeline.yaml").write_text(
        "name: two\nexperiment: exp\nsteps:\n  - notebook: load.ipynb\n"
        "  - notebook: train.ipynb\n    name: fit\n    prev: [load]\n"
    )
    spec = load_spec(tmp_path / "pipeline.yaml")
    assert (spec.name, spec.experiment) == ("two", "exp")
    assert [(s.name, s.prev) for s in spec.steps] == [("load", []), ("fit", ["load"])]
    assert spec.parameters[0].source == "n = 3"
    assert spec.steps[1].source == "model = sum(data)"
    (tmp_path / "dup.yaml").write_text("steps:\n  - load.ipynb\n  - notebook: load.ipynb\n")
    with pytest.raises(DuplicateStepError, match="Two steps are named 'load'"):
        load_spec(tmp_path / "dup.yaml")
    (tmp_path / "bad.yaml").write_text("steps: 3\n")
    with pytest.raises(NotebookFormatError, match="non-empty 'steps' list"):
        load_spec(tmp_path / "bad.yaml")
