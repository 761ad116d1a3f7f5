"""The DAG: data edges from static analysis, prev: edges, Kale's producer rule, cycles."""

from __future__ import annotations

import json

import pytest

from jupyter_mlops.exceptions import CycleError, PipelineWarning, UnknownStepError
from jupyter_mlops.pipeline import load
from tests.test_pipeline_tags import write


def test_data_edges_make_prev_optional(tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("import numpy as np", ["imports"]),
        ("seed = 0", ["parameters"]),
        ("raw = np.arange(10) + seed", ["step:load"]),
        ("train, test = raw[:8], raw[8:]", ["step:split"]),
        ("model_a = train.mean()", ["step:fit_a"]),
        ("model_b = train.max()", ["step:fit_b"]),
        ("score = model_a + model_b + test.sum()", ["step:evaluate"]),
        ("print(score)", ["pipeline-metrics"]),
    )
    pipeline = load(str(nb))
    steps = pipeline.steps
    assert steps["load"].upstream == [] and steps["load"].parameters == ["seed"]
    assert steps["split"].inputs == {"raw": "load"}
    assert steps["fit_a"].upstream == ["split"] and steps["fit_b"].upstream == ["split"]
    assert steps["evaluate"].inputs == {"model_a": "fit_a", "model_b": "fit_b", "test": "split"}
    assert steps["split"].outputs == ["test", "train"]
    assert steps["evaluate"].outputs == ["score"]  # for the pipeline-metrics cell
    assert pipeline.metrics == {"score": "evaluate"}
    assert pipeline.order == ["load", "split", "fit_a", "fit_b", "evaluate"]
    assert pipeline.downstream("fit_a") == ["fit_a", "evaluate"]
    assert steps["evaluate"].reasons["fit_a"] == ["reads model_a"]
    shown = json.loads(pipeline.to_json())
    assert {"from": "split", "to": "fit_a", "reasons": ["reads train"]} in shown["edges"]
    assert '"split" -> "fit_a" [label="reads train"];' in pipeline.to_dot()
    assert "<- split: reads train" in pipeline.to_text()


def test_changed_value_comes_from_the_step_that_changed_it(tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("model = Model()", ["step:build"]),
        ("model.fit(data)", ["step:train"]),
        ("print(model.score())", ["step:report"]),
        ("class Model:\n    def fit(self, d): pass\n    def score(self): return 1", ["functions"]),
        ("data = [1]", ["step:data"]),
    )
    with pytest.warns(PipelineWarning, match="'train' reads 'data'"):
        pipeline = load(str(nb))
    assert pipeline.steps["report"].inputs == {"model": "train"}
    assert pipeline.steps["train"].inputs == {"model": "build"}
    # `data` is defined only below train: a warning, as running top to bottom would fail
    assert any("'train' reads 'data'" in w for w in pipeline.warnings)


def test_kale_prefers_the_explicit_ancestor(tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("x = 1", ["step:a"]),
        ("x.bit_length()", ["step:b", "prev:a"]),  # changes x (method call), parallel to c
        ("y = x + 1", ["step:c", "prev:a"]),
    )
    pipeline = load(str(nb))
    assert pipeline.steps["c"].inputs == {"x": "a"}
    assert pipeline.steps["c"].upstream == ["a"]


def test_functions_cell_free_variables_are_inputs(tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("def scaled(v):\n    return v * factor", ["functions"]),
        ("factor = 3", ["step:config"]),
        ("out = scaled(2)", ["step:use"]),
    )
    assert load(str(nb)).steps["use"].inputs == {"factor": "config"}


def test_cycle_names_the_steps(tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("a = 1", ["step:first", "prev:third"]),
        ("b = a", ["step:second"]),
        ("c = b", ["step:third"]),
    )
    with pytest.raises(CycleError) as info:
        load(str(nb))
    assert set(info.value.steps) == {"first", "second", "third"}
    message = str(info.value)
    assert "first -> second -> third -> first" in message
    assert "second needs first (reads a)" in message
    assert "first needs third (prev:third tag)" in message


def test_prev_naming_a_missing_step(tmp_path):
    nb = write(tmp_path / "p.ipynb", ("a = 1", ["step:first", "prev:lod"]))
    with pytest.raises(UnknownStepError, match="'first' has prev:lod, but no step is named 'lod'"):
        load(str(nb))


def test_undefined_name_warns_with_name_and_step(tmp_path):
    nb = write(tmp_path / "p.ipynb", ("a = undefined_thing + 1", ["step:first"]))
    with pytest.warns(PipelineWarning, match="step 'first' reads 'undefined_thing'"):
        load(str(nb))


def test_require_unknown_step(tmp_path):
    pipeline = load(str(write(tmp_path / "p.ipynb", ("a = 1", ["step:first"]))))
    with pytest.raises(UnknownStepError, match="no step 'second'"):
        pipeline.require("second")
