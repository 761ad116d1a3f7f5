"""The MLflow side: the same workloads against MLflow's SQLite (``sqlite:///``) tracking store."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .common import (
    SEARCH_FILTER,
    SEARCH_LIMIT,
    SEARCH_ORDER,
    Sizes,
    WrongAnswer,
    check_series,
    clock,
    deadline_after,
    expected_top,
    log,
    loop_rates,
    measure_history,
    metric_values,
    repeat,
    search_data,
    summary,
)
from .shell import make_shell, run_cell

SIDE = "mlflow"
BATCH = 1000  # MLflow's limit of metrics per log_batch call


def _mlflow() -> Any:
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    return mlflow


def _use_store(tmp: Path, name: str) -> tuple[Any, str]:
    """A fresh ``sqlite:///`` store for one benchmark, and an experiment in it.

    MLflow creates its schema with ~50 Alembic migrations (over a second), so that is done
    once into a template file which each benchmark copies (untimed).
    """
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    template = tmp / "mlflow-template.db"
    if not template.exists():
        MlflowClient(f"sqlite:///{template}").search_experiments()  # creates the schema
    path = tmp / f"mlflow-{name}.db"
    shutil.copyfile(template, path)
    uri = f"sqlite:///{path}"
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.create_experiment(
        name, artifact_location=(tmp / "mlflow-artifacts" / name).as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return MlflowClient(uri), experiment_id


def _stored(tmp: Path, run_id: str, key: str, columns: str) -> list[tuple[Any, ...]]:
    """``SELECT columns`` over one metric of one run in MLflow's metrics store, by SQL."""
    import sqlite3

    conn = sqlite3.connect(tmp / "mlflow-metrics.db")
    try:
        return conn.execute(
            f"SELECT {columns} FROM metrics WHERE run_uuid = ? AND key = ?", (run_id, key)
        ).fetchall()
    finally:
        conn.close()


def _check_series(tmp: Path, run_id: str, key: str, values: list[float], what: str) -> None:
    """Every value a loop logged is stored, at its step, once."""
    rows = sorted(_stored(tmp, run_id, key, "step, value"))
    check_series(f"MLflow {what}", [r[0] for r in rows], [r[1] for r in rows], values)


def _check_runs(client: Any, experiment_id: str, expected: int, what: str) -> None:
    """``expected`` runs in the experiment, all FINISHED."""
    runs = client.search_runs([experiment_id], max_results=50_000)
    finished = sum(1 for r in runs if r.info.status == "FINISHED")
    if len(runs) != expected or finished != expected:
        raise WrongAnswer(
            f"MLflow {what}: {len(runs)} runs ({finished} FINISHED), expected {expected}"
        )


def empty_run(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``with mlflow.start_run(): pass`` (synchronous: returns once committed)."""
    mlflow = _mlflow()
    client, experiment_id = _use_store(tmp, "empty_run")

    def one() -> None:
        with mlflow.start_run():
            pass

    timing, _ = repeat(one, sizes.mlflow_empty_runs, warmup=3, budget_s=sizes.mlflow_loop_budget_s)
    _check_runs(client, experiment_id, 3 + timing["n"], "empty run")
    out["empty_run.accepted"] = timing
    log(SIDE, f"empty run: median {timing['median_ms']:.2f} ms")


def cell(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """A cell wrapped in ``with mlflow.start_run():`` vs an empty plain cell (MLflow has no
    cell magic; this is how a notebook tracks one cell with it)."""
    _mlflow()
    client, experiment_id = _use_store(tmp, "cell")
    shell = make_shell()
    run_cell(shell, "import mlflow")
    tracked_source = "with mlflow.start_run():\n    pass"
    for _ in range(3):
        run_cell(shell, "pass")
        run_cell(shell, tracked_source)
    plain = summary([run_cell(shell, "pass") for _ in range(sizes.mlflow_cells)])
    tracked, _ = repeat(
        lambda: run_cell(shell, tracked_source),
        sizes.mlflow_cells,
        budget_s=sizes.mlflow_loop_budget_s,
    )
    _check_runs(client, experiment_id, 3 + tracked["n"], "cell")
    out["cell.plain"] = plain
    out["cell.track"] = tracked
    out["cell.overhead"] = {
        "median_ms": tracked["median_ms"] - plain["median_ms"],
        "n": tracked["n"],
    }
    log(
        SIDE,
        f"cell with mlflow.start_run(): plain {plain['median_ms']:.3f} ms, tracked "
        f"{tracked['median_ms']:.2f} ms",
    )


def metrics(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``mlflow.log_metric`` synchronous, asynchronous (+ flush), and ``log_batch``."""
    mlflow = _mlflow()
    from mlflow.entities import Metric

    client, _ = _use_store(tmp, "metrics")
    with mlflow.start_run(run_name="metrics") as run:
        run_id = run.info.run_id
        mlflow.log_metric("warmup", 0.0)

        values = metric_values(sizes.mlflow_sync_calls)
        deadline = deadline_after(sizes.mlflow_loop_budget_s)
        n = 0
        start = clock()
        for step, value in enumerate(values):
            mlflow.log_metric("loss_sync", value, step=step)
            n += 1
            if clock() > deadline and n >= 10:
                break
        elapsed = (clock() - start) / 1e9
        _check_series(tmp, run_id, "loss_sync", values[:n], "log_metric synchronous")
        out["metrics.sync"] = {"calls_per_s": n / elapsed, "total_s": elapsed, "n": n}
        log(SIDE, f"log_metric synchronous: {n / elapsed:,.0f}/s (N={n:,})")

        n = sizes.mlflow_async_calls
        values = metric_values(n)
        start = clock()
        for step, value in enumerate(values):
            mlflow.log_metric("loss_async", value, step=step, synchronous=False)
        returned = clock()
        mlflow.flush_async_logging()
        done = clock()
        _check_series(tmp, run_id, "loss_async", values, "log_metric synchronous=False")
        out["metrics.async_accepted"], out["metrics.async_durable"] = loop_rates(
            n, start, returned, done
        )
        log(
            SIDE,
            f"log_metric synchronous=False: {n / ((returned - start) / 1e9):,.0f}/s "
            f"accepted, {n / ((done - start) / 1e9):,.0f}/s with flush (N={n:,})",
        )

        # The same with MLflow's async buffering on (off by default; whole seconds only): the
        # queue is then merged into log_batch calls instead of one call per point.
        n = sizes.mlflow_async_buffered_calls
        values = metric_values(n)
        os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
        try:
            start = clock()
            for step, value in enumerate(values):
                mlflow.log_metric("loss_buffered", value, step=step, synchronous=False)
            returned = clock()
            mlflow.flush_async_logging()
            done = clock()
        finally:
            del os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"]
        _check_series(tmp, run_id, "loss_buffered", values, "log_metric buffered")
        out["metrics.async_buffered_accepted"], out["metrics.async_buffered_durable"] = loop_rates(
            n, start, returned, done
        )
        log(
            SIDE,
            f"log_metric synchronous=False, buffering 1 s: "
            f"{n / ((done - start) / 1e9):,.0f}/s with flush (N={n:,})",
        )

        # log_batch, 1,000 points per call: MLflow's fastest path. These points are the
        # history benchmark's metric.
        values = metric_values(sizes.mlflow_history_points)
        log(SIDE, f"log_batch of {len(values):,} points ...")
        deadline = deadline_after(sizes.mlflow_batch_budget_s)
        n = 0
        start = clock()
        for first in range(0, len(values), BATCH):
            stamp = int(time.time() * 1000)
            last = min(len(values), first + BATCH)
            client.log_batch(
                run_id, metrics=[Metric("loss", values[i], stamp, i) for i in range(first, last)]
            )
            n = last
            if clock() > deadline:
                log(SIDE, f"log_batch: time budget reached at {n:,} points")
                break
        elapsed = (clock() - start) / 1e9
    # checked here by count and latest value; by every value in history() below
    if client.get_run(run_id).data.metrics.get("loss") != values[n - 1]:
        raise WrongAnswer("MLflow did not store the latest value")
    count = _stored(tmp, run_id, "loss", "COUNT(*), MIN(step), MAX(step)")
    if count != [(n, 0, n - 1)]:
        raise WrongAnswer(f"MLflow log_batch: (points, first, last step) stored {count}, {n} sent")
    out["metrics.batch"] = {"calls_per_s": n / elapsed, "total_s": elapsed, "n": n, "batch": BATCH}
    log(SIDE, f"log_batch: {n / elapsed:,.0f} points/s (N={n:,})")
    state["history_run"] = (client, run_id, n)
    state["history_store"] = tmp / "mlflow-metrics.db"  # for rest()


def search(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``mlflow.search_runs(filter_string, order_by, max_results=100)`` over N runs."""
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param

    client, experiment_id = _use_store(tmp, "search")
    data = search_data(sizes.mlflow_search_runs)
    log(SIDE, f"seeding {len(data):,} runs (create_run + log_batch + set_terminated each) ...")
    deadline = deadline_after(sizes.mlflow_seed_budget_s)
    n = 0
    start = clock()
    for name, params, values in data:
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
        stamp = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in values.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run_id)
        n += 1
        if clock() > deadline:
            log(SIDE, f"seeding: time budget reached at {n:,} runs")
            break
    data = data[:n]
    out["search.seed"] = {"total_s": (clock() - start) / 1e9, "n": n}
    state["search"] = (tmp / "mlflow-search.db", experiment_id, data)  # for rest()

    def query() -> Any:
        return mlflow.search_runs(
            experiment_ids=[experiment_id],
            filter_string=SEARCH_FILTER,
            order_by=[SEARCH_ORDER],
            max_results=SEARCH_LIMIT,
        )

    timing, frame = repeat(query, sizes.mlflow_search_repeats, warmup=1)
    if list(frame["tags.mlflow.runName"]) != expected_top(data):
        raise WrongAnswer("MLflow search_runs returned the wrong runs or the wrong order")
    out["search.query"] = {**timing, "runs": n, "returned": len(frame)}
    log(
        SIDE,
        f"search_runs over {n:,} runs: median {timing['median_ms']:.0f} ms "
        f"(seeded in {out['search.seed']['total_s']:.1f} s)",
    )


def history(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """``MlflowClient.get_metric_history`` (full) and the store's SQL-sampled history
    (``get_metric_history_bulk_interval``, what MLflow's UI asks its server for)."""
    if "history_run" not in state:
        metrics(sizes, tmp, {}, state)
    client, run_id, n = state["history_run"]
    store = client._tracking_client.store

    def full() -> Any:
        return client.get_metric_history(run_id, "loss")

    def sampled() -> Any:
        return store.get_metric_history_bulk_interval(
            run_ids=[run_id],
            metric_key="loss",
            max_results=sizes.max_points,
            start_step=None,
            end_step=None,
        )

    log(SIDE, f"get_metric_history of {n:,} points ...")

    def points(metrics: Any) -> tuple[list[int], list[float]]:
        pairs = sorted((m.step, m.value) for m in metrics)
        return [step for step, _ in pairs], [value for _, value in pairs]

    measure_history(
        out,
        metric_values(sizes.mlflow_history_points)[:n],
        sizes.max_points,
        full=(full, sizes.mlflow_history_repeats),
        sampled=(sampled, sizes.mlflow_sampled_repeats),
        points=points,
    )
    timing = out["history.sampled"]
    log(
        SIDE,
        f"history of {n:,} points: full {out['history.full']['median_ms'] / 1000:.1f} s, "
        f"sampled to {sizes.max_points}: {timing['median_ms']:.0f} ms",
    )


def sweep(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """Runs with 2 params and 1 metric each (synchronous: committed when the calls return),
    on ``mlflow_sweep_runs`` runs (fewer than jupyter-mlops; the table scales the per-run time):
    with ``MlflowClient`` (create_run + log_batch + set_terminated: no capture, beside
    jupyter-mlops' capture=False) and with the fluent API (``with mlflow.start_run():``, which
    records the source, user and git commit as tags: beside jupyter-mlops' default capture)."""
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param

    n = sizes.mlflow_sweep_runs
    lrs = ("0.1", "0.03", "0.01", "0.003")

    def client_run(client: Any, experiment_id: str, i: int) -> None:
        run_id = client.create_run(experiment_id, run_name=f"run-{i:06d}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("acc", (i % 1000) / 1000, int(time.time() * 1000), 0)],
            params=[Param("lr", lrs[i % 4]), Param("seed", str(i))],
        )
        client.set_terminated(run_id)

    def fluent_run(client: Any, experiment_id: str, i: int) -> None:
        with mlflow.start_run(run_name=f"run-{i:06d}"):
            mlflow.log_params({"lr": lrs[i % 4], "seed": i})
            mlflow.log_metric("acc", (i % 1000) / 1000)

    for name, one, api in (
        ("sweep.small", client_run, "MlflowClient"),
        ("sweep.small_capture", fluent_run, "fluent start_run"),
    ):
        client, experiment_id = _use_store(tmp, name.replace(".", "-"))
        one(client, experiment_id, -1)  # warm-up
        start = clock()
        for i in range(n):
            one(client, experiment_id, i)
        total_s = (clock() - start) / 1e9
        found = client.search_runs(
            [experiment_id], filter_string="attributes.status = 'FINISHED'", max_results=50_000
        )
        complete = [
            r
            for r in found
            if r.info.run_name.startswith("run-0")
            and len(r.data.params) == 2
            and "acc" in r.data.metrics
        ]
        if len(complete) != n:
            raise WrongAnswer(f"{len(complete)} complete MLflow runs stored ({api}), expected {n}")
        out[name] = {
            "total_s": total_s,
            "per_run_ms": total_s * 1000 / n,
            "runs": n,
            "api": api,
            "total_s_at_sweep_runs": total_s / n * sizes.sweep_runs,
            "scaled_to": sizes.sweep_runs,
        }
        log(
            SIDE,
            f"{n:,} runs (2 params + 1 metric), {api}: {total_s:.1f} s, "
            f"{total_s * 1000 / n:.1f} ms a run (x {sizes.sweep_runs:,} = "
            f"{total_s / n * sizes.sweep_runs:.0f} s)",
        )


def rest(sizes: Sizes, tmp: Path, out: dict[str, Any], state: dict[str, Any]) -> None:
    """MLflow's own REST server (``mlflow server``) on the search and metrics stores above
    (benchmarks/rest.py); skipped with ``mlflow_server=0`` (the default of --quick)."""
    from . import rest as rest_bench

    if not sizes.mlflow_server:
        log(SIDE, "REST: mlflow server skipped (mlflow_server=0)")
        return
    if "history_run" not in state:  # run on its own (--only rest)
        metrics(sizes, tmp, {}, state)
    if "search" not in state:
        search(sizes, tmp, {}, state)
    rest_bench.mlflow(sizes, tmp, out, state)


def version_info() -> dict[str, Any]:
    return {"mlflow": _mlflow().__version__}


def finish() -> None:
    _mlflow().flush_async_logging()
