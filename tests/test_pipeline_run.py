"""Real pipeline runs through papermill: data passing, cache hits and misses, tracking,
failure and resume, parallel steps, hand-over errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import MissingInputsError, UnknownStepError
from jupyter_mlops.pipeline import run
from tests.test_pipeline_tags import write

pytestmark = pytest.mark.slow


def pipeline_notebook(tmp_path, fit="model = DummyClassifier(strategy='most_frequent')"):
    """A Kale-style notebook: block:/step:/prev:, limit:, imports, parameters, metrics."""
    return write(
        tmp_path / "kale.ipynb",
        ("import numpy as np\nimport pandas as pd\nimport helpers", ["imports"]),
        ("n = 40", ["pipeline-parameters"]),
        (
            "frame = pd.DataFrame({'x': np.arange(n, dtype=float), 'y': np.arange(n) % 2})\n"
            "values = np.linspace(0.0, 1.0, n)",
            ["block:load"],
        ),
        ("scaled = helpers.scale(values)", ["step:scale", "prev:load", "limit:memory:1Gi"]),
        (
            "from sklearn.dummy import DummyClassifier\n"
            f"{fit}\n"
            "model.fit(frame[['x']], frame['y'])\n"
            "assert 'values' not in globals(), 'a warm kernel kept the previous namespace'",
            ["step:fit"],
        ),
        (
            "import jupyter_mlops as mlops\n"
            "score = float(model.score(frame[['x']], frame['y'])) + float(scaled.sum())\n"
            "mlops.log_metric('inside', score)\n"
            "print('score is', score)",
            ["step:evaluate"],
        ),
        ("print(score)", ["pipeline-metrics"]),
    )


def statuses(summary):
    return {s.name: s.status for s in summary.steps}


def test_data_passing_cache_and_tracking(tmp_store, tmp_path):
    (tmp_path / "helpers.py").write_text("def scale(v):\n    return v * 2\n")
    nb = pipeline_notebook(tmp_path)
    cache = tmp_path / "cache"
    first = run(nb, jobs=1, cache_dir=cache)
    assert first.ok, [(s.name, s.error, s.traceback) for s in first.failed]
    assert statuses(first) == dict.fromkeys(["load", "scale", "fit", "evaluate"], "ran")
    assert first.kernels_started == 1  # one warm kernel, reused by every step
    assert [s.kernel_reused for s in first.steps] == [False, True, True, True]
    expected = 0.5 + 2 * sum(i / 39 for i in range(40))
    assert first.metrics["score"] == pytest.approx(expected)

    parent = mlops.get_run(first.run_id)
    assert parent.kind == "pipeline" and parent.status == "FINISHED"
    assert parent.metrics["score"] == pytest.approx(expected)
    assert parent.params["n"] == "40"
    assert sorted(parent.children) == sorted(s.run_id for s in first.steps)
    evaluate = mlops.get_run(first.step("evaluate").run_id)
    assert evaluate.kind == "pipeline-step" and evaluate.parent_run_id == first.run_id
    assert evaluate.metrics["inside"] == pytest.approx(expected)  # logged inside the step
    assert evaluate.tags["pipeline.status"] == "ran"
    assert "score is" in evaluate.stdout
    assert any(path == "executed.ipynb" for path, _ in evaluate.artifacts)
    executed = json.loads(Path(first.step("evaluate").notebook).read_text())
    assert any(
        "score is" in "".join(o.get("text", ""))
        for c in executed["cells"]
        for o in c.get("outputs", [])
    )
    scale = mlops.get_run(first.step("scale").run_id)
    assert scale.tags["pipeline.limits"] == '{"memory": "1Gi"}'
    assert not os.path.exists(nb.with_suffix(".ipynb.bak"))

    cached = run(nb, jobs=1, cache_dir=cache)
    assert statuses(cached) == dict.fromkeys(["load", "scale", "fit", "evaluate"], "cached")
    assert cached.kernels_started == 0
    assert cached.step("fit").cached_from == first.step("fit").run_id
    assert cached.metrics["score"] == pytest.approx(expected)
    assert mlops.get_run(cached.step("fit").run_id).tags["pipeline.cached_from"] == (
        first.step("fit").run_id
    )

    pipeline_notebook(tmp_path, fit="model = DummyClassifier(strategy='prior')")
    edited = run(nb, jobs=1, cache_dir=cache)
    assert statuses(edited) == {
        "load": "cached",
        "scale": "cached",
        "fit": "ran",
        "evaluate": "ran",
    }

    (tmp_path / "helpers.py").write_text("def scale(v):\n    return v * 3\n")
    module_edit = run(nb, jobs=1, cache_dir=cache)
    assert statuses(module_edit) == {
        "load": "cached",
        "scale": "ran",
        "fit": "cached",
        "evaluate": "ran",
    }
    assert module_edit.metrics["score"] == pytest.approx(0.5 + 3 * sum(i / 39 for i in range(40)))

    changed_param = run(nb, {"n": 10}, jobs=1, cache_dir=cache)
    assert changed_param.step("load").status == "ran"


def test_failure_and_resume(tmp_store, tmp_path):
    nb = write(
        tmp_path / "fails.ipynb",
        ("a = 1", ["step:first"]),
        (
            "import os\nif not os.path.exists('fixed'):\n    raise RuntimeError('broken step')\n"
            "b = a + 1",
            ["step:second"],
        ),
        ("c = b + 1", ["step:third"]),
        ("d = 4", ["step:other"]),
    )
    cache = tmp_path / "cache"
    failed = run(nb, jobs=2, cache_dir=cache)
    assert failed.status == "FAILED"
    assert statuses(failed) == {
        "first": "ran",
        "second": "failed",
        "third": "skipped",
        "other": "ran",
    }
    second = failed.step("second")
    assert second.error == "RuntimeError: broken step"
    assert "raise RuntimeError('broken step')" in second.traceback
    assert os.path.exists(second.notebook)
    assert mlops.get_run(failed.run_id).status == "FAILED"
    assert mlops.get_run(second.run_id).status == "FAILED"
    skipped = mlops.get_run(failed.step("third").run_id)
    assert skipped.tags["pipeline.status"] == "skipped" and skipped.status == "KILLED"

    (tmp_path / "fixed").write_text("")
    resumed = run(nb, jobs=2, cache_dir=cache)
    assert resumed.ok
    assert statuses(resumed) == {
        "first": "cached",
        "second": "ran",
        "third": "ran",
        "other": "cached",
    }

    only = run(nb, jobs=2, cache_dir=cache, only="third")
    assert statuses(only) == {"first": "cached", "second": "cached", "third": "ran"}
    with pytest.raises(MissingInputsError, match="Step 'first' has no cached result"):
        run(nb, cache_dir=tmp_path / "empty-cache", only="second")
    with pytest.raises(UnknownStepError, match="no step 'fourth'"):
        run(nb, cache_dir=cache, from_step="fourth")


def test_independent_steps_overlap(tmp_store, tmp_path):
    """Each step waits for the other's flag file: both finish only if they run at once."""
    wait = (
        "import pathlib, time\n"
        "pathlib.Path('{me}.flag').write_text('')\n"
        "deadline = time.monotonic() + 120\n"
        "while not pathlib.Path('{other}.flag').exists():\n"
        "    assert time.monotonic() < deadline, 'the other step never ran beside this one'\n"
        "    time.sleep(0.05)\n"
        "{me}_done = True"
    )
    nb = write(
        tmp_path / "parallel.ipynb",
        (wait.format(me="left", other="right"), ["step:left"]),
        (wait.format(me="right", other="left"), ["step:right"]),
        ("both = left_done and right_done", ["step:join"]),
    )
    summary = run(nb, jobs=2, cache_dir=tmp_path / "cache")
    assert summary.ok, [(s.name, s.error) for s in summary.failed]
    assert statuses(summary) == {"left": "ran", "right": "ran", "join": "ran"}


def test_unserializable_hand_over_names_variable_and_step(tmp_store, tmp_path):
    nb = write(
        tmp_path / "gen.ipynb",
        ("numbers = (i for i in range(3))", ["step:make"]),
        ("total = sum(numbers)", ["step:use"]),
    )
    summary = run(nb, jobs=1, cache_dir=tmp_path / "cache")
    assert statuses(summary) == {"make": "failed", "use": "skipped"}
    error = summary.step("make").error
    assert error.startswith("HandoverError: Step 'make' cannot hand over 'numbers'")
    assert "generator" in error


def test_pipeline_of_notebooks(tmp_store, tmp_path):
    write(tmp_path / "load.ipynb", ("n = 3", ["parameters"]), "data = list(range(n))")
    write(tmp_path / "train.ipynb", "total = sum(data)", ("print(total)", ["pipeline-metrics"]))
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("name: two\nsteps:\n  - load.ipynb\n  - notebook: train.ipynb\n")
    summary = run(spec, {"n": 5}, jobs=1, cache_dir=tmp_path / "cache")
    assert summary.ok, [(s.name, s.error) for s in summary.failed]
    assert statuses(summary) == {"load": "ran", "train": "ran"}
    assert summary.metrics == {"total": 10.0}
    assert mlops.get_run(summary.run_id).name == "two"


def test_overrides_reach_every_parameters_cell(tmp_store, tmp_path):
    nb = write(
        tmp_path / "params.ipynb",
        ("a = 1", ["parameters"]),
        ("b = 2", ["pipeline-parameters"]),
        ("c = a + b", ["step:add"]),
        ("print(c)", ["pipeline-metrics"]),
    )
    summary = run(nb, {"b": 5}, jobs=1, cache_dir=tmp_path / "cache")
    assert summary.metrics == {"c": 6.0}
    assert mlops.get_run(summary.run_id).params == {"a": "1", "b": "5"}


def test_summary_json_encodes_nonfinite_metrics_by_the_wire_convention() -> None:
    """A pipeline metric that is NaN or inf is null in `metrics`, named in
    `nonfinite_metrics`: strict JSON, the value recoverable (docs/rest-api.md)."""
    import math

    from jupyter_mlops import wire
    from jupyter_mlops.pipeline.run import PipelineSummary

    summary = PipelineSummary(name="p", path="p.ipynb", metrics={"acc": 0.5, "loss": math.nan})
    text = summary.to_json()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert data["metrics"] == {"acc": 0.5, "loss": None}
    assert data["nonfinite_metrics"] == {"loss": "NaN"}
    assert math.isnan(wire.restore_metrics(data)["loss"])
