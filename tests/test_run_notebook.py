"""``jupyter mlops run NOTEBOOK`` as a user runs it: the real CLI in a subprocess, a real
kernel, and the runs read back from the store.

What a notebook run records must be what happened: the parameters it ran with (checked
against its parameters cell), the kernel's environment, readable errors, its output, the
experiment its child runs went to, and what it glued with scrapbook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

import jupyter_mlops as mlops

pytestmark = pytest.mark.slow


def jupyter_mlops(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``jupyter mlops ARGV`` in a new process (the store comes from JUPYTER_MLOPS_STORE)."""
    return subprocess.run(
        ["jupyter", "mlops", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def notebook_runs() -> list[mlops.Run]:
    frame = mlops.runs(filter="kind = 'notebook'")
    return [mlops.get_run(run_id) for run_id in frame["run_id"]]


def outputs_text(path: Path) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nbformat.read(path, 4).cells])


MakeNotebook = Callable[..., Path]


# -- 1. parameters that were not applied are never recorded as if they were ---------------


def test_a_param_without_a_parameters_cell_is_refused_before_anything_runs(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook("candies.ipynb", "CANDIES = 20", "print('candies', CANDIES)")
    done = jupyter_mlops("run", str(notebook), "-p", "CANDIES=30", "--no-progress")
    assert done.returncode == 2, done.stderr
    assert "has no parameters cell" in done.stderr
    assert "--allow-unknown-params" in done.stderr
    assert "Traceback" not in done.stderr
    assert mlops.runs().empty  # nothing ran, nothing was recorded

    # papermill's behaviour on request, and the run says the value went in unchecked
    done = jupyter_mlops(
        "run", str(notebook), "-p", "CANDIES=30", "--allow-unknown-params", "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    assert run.status == "FINISHED"
    assert run.params == {"CANDIES": "30"}
    assert run.tags["mlops.params_unchecked"] == "CANDIES"
    shown = jupyter_mlops("runs", "show", run.run_id)
    assert "CANDIES = 30  (-p, unchecked)" in shown.stdout


def test_a_misspelt_param_is_refused_naming_the_notebooks_parameters(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook(
        "sales.ipynb",
        ("start_date = '2020-01-01'\nCANDIES = 20", ["parameters"]),
        "print(start_date, CANDIES)",
    )
    done = jupyter_mlops("run", str(notebook), "-p", "start_dat=2020-02-01", "--no-progress")
    assert done.returncode == 2, done.stderr
    assert "has no parameter start_dat" in done.stderr
    assert "defines start_date, CANDIES" in done.stderr
    assert "Did you mean 'start_date'?" in done.stderr
    assert mlops.runs().empty


def test_kale_parameters_papermill_syntax_and_defaults_are_recorded(
    tmp_store: str, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    notebook = make_notebook(
        "kale.ipynb",
        ("import math", ["imports"]),
        ("start_date = '2020-01-01'\nCANDIES = 20\nratio: float = 0.5", ["pipeline-parameters"]),
        ("print('candies', CANDIES, start_date, ratio)", ["step:report"]),
    )
    output = tmp_path / "out.ipynb"
    done = jupyter_mlops(
        "run", str(notebook), "-p", "CANDIES", "30", "-o", str(output), "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    assert "candies 30 2020-01-01 0.5" in outputs_text(output)  # injected after Kale's cell
    (run,) = notebook_runs()
    assert run.params == {"CANDIES": "30", "start_date": "2020-01-01", "ratio": "0.5"}
    assert run.tags["mlops.params_given"] == "CANDIES"
    # a filter on a default finds the runs that used it
    found = mlops.runs(filter="params.start_date = '2020-01-01' and params.CANDIES = '30'")
    assert list(found["run_id"]) == [run.run_id]
    shown = jupyter_mlops("runs", "show", run.run_id).stdout
    assert "CANDIES = 30  (-p)" in shown
    assert "start_date = 2020-01-01  (default)" in shown


def test_parameters_from_a_yaml_file_and_yaml_text(
    tmp_store: str, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    notebook = make_notebook(
        "sales.ipynb",
        ("start_date = '2020-01-01'\nCANDIES = 20\nregions = []", ["parameters"]),
        "print('run', start_date, CANDIES, regions)",
    )
    params = tmp_path / "params.yaml"
    params.write_text("start_date: 2021-03-04\nCANDIES: 7\nregions: [north, south]\n")
    output = tmp_path / "out.ipynb"
    done = jupyter_mlops(
        "run",
        str(notebook),
        "-f",
        str(params),
        "-y",
        "CANDIES: 9",  # later sources win, as in papermill
        "-o",
        str(output),
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    assert "run 2021-03-04 9 ['north', 'south']" in outputs_text(output)
    (run,) = notebook_runs()
    assert run.params == {
        "start_date": "2021-03-04",
        "CANDIES": "9",
        "regions": '["north", "south"]',
    }


# -- 3. the environment is the kernel's, and complete --------------------------------------


def test_the_environment_is_the_kernels_own(
    tmp_store: str, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    # A kernel with its own interpreter path and a package only its environment has.
    site = tmp_path / "kernel-site"
    (site / "mlops_probe_pkg").mkdir(parents=True)
    (site / "mlops_probe_pkg" / "__init__.py").write_text("")
    dist = site / "mlops_probe_pkg-9.9.9.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlops-probe-pkg\nVersion: 9.9.9\n")
    (dist / "top_level.txt").write_text("mlops_probe_pkg\n")
    interpreter = tmp_path / "bin" / "python3"
    interpreter.parent.mkdir()
    interpreter.symlink_to(sys.executable)
    spec = tmp_path / "jupyter" / "kernels" / "other-env"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(interpreter), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Other env",
                "language": "python",
                "env": {"PYTHONPATH": str(site)},
            }
        )
    )
    notebook = make_notebook("probe.ipynb", "import mlops_probe_pkg", "print('imported')")
    done = jupyter_mlops(
        "run",
        str(notebook),
        "--kernel",
        "other-env",
        "--no-progress",
        env={"JUPYTER_PATH": str(tmp_path / "jupyter")},
    )
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    env = run.environment
    assert env["executable"] == str(interpreter)
    assert env["packages"].get("mlops-probe-pkg") == "9.9.9"
    assert env["kernel"] == "other-env"
    assert env["captured_in"] == "kernel"
    shown = jupyter_mlops("runs", "show", run.run_id).stdout
    assert "(kernel other-env)" in shown and f"executable : {interpreter}" in shown


# -- 4. errors are stored readable; 3. stdout is recorded ----------------------------------


def test_a_failed_notebooks_error_is_plain_text_with_its_lines_and_output_is_kept(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook(
        "broken.ipynb",
        "print('loading rows')",
        "def check(row):\n    raise ValueError(f'bad row {row}')\ncheck(7)",
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 1
    assert "bad row 7" in done.stderr
    (run,) = notebook_runs()
    assert run.status == "FAILED"
    assert "\x1b" not in run.error
    assert re.search(r"^Cell In\[2\], line 3$", run.error, re.M), run.error
    assert re.search(r"^ValueError: bad row 7$", run.error, re.M), run.error
    assert "\x1b" not in run.cells["error"][1]
    assert re.search(r"^Cell In\[2\], line 3$", run.cells["error"][1], re.M)
    assert "loading rows" in run.stdout

    shown = jupyter_mlops("runs", "show", run.run_id).stdout
    assert "\x1b" not in shown
    assert "\n  ValueError: bad row 7" in shown


# -- 5. papermill's notebooks run: nbformat 4.2 with cell ids; 8. cell ids recorded --------


def test_a_nbformat_4_2_notebook_with_cell_ids_runs_and_cells_keep_their_ids(
    tmp_store: str, tmp_path: Path
) -> None:
    def cell(cell_id: str, source: str) -> dict[str, object]:
        return {
            "cell_type": "code",
            "id": cell_id,
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }

    notebook = tmp_path / "old-format.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 2,
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "cells": [
                    cell("setup", "%load_ext jupyter_mlops"),
                    cell(
                        "fit-cell",
                        "%%track fit\nimport jupyter_mlops as mlops\nmlops.log_metric('m', 1)",
                    ),
                ],
            }
        )
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    assert list(run.cells["cell_id"]) == ["setup", "fit-cell"]
    (child,) = run.children
    assert mlops.get_run(child).cell_id == "fit-cell"


def test_a_notebook_breaking_the_schema_runs_as_papermill_runs_it(
    tmp_store: str, tmp_path: Path
) -> None:
    notebook = tmp_path / "hand-written.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 4,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                # no execution_count, no outputs: the schema wants both, papermill does not
                "cells": [{"cell_type": "code", "metadata": {}, "source": "print('ran')"}],
            }
        )
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "runs all the same" in done.stderr
    assert done.stderr.count("does not follow the notebook format") == 1
    (run,) = notebook_runs()
    assert run.status == "FINISHED" and "ran" in run.stdout


def test_a_cell_tagged_raises_exception_does_not_fail_the_run(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook(
        "teaching.ipynb",
        ("raise ValueError('this is how it fails')", ["raises-exception"]),
        "print('went on')",
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    assert run.status == "FINISHED" and "went on" in run.stdout
    assert list(run.cells["status"]) == ["FINISHED", "FINISHED"]
    assert "ValueError: this is how it fails" in run.cells["error"][0]

    # an error elsewhere still fails the run
    broken = make_notebook(
        "broken.ipynb", ("raise ValueError('expected')", ["raises-exception"]), "1 / 0"
    )
    assert jupyter_mlops("run", str(broken), "--no-progress").returncode == 1


# -- 6. one experiment -----------------------------------------------------------------------


def test_the_notebook_run_follows_the_experiment_the_notebook_sets(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook(
        "wine.ipynb", "%load_ext jupyter_mlops", "%experiment wine", "%%track fit\npass"
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "in experiment 'wine'" in done.stdout
    (run,) = notebook_runs()
    assert run.experiment == "wine"
    (child,) = run.children
    assert mlops.get_run(child).experiment == "wine"

    # --experiment pins the notebook run, and the split is said plainly
    done = jupyter_mlops("run", str(notebook), "--experiment", "pinned", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "in experiment 'pinned'" in done.stdout and "1 in 'wine'" in done.stdout
    assert {r.experiment for r in notebook_runs()} == {"wine", "pinned"}


# -- 7. scrapbook ----------------------------------------------------------------------------


def test_scrapbook_glue_becomes_metrics_and_tags(
    tmp_store: str, make_notebook: MakeNotebook
) -> None:
    notebook = make_notebook(
        "glue.ipynb",
        "import scrapbook as sb\n"
        "sb.glue('accuracy', 0.5)\n"
        "sb.glue('accuracy', 0.93)  # glued again: the last value counts\n"
        "sb.glue('rows', 1200)\n"
        "sb.glue('model', 'random-forest')\n"
        "sb.glue('report', 'x' * 5000)  # long text is no tag",
    )
    done = jupyter_mlops("run", str(notebook), "--no-progress")
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    assert run.metrics == {"accuracy": 0.93, "rows": 1200.0}
    assert run.tags["model"] == "random-forest"
    assert "report" not in run.tags


# -- 5. a date in a filter; 8. --help ------------------------------------------------------


def test_a_date_in_a_filter_without_quotes_gets_a_hint(tmp_store: str) -> None:
    done = jupyter_mlops("runs", "list", "--filter", "params.start_date = 2020-01-01")
    assert done.returncode == 2
    assert "quote dates" in done.stderr and "'2020-01-01'" in done.stderr


def test_help_promises_only_commands_that_exist(tmp_store: str) -> None:
    done = jupyter_mlops("--help")
    assert done.returncode == 0
    listed = set(re.findall(r"^ {4}(\w[\w-]*) ", done.stdout, re.M))
    assert {"runs", "run"} <= listed
    description = done.stdout.split("positional arguments:")[0].lower()
    for word in ("pipeline", "export", "import", "report", "model", "sync"):
        if word in description:
            assert any(name.startswith(word) for name in listed), (word, done.stdout)
    for name in listed:
        assert jupyter_mlops(name, "--help").returncode == 0


# -- 8. headless ---------------------------------------------------------------------------


def test_a_notebook_run_draws_no_live_widget_and_keeps_the_static_chart(
    tmp_store: str, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    # Our engine sends cell ids as a front end does; without the headless switch the kernel
    # took them for a watching front end and built a widget nobody would see.
    notebook = make_notebook(
        "curve.ipynb",
        "%load_ext jupyter_mlops\nimport jupyter_mlops as mlops",
        "%%track fit\nfor step in range(5):\n    mlops.log_metric('loss', 1 / (1 + step), step)",
        "import sys\nprint('widget code loaded:', 'plotly.basewidget' in sys.modules)",
    )
    output = tmp_path / "out.ipynb"
    done = jupyter_mlops("run", str(notebook), "-o", str(output), "--no-progress")
    assert done.returncode == 0, done.stderr
    (run,) = notebook_runs()
    assert "widget code loaded: False" in run.stdout
    text = outputs_text(output)
    assert "application/vnd.jupyter.widget-view+json" not in text
    assert "application/vnd.plotly.v1+json" in text  # the chart, drawn once at the end
    (child,) = run.children
    assert mlops.get_run(child).metrics == {"loss": 0.2}
