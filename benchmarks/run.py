"""jupyter-mlops vs MLflow, side by side: ``python benchmarks/run.py [--quick]``.

Runs each side in its own fresh process (``benchmarks/worker.py``) on the same workloads and
data, against SQLite stores in a temporary directory (MLflow: ``sqlite:///``), then prints a
table of ratios with the targets and writes everything to ``benchmarks/results.json``
(``results-quick.json`` with ``--quick``). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``benchmarks`` as a package, and
    # keep this folder off sys.path so its modules never shadow others
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_here)]
    sys.path.insert(0, str(Path(_here).parent))

from benchmarks.common import BEFORE_REV, BENCHES, REPO_ROOT, Sizes, worker_env  # noqa: E402
from benchmarks.report import (  # noqa: E402
    NOTES,
    build_rows,
    markdown_table,
    text_table,
    update_docs,
)

HERE = Path(__file__).resolve().parent
SIDES = {"mlops": "jupyter-mlops", "mlflow": "MLflow"}


def run_side(side: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one worker process; its progress streams to our stderr, its results come back."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "--side",
        side,
        "--out",
        out,
        "--only",
        args.only,
    ]
    if args.quick:
        command.append("--quick")
    if args.keep_temp:
        command.append("--keep-temp")
    if side == "mlops" and args.before:
        command += ["--before", args.before]
    for assignment in args.set:
        command += ["--set", assignment]
    print(f"{SIDES[side]} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    # The repository is the working directory: both tools see a git checkout, as a user would
    # (jupyter-mlops records commit and diff of the cwd, MLflow of the running script).
    done = subprocess.run(command, cwd=REPO_ROOT, env=worker_env(), check=False)
    wall = time.perf_counter() - start
    try:
        with open(out, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError):
        data = {
            "side": SIDES[side],
            "results": {},
            "errors": {"worker": f"exited with {done.returncode} before writing results"},
        }
    finally:
        Path(out).unlink(missing_ok=True)
    data["wall_s"] = wall
    print(f"{SIDES[side]}: {wall:.0f} s", file=sys.stderr, flush=True)
    return data


# The separate scripts a full run also runs (their sections of the results file, and the
# option that names their JSON output).
EXTRA_SCRIPTS = {"pipeline": "--output", "remote": "--json"}
EXTRA_TIMEOUT_S = 1800


def run_extra(name: str) -> dict[str, Any]:
    """Run ``benchmarks/<name>.py`` (its table streams to our stdout); its JSON results.
    Raises RuntimeError when it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.json"
        print(f"\n== {name}.py", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), EXTRA_SCRIPTS[name], str(out)],
            cwd=REPO_ROOT,
            timeout=EXTRA_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"benchmarks/{name}.py exited with {done.returncode}")
        return json.loads(out.read_text(encoding="utf-8"))


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_state() -> dict[str, Any]:
    def git(*words: str) -> str:
        try:
            return subprocess.run(
                ["git", *words], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Benchmark jupyter-mlops side by side with MLflow (SQLite stores).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller workloads (under a minute); size-bound targets are then only indicative",
    )
    parser.add_argument(
        "--only", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}"
    )
    parser.add_argument(
        "--side",
        choices=("both", "mlops", "mlflow"),
        default="both",
        help="run only one side (the other's columns stay empty)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a workload size, e.g. --set mlflow_search_runs=1000 "
        "(fields of benchmarks.common.Sizes)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON results file (default benchmarks/results.json, results-quick.json with --quick)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 2 when a target is missed"
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary stores")
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="a full run of every benchmark on both sides rewrites benchmarks/RESULTS.md and "
        "README.md's performance table from its results; this leaves them alone",
    )
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip benchmarks/pipeline.py and benchmarks/remote.py, which a full run of every "
        "benchmark on both sides also runs (their tables go into docs/pipelines.md and "
        "docs/remote.md)",
    )
    parser.add_argument(
        "--before",
        default=BEFORE_REV,
        metavar="REV",
        help="git revision of the code before the local journal, run beside the current tree "
        f"by the durability benchmarks (default {BEFORE_REV}; '' for none)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(BENCHES)
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCHES)}"
        )
    sizes = (Sizes.quick() if args.quick else Sizes()).override(args.set)

    started = time.time()
    load_before = _load()
    git = git_state()  # before the workers run: the code they measure
    if load_before and load_before[0] > 0.5:
        print(
            f"warning: load average {load_before[0]:.1f} before starting: other processes "
            "compete for the CPU, timings will be noisy.",
            file=sys.stderr,
        )
    sides = ["mlops", "mlflow"] if args.side == "both" else [args.side]
    data = {side: run_side(side, args) for side in sides}
    everything = (
        not args.quick
        and args.side == "both"
        and set(args.only.split(",")) == set(BENCHES)
        and not args.set
    )
    extras: dict[str, Any] = {}
    extra_errors: dict[str, str] = {}
    if everything and not args.no_extras:
        for name in EXTRA_SCRIPTS:
            try:
                extras[name] = run_extra(name)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                extra_errors[f"{name}.py"] = str(exc)
    mlops = data.get("mlops", {}).get("results", {})
    mlflow = data.get("mlflow", {}).get("results", {})
    rows = build_rows(mlops, mlflow)

    print()
    print(text_table(rows))
    print()
    for note in NOTES:
        print(f"  {note}")
    if args.markdown:
        print()
        print(markdown_table(rows))
    failed = {
        f"{SIDES[s]}: {bench}": text
        for s, d in data.items()
        for bench, text in d.get("errors", {}).items()
    }
    failed.update(extra_errors)
    for name in failed:
        print(f"\nFAILED {name} (traceback above)", file=sys.stderr)

    versions = {}
    for side_data in data.values():
        versions.update(side_data.get("versions", {}))
    report = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "mode": "quick" if args.quick else "full",
            "sizes": vars(sizes),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": _load(),
            "sqlite": sqlite3.sqlite_version,
            "versions": versions,
            "git": git,
            "before": mlops.get("before.code"),
            "wall_s": {SIDES[s]: round(d.get("wall_s", 0.0), 1) for s, d in data.items()},
            "seconds_per_bench": {SIDES[s]: d.get("seconds", {}) for s, d in data.items()},
            "notes": NOTES,
        },
        "rows": rows,
        "raw": {SIDES[s]: d.get("results", {}) for s, d in data.items()},
        "errors": failed,
    }
    report.update(extras)
    output = args.output or HERE / ("results-quick.json" if args.quick else "results.json")
    output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nResults written to {output}", file=sys.stderr)
    complete = everything and not args.no_extras and args.output is None and not failed
    if complete and not args.no_docs:
        update_docs(report, HERE / "RESULTS.md", REPO_ROOT / "README.md")
        print("RESULTS.md and README.md's performance table regenerated", file=sys.stderr)
    if failed:
        return 1
    if args.check and any(r["met"] and r["met"].startswith("NO") for r in rows):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
