"""The comparison table: which numbers are set side by side, the ratio, the target, met or not."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class Target:
    text: str  # with Row.from_result, formatted with the jupyter-mlops result's fields
    check: Callable[[float, float | None], bool]  # (jupyter-mlops value, ratio) -> met
    # (field holding the workload size, size the target is defined at): below it, met is "*"
    at_size: tuple[str, int] | None = None
    # Instead of ``check``: (jupyter-mlops result, the before result or None) -> met, and
    # the detail shown after yes/NO (e.g. how much slower than before).
    check_results: Callable[[dict[str, Any], dict[str, Any] | None], bool] | None = None
    detail: Callable[[dict[str, Any], dict[str, Any]], str] | None = None


@dataclasses.dataclass
class Row:
    label: str
    mlops: tuple[str, str]  # (result name, field) on the jupyter-mlops side
    mlflow: tuple[str, str] | None  # same on the MLflow side
    unit: str  # "ms", "s" or "/s"
    higher_is_better: bool = False
    target: Target | None = None
    # ((result, field) on the jupyter-mlops side, same on the MLflow side): workload sizes
    size: tuple[tuple[str, str], tuple[str, str]] | None = None
    size_word: str = ""
    # The same result of the code before the journal (``before.<result>`` on the
    # jupyter-mlops side; benchmarks/durability.py), shown in the "before" column.
    before: bool = False
    # Format the label and the target text with the jupyter-mlops result's fields.
    from_result: bool = False
    # A cell's text from its result (jupyter-mlops and before), instead of the value alone.
    cell: Callable[[dict[str, Any]], str] | None = None
    # The MLflow value is its per-run time scaled to jupyter-mlops' run count: say so.
    mlflow_scaled: bool = False
    # In README.md's performance table: under this label (True: the same label).
    readme: str | bool = False


def _slower(rate: float, before: float) -> str:
    """How much slower ``rate`` is than ``before`` (or faster), in words."""
    change = 100 * (1 - rate / before)
    return f"{change:.1f}% slower" if change >= 0 else f"{-change:.1f}% faster"


ROWS = [
    Row(
        "empty run `with start_run(): pass` (returns)",
        ("empty_run.accepted", "median_ms"),
        ("empty_run.accepted", "median_ms"),
        "ms",
        target=Target("<= 0.5 ms and >= 30x", lambda v, r: v <= 0.5 and r is not None and r >= 30),
        readme=True,
    ),
    Row(
        "empty run + mlops.flush() (durable)",
        ("empty_run.durable", "median_ms"),
        ("empty_run.accepted", "median_ms"),
        "ms",
        readme="empty run + `mlops.flush()` (committed)",
    ),
    Row(
        "empty runs back to back (writer busy)",
        ("empty_run.back_to_back", "median_ms"),
        ("empty_run.accepted", "median_ms"),
        "ms",
    ),
    Row(
        "empty runs back to back + 1 flush, per run",
        ("empty_run.sustained", "per_run_ms"),
        ("empty_run.accepted", "median_ms"),
        "ms",
    ),
    Row(
        "empty %%track cell, overhead over `pass` cell",
        ("cell.overhead", "median_ms"),
        ("cell.overhead", "median_ms"),
        "ms",
        readme="empty `%%track` cell, overhead over a `pass` cell",
    ),
    Row(
        "empty %%track cell + flush, overhead",
        ("cell.overhead_durable", "median_ms"),
        ("cell.overhead", "median_ms"),
        "ms",
    ),
    Row(
        "log_metric loop, accepted | MLflow synchronous",
        ("metrics.accepted", "calls_per_s"),
        ("metrics.sync", "calls_per_s"),
        "/s",
        True,
        Target(">= 200,000/s", lambda v, r: v >= 200_000),
        size=(("metrics.accepted", "n"), ("metrics.sync", "n")),
        size_word="calls",
        readme="`log_metric` loop, calls accepted (MLflow synchronous)",
    ),
    Row(
        "log_metric loop, accepted | MLflow synchronous=False",
        ("metrics.accepted", "calls_per_s"),
        ("metrics.async_accepted", "calls_per_s"),
        "/s",
        True,
        Target(">= 200,000/s", lambda v, r: v >= 200_000),
        size=(("metrics.accepted", "n"), ("metrics.async_accepted", "n")),
        size_word="calls",
    ),
    Row(
        "log_metric loop + flush | MLflow sync=False + flush",
        ("metrics.durable", "calls_per_s"),
        ("metrics.async_durable", "calls_per_s"),
        "/s",
        True,
        Target(">= 50,000/s", lambda v, r: v >= 50_000),
        size=(("metrics.durable", "n"), ("metrics.async_durable", "n")),
        size_word="calls",
    ),
    Row(
        "log_metric loop + flush | MLflow sync=False, buffered 1 s",
        ("metrics.durable", "calls_per_s"),
        ("metrics.async_buffered_durable", "calls_per_s"),
        "/s",
        True,
        Target(">= 50,000/s", lambda v, r: v >= 50_000),
        size=(("metrics.durable", "n"), ("metrics.async_buffered_durable", "n")),
        size_word="calls",
    ),
    Row(
        "log_metric loop + flush | MLflow log_batch(1000)",
        ("metrics.durable", "calls_per_s"),
        ("metrics.batch", "calls_per_s"),
        "/s",
        True,
        Target(">= 50,000/s", lambda v, r: v >= 50_000),
        size=(("metrics.durable", "n"), ("metrics.batch", "n")),
        size_word="points",
        readme="`log_metric` loop + final flush, durable (MLflow `log_batch` of 1,000)",
    ),
    Row(
        "seed runs (params + 2 metrics each), total",
        ("search.seed", "total_s"),
        ("search.seed", "total_s"),
        "s",
        size=(("search.seed", "n"), ("search.seed", "n")),
        size_word="runs",
    ),
    Row(
        "runs(filter, order_by metric, limit=100)",
        ("search.query", "median_ms"),
        ("search.query", "median_ms"),
        "ms",
        target=Target(
            "< 50 ms at 10,000 runs", lambda v, r: v < 50, at_size=("search.query.runs", 10_000)
        ),
        size=(("search.query", "runs"), ("search.query", "runs")),
        size_word="runs",
        readme="`runs(filter, order_by=metric, limit=100)` (MLflow `search_runs`)",
    ),
    Row(
        "get_run().history(key), full",
        ("history.full", "median_ms"),
        ("history.full", "median_ms"),
        "ms",
        target=Target(
            "< 1 s at 1M points", lambda v, r: v < 1000, at_size=("history.full.points", 1_000_000)
        ),
        size=(("history.full", "points"), ("history.full", "points")),
        size_word="points",
        readme="`get_run().history(key)` (MLflow `get_metric_history`)",
    ),
    Row(
        "history(key, max_points=1000)",
        ("history.sampled", "median_ms"),
        ("history.sampled", "median_ms"),
        "ms",
        target=Target(
            "< 100 ms at 1M points",
            lambda v, r: v < 100,
            at_size=("history.sampled.points", 1_000_000),
        ),
        size=(("history.sampled", "points"), ("history.sampled", "points")),
        size_word="points",
        readme="`history(key, max_points=1000)` (MLflow bulk-interval)",
    ),
    # REST (benchmarks/rest.py): a real `jupyter server` over HTTP vs `mlflow server`, or vs
    # MLflow's in-process calls measured above (no server needed)
    Row(
        "REST GET runs?filter&order_by=metrics.acc DESC&limit=100 | MLflow search_runs()",
        ("rest.runs_filtered", "median_ms"),
        ("search.query", "median_ms"),
        "ms",
        target=Target(
            "< 50 ms at 10,000 runs",
            lambda v, r: v < 50,
            at_size=("rest.runs_filtered.runs", 10_000),
        ),
        size=(("rest.runs_filtered", "runs"), ("search.query", "runs")),
        size_word="runs",
    ),
    Row(
        "REST GET runs?filter&order_by&limit=100 | MLflow REST runs/search",
        ("rest.runs_filtered", "median_ms"),
        ("rest.runs_filtered", "median_ms"),
        "ms",
        target=Target(
            "< 50 ms at 10,000 runs",
            lambda v, r: v < 50,
            at_size=("rest.runs_filtered.runs", 10_000),
        ),
        size=(("rest.runs_filtered", "runs"), ("rest.runs_filtered", "runs")),
        size_word="runs",
        readme="REST `GET runs?filter&order_by=metrics.acc DESC&limit=100` "
        "(MLflow REST `runs/search`)",
    ),
    Row(
        "REST GET runs?order_by=metrics.acc DESC&limit=100 | MLflow REST runs/search",
        ("rest.runs_sorted", "median_ms"),
        ("rest.runs_sorted", "median_ms"),
        "ms",
        target=Target(
            "< 50 ms at 10,000 runs", lambda v, r: v < 50, at_size=("rest.runs_sorted.runs", 10_000)
        ),
        size=(("rest.runs_sorted", "runs"), ("rest.runs_sorted", "runs")),
        size_word="runs",
    ),
    Row(
        "REST GET runs/{id}/metrics/loss?max_points=1000 | MLflow REST get-history-bulk-interval",
        ("rest.history_sampled", "median_ms"),
        ("rest.history_sampled", "median_ms"),
        "ms",
        target=Target(
            "< 200 ms at 1M points",
            lambda v, r: v < 200,
            at_size=("rest.history_sampled.points", 1_000_000),
        ),
        size=(("rest.history_sampled", "points"), ("rest.history_sampled", "points")),
        size_word="points",
        readme="REST `GET runs/{id}/metrics/loss?max_points=1000` "
        "(MLflow REST `get-history-bulk-interval`)",
    ),
    Row(
        "REST GET runs/{id}/metrics/loss?max_points=1000 | MLflow store "
        "get_metric_history_bulk_interval",
        ("rest.history_sampled", "median_ms"),
        ("history.sampled", "median_ms"),
        "ms",
        target=Target(
            "< 200 ms at 1M points",
            lambda v, r: v < 200,
            at_size=("rest.history_sampled.points", 1_000_000),
        ),
        size=(("rest.history_sampled", "points"), ("history.sampled", "points")),
        size_word="points",
    ),
    # Durability (benchmarks/durability.py): the current tree beside the code before the
    # journal ("before" column), each case in fresh processes
    *[
        Row(
            f"SIGKILL during a {what} log_metric loop: points lost of logged "
            f"({{kill_after_s:.0f}} s of logging)",
            (f"kill.{name}", "lost"),
            None,
            "points",
            target=Target(
                "<= logged in the last 0.2 s ({logged_last_0_2s:,})",
                lambda v, r: True,
                check_results=lambda mine, before: mine["lost"] <= mine["logged_last_0_2s"],
            ),
            before=True,
            from_result=True,
            cell=lambda res: f"{res['lost']:,} of {res['logged']:,} ({res['lost_pct']:.1f}%)",
            readme=True,
        )
        for name, what in (
            ("tight", "tight"),
            ("paced_100k", "100,000 points/s"),
            ("paced_10k", "10,000 points/s"),
        )
    ],
    *[
        Row(
            f"log_metric loop with the journal, {which} vs before "
            f"({{n:,}} calls, median of fresh processes)",
            (f"journal.{which}", "calls_per_s"),
            None,
            "/s",
            True,
            Target(
                "<= 10% slower than before",
                lambda v, r: True,
                check_results=lambda mine, before: (
                    before is not None and mine["calls_per_s"] >= 0.9 * before["calls_per_s"]
                ),
                detail=lambda mine, before: _slower(mine["calls_per_s"], before["calls_per_s"]),
            ),
            before=True,
            from_result=True,
            readme=True,
        )
        for which in ("accepted", "durable")
    ],
    Row(
        "{runs:,} runs with 2 params + 1 metric each, until flushed, capture off | MLflow "
        "MlflowClient",
        ("sweep.small", "total_s"),
        ("sweep.small", "total_s_at_sweep_runs"),
        "s",
        target=Target(
            "<= 1 s at 10,000 runs", lambda v, r: v <= 1.0, at_size=("sweep.small.runs", 10_000)
        ),
        before=True,
        from_result=True,
        mlflow_scaled=True,
        readme=True,
    ),
    Row(
        "{runs:,} runs with 2 params + 1 metric each, until flushed, capture on (default; "
        "{capture_kb_per_run:,.0f} kB of git + environment a run) | MLflow fluent start_run",
        ("sweep.small_capture", "total_s"),
        ("sweep.small_capture", "total_s_at_sweep_runs"),
        "s",
        target=Target(
            "<= 1 s at 10,000 runs",
            lambda v, r: v <= 1.0,
            at_size=("sweep.small_capture.runs", 10_000),
        ),
        before=True,
        from_result=True,
        mlflow_scaled=True,
        readme=True,
    ),
    Row(
        "{runs:,} runs with 2 params + 1 metric each, until flushed, capture off",
        ("sweep.large", "total_s"),
        None,
        "s",
        target=Target(
            "<= 10 s at 100,000 runs",
            lambda v, r: v <= 10.0,
            at_size=("sweep.large.runs", 100_000),
        ),
        before=True,
        from_result=True,
        readme=True,
    ),
    Row(
        "{runs:,} runs with 2 params + 1 metric each, until flushed, capture on (default; "
        "{capture_kb_per_run:,.0f} kB of git + environment a run)",
        ("sweep.large_capture", "total_s"),
        None,
        "s",
        target=Target(
            "<= 10 s at 100,000 runs",
            lambda v, r: v <= 10.0,
            at_size=("sweep.large_capture.runs", 100_000),
        ),
        before=True,
        from_result=True,
        readme=True,
    ),
    Row(
        "PostgreSQL stopped {outage_s:.0f} s while logging {rate_target:,} points/s: "
        "points lost of logged",
        ("outage.postgres", "lost"),
        None,
        "points",
        target=Target("0", lambda v, r: v == 0),
        from_result=True,
        cell=lambda res: f"{res['lost']:,} of {res['logged']:,}",
        readme=True,
    ),
    Row(
        "PostgreSQL outage: catch-up, restart to flush() returned "
        "({logged_during_outage:,} points logged during the outage; first commit "
        "{first_commit_after_restart_s:.1f} s after the restart, then "
        "{apply_points_per_s:,.0f} points/s)",
        ("outage.postgres", "catch_up_s"),
        None,
        "s",
        from_result=True,
        readme=True,
    ),
    # The sidebar in Chromium (benchmarks/browser.py), on the search benchmark's store
    Row(
        "sidebar: click to a rendered {runs:,}-run list (Chromium, median of {n} page loads)",
        ("sidebar.list", "median_ms"),
        None,
        "ms",
        target=Target(
            "< 1 s at 10,000 runs", lambda v, r: v < 1000, at_size=("sidebar.list.runs", 10_000)
        ),
        from_result=True,
        readme=True,
    ),
    # The sweep and compare views in Chromium (benchmarks/browser.py, a store of their own)
    Row(
        "sweep view: click to parallel coordinates of {runs:,} runs x {dims} axes drawn "
        "(Chromium, median of {n})",
        ("views.parcoords", "median_ms"),
        None,
        "ms",
        target=Target(
            "< 1 s at 10,000 runs", lambda v, r: v < 1000, at_size=("views.parcoords.runs", 10_000)
        ),
        from_result=True,
        readme=True,
    ),
    Row(
        "sweep view: brushing an axis to the runs list updated ({brushed_min:,}-{brushed_max:,} "
        "of {runs:,} runs, median of {n})",
        ("views.brush", "median_ms"),
        None,
        "ms",
        target=Target(
            "< 100 ms at 10,000 runs", lambda v, r: v < 100, at_size=("views.brush.runs", 10_000)
        ),
        from_result=True,
        readme=True,
    ),
    Row(
        "compare: click to {runs} runs x {metrics} metrics x {points:,} points drawn "
        "(median of {n})",
        ("views.compare", "median_ms"),
        None,
        "ms",
        target=Target(
            "< 500 ms at 50 runs of 1,000 points",
            lambda v, r: v < 500,
            at_size=("views.compare.runs", 50),
        ),
        from_result=True,
        readme=True,
    ),
    Row(
        "compare: smoothing slider moved a step to {metrics} charts of {runs} runs redrawn "
        "(median of {n})",
        ("views.smoothing", "median_ms"),
        None,
        "ms",
        target=Target(
            "< 50 ms at 50 runs of 1,000 points",
            lambda v, r: v < 50,
            at_size=("views.smoothing.runs", 50),
        ),
        from_result=True,
        readme=True,
    ),
    # The live view in a real kernel (benchmarks/live_view.py)
    Row(
        "log_metric loop in a kernel, live view on vs off ({calls:,} calls, median of "
        "{repeats} alternating pairs)",
        ("live.view", "slowdown_pct"),
        None,
        "%",
        target=Target("< 10% slower", lambda v, r: v < 10),
        from_result=True,
        cell=lambda res: (
            f"{res['slowdown_pct']:+.1f}% ({res['loop_on_s'] * 1000:.0f} vs "
            f"{res['loop_off_s'] * 1000:.0f} ms)"
        ),
        readme=True,
    ),
    Row(
        "live view: comm messages to the front end per second, 5 s tight loop (max of 2)",
        ("live.view", "messages_per_s_max"),
        None,
        "/s",
        target=Target("<= 10/s", lambda v, r: v <= 10),
        cell=lambda res: f"{res['messages_per_s_max']:.1f}/s",
        readme=True,
    ),
    Row(
        "live view: comm messages in the busiest second, 5 s paced loop (max of 2)",
        ("live.view", "messages_busiest_second_paced"),
        None,
        "points",
        target=Target("<= 10", lambda v, r: v <= 10),
        readme=True,
    ),
]

NOTES = [
    "ratio = how many times faster jupyter-mlops is (MLflow time / jupyter-mlops time, or "
    "jupyter-mlops rate / MLflow rate).",
    "MLflow calls are synchronous (durable when they return) unless marked synchronous=False; "
    "jupyter-mlops returns once queued to its background writer, and its durable rows include "
    "mlops.flush().",
    "MLflow synchronous=False is measured as shipped (one write per call on a thread pool) and "
    "with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1 (queued calls merged into batches).",
    "MLflow's %%track equivalent is a cell wrapped in `with mlflow.start_run():`.",
    "MLflow history: MlflowClient.get_metric_history (a list of Metric objects, no DataFrame) "
    "and, downsampled, the store's get_metric_history_bulk_interval (SQL window functions, what "
    "MLflow's UI requests).",
    "REST rows: a real `jupyter server` (base URL /bench/, token header) over one keep-alive "
    "HTTP connection, median of N requests, each timed until its JSON is parsed; MLflow: "
    "`mlflow server` (uvicorn, 1 worker) on its own stores, or its in-process call from the "
    "rows above.",
    "before = jupyter-mlops at the commit before the local journal (--before), run in fresh "
    "processes beside the current tree: SIGKILL rows (lost = logged at the kill - stored "
    "after the next store opening, which replays the journal), the log_metric loop (median "
    "of alternating pairs) and the run sweeps.",
    "Sweeps: each run is `with start_run(name, params={2 params}): log_metric(...)`, timed "
    "until flush() returns; capture = the run's git and environment capture (start_run's "
    "default; capture=False turns it off). MLflow: `with mlflow.start_run(): log_params; "
    "log_metric` (synchronous, records source and git tags) beside capture on, and "
    "MlflowClient create_run + log_batch + set_terminated (no capture) beside capture off, "
    "each measured on fewer runs and its per-run time scaled.",
    "Sidebar: a real JupyterLab on a copy of the search store, Debian's Chromium; each timing "
    "runs from the pointer going down on the sidebar tab of a freshly loaded, settled page until "
    "the list shows its run count and its first rows (the newest run first), after one warm-up "
    "load; the sidebar loads at most 10,000 runs (its maxRuns setting) and then says how many "
    "the server has.",
    "Sweep and compare views: a real JupyterLab and Chromium on a store of their own (a "
    "10,000-run sweep of 5 params and 1 metric, 50 runs of 3 metrics x 1,000 points); each "
    "timing runs in the page from the pointer going down (Sweep, Compare), the mouse released "
    "(a brush) or the slider's input event, frame by frame until it is drawn: every run on "
    "every axis, the list's count equal to the brushed runs (checked against the store's "
    "values in the brush's range), every point of every run, every chart at the new smoothing "
    "(its curve changed); after one warm-up.",
    "Live view: a real IPython kernel told it has a widget front end (JUPYTER_MLOPS_LIVE=1); "
    "the loop is short (~40 ms), so one garbage collection moves a pair by 10% or more: the "
    "row is the median of the pairs; comm messages are counted on iopub, what a browser gets.",
    "* measured below the size the target is defined at (--quick or --set): indicative only.",
]


def _get(results: dict[str, Any], ref: tuple[str, str] | None) -> float | None:
    if ref is None:
        return None
    value = results.get(ref[0], {}).get(ref[1])
    return None if value is None else float(value)


def _size_of(results: dict[str, Any], dotted: str) -> float | None:
    name, _, field = dotted.rpartition(".")
    return _get(results, (name, field))


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "points":
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:.2f} s" if abs(value) < 10 else f"{value:,.1f} s"
    if abs(value) >= 1000:
        return f"{value / 1000:,.2f} s"
    if abs(value) >= 100:
        return f"{value:,.0f} ms"
    if abs(value) >= 1:
        return f"{value:.2f} ms"
    return f"{value:.3f} ms"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio >= 10:
        return f"{ratio:.0f}x"
    return f"{ratio:.2g}x" if ratio < 1 else f"{ratio:.1f}x"


def _format(text: str, result: dict[str, Any] | None) -> str:
    """``text`` with the result's fields; without them (not measured), N in their place."""
    try:
        return text.format(**(result or {}))
    except (KeyError, ValueError, TypeError, IndexError):
        return re.sub(r"\{[^{}]*\}", "N", text)


def _cell(row: Row, value: float | None, result: dict[str, Any] | None) -> str:
    if row.cell is not None and value is not None and result is not None:
        return row.cell(result)
    return fmt(value, row.unit)


def build_rows(mlops: dict[str, Any], mlflow: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in ROWS:
        mine = _get(mlops, row.mlops)
        theirs = _get(mlflow, row.mlflow)
        mine_result = mlops.get(row.mlops[0])
        before_ref = ("before." + row.mlops[0], row.mlops[1]) if row.before else None
        before_result = mlops.get(before_ref[0]) if before_ref else None
        before = _get(mlops, before_ref)
        ratio = None
        if mine is not None and theirs is not None and mine > 0 and theirs > 0:
            ratio = mine / theirs if row.higher_is_better else theirs / mine
        label = _format(row.label, mine_result) if row.from_result else row.label
        suffix = ""
        if row.mlflow_scaled and row.mlflow is not None and mlflow.get(row.mlflow[0]):
            measured = mlflow[row.mlflow[0]]
            suffix += (
                f" (MLflow: {measured['runs']:,} runs measured, per-run time x "
                f"{measured['scaled_to']:,})"
            )
        if row.size is not None:
            n_mine, n_theirs = _get(mlops, row.size[0]), _get(mlflow, row.size[1])
            if n_mine is not None and n_theirs is not None and n_mine != n_theirs:
                suffix += f" ({n_mine:,.0f} | MLflow {n_theirs:,.0f} {row.size_word})"
            elif n_mine is not None or n_theirs is not None:
                suffix += f" ({(n_mine or n_theirs):,.0f} {row.size_word})"
        readme = None
        if row.readme:
            readme = label if row.readme is True else row.readme
            readme += suffix
        label += suffix
        met = None
        target_text = None
        if row.target is not None:
            target_text = row.target.text
            if row.from_result:
                target_text = _format(target_text, mine_result)
        if row.target is not None and mine is not None and row.target.check_results:
            assert mine_result is not None
            met = "yes" if row.target.check_results(mine_result, before_result) else "NO"
            if row.target.detail is not None and before_result is not None:
                met += f" ({row.target.detail(mine_result, before_result)})"
        elif row.target is not None and mine is not None:
            needs_ratio = "x" in row.target.text
            if not needs_ratio or ratio is not None:
                met = "yes" if row.target.check(mine, ratio) else "NO"
                if row.target.at_size is not None:
                    dotted, required = row.target.at_size
                    size = _size_of(mlops, dotted)
                    if size is None or size < required:
                        met += "*"
        rows.append(
            {
                "benchmark": label,
                "readme": readme,
                "jupyter_mlops": mine,
                "before": before,
                "mlflow": theirs,
                "unit": row.unit,
                "ratio": ratio,
                "target": target_text,
                "met": met,
                "jupyter_mlops_text": _cell(row, mine, mine_result),
                "before_text": _cell(row, before, before_result),
                "mlflow_text": fmt(theirs, row.unit),
                "ratio_text": fmt_ratio(ratio),
            }
        )
    return rows


HEADERS = ("benchmark", "jupyter-mlops", "before", "MLflow", "ratio", "target", "met?")


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        row["benchmark"],
        row["jupyter_mlops_text"],
        row.get("before_text", "-"),
        row["mlflow_text"],
        row["ratio_text"],
        row["target"] or "-",
        row["met"] or "-",
    ]


def text_table(rows: list[dict[str, Any]]) -> str:
    table = [list(HEADERS)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    right = {1, 2, 3, 4}
    out = []
    for index, line in enumerate(table):
        out.append(
            "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: list[dict[str, Any]], headers: tuple[str, ...] = HEADERS) -> str:
    out = ["| " + " | ".join(headers) + " |", "|---|--:|--:|--:|--:|---|---|"]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


# Tables of rows (header first), as aligned text or Markdown: the separate scripts print one
# and the docs publish the other, from the same rows.
def text_grid(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_grid(rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(rows[0]), "|" + "---|" * len(rows[0]), *map(line, rows[1:])])


def readme_table(report: dict[str, Any]) -> str:
    """README.md's performance table: the rows marked ``readme``, from a results file."""
    rows = build_rows(report["raw"].get("jupyter-mlops", {}), report["raw"].get("MLflow", {}))
    meta = report["meta"]
    before = (meta.get("before") or {}).get("commit")
    mlflow = meta.get("versions", {}).get("mlflow")
    headers = (
        "benchmark",
        "jupyter-mlops",
        f"before (`{before[:7]}`)" if before else "before",
        f"MLflow {'.'.join(mlflow.split('.')[:2])}" if mlflow else "MLflow",
        "ratio",
        "target",
        "met?",
    )
    selected = [{**r, "benchmark": r["readme"]} for r in rows if r.get("readme")]
    return markdown_table(selected, headers) + "\n\n" + run_summary(meta)


def run_summary(meta: dict[str, Any]) -> str:
    """One line: when, at which commit, how loaded the machine was."""

    def low_high(*loads: list[float] | None) -> str:
        ones = [values[0] for values in loads if values]
        return f"{min(ones):.1f} to {max(ones):.1f}" if ones else "?"

    git = meta.get("git") or {}
    dirty = " with uncommitted changes" if git.get("dirty") else ""
    return (
        f"Run of {meta['date'][:10]} {meta['date'][11:16]} ({meta['mode']}), commit "
        f"`{(git.get('commit') or '?')[:7]}`{dirty}, {meta['cpus']} CPUs, 1-minute load average "
        f"{low_high(meta.get('load_average_before'), meta.get('load_average_after'))} "
        "(before and after the run)."
    )


def results_markdown(report: dict[str, Any]) -> str:
    """RESULTS.md's header and main table, from a results file."""
    meta = report["meta"]
    rows = build_rows(report["raw"].get("jupyter-mlops", {}), report["raw"].get("MLflow", {}))
    git = meta.get("git") or {}
    before = meta.get("before") or {}
    versions = meta.get("versions", {})

    def load(values: list[float] | None) -> str:
        return " / ".join(f"{v:.2f}" for v in values) if values else "?"

    wall = ", ".join(f"{side} {seconds:.0f} s" for side, seconds in meta.get("wall_s", {}).items())
    lines = [
        f"- Date: {meta['date']} ({meta['mode']} run), jupyter-mlops "
        f"{versions.get('jupyter_mlops', '?')} at commit `{(git.get('commit') or '?')[:7]}` "
        f"({'uncommitted changes in the tree' if git.get('dirty') else 'clean tree'}), MLflow "
        f"{versions.get('mlflow', '?')}, Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"{meta['platform']}, **{meta['cpus']} CPUs**.",
        f"- **Load average** (1/5/15 min): {load(meta.get('load_average_before'))} before the "
        f"run, {load(meta.get('load_average_after'))} after. Wall time: {wall}.",
    ]
    if before.get("commit"):
        lines.append(
            f"- before = jupyter-mlops at `{before['commit'][:7]}` (`--before {before['rev']}`), "
            "the code before the local journal, in fresh processes beside the current tree."
        )
    if report.get("errors"):
        lines.append(f"- **Failed**: {', '.join(sorted(report['errors']))} (no numbers).")
    return "\n".join([*lines, "", markdown_table(rows), "", *[f"- {n}" for n in meta["notes"]]])


README_BEGIN = "<!-- benchmark table: generated by benchmarks/run.py from results.json -->"
README_END = "<!-- end of the generated benchmark table -->"

RESULTS_HEAD = """# Benchmark results

Generated by `python benchmarks/run.py` (a full run) from `benchmarks/results.json`, which holds
every number below with its p90/mean/min and sample counts, the workload sizes and the raw
measurements of each side. Do not edit by hand: run the benchmark again, or
`python benchmarks/report.py --update-docs` to regenerate this file and README.md's table from
the results file. Method: [benchmarks/README.md](README.md).
"""


# Sections of a results file measured by the scripts of their own (run by run.py in a full
# run): the doc whose table they fill, and their title in RESULTS.md.
EXTRAS = {
    "pipeline": ("docs/pipelines.md", "Notebook pipelines (`benchmarks/pipeline.py`)"),
    "remote": ("docs/remote.md", "`%%remote` (`benchmarks/remote.py`)"),
}


def extra_markdown(section: dict[str, Any]) -> str:
    """A script's table (its ``rows``, header first) and its note, as Markdown."""
    text = markdown_grid(section["rows"])
    return f"{text}\n\n{section['note']}" if section.get("note") else text


def _replace_generated(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        head, rest = text.split(README_BEGIN + "\n", 1)
        _, tail = rest.split(README_END, 1)
    except ValueError:
        raise SystemExit(f"{path} lacks the markers of the benchmark table") from None
    path.write_text(f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}", encoding="utf-8")


def update_docs(report: dict[str, Any], results_md: Path, readme: Path) -> None:
    """Write RESULTS.md, README.md's performance table between its two markers, and the
    tables of docs/pipelines.md and docs/remote.md when the run measured them."""
    text = RESULTS_HEAD + "\n" + results_markdown(report) + "\n"
    for key, (_, title) in EXTRAS.items():
        if key in report:
            text += f"\n## {title}\n\n{extra_markdown(report[key])}\n"
    results_md.write_text(text, encoding="utf-8")
    _replace_generated(readme, readme_table(report))
    summary = run_summary(report["meta"])
    for key, (doc, _) in EXTRAS.items():
        if key in report:
            _replace_generated(readme.parent / doc, f"{extra_markdown(report[key])}\n\n{summary}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python benchmarks/report.py",
        description="Markdown for README.md / RESULTS.md from a results file of run.py.",
    )
    parser.add_argument(
        "results", type=Path, nargs="?", default=Path(__file__).with_name("results.json")
    )
    parser.add_argument("--readme", action="store_true", help="README.md's performance table")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="rewrite benchmarks/RESULTS.md and README.md's performance table",
    )
    args = parser.parse_args(argv)
    report = json.loads(args.results.read_text(encoding="utf-8"))
    if args.update_docs:
        here = Path(__file__).resolve().parent
        update_docs(report, here / "RESULTS.md", here.parent / "README.md")
        return 0
    print(readme_table(report) if args.readme else results_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
