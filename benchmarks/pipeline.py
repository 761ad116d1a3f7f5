"""Notebook pipelines, side by side with plain papermill (and Ploomber where it installs).

    python benchmarks/pipeline.py [--repeats 3] [--output FILE] [--check]
    python benchmarks/pipeline.py --only parallel [--only five] --output /tmp/x.json

``--only`` runs some of the benchmarks and prints their raw numbers (no table: the table
needs all of them).

Every command is timed as a user runs it: a fresh process, wall clock from start to exit,
the median of ``--repeats``. Each side runs in its own temporary folder and store. Rows:

- cached rerun of a 5-step pipeline: ``jupyter mlops pipeline run`` when every step is cached
  (and ``mlops.pipeline.run`` in ``python -c``, which skips the CLI's imports); the JSON
  summary must say 5 cached steps and 0 kernels started;
- 5 trivial sequential steps, cold (``--no-cache``): the pipeline (warm kernels, and with
  ``--fresh-kernels``) beside 5 ``papermill`` commands on the same step notebooks, and beside
  5 ``papermill.execute_notebook`` calls in one process;
- 4 independent steps that sleep 2 s: ``--jobs 2`` beside ``--jobs 1``;
- hand-over of a 100 MB float64 array and a 1,000,000-row DataFrame between two steps, beside
  papermill running the same two notebooks where the second builds the values itself (no
  hand-over): the difference is the cost of serializing and loading them;
- Ploomber (``ploomber build``) on the same 5 steps, cold and cached, when an interpreter
  with Ploomber is available: this one, or ``$PLOOMBER_PYTHON`` (Ploomber requires
  ``notebook<7``, which conflicts with this project's Notebook 7, so it usually lives in a
  virtualenv of its own: ``python -m venv --system-site-packages V && V/bin/pip install
  ploomber``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``benchmarks`` as a package, and
    # keep this folder off sys.path so its modules never shadow others
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_here)]
    sys.path.insert(0, str(Path(_here).parent))

from benchmarks.report import text_grid  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# papermill's Python API on each notebook given, in one process
PAPERMILL_LOOP = (
    "import papermill, sys\n"
    "for p in sys.argv[1:]:\n"
    "    papermill.execute_notebook(p, p + '.out', kernel_name='python3', progress_bar=False)\n"
)
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": KERNEL}, "cells": []}
    for i, (source, tags) in enumerate(cells):
        nb["cells"].append(
            {
                "cell_type": "code",
                "id": f"cell-{i}",
                "metadata": {"tags": tags} if tags else {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    path.write_text(json.dumps(nb))
    return path


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def median_of(repeats: int, run: Any) -> float:
    return statistics.median(run() for _ in range(repeats))


class Bench:
    def __init__(self, root: Path, repeats: int) -> None:
        self.root = root
        self.repeats = repeats
        self.results: dict[str, Any] = {}

    def workspace(self, name: str) -> tuple[Path, dict[str, str]]:
        folder = self.root / name
        folder.mkdir()
        env = dict(os.environ)
        env.update(
            JUPYTER_MLOPS_STORE=str(folder / "mlops.db"),
            JUPYTER_MLOPS_ARTIFACTS=str(folder / "artifacts"),
            JUPYTER_MLOPS_PIPELINE_CACHE=str(folder / "cache"),
            PYTHONWARNINGS="ignore",
        )
        env.pop("JUPYTER_MLOPS_EXPERIMENT", None)
        return folder, env

    def mlops(self, folder: Path, env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
        argv = ["jupyter", "mlops", "pipeline", "run", *args, "--format", "json", "--no-progress"]
        elapsed, out = timed(argv, folder, env)
        return elapsed, json.loads(out)

    # -------------------------------------------------------------------------------------
    def five_steps(self) -> None:
        folder, env = self.workspace("five")
        steps = [("x1 = 1", "s1")] + [(f"x{i} = x{i - 1} + 1", f"s{i}") for i in range(2, 6)]
        nb = notebook(folder / "five.ipynb", [(code, [f"step:{name}"]) for code, name in steps])
        cold, summary = self.mlops(folder, env, str(nb))
        assert [s["status"] for s in summary["steps"]] == ["ran"] * 5, summary
        cached_runs = []
        for _ in range(self.repeats):
            elapsed, summary = self.mlops(folder, env, str(nb))
            assert [s["status"] for s in summary["steps"]] == ["cached"] * 5, summary
            assert summary["kernels_started"] == 0, summary
            cached_runs.append(elapsed)
        api = median_of(
            self.repeats,
            lambda: timed(
                [sys.executable, "-c", f"import jupyter_mlops as m; m.pipeline.run({str(nb)!r})"],
                folder,
                env,
            )[0],
        )
        self.results["cached"] = {
            "cli_s": statistics.median(cached_runs),
            "api_s": api,
            "kernels_started": 0,
        }

        warm = median_of(self.repeats, lambda: self.mlops(folder, env, str(nb), "--no-cache")[0])
        fresh = median_of(
            self.repeats,
            lambda: self.mlops(folder, env, str(nb), "--no-cache", "--fresh-kernels")[0],
        )
        plain = []
        for code, name in steps:
            plain.append(
                notebook(folder / f"plain_{name}.ipynb", [(code.split(" = ")[0] + " = 1", [])])
            )

        def papermill_cli() -> float:
            total = 0.0
            for path in plain:
                total += timed(
                    ["papermill", "-k", "python3", str(path), str(path) + ".out"], folder, env
                )[0]
            return total

        script = PAPERMILL_LOOP
        pm_cli = median_of(self.repeats, papermill_cli)
        pm_api = median_of(
            self.repeats,
            lambda: timed([sys.executable, "-c", script, *map(str, plain)], folder, env)[0],
        )
        self.results["five_cold"] = {
            "warm_s": warm,
            "fresh_s": fresh,
            "papermill_cli_s": pm_cli,
            "papermill_api_s": pm_api,
            "first_cold_s": cold,
        }
        self.results["ploomber_workload"] = steps

    def parallel(self) -> None:
        folder, env = self.workspace("parallel")
        cells = [
            (f"import time\ntime.sleep(2)\nslept_{i} = True", [f"step:sleep{i}"]) for i in range(4)
        ]
        nb = notebook(folder / "sleep.ipynb", cells)
        one = median_of(
            self.repeats, lambda: self.mlops(folder, env, str(nb), "--no-cache", "--jobs", "1")[0]
        )
        two = median_of(
            self.repeats, lambda: self.mlops(folder, env, str(nb), "--no-cache", "--jobs", "2")[0]
        )
        self.results["parallel"] = {"jobs1_s": one, "jobs2_s": two}

    def handover(self) -> None:
        folder, env = self.workspace("handover")
        make = textwrap.dedent(
            """\
            import numpy as np
            import pandas as pd
            rng = np.random.default_rng(0)
            big = rng.standard_normal(100 * 1024 * 1024 // 8)
            frame = pd.DataFrame({"a": np.arange(1_000_000), "b": rng.standard_normal(1_000_000),
                                  "c": np.arange(1_000_000) % 7})"""
        )
        use = "check = float(big[:10].sum()) + float(frame['b'].sum())"
        nb = notebook(folder / "handover.ipynb", [(make, ["step:make"]), (use, ["step:use"])])
        ours = median_of(
            self.repeats, lambda: self.mlops(folder, env, str(nb), "--no-cache", "--jobs", "1")[0]
        )
        producer = notebook(folder / "bare_make.ipynb", [(make, [])])
        consumer = notebook(folder / "bare_use.ipynb", [(make + "\n" + use, [])])
        script = PAPERMILL_LOOP
        bare = median_of(
            self.repeats,
            lambda: timed(
                [sys.executable, "-c", script, str(producer), str(consumer)], folder, env
            )[0],
        )
        self.results["handover"] = {"ours_s": ours, "bare_papermill_s": bare, "megabytes": 100 + 24}

    def ploomber(self) -> None:
        python = os.environ.get("PLOOMBER_PYTHON") or sys.executable
        probe = subprocess.run(
            [python, "-c", "import ploomber; print(ploomber.__version__)"],
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            self.results["ploomber"] = {
                "skipped": "Ploomber is not importable here (pip install ploomber wants "
                "notebook<7, "
                "which conflicts with this project's Notebook 7); set PLOOMBER_PYTHON to an "
                "interpreter of a virtualenv that has it"
            }
            return
        folder, env = self.workspace("ploomber")
        env["PLOOMBER_STATS_ENABLED"] = "false"
        env["PLOOMBER_VERSION_CHECK_DISABLED"] = "true"
        tasks = []
        for i in range(1, 6):
            upstream = "None" if i == 1 else f"['s{i - 1}']"
            load = (
                ""
                if i == 1
                else f"import pickle\n"
                f"x{i - 1} = pickle.load(open(upstream['s{i - 1}']['data'], 'rb'))\n"
            )
            value = "1" if i == 1 else f"x{i - 1} + 1"
            (folder / f"s{i}.py").write_text(
                f"# %% tags=['parameters']\nupstream = {upstream}\nproduct = None\n\n"
                f"# %%\n{load}x{i} = {value}\nimport pickle\n"
                f"pickle.dump(x{i}, open(product['data'], 'wb'))\n"
            )
            tasks.append(
                f"  - source: s{i}.py\n    product:\n"
                f"      nb: out/s{i}.ipynb\n      data: out/s{i}.pkl\n"
            )
        (folder / "pipeline.yaml").write_text("tasks:\n" + "".join(tasks))
        script = Path(python).with_name("ploomber")
        build = [str(script), "build"] if script.exists() else [python, "-m", "ploomber", "build"]
        cold = timed(build, folder, env)[0]
        cached = median_of(self.repeats, lambda: timed(build, folder, env)[0])
        self.results["ploomber"] = {
            "version": probe.stdout.strip(),
            "python": python,
            "cold_s": cold,
            "cached_s": cached,
        }


def rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The table, header first: what this script prints and run.py publishes."""
    rows = [("benchmark", "jupyter-mlops", "baseline", "ratio", "target", "met?")]
    cached = results["cached"]
    rows.append(
        (
            "cached rerun, 5 steps: CLI wall",
            f"{cached['cli_s']:.2f} s",
            "-",
            "-",
            "< 1 s, 0 kernels",
            "yes" if cached["cli_s"] < 1 else "NO",
        )
    )
    rows.append(
        ("  same, mlops.pipeline.run in python -c", f"{cached['api_s']:.2f} s", "-", "-", "", "")
    )
    five = results["five_cold"]
    ratio = five["warm_s"] / five["papermill_cli_s"]
    rows.append(
        (
            "5 trivial steps cold (warm kernels)",
            f"{five['warm_s']:.2f} s",
            f"papermill x5 (CLI) {five['papermill_cli_s']:.2f} s",
            f"{ratio:.2f}x",
            "<= 0.4x",
            "yes" if ratio <= 0.4 else "NO",
        )
    )
    rows.append(
        (
            "  same beside papermill API in one process",
            f"{five['warm_s']:.2f} s",
            f"papermill x5 (API) {five['papermill_api_s']:.2f} s",
            f"{five['warm_s'] / five['papermill_api_s']:.2f}x",
            "",
            "",
        )
    )
    rows.append(
        (
            "  same with --fresh-kernels",
            f"{five['fresh_s']:.2f} s",
            f"papermill x5 (CLI) {five['papermill_cli_s']:.2f} s",
            f"{five['fresh_s'] / five['papermill_cli_s']:.2f}x",
            "",
            "",
        )
    )
    par = results["parallel"]
    ratio = par["jobs2_s"] / par["jobs1_s"]
    rows.append(
        (
            "4 x sleep 2 s: --jobs 2 vs --jobs 1",
            f"{par['jobs2_s']:.2f} s",
            f"--jobs 1 {par['jobs1_s']:.2f} s",
            f"{ratio:.2f}x",
            "<= 0.6x",
            "yes" if ratio <= 0.6 else "NO",
        )
    )
    hand = results["handover"]
    rows.append(
        (
            "hand-over 100 MB array + 1M-row frame",
            f"{hand['ours_s']:.2f} s",
            f"bare papermill {hand['bare_papermill_s']:.2f} s",
            f"{hand['ours_s'] - hand['bare_papermill_s']:+.2f} s",
            "(overhead)",
            "",
        )
    )
    plo = results["ploomber"]
    if "skipped" in plo:
        rows.append(("Ploomber, same 5 steps", "-", "skipped", "-", "", ""))
    else:
        rows.append(
            (
                "Ploomber 5 steps: cold",
                f"{five['first_cold_s']:.2f} s",
                f"ploomber {plo['cold_s']:.2f} s",
                f"{five['first_cold_s'] / plo['cold_s']:.2f}x",
                "",
                "",
            )
        )
        rows.append(
            (
                "Ploomber 5 steps: cached",
                f"{cached['cli_s']:.2f} s",
                f"ploomber {plo['cached_s']:.2f} s",
                f"{cached['cli_s'] / plo['cached_s']:.2f}x",
                "",
                "",
            )
        )
    return rows


def ploomber_note(results: dict[str, Any]) -> str:
    plo = results["ploomber"]
    if "skipped" in plo:
        return f"Ploomber: {plo['skipped']}."
    return f"Ploomber {plo['version']} ran from {plo.get('python') or sys.executable}."


# --only NAME: the method of Bench that runs it, in the order of a full run
BENCHMARKS = {
    "five": "five_steps",
    "parallel": "parallel",
    "handover": "handover",
    "ploomber": "ploomber",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", help="write the numbers as JSON here")
    parser.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable); prints raw numbers, no table",
    )
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlops-pipeline-bench-") as tmp:
        bench = Bench(Path(tmp), args.repeats)
        for name in BENCHMARKS:
            if not args.only or name in args.only:
                getattr(bench, BENCHMARKS[name])()
    results = bench.results
    results.pop("ploomber_workload", None)
    if args.only:
        results["load_average"] = {"before": load_before, "after": os.getloadavg()}
        print(json.dumps(results, indent=2))
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=2))
        return 0
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    results["cpus"] = os.cpu_count()
    results["rows"] = rows(results)
    results["note"] = ploomber_note(results)
    print(text_grid(results["rows"]))
    print(results["note"])
    print(
        f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
        f"{os.cpu_count()} cores"
    )
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    if args.check:
        missed = (
            results["cached"]["cli_s"] >= 1
            or results["five_cold"]["warm_s"] / results["five_cold"]["papermill_cli_s"] > 0.4
            or results["parallel"]["jobs2_s"] / results["parallel"]["jobs1_s"] > 0.6
        )
        return 2 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
