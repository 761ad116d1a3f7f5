"""The command line: ``jupyter mlops runs list|show`` and ``jupyter mlops run NOTEBOOK``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main

SUMMARY_FIELDS = {
    "run_id",
    "name",
    "experiment",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
    "params",
    "metrics",
    "tags",
    "parent_run_id",
    "notebook_path",
}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``jupyter mlops ARGV`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_runs(tmp_store: str, tmp_path: Path) -> dict[str, str]:
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    mlops.set_experiment("cli-exp")
    with mlops.start_run("alpha", params={"lr": 0.1}, tags={"team": "vision"}) as first:
        mlops.log_metric("acc", 0.9)
        mlops.log_metric("nan_metric", float("nan"))
        mlops.log_artifact(artifact)
    time.sleep(0.005)  # distinct start times (milliseconds): beta is the newest
    with mlops.start_run("beta", experiment="other") as second:
        mlops.log_metric("acc", 0.5)
    mlops.flush()
    from jupyter_mlops.tracking import fluent

    fluent.reset()  # the CLI opens the store itself, as a fresh process would
    return {"alpha": first.run_id, "beta": second.run_id}


# -- runs list / show --------------------------------------------------------------------


def test_runs_list_table(two_runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "runs", "list")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "RUN_ID",
        "NAME",
        "EXPERIMENT",
        "STATUS",
        "START",
        "(UTC)",
        "DURATION",
        "PARAMS",  # the params that vary between the listed runs
        "METRICS",
    ]
    assert lines[1].startswith(two_runs["beta"])  # newest first
    assert lines[2].startswith(two_runs["alpha"])
    assert "cli-exp" in lines[2] and "FINISHED" in lines[2] and "acc=0.9" in lines[2]
    assert "lr=0.1" in lines[2] and "lr=" not in lines[1]


def test_runs_list_shows_only_the_params_that_vary(
    tmp_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for lr in (0.1, 0.01):
        with mlops.start_run("sweep", params={"lr": lr, "epochs": 30, "optimizer": "sgd"}):
            pass
    mlops.flush()
    code, out, err = cli(capsys, "runs", "list")
    assert code == 0, err
    header, newest, oldest = out.strip().splitlines()
    assert "PARAMS" in header.split()
    assert "lr=0.01" in newest and "lr=0.1" in oldest
    assert "epochs" not in out and "optimizer" not in out  # the same in every run


def test_runs_list_json(two_runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "runs", "list", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["name"] for r in data] == ["beta", "alpha"]
    alpha = data[1]
    assert set(alpha) >= SUMMARY_FIELDS
    assert alpha["run_id"] == two_runs["alpha"]
    assert alpha["experiment"] == "cli-exp"
    assert alpha["status"] == "FINISHED"
    assert alpha["params"] == {"lr": "0.1"}
    # NaN is null where the number belongs, named in nonfinite_metrics (docs/rest-api.md)
    assert alpha["metrics"] == {"acc": 0.9, "nan_metric": None}
    assert alpha["nonfinite_metrics"] == {"nan_metric": "NaN"}
    assert "nonfinite_metrics" not in data[0]  # beta's metrics are all finite
    assert alpha["tags"] == {"team": "vision"}
    assert isinstance(alpha["start_time"], int)
    json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_runs_list_options(two_runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    def names(*args: str) -> list[str]:
        code, out, err = cli(capsys, "runs", "list", "--format", "json", *args)
        assert code == 0, err
        return [r["name"] for r in json.loads(out)]

    assert names("--experiment", "other") == ["beta"]
    assert names("-e", "other", "-e", "cli-exp") == ["beta", "alpha"]
    assert names("--filter", "metrics.acc > 0.8") == ["alpha"]
    assert names("--order-by", "metrics.acc DESC") == ["alpha", "beta"]
    assert names("--order-by", "name", "--limit", "1") == ["alpha"]


def test_runs_show_text(two_runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # ids start with their creation time: a unique prefix reaches past it (16 characters)
    code, out, err = cli(capsys, "runs", "show", two_runs["alpha"][:16])
    assert code == 0, err
    assert f"Run alpha  ({two_runs['alpha']})" in out
    assert "experiment : cli-exp" in out
    assert "status     : FINISHED" in out
    assert "lr = 0.1" in out and "team = vision" in out
    assert "acc = 0.9" in out and "nan_metric = nan" in out
    assert "model.txt  (7 bytes)" in out
    assert "python     :" in out


def test_runs_show_json(
    two_runs: dict[str, str], capsys: pytest.CaptureFixture[str], git_head: str | None
) -> None:
    code, out, err = cli(capsys, "runs", "show", two_runs["alpha"], "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= SUMMARY_FIELDS
    for field in (
        "source",
        "cells",
        "git",
        "environment",
        "artifacts",
        "stdout",
        "error",
        "children",
        "execution_count",
    ):
        assert field in data, field
    assert data["run_id"] == two_runs["alpha"]
    assert data["artifacts"] == [{"path": "model.txt", "size": 7}]
    assert data["cells"] == []
    assert data["environment"]["python"] == sys.version.split()[0]
    assert "packages" in data["environment"]
    # the git state of the working directory the runs were started in (the suite's checkout)
    assert (data["git"] or {}).get("commit") == git_head


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "show", "ffffffffffffffffffffffffffffffff"], "No run with id"),
        (["runs", "show", "not-an-id"], "is not a run id"),
        (["runs", "list", "--filter", "metrics.acc >>> 1"], "Expected a value"),
        (["runs", "list", "--filter", "metrics.acc ~ 1"], "Cannot parse filter"),
        (["runs", "list", "--order-by", "colour"], "Unknown run attribute"),
        (["runs", "list", "--experiment", "nope"], "no experiment named 'nope'"),
        (["runs", "list", "--limit", "0"], "positive integer"),
        (["runs", "list", "--format", "xml"], "invalid choice"),
        (["runs", "list", "--bogus"], "unrecognized arguments"),
        (["runs"], "subcommand is required"),
        ([], "usage:"),
        (["--store", "mysql://me:hunter2@db/x", "runs", "list"], "Unsupported store URL"),
        (["--store", "sqlite://", "runs", "list"], "In-memory"),
    ],
)
def test_errors_are_clear_with_exit_code_2(
    two_runs: dict[str, str], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert message in err + out
    assert "Traceback" not in err
    assert "hunter2" not in err + out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == mlops.__version__


def test_store_option(tmp_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "elsewhere.db"
    mlops.set_store(other)
    with mlops.start_run("over-there"):
        pass
    from jupyter_mlops.tracking import fluent

    fluent.reset()
    code, out, _ = cli(capsys, "--store", str(other), "runs", "list", "--format", "json")
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["over-there"]
    fluent.reset()
    code, out, _ = cli(capsys, "runs", "list", "--format", "json")  # $JUPYTER_MLOPS_STORE
    assert code == 0 and json.loads(out) == []
    fluent.reset()
    # after the subcommand too, where users tend to put options
    code, out, _ = cli(capsys, "runs", "list", "--format", "json", "--store", str(other))
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["over-there"]
    fluent.reset()
    run_id = json.loads(out)[0]["run_id"]
    code, out, _ = cli(capsys, "runs", "show", run_id, "--store", str(other))
    assert code == 0 and "over-there" in out


def test_console_script(tmp_store: str) -> None:
    """The installed entry point, as a user runs it (`jupyter mlops` dispatches to it)."""
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "runs", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops", "runs", "show", "abc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "jupyter mlops: error:" in done.stderr and "Traceback" not in done.stderr


# -- run NOTEBOOK --------------------------------------------------------------------------


@pytest.mark.slow
def test_run_notebook_with_params_and_output(
    tmp_store: str, make_notebook, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = make_notebook(
        "train.ipynb",
        ("epochs = 1\nname = 'default'", ["parameters"]),
        "import jupyter_mlops as mlops\n"
        "with mlops.start_run('fit'):\n"
        "    for e in range(epochs):\n"
        "        mlops.log_metric('epoch', e)",
        "print('trained', epochs, name)",
    )
    output = tmp_path / "executed.ipynb"
    code, out, err = cli(
        capsys,
        "run",
        str(notebook),
        "-p",
        "epochs=3",
        "-p",
        "name=big model",
        "-o",
        str(output),
        "--experiment",
        "cli-nb",
        "--no-progress",
    )
    assert code == 0, err
    assert "FINISHED" in out and "4 cells" in out and "1 child runs" in out
    executed = nbformat.read(output, as_version=4)
    assert "trained 3 big model" in json.dumps(executed.cells[-1].outputs)

    frame = mlops.runs(filter="kind = 'notebook'")
    assert list(frame["status"]) == ["FINISHED"]
    assert list(frame["experiment"]) == ["cli-nb"]
    assert frame.loc[0, "params.epochs"] == "3"
    assert frame.loc[0, "params.name"] == "big model"
    record = mlops.get_run(frame.loc[0, "run_id"])
    assert len(record.cells) == 4
    (child,) = record.children
    assert mlops.get_run(child).metrics == {"epoch": 2.0}

    code, out, err = cli(capsys, "runs", "show", record.run_id, "--format", "json")
    assert code == 0, err
    detail = json.loads(out)
    assert len(detail["cells"]) == 4
    assert "print('trained', epochs, name)" in detail["source"]
    assert detail["notebook_path"] == str(notebook.resolve())
    assert {"path": "executed.ipynb", "size": detail["artifacts"][0]["size"]} in detail["artifacts"]
    code, out, err = cli(capsys, "runs", "show", record.run_id)
    assert code == 0 and "Cells (4):" in out and f"notebook   : {notebook.resolve()}" in out


@pytest.mark.slow
def test_failing_notebook_exits_non_zero_and_records_failed(
    tmp_store: str, make_notebook, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = make_notebook("fails.ipynb", "a = 1", "raise KeyError('missing column')")
    code, out, err = cli(capsys, "run", str(notebook), "--no-progress")
    assert code != 0
    assert "notebook failed" in err and "missing column" in err
    frame = mlops.runs(filter="kind = 'notebook'")
    assert list(frame["status"]) == ["FAILED"]
    assert frame.loc[0, "run_id"] in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.ipynb"], "does not exist"),
        (["run", "{garbage}"], "not a valid Jupyter notebook"),
        (["run", "{good}", "-p", "novalue"], "KEY=VALUE"),
        (["run", "{good}", "-p", "not-an-identifier=1"], "not a Python identifier"),
        (["run", "{good}", "-p", "lr=1", "-p", "lr=2"], "Parameter lr is given twice (1 and 2)"),
        (["run", "{good}", "--timeout", "0"], "positive integer"),
        (["run", "{good}", "-o", "/nonexistent-dir-xyz/out.ipynb"], "does not exist"),
        (["run", "{good}", "--kernel", "no-such-kernel"], "No kernel named 'no-such-kernel'"),
        (["run", "{good}", "--cwd", "/nonexistent-dir-xyz"], "Working directory"),
        (["run", "{nokernel}"], "names no kernel; pass --kernel NAME"),
        (["run"], "the following arguments are required: notebook"),
    ],
)
def test_run_bad_paths_and_args(
    tmp_store: str,
    make_notebook,
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    garbage = tmp_path / "garbage.ipynb"
    garbage.write_text("this is not json")
    good = make_notebook("good.ipynb", "x = 1")
    nokernel = tmp_path / "nokernel.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), nokernel)
    argv = [a.format(garbage=garbage, good=good, nokernel=nokernel) for a in argv]
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert mlops.runs().empty  # nothing was started


def test_runs_list_keeps_creation_order_within_a_millisecond(
    tmp_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    created = []
    for i in range(100):
        with mlops.start_run(f"tight-{i}") as run:
            pass
        created.append(run.run_id)
    mlops.flush()
    frame = mlops.runs()
    assert frame["start_time"].duplicated().any(), "no same-millisecond runs: test is moot"
    assert frame["run_id"].tolist() == created[::-1]
    code, out, _ = cli(capsys, "runs", "list", "--format", "json")
    assert code == 0
    assert [r["run_id"] for r in json.loads(out)] == created[::-1]
    code, out, _ = cli(capsys, "runs", "list")
    assert [line.split()[0] for line in out.splitlines()[1:]] == created[::-1]


def test_output_into_a_closed_pipe_is_not_a_traceback(two_runs: dict[str, str]) -> None:
    """`jupyter mlops runs list | head -1`: the reader goes away before the output is written."""
    import os

    for argv in (["runs", "list"], ["runs", "list", "--format", "json"]):
        read, write = os.pipe()
        os.close(read)  # no reader: the first write fails with EPIPE
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "jupyter_mlops.cli.main", *argv],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        finally:
            os.close(write)
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
        assert proc.returncode == 141


def test_runs_list_table_keeps_one_line_per_run(
    tmp_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with mlops.start_run("two\nlines\tand a tab"):
        mlops.log_metric("multi\nline", 1.0)
    with mlops.start_run("plain"):
        pass
    mlops.flush()
    code, out, _ = cli(capsys, "runs", "list")
    assert code == 0
    assert len(out.strip().splitlines()) == 3  # header + two runs
    assert "two lines and a tab" in out


# -- papermill's parameter options ----------------------------------------------------------


def test_papermill_parameter_pairs_are_joined() -> None:
    from jupyter_mlops.cli.parameters import join_param_pairs

    assert join_param_pairs(
        ["nb.ipynb", "-p", "lr", "0.1", "-p", "n=3", "--param", "s", "a=b"]
    ) == [
        "nb.ipynb",
        "-p",
        "lr=0.1",
        "-p",
        "n=3",
        "--param",
        "s=a=b",
    ]
    assert join_param_pairs(["nb.ipynb", "-p", "novalue"]) == ["nb.ipynb", "-p", "novalue"]
    assert join_param_pairs(["--", "-p", "a", "b"]) == ["--", "-p", "a", "b"]


def test_parameter_sources_merge_in_papermills_order(tmp_path: Path) -> None:
    import base64

    from jupyter_mlops.cli.main import build_parser
    from jupyter_mlops.cli.parameters import collect_parameters

    params = tmp_path / "p.yaml"
    params.write_text("a: 1\nb: 1\nc: 1\nd: 1\nday: 2021-03-04\n")
    encoded = base64.b64encode(b"a: 0\nz: 0").decode()
    args = build_parser().parse_args(
        ["run", "nb.ipynb", "-b", encoded, "-f", str(params), "-y", "b: 2\nc: 2", "-p", "c=3"]
        + ["-r", "d", "0.50"]
    )
    assert collect_parameters(args) == {
        "a": 1,
        "z": 0,
        "b": 2,
        "c": 3,
        "d": "0.50",  # -r: text as typed
        "day": __import__("datetime").date(2021, 3, 4),  # ISO text once resolved
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-f", "missing.yaml"], "Parameters file 'missing.yaml' does not exist"),
        (["-y", "[1, 2]"], "must be a YAML mapping"),
        (["-y", "a: [1"], "not valid YAML"),
        (["-y", "bad-name: 1"], "not an identifier"),
        (["-b", "%%%"], "is not base64"),
        (["-r", "1x", "v"], "not a Python identifier"),
    ],
)
def test_bad_parameter_options_are_clear_errors(
    tmp_store: str, make_notebook, argv: list[str], message: str, capsys
) -> None:
    good = make_notebook("good.ipynb", ("a = 1", ["parameters"]))
    code, _, err = cli(capsys, "run", str(good), *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert mlops.runs().empty


def test_the_program_freezes_the_gc_a_caller_keeps_it():
    """Run as the program (no argv given), the CLI freezes its objects for the cycle collector
    (its imports and its shutdown skip them); called with arguments, as a library or a test
    does, it leaves the caller's garbage collection alone."""
    code = (
        "import gc, sys\n"
        "from jupyter_mlops.cli.main import main\n"
        "main(['--version'])\n"
        "print(gc.get_freeze_count())\n"
        "sys.argv = ['jupyter-mlops', '--version']\n"
        "main()\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version, called, again, program = done.stdout.split()
    assert called == "0" and program == "True" and version == again
