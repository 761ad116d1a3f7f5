"""The public tracking API (``import jupyter_mlops as mlops``), as docs/public-surface.md
describes it."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import InvalidParameterError, NoActiveRunError, RunNotFoundError
from jupyter_mlops.store.schema import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)


def test_public_names_exist() -> None:
    for name in (
        "set_experiment",
        "start_run",
        "end_run",
        "active_run",
        "log_param",
        "log_params",
        "log_metric",
        "log_metrics",
        "set_tag",
        "log_artifact",
        "runs",
        "get_run",
        "flush",
        "set_store",
        "load_ipython_extension",
    ):
        assert callable(getattr(mlops, name)), name
    assert mlops.__version__


def test_start_run_context_manager(tmp_store: str) -> None:
    assert mlops.active_run() is None
    with mlops.start_run(
        "first", params={"lr": 0.1, "layers": [1, 2]}, tags={"team": "vision"}
    ) as run:
        assert mlops.active_run() is run
        assert run.status == "RUNNING"
        mlops.log_metric("acc", 0.5)
        mlops.log_metric("acc", 0.75)
    assert mlops.active_run() is None
    assert run.status == "FINISHED"
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert loaded.name == "first"
    assert loaded.experiment == "Default"
    assert loaded.params == {"lr": "0.1", "layers": "[1, 2]"}
    assert loaded.tags == {"team": "vision"}
    assert loaded.metrics == {"acc": 0.75}
    assert loaded.end_time is not None and loaded.end_time >= loaded.start_time
    assert loaded.run_id == loaded.info.run_id == run.info.run_id
    assert loaded.duration is not None and loaded.duration >= 0
    assert loaded.environment and loaded.environment["python"] == sys.version.split()[0]
    assert loaded.environment["pid"] == os.getpid()
    assert loaded.source is None  # no cell: only the magics and notebook runs record a source


def test_start_and_end_run_without_context_manager(tmp_store: str) -> None:
    run = mlops.start_run()
    assert run.name.startswith("run-")
    mlops.log_metrics({"a": 1, "b": 2.5}, step=3)
    mlops.end_run("failed")
    assert mlops.active_run() is None
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FAILED"
    assert loaded.metrics == {"a": 1.0, "b": 2.5}
    assert list(loaded.history("a")["step"]) == [3]
    with pytest.raises(NoActiveRunError):
        mlops.end_run()
    run = mlops.start_run("bad-status")
    with pytest.raises(InvalidParameterError, match="FINISHED, FAILED or KILLED|FINISHED"):
        mlops.end_run("DONE")
    mlops.end_run("KILLED")
    assert mlops.get_run(run.run_id).status == "KILLED"


def test_exception_in_run_is_failed_with_traceback(tmp_store: str) -> None:
    with pytest.raises(ZeroDivisionError), mlops.start_run("boom") as run:
        1 / 0  # noqa: B018
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FAILED"
    assert "ZeroDivisionError" in loaded.error
    assert "Traceback" in loaded.error
    with pytest.raises(KeyboardInterrupt), mlops.start_run("stopped") as run:
        raise KeyboardInterrupt
    assert mlops.get_run(run.run_id).status == "KILLED"


def test_set_experiment(tmp_store: str) -> None:
    with mlops.start_run("in-default"):
        pass
    experiment_id = mlops.set_experiment("vision")
    assert experiment_id == mlops.set_experiment("vision")
    with mlops.start_run("in-vision") as run:
        pass
    with mlops.start_run("explicit", experiment="nlp"):
        pass
    assert mlops.get_run(run.run_id).experiment == "vision"
    assert mlops.get_run(run.run_id).experiment_id == experiment_id
    # runs() defaults to the active experiment
    assert list(mlops.runs()["name"]) == ["in-vision"]
    assert set(mlops.runs(experiment=["nlp", "Default"])["name"]) == {"explicit", "in-default"}
    assert mlops.runs(experiment="does-not-exist").empty
    with pytest.raises(InvalidParameterError):
        mlops.set_experiment("")


def test_runs_covers_all_experiments_when_none_is_active(tmp_store: str) -> None:
    with mlops.start_run("a", experiment="x"):
        pass
    with mlops.start_run("b", experiment="y"):
        pass
    assert set(mlops.runs()["name"]) == {"a", "b"}


def test_runs_follows_the_experiment_a_child_process_inherits(
    tmp_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spawned child knows the parent's experiment only from JUPYTER_MLOPS_EXPERIMENT; its
    runs() lists that experiment, as the parent's does, not every experiment."""
    with mlops.start_run("a", experiment="x"):
        pass
    with mlops.start_run("b", experiment="y"):
        pass
    monkeypatch.setenv("JUPYTER_MLOPS_EXPERIMENT", "y")
    assert set(mlops.runs()["name"]) == {"b"}
    assert set(mlops.runs(experiment="x")["name"]) == {"a"}


def test_nested_runs(tmp_store: str) -> None:
    with mlops.start_run("parent") as parent:
        with mlops.start_run("child-1") as child1:
            assert mlops.active_run() is child1
            mlops.log_metric("loss", 1.0)
            with mlops.start_run("grandchild") as grandchild:
                pass
        time.sleep(0.005)  # children are listed by start time (milliseconds)
        with mlops.start_run("child-2") as child2:
            pass
        assert mlops.active_run() is parent
        mlops.log_metric("total", 2.0)
    assert child1.parent_run_id == parent.run_id
    assert child2.parent_run_id == parent.run_id
    assert grandchild.parent_run_id == child1.run_id
    loaded = mlops.get_run(parent.run_id)
    assert loaded.parent_run_id is None
    assert loaded.children == [child1.run_id, child2.run_id]
    assert loaded.metrics == {"total": 2.0}  # the child's metric stayed in the child
    assert mlops.get_run(child1.run_id).metrics == {"loss": 1.0}
    frame = mlops.runs(filter=f"parent_run_id = '{parent.run_id}'")
    assert set(frame["name"]) == {"child-1", "child-2"}


def test_log_param_and_params(tmp_store: str) -> None:
    with mlops.start_run() as run:
        mlops.log_param("lr", 0.01)
        mlops.log_params({"opt": "adam", "betas": (0.9, 0.99), "flag": True, "none": None})
        mlops.log_param("lr", 0.01)  # same value again: fine
        with pytest.raises(InvalidParameterError, match="already logged"):
            mlops.log_param("lr", 0.02)
    assert mlops.get_run(run.run_id).params == {
        "lr": "0.01",
        "opt": "adam",
        "betas": "[0.9, 0.99]",
        "flag": "True",
        "none": "None",
    }


def test_oversized_param_value_states_the_limit(tmp_store: str) -> None:
    with mlops.start_run() as run:
        mlops.log_param("ok", "x" * MAX_PARAM_VALUE_LENGTH)
        with pytest.raises(InvalidParameterError) as info:
            mlops.log_param("big", "x" * (MAX_PARAM_VALUE_LENGTH + 1))
        message = str(info.value)
        assert "'big'" in message
        assert f"limit is {MAX_PARAM_VALUE_LENGTH}" in message
        assert str(MAX_PARAM_VALUE_LENGTH + 1) in message
        with pytest.raises(InvalidParameterError, match=f"limit is {MAX_PARAM_VALUE_LENGTH}"):
            mlops.log_params({"fine": 1, "huge": list(range(5000))})
        with pytest.raises(InvalidParameterError, match=f"limit is {MAX_KEY_LENGTH}"):
            mlops.log_param("k" * (MAX_KEY_LENGTH + 1), 1)
        with pytest.raises(InvalidParameterError, match=f"limit is {MAX_TAG_VALUE_LENGTH}"):
            mlops.set_tag("t", "x" * (MAX_TAG_VALUE_LENGTH + 1))
    # nothing of a refused call was stored (log_params checks everything first)
    assert mlops.get_run(run.run_id).params == {"ok": "x" * MAX_PARAM_VALUE_LENGTH}
    with pytest.raises(InvalidParameterError, match=f"limit is {MAX_PARAM_VALUE_LENGTH}"):
        mlops.start_run(params={"p": "y" * 10_000})
    assert mlops.active_run() is None


def test_non_numeric_metric_names_the_key(tmp_store: str) -> None:
    with mlops.start_run() as run:
        for bad in ("0.5", "high", None, b"1", object(), [1.0], {"a": 1}, 1 + 2j):
            with pytest.raises(InvalidParameterError) as info:
                mlops.log_metric("accuracy", bad)  # type: ignore[arg-type]
            assert "'accuracy'" in str(info.value)
        with pytest.raises(InvalidParameterError, match="'val_loss'"):
            mlops.log_metrics({"ok": 1.0, "val_loss": "nan?"})
        with pytest.raises(InvalidParameterError, match="step"):
            mlops.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError):
            mlops.log_metric("", 1.0)
        import numpy as np

        mlops.log_metric("np", np.float32(0.25))
        mlops.log_metric("int", 3)
        mlops.log_metric("bool", True)
        mlops.log_metric("step_float", 1.0, step=2.0)  # type: ignore[arg-type]
    loaded = mlops.get_run(run.run_id)
    assert loaded.metrics["np"] == 0.25
    assert loaded.metrics["int"] == 3.0
    assert "accuracy" not in loaded.metrics


def test_nan_and_inf_metrics_are_accepted(tmp_store: str) -> None:
    with mlops.start_run() as run:
        mlops.log_metric("nan", float("nan"))
        mlops.log_metric("inf", float("inf"))
        mlops.log_metrics({"ninf": -math.inf, "npnan": __import__("numpy").nan})
    loaded = mlops.get_run(run.run_id)
    assert math.isnan(loaded.metrics["nan"]) and math.isnan(loaded.metrics["npnan"])
    assert loaded.metrics["inf"] == math.inf and loaded.metrics["ninf"] == -math.inf


def test_logging_without_a_run_is_an_error(tmp_store: str) -> None:
    for call in (
        lambda: mlops.log_metric("a", 1),
        lambda: mlops.log_param("a", 1),
        lambda: mlops.set_tag("a", 1),
        lambda: mlops.log_metrics({"a": 1}),
        lambda: mlops.log_params({"a": 1}),
    ):
        with pytest.raises(NoActiveRunError, match="start_run"):
            call()


def test_set_tag_overwrites(tmp_store: str) -> None:
    with mlops.start_run() as run:
        mlops.set_tag("stage", "dev")
        mlops.set_tag("stage", "prod")
        mlops.set_tags({"n": 3})
    assert mlops.get_run(run.run_id).tags == {"stage": "prod", "n": "3"}


def test_log_artifact(tmp_store: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("A")
    (folder / "b.txt").write_text("BB")
    with mlops.start_run() as run:
        assert mlops.log_artifact(folder) == ["out/a.txt", "out/b.txt"]
    assert mlops.get_run(run.run_id).artifacts == [("out/a.txt", 1), ("out/b.txt", 2)]


def test_runs_dataframe(tmp_store: str) -> None:
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        with mlops.start_run(f"r{i}", params={"lr": lr}, tags={"i": i}):
            mlops.log_metric("acc", 0.5 + i / 10)
            mlops.log_metric("acc", 0.6 + i / 10)
            time.sleep(0.002)  # distinct start times
    frame = mlops.runs()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 3
    expected = ["run_id", "name", "experiment", "status", "start_time", "end_time"]
    assert list(frame.columns[:6]) == expected
    for column in ("params.lr", "metrics.acc", "tags.i"):
        assert column in frame.columns
    assert list(frame["name"]) == ["r2", "r1", "r0"]  # newest first
    assert list(frame["metrics.acc"]) == pytest.approx([0.8, 0.7, 0.6])  # latest value
    assert list(frame["params.lr"]) == ["0.001", "0.01", "0.1"]
    assert str(frame["start_time"].dtype).startswith("datetime64")
    assert set(frame["status"]) == {"FINISHED"}

    best = mlops.runs(filter="metrics.acc > 0.65", order_by="metrics.acc DESC", limit=1)
    assert list(best["name"]) == ["r2"]
    assert list(mlops.runs(order_by=["params.lr"])["name"]) == ["r2", "r1", "r0"]
    assert list(mlops.runs(filter="params.lr = '0.1'")["name"]) == ["r0"]
    assert len(mlops.runs(limit=2)) == 2
    empty = mlops.runs(filter="metrics.acc > 10")
    assert empty.empty and list(empty.columns[:6]) == expected
    with pytest.raises(mlops.InvalidFilterError):
        mlops.runs(filter="metrics.acc >>> 1")


def test_get_run_history_full_and_downsampled(tmp_store: str) -> None:
    with mlops.start_run("hist") as run:
        for step in range(2000):
            mlops.log_metric("loss", 1.0 / (step + 1))
        mlops.log_metric("sparse", 1.0, step=10)
        mlops.log_metric("sparse", 2.0, step=1000)
    loaded = mlops.get_run(run.run_id)
    history = loaded.history("loss")
    assert list(history.columns) == ["step", "value", "timestamp"]
    assert len(history) == 2000
    assert list(history["step"]) == list(range(2000))
    assert history["value"].iloc[0] == 1.0
    assert str(history["timestamp"].dtype).startswith("datetime64")
    assert history.attrs["total_points"] == 2000

    small = loaded.history("loss", max_points=50)
    assert 2 <= len(small) <= 50
    assert small["step"].iloc[0] == 0 and small["step"].iloc[-1] == 1999
    assert small.attrs["total_points"] == 2000
    assert list(loaded.history("sparse")["step"]) == [10, 1000]
    assert loaded.history("never").empty
    with pytest.raises(InvalidParameterError):
        loaded.history("loss", max_points=1)


def test_get_run_unknown_id(tmp_store: str) -> None:
    with pytest.raises(RunNotFoundError):
        mlops.get_run("0" * 32)


def test_start_run_validates_its_arguments(tmp_store: str) -> None:
    with pytest.raises(InvalidParameterError):
        mlops.start_run(params=[("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        mlops.start_run(tags="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="256"):
        mlops.start_run("n" * 300)
    assert mlops.active_run() is None
    assert mlops.runs().empty


def test_set_store_is_refused_while_a_run_is_active(tmp_store: str, tmp_path: Path) -> None:
    with mlops.start_run(), pytest.raises(InvalidParameterError, match="run is active"):
        mlops.set_store(tmp_path / "other.db")


def test_git_is_captured_in_a_repository(
    tmp_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    with mlops.start_run() as run:
        pass
    git_info = mlops.get_run(run.run_id).git
    assert git_info is not None
    assert len(git_info["commit"]) == 40
    assert git_info["dirty"] is False


# -- bad input and threads (hardening) ----------------------------------------------------


def test_numpy_and_integral_float_steps_are_accepted(tmp_store: str) -> None:
    np = pytest.importorskip("numpy")
    with mlops.start_run() as run:
        for epoch in np.arange(3):  # np.int64 steps: the common training loop
            mlops.log_metric("loss", 1.0 / (int(epoch) + 1), step=epoch)
        mlops.log_metric("acc", 0.5, step=np.float64(7.0))
        mlops.log_metric("acc", 0.6, step=8.0)
    history = mlops.get_run(run.run_id).history("loss")
    assert history["step"].tolist() == [0, 1, 2]
    assert mlops.get_run(run.run_id).history("acc")["step"].tolist() == [7, 8]


@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 2**70])
def test_a_step_beyond_64_bits_is_refused_and_loses_nothing(tmp_store: str, step: int) -> None:
    with mlops.start_run("steps") as run:
        mlops.log_metric("ok", 1.0, step=1)
        with pytest.raises(InvalidParameterError, match="'ok' step .* out of range"):
            mlops.log_metric("ok", 2.0, step=step)
        mlops.log_metric("ok", 3.0, step=2)
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert loaded.history("ok")["value"].tolist() == [1.0, 3.0]


@pytest.mark.parametrize("step", [True, "3", 1.5, float("nan"), None.__class__])
def test_a_non_integer_step_names_the_key(tmp_store: str, step: object) -> None:
    with mlops.start_run(), pytest.raises(InvalidParameterError, match="'k' step must be an"):
        mlops.log_metric("k", 1.0, step=step)  # type: ignore[arg-type]


def test_a_metric_too_large_for_a_float_names_the_key(tmp_store: str) -> None:
    with mlops.start_run(), pytest.raises(InvalidParameterError, match="'big' .* too large"):
        mlops.log_metric("big", 10**400)


def test_set_tags_of_a_non_dict_is_a_clear_error(tmp_store: str) -> None:
    with mlops.start_run(), pytest.raises(InvalidParameterError, match="set_tags expects a dict"):
        mlops.set_tags([("a", 1)])  # type: ignore[arg-type]


def test_get_run_takes_a_unique_prefix(tmp_store: str) -> None:
    with mlops.start_run() as run:
        pass
    assert mlops.get_run(run.run_id[:10]).run_id == run.run_id
    assert mlops.get_run(run.run_id.upper()).run_id == run.run_id
    with mlops.start_run():
        pass
    # two runs of the same second share their leading (timestamp) characters
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        mlops.get_run(run.run_id[:6])
    with pytest.raises(RunNotFoundError, match="No run with id"):
        mlops.get_run("f" * 32)


def test_default_run_names_differ_for_runs_of_the_same_minute(tmp_store: str) -> None:
    names = set()
    for _ in range(20):
        with mlops.start_run() as run:
            names.add(run.name)
    assert len(names) == 20


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"experiment": 5}, InvalidParameterError, "experiment must be a name"),
        ({"experiment": ["a", 5]}, InvalidParameterError, "experiment must be a name"),
        ({"filter": 5}, mlops.InvalidFilterError, "filter must be a string"),
        ({"order_by": 5}, mlops.InvalidFilterError, "order_by takes strings"),
        ({"order_by": ["name", None]}, mlops.InvalidFilterError, "order_by takes strings"),
    ],
)
def test_runs_with_arguments_of_the_wrong_type(
    tmp_store: str, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        mlops.runs(**kwargs)  # type: ignore[arg-type]


def test_runs_in_threads_log_to_their_own_runs(tmp_store: str) -> None:
    import threading

    barrier = threading.Barrier(4)
    ids: dict[int, str] = {}

    def work(i: int) -> None:
        with mlops.start_run(f"thread-{i}") as run:
            ids[i] = run.run_id
            barrier.wait()  # all four runs are active at once
            for step in range(20):
                mlops.log_metric("who", i, step=step)
            mlops.log_param("me", i)
            barrier.wait()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mlops.active_run() is None
    for i, run_id in ids.items():
        loaded = mlops.get_run(run_id)
        assert loaded.parent_run_id is None  # not a child of another thread's run
        assert loaded.params == {"me": str(i)}
        assert set(loaded.history("who")["value"]) == {float(i)}
        assert len(loaded.history("who")) == 20


def test_a_thread_without_a_run_logs_into_the_main_threads_run(tmp_store: str) -> None:
    import threading

    with mlops.start_run("main") as main:

        def work() -> None:
            mlops.log_metric("from_thread", 1.0)
            with mlops.start_run("worker") as child:
                mlops.log_metric("own", 2.0)
            done.append(child.run_id)

        done: list[str] = []
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert mlops.active_run() is main
    assert mlops.get_run(main.run_id).metrics == {"from_thread": 1.0}
    child_run = mlops.get_run(done[0])
    assert child_run.parent_run_id == main.run_id
    assert child_run.metrics == {"own": 2.0}


@pytest.mark.parametrize("keyword", ["param", "tag", "nmae", "status"])
def test_start_run_with_an_unknown_keyword_is_an_error_not_lost_data(
    tmp_store: str, keyword: str
) -> None:
    with pytest.raises(InvalidParameterError, match=f"unexpected keyword argument '{keyword}'"):
        mlops.start_run("typo", **{keyword: {"lr": 0.1}})
    assert mlops.active_run() is None
    assert mlops.runs().empty


def test_log_metrics_with_one_bad_value_logs_none_of_the_batch(tmp_store: str) -> None:
    with mlops.start_run() as run:
        with pytest.raises(InvalidParameterError, match="Metric 'b' must be a number"):
            mlops.log_metrics({"a": 1.0, "b": "oops", "c": 3.0}, step=0)
        with pytest.raises(InvalidParameterError, match="step must be an integer"):
            mlops.log_metrics({"a": 1.0}, step="1")  # type: ignore[arg-type]
        mlops.log_metrics({"a": 2.0, "c": 4.0}, step=0)
    loaded = mlops.get_run(run.run_id)
    assert loaded.metrics == {"a": 2.0, "c": 4.0}
    assert len(loaded.history("a")) == 1


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ("raise RuntimeError('script crashed')", "FAILED"),
        ("raise KeyboardInterrupt", "KILLED"),
        ("pass", "FINISHED"),
    ],
)
def test_a_script_leaving_a_run_open_ends_it_with_how_it_exited(
    tmp_store: str, ending: str, status: str
) -> None:
    import subprocess
    import sys

    script = (
        "import jupyter_mlops as mlops\n"
        "run = mlops.start_run('script')\n"
        "mlops.log_metric('a', 1.0)\n"
        f"{ending}\n"
    )
    subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    (run_id,) = mlops.runs()["run_id"]
    loaded = mlops.get_run(run_id)
    assert loaded.status == status
    assert loaded.metrics == {"a": 1.0}  # drained at exit
    if status == "FAILED":
        assert "RuntimeError: script crashed" in loaded.error


def test_start_run_checks_its_arguments_before_writing_anything(tmp_store: str) -> None:
    with pytest.raises(InvalidParameterError, match="limit is"):
        mlops.start_run("big", experiment="never-created", params={"p": "x" * 7000})
    with pytest.raises(InvalidParameterError, match="parent must be a run or a run id"):
        mlops.start_run("bad-parent", experiment="never-created", parent=5)  # type: ignore[arg-type]
    assert "never-created" not in {e["name"] for e in mlops.get_store().list_experiments()}
    assert mlops.runs().empty


def test_parent_may_be_a_run_read_back(tmp_store: str) -> None:
    with mlops.start_run("parent") as parent:
        pass
    with mlops.start_run("child", parent=mlops.get_run(parent.run_id)) as child:
        pass
    assert mlops.get_run(child.run_id).parent_run_id == parent.run_id


def test_nul_characters_in_keys_names_and_values_are_refused(tmp_store: str) -> None:
    """PostgreSQL text cannot hold NUL; every store refuses it alike, naming the problem."""
    with pytest.raises(InvalidParameterError, match="NUL"):
        mlops.start_run("a\x00b")
    with pytest.raises(InvalidParameterError, match="NUL"):
        mlops.set_experiment("exp\x00")
    with mlops.start_run():
        for call in (
            lambda: mlops.log_metric("k\x00", 1.0),
            lambda: mlops.log_param("p", "\x00"),
            lambda: mlops.set_tag("t", "v\x00"),
            lambda: mlops.log_param("\x00", 1),
        ):
            with pytest.raises(InvalidParameterError, match="NUL"):
                call()


def test_children_are_listed_in_creation_order(tmp_store: str) -> None:
    with mlops.start_run("parent") as parent:
        created = []
        for i in range(30):
            with mlops.start_run(f"child-{i}") as child:
                pass
            created.append(child.run_id)
    assert mlops.get_run(parent.run_id).children == created


# -- the one rule for param values (--param, -p and log_param) ------------------------------


@pytest.mark.parametrize(
    ("typed", "value", "stored"),
    [
        ("0.10", 0.1, "0.1"),
        ("1", 1, "1"),
        ("'a b'", "a b", "a b"),
        ("big model", "big model", "big model"),
        ("2020-01-01", "2020-01-01", "2020-01-01"),
        ("true", True, "True"),
        ("null", None, "None"),
        ("[64, 32]", [64, 32], "[64, 32]"),
        ("{'k': 1}", {"k": 1}, '{"k": 1}'),
        ("{1, 2}", "{1, 2}", "{1, 2}"),  # a set cannot be injected: the text as typed
        ("(1,2)", "(1,2)", "(1,2)"),
    ],
)
def test_typed_values_are_read_and_stored_by_one_rule(
    typed: str, value: object, stored: str
) -> None:
    from jupyter_mlops.tracking.run import param_text, parse_param_value

    assert parse_param_value(typed) == value
    assert param_text("k", parse_param_value(typed)) == stored


def test_an_equal_value_logged_again_is_not_a_change(tmp_store: str) -> None:
    from jupyter_mlops.tracking.run import same_param_value

    assert same_param_value("1", "1.0") and same_param_value("[1, 2]", "[1,2]")
    assert not same_param_value("1", "True") and not same_param_value("0.1", "0.10000001")
    with mlops.start_run(params={"l1_ratio": 1, "tags": [1, 2]}) as run:
        mlops.log_param("l1_ratio", 1.0)
        mlops.log_param("tags", [1, 2])
        with pytest.raises(InvalidParameterError, match="immutable"):
            mlops.log_param("l1_ratio", True)
    assert mlops.get_run(run.run_id).params == {"l1_ratio": "1", "tags": "[1, 2]"}


@pytest.mark.parametrize("stamp", ["2026-12-01", 1.5, True, None, 2**63, [1]])
def test_a_bad_metric_timestamp_is_refused_naming_the_key_and_nothing_is_logged(
    tmp_store: str, stamp: object
) -> None:
    with mlops.start_run("stamps", capture=False, live=False) as run:
        if stamp is None:  # None means "now"
            run.log_metric("t", 1.0, step=0, timestamp=stamp)
        else:
            with pytest.raises(InvalidParameterError, match="Metric 't' timestamp must be an"):
                run.log_metric("t", 1.0, step=0, timestamp=stamp)
        run.log_metric("t", 2.0, step=1, timestamp=1_700_000_000_000.0)  # a whole float is fine
    history = mlops.get_run(run.run_id).history("t")
    assert list(history["value"]) == ([1.0, 2.0] if stamp is None else [2.0])
    assert history["timestamp"].iloc[-1].value // 1_000_000 == 1_700_000_000_000
