"""Shared pieces of the benchmarks: workload sizes, timing, the same data for both sides."""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# The groups of measurements, in the order they run. A side skips those it does not define.
BENCHES = (
    "empty_run",
    "cell",
    "metrics",
    "search",
    "history",
    "rest",
    "sidebar",
    "sidebar_views",
    "live",
    "kill",
    "journal",
    "sweep",
    "outage",
)
# The code before the local journal (issue 8): the durability benchmarks run it beside the
# current tree (``--before``).
BEFORE_REV = "bee9800"

# Environment both workers run with: no telemetry, no store/experiment leaking in from the user.
CLEAR_ENV = (
    "JUPYTER_MLOPS_STORE",
    "JUPYTER_MLOPS_ARTIFACTS",
    "JUPYTER_MLOPS_EXPERIMENT",
    "JUPYTER_MLOPS_PARENT_RUN",
    "JUPYTER_MLOPS_NOTEBOOK",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "JUPYTER_MLOPS_JOURNAL",
    "JUPYTER_MLOPS_OFFLINE",
    "JUPYTER_MLOPS_LIVE",
)
SET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "PYTHONWARNINGS": "ignore",
}


@dataclasses.dataclass
class Sizes:
    """How much work each measurement does. ``--set KEY=VALUE`` overrides any field."""

    # empty run: timed one by one with the writer idle (flush between runs, not timed) ...
    empty_runs: int = 500
    # ... and back to back (no flush until the end: the writer competes for the GIL).
    empty_runs_b2b: int = 1000
    mlflow_empty_runs: int = 100
    # %%track empty cell in an in-process IPython InteractiveShell
    cells: int = 300
    mlflow_cells: int = 100
    # log_metric loop (jupyter-mlops); the same run is read back by the history benchmark
    metric_points: int = 1_000_000
    mlflow_sync_calls: int = 1_000
    mlflow_async_calls: int = 1_000
    mlflow_async_buffered_calls: int = 10_000  # with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1
    # MLflow log_batch (1,000 metrics per call); the same run is read back by the history bench
    mlflow_history_points: int = 1_000_000
    # runs() / search_runs over N runs
    search_runs: int = 10_000
    mlflow_search_runs: int = 10_000
    search_repeats: int = 20
    mlflow_search_repeats: int = 3
    # history
    history_repeats: int = 5
    mlflow_history_repeats: int = 1
    sampled_repeats: int = 20
    mlflow_sampled_repeats: int = 3
    max_points: int = 1_000
    # REST (benchmarks/rest.py): requests per measurement against a real `jupyter server`
    # (the search store plus one metric_points-point run) ...
    rest_repeats: int = 30
    # ... and against `mlflow server` on MLflow's search and metrics stores (1 = start it,
    # 0 = skip: the MLflow REST rows stay empty); each server takes ~5 s to start.
    mlflow_server: int = 1
    mlflow_rest_repeats: int = 3
    server_start_timeout_s: int = 120
    # MLflow's SQLite store commits (fsync) on every call, so its speed follows the disk: on a
    # busy machine it can be several times slower. Its loops stop after these many seconds
    # (the row labels then show the sizes actually reached) to bound the total run time.
    mlflow_loop_budget_s: int = 20
    mlflow_batch_budget_s: int = 120
    mlflow_seed_budget_s: int = 210
    # the sidebar in Chromium (benchmarks/browser.py): page loads timed, after one warm-up
    sidebar_repeats: int = 5
    # the sidebar's sweep and compare views in Chromium (benchmarks/browser.py): parallel
    # coordinates of views_sweep_runs runs (5 params + 1 metric), brushing them, compare of
    # views_compare_runs runs x 3 metrics x views_compare_points points, the smoothing slider;
    # each timed views_repeats times after a warm-up (the slider twice as often)
    views_sweep_runs: int = 10_000
    views_compare_runs: int = 50
    views_compare_points: int = 1_000
    views_repeats: int = 5
    # the live view in a real kernel (benchmarks/live_view.py): alternating on/off pairs of
    # a live_calls-call log_metric loop
    live_calls: int = 100_000
    live_repeats: int = 15
    # Durability of the journal (benchmarks/durability.py), each case in fresh processes, the
    # current tree ("after") and the --before commit: SIGKILL after this many seconds of
    # logging (tight, 100k and 10k points/s) ...
    kill_after_s: int = 3
    # ... the log_metric loop after vs before, alternating (median of the pairs) ...
    journal_points: int = 1_000_000
    journal_pairs: int = 5
    # ... runs with 2 params + 1 metric each until flushed, capture off and on (median of
    # sweep_repeats; the large sweep once, after only); MLflow's fluent API on fewer runs ...
    sweep_runs: int = 10_000
    sweep_repeats: int = 3
    sweep_large_runs: int = 100_000
    mlflow_sweep_runs: int = 500
    # ... and PostgreSQL stopped for outage_s seconds while a process logs outage_rate
    # points/s (after outage_lead_s seconds of logging).
    outage_s: int = 60
    outage_lead_s: int = 5
    outage_rate: int = 10_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            empty_runs=100,
            empty_runs_b2b=100,
            mlflow_empty_runs=20,
            cells=100,
            mlflow_cells=20,
            metric_points=20_000,
            mlflow_sync_calls=100,
            mlflow_async_calls=200,
            mlflow_async_buffered_calls=3_000,
            mlflow_history_points=20_000,
            search_runs=300,
            mlflow_search_runs=300,
            search_repeats=10,
            mlflow_search_repeats=3,
            history_repeats=3,
            mlflow_history_repeats=1,
            sampled_repeats=10,
            mlflow_sampled_repeats=3,
            rest_repeats=10,
            mlflow_server=0,
            mlflow_rest_repeats=2,
            mlflow_loop_budget_s=3,
            mlflow_batch_budget_s=5,
            mlflow_seed_budget_s=12,
            sidebar_repeats=2,
            views_sweep_runs=1_000,
            views_compare_runs=10,
            views_compare_points=200,
            views_repeats=2,
            live_calls=20_000,
            live_repeats=3,
            kill_after_s=1,
            journal_points=100_000,
            journal_pairs=1,
            sweep_runs=1_000,
            sweep_repeats=1,
            sweep_large_runs=3_000,
            mlflow_sweep_runs=30,
            outage_s=10,
            outage_lead_s=2,
        )

    def override(self, assignments: list[str]) -> Sizes:
        names = {f.name for f in dataclasses.fields(self)}
        for text in assignments:
            key, sep, value = text.partition("=")
            if not sep or key not in names:
                raise SystemExit(
                    f"--set expects one of {', '.join(sorted(names))}=INT, got {text!r}"
                )
            setattr(self, key, int(value.replace("_", "")))
        return self


# -- timing -----------------------------------------------------------------------------------

clock = time.perf_counter_ns


def summary(samples_ns: list[int]) -> dict[str, Any]:
    """Median, p90, mean and min (milliseconds) of per-iteration timings."""
    ms = sorted(s / 1e6 for s in samples_ns)
    return {
        "median_ms": statistics.median(ms),
        "p90_ms": ms[min(len(ms) - 1, int(len(ms) * 0.9))],
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "n": len(ms),
    }


def repeat(
    fn: Callable[[], Any],
    times: int,
    warmup: int = 0,
    budget_s: float | None = None,
    at_least: int = 5,
) -> tuple[dict[str, Any], Any]:
    """Time ``fn()`` ``times`` times (after ``warmup`` untimed calls); returns (summary, result).

    With ``budget_s``, stop early once that many seconds went by (after ``at_least`` calls).
    """
    result = None
    for _ in range(warmup):
        result = fn()
    samples: list[int] = []
    deadline = None if budget_s is None else clock() + int(budget_s * 1e9)
    for _ in range(times):
        start = clock()
        result = fn()
        samples.append(clock() - start)
        if deadline is not None and clock() > deadline and len(samples) >= at_least:
            break
    return summary(samples), result


def loop_rates(
    n: int, start: int, returned: int, done: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Records of an ``n``-call logging loop timed by ``clock()`` (ns): accepted (the loop
    alone, until the last call returned) and durable (including the final flush)."""
    loop_s, total_s = (returned - start) / 1e9, (done - start) / 1e9
    accepted = {"calls_per_s": n / loop_s, "loop_s": loop_s, "n": n}
    durable = {
        "calls_per_s": n / total_s,
        "total_s": total_s,
        "final_flush_s": (done - returned) / 1e9,
        "n": n,
    }
    return accepted, durable


class WrongAnswer(RuntimeError):
    """A benchmark's answer is wrong: its time is not recorded."""


def check_series(
    what: str, steps: Sequence[int], got: Sequence[float], expected: Sequence[float]
) -> None:
    """A full metric history: exactly steps 0..n-1, in order, each with its logged value."""
    n = len(expected)
    if len(steps) != n or len(got) != n:
        raise WrongAnswer(f"{what}: {len(steps)} points returned, {n} logged")
    if list(steps) != list(range(n)):
        raise WrongAnswer(f"{what}: the steps are not 0..{n - 1} in order")
    wrong = next((i for i in range(n) if got[i] != expected[i]), None)
    if wrong is not None:
        raise WrongAnswer(f"{what}: step {wrong} is {got[wrong]!r}, {expected[wrong]!r} was logged")


def check_sampled(
    what: str,
    steps: Sequence[int],
    got: Sequence[float],
    expected: Sequence[float],
    max_points: int,
) -> None:
    """A downsampled metric history: 2..max_points points of the logged series, by value: steps
    increasing, each point's value the one logged at its step, first and last steps kept, and
    no gap wider than a few buckets (evenly spread over the series)."""
    n = len(expected)
    if not 2 <= len(steps) <= max_points or len(got) != len(steps):
        raise WrongAnswer(f"{what}: {len(steps)} points returned (at most {max_points})")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise WrongAnswer(f"{what}: steps not increasing")
    if steps[0] != 0 or steps[-1] != n - 1:
        raise WrongAnswer(f"{what}: steps {steps[0]}..{steps[-1]}, the series is 0..{n - 1}")
    for step, value in zip(steps, got, strict=True):
        if not 0 <= step < n or value != expected[step]:
            raise WrongAnswer(f"{what}: step {step} is {value!r}, not the value logged there")
    widest = max(b - a for a, b in zip(steps, steps[1:], strict=False))
    if widest > 4 * n / max_points + 1:
        raise WrongAnswer(f"{what}: a gap of {widest} steps (not spread over the series)")


def measure_history(
    out: dict[str, Any],
    expected: Sequence[float],
    max_points: int,
    full: tuple[Callable[[], Any], int],
    sampled: tuple[Callable[[], Any], int],
    points: Callable[[Any], tuple[Sequence[int], Sequence[float]]],
    full_warmup: int = 0,
) -> None:
    """Time a full and a downsampled history read of the metric logged with the values
    ``expected`` (steps 0..n-1), check each answer by its values (``points(result)`` gives
    its steps and values), and only then record them in ``out`` (``history.full``,
    ``history.sampled``). ``full``/``sampled`` are (read function, repeats)."""
    n = len(expected)
    timing, result = repeat(full[0], full[1], warmup=full_warmup)
    check_series("full history", *points(result), expected)
    del result
    full_record = {**timing, "points": n}
    timing, result = repeat(sampled[0], sampled[1], warmup=1)
    steps, values = points(result)
    check_sampled("downsampled history", steps, values, expected, max_points)
    out["history.full"] = full_record
    out["history.sampled"] = {**timing, "points": n, "returned": len(steps)}


def stored_points(db: Path, run_id: str, key: str) -> tuple[int, int | None, int | None]:
    """(count, first step, last step) of one metric of a jupyter-mlops SQLite store, by SQL."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT COUNT(*), MIN(m.step), MAX(m.step) FROM metrics m JOIN metric_series s "
            "ON s.series_id = m.series_id WHERE s.run_id = ? AND s.key = ?",
            (run_id, key),
        ).fetchone()
    finally:
        conn.close()


def deadline_after(seconds: float) -> int:
    return clock() + int(seconds * 1e9)


def log(side: str, message: str) -> None:
    print(f"  [{side}] {message}", file=sys.stderr, flush=True)


# -- the same data on both sides --------------------------------------------------------------


def metric_values(n: int, seed: int = 1) -> list[float]:
    """``n`` values of a decaying, noisy loss curve."""
    rng = random.Random(seed)
    return [1.0 / (1.0 + i * 1e-3) + rng.random() * 0.01 for i in range(n)]


def search_data(n: int, seed: int = 42) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """``n`` runs: (name, params, metrics) with a uniform random ``acc`` (distinct values)."""
    rng = random.Random(seed)
    data = []
    for i in range(n):
        params = {
            "lr": str(rng.choice([0.1, 0.03, 0.01, 0.003])),
            "batch_size": str(rng.choice([16, 32, 64, 128])),
            "seed": str(i),
        }
        metrics = {"acc": rng.random(), "loss": rng.random()}
        data.append((f"run-{i:05d}", params, metrics))
    return data


SEARCH_FILTER = "metrics.acc > 0.5"
SEARCH_ORDER = "metrics.acc DESC"
SEARCH_LIMIT = 100


def expected_top(data: list[tuple[str, dict[str, str], dict[str, float]]]) -> list[str]:
    """The names the search must return, computed in Python (checks both sides' answers)."""
    hits = [(m["acc"], name) for name, _, m in data if m["acc"] > 0.5]
    hits.sort(key=lambda t: -t[0])
    return [name for _, name in hits[:SEARCH_LIMIT]]


def temp_root() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="mlops-bench-"))


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAR_ENV}
    env.update(SET_ENV)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    return env
