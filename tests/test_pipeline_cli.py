"""``jupyter mlops pipeline show|run``: the real CLI in a subprocess, the demo notebook,
the JSON summary, exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from tests.test_pipeline_tags import write

DEMO = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline-demo.ipynb"


def cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=600,
    )


def test_show_formats(tmp_store, tmp_path):
    shown = cli("pipeline", "show", str(DEMO))
    assert shown.returncode == 0, shown.stderr
    assert (
        "train_forest" in shown.stdout and "<- split: reads X_train; reads y_train" in shown.stdout
    )
    data = json.loads(cli("pipeline", "show", str(DEMO), "--format", "json").stdout)
    assert data["order"][0] == "load" and data["metrics"]["forest_accuracy"] == "evaluate"
    assert {"from": "load", "to": "split", "reasons": ["reads df"]} in data["edges"]
    dot = cli("pipeline", "show", str(DEMO), "--format", "dot").stdout
    assert dot.startswith('digraph "pipeline-demo"') and '"split" -> "train_logreg"' in dot


@pytest.mark.parametrize(
    ("cells", "args", "message"),
    [
        ([("a = b", ["step:x", "prev:y"]), ("b = a", ["step:y"])], [], "cycle: "),
        ([("a = 1", ["step:x", "prev:nope"])], [], "no step is named 'nope'"),
        ([("a = 1", ["step:x", "bogus"])], [], "Unknown tag 'bogus' on p.ipynb cell 0"),
        ([("n = 1", ["parameters"]), ("a = n", ["step:x"])], ["-p", "m=2"], "no parameter 'm'"),
        ([("n = 1", ["parameters"]), ("a = n", ["step:x"])], ["-p", "n=x"], "expects an int"),
        ([("a = 1", ["step:x"])], ["--only", "y"], "no step 'y'"),
    ],
)
def test_bad_input_exits_2_before_running(tmp_store, tmp_path, cells, args, message):
    nb = write(tmp_path / "p.ipynb", *cells)
    result = cli("pipeline", "run", str(nb), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert mlops.runs().empty  # nothing ran


def test_not_a_notebook(tmp_store, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    result = cli("pipeline", "show", str(bad))
    assert result.returncode == 2 and "is not a valid Jupyter notebook" in result.stderr


def test_undefined_name_is_a_warning(tmp_store, tmp_path):
    nb = write(tmp_path / "p.ipynb", ("a = missing + 1", ["step:x"]))
    result = cli("pipeline", "show", str(nb))
    assert result.returncode == 0
    assert "warning: step 'x' reads 'missing'" in result.stderr


@pytest.mark.slow
def test_demo_notebook_through_the_cli(tmp_store, tmp_path):
    notebook = tmp_path / DEMO.name
    shutil.copy(DEMO, notebook)
    cache = str(tmp_path / "cache")
    args = ["pipeline", "run", str(notebook), "--jobs", "2", "--cache-dir", cache]
    result = cli(*args, "--format", "json", "-p", "n_estimators=20")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    steps = {s["name"]: s for s in summary["steps"]}
    assert list(steps) == ["load", "split", "train_logreg", "train_forest", "evaluate"]
    assert {s["status"] for s in steps.values()} == {"ran"}
    assert all(s["run_id"] and s["duration"] > 0 for s in steps.values())
    assert summary["status"] == "FINISHED" and summary["kernels_started"] <= 2
    assert 0.9 < summary["metrics"]["logreg_accuracy"] <= 1.0
    parent = mlops.get_run(summary["run_id"])
    assert parent.experiment == "pipeline-demo"  # from Kale's notebook metadata
    assert parent.params["n_estimators"] == "20"
    assert parent.metrics["forest_accuracy"] == summary["metrics"]["forest_accuracy"]
    assert "[5/5] evaluate: ran" in result.stderr  # the progress lines, headless

    again = cli(*args, "-p", "n_estimators=20")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(" cached ") == 5 and "0 kernel(s) started" in again.stdout

    forest = cli(*args, "--format", "json", "-p", "n_estimators=30")
    statuses = {s["name"]: s["status"] for s in json.loads(forest.stdout)["steps"]}
    assert statuses == {
        "load": "cached",
        "split": "cached",
        "train_logreg": "cached",
        "train_forest": "ran",
        "evaluate": "ran",
    }


@pytest.mark.slow
def test_failed_step_exit_code_traceback_and_resume(tmp_store, tmp_path):
    nb = write(
        tmp_path / "p.ipynb",
        ("a = 1", ["step:first"]),
        ("import os\nb = a / int(os.environ.get('DIVISOR', '0'))", ["step:second"]),
        ("c = b * 2", ["step:third"]),
    )
    cache = str(tmp_path / "cache")
    failed = cli("pipeline", "run", str(nb), "--cache-dir", cache, "--format", "json")
    assert failed.returncode == 1
    summary = json.loads(failed.stdout)
    assert [s["status"] for s in summary["steps"]] == ["ran", "failed", "skipped"]
    assert "Step 'second' failed: ZeroDivisionError: division by zero" in failed.stderr
    assert "b = a / int(os.environ.get('DIVISOR', '0'))" in failed.stderr  # the traceback
    notebook = failed.stderr.split("Executed notebook: ")[1].split()[0]
    assert Path(notebook).is_file() and "ZeroDivisionError" in Path(notebook).read_text()

    os.environ["DIVISOR"] = "2"
    try:
        resumed = cli("pipeline", "run", str(nb), "--cache-dir", cache, "--from", "second")
    finally:
        del os.environ["DIVISOR"]
    assert resumed.returncode == 0, resumed.stderr
    assert [line.split()[1] for line in resumed.stdout.splitlines()[2:5]] == [
        "cached",
        "ran",
        "ran",
    ]


@pytest.mark.slow
def test_interrupt_stops_running_steps(tmp_store, tmp_path):
    import signal

    nb = write(
        tmp_path / "p.ipynb",
        ("import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(600)", ["step:slow"]),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "pipeline", "run", str(nb)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (tmp_path / "started").exists():  # the step's code is running in its kernel
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)  # it does not wait for the 600 s sleep
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    runs = mlops.runs()
    assert set(runs["status"]) == {"KILLED"}  # the pipeline run and its step
    assert len(runs) == 2
