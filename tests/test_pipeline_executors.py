"""Executors: a real Dask LocalCluster runs the steps; an unreachable scheduler is a clear
error before anything runs; warm kernels are reused with a clean namespace."""

from __future__ import annotations

import time

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import PipelineError, SchedulerUnreachableError
from jupyter_mlops.pipeline import executors, run
from jupyter_mlops.pipeline.executors import DaskExecutor, KernelPool, make_executor
from tests.test_pipeline_tags import write


def test_unreachable_scheduler_names_the_address():
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachableError, match="tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1)
    assert time.monotonic() - started < 60  # it gives up instead of waiting forever


def test_dask_needs_a_scheduler_address():
    with pytest.raises(PipelineError, match="needs --scheduler"):
        make_executor("dask")
    with pytest.raises(PipelineError, match="Unknown executor 'spark'"):
        make_executor("spark")


def test_unreachable_scheduler_before_anything_runs(tmp_store, tmp_path, monkeypatch):
    nb = write(tmp_path / "p.ipynb", ("a = 1", ["step:first"]))
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    with pytest.raises(SchedulerUnreachableError):
        run(nb, executor="dask", scheduler="tcp://127.0.0.1:9", cache_dir=tmp_path / "c")
    assert mlops.runs().empty  # no pipeline run was started


@pytest.mark.slow
def test_dask_local_cluster_runs_the_pipeline(tmp_store, tmp_path):
    from distributed import LocalCluster
    from jupyter_core.utils import ensure_event_loop

    # As after any earlier jupyter_client call in this thread: jupyter_core's event loop of
    # this thread is set in a ContextVar, which Dask copies into its worker threads. The
    # steps must not all share it (two at once: "This event loop is already running").
    ensure_event_loop()

    nb = write(
        tmp_path / "dask.ipynb",
        ("import numpy as np", ["imports"]),
        ("base = np.arange(5)", ["step:load"]),
        ("doubled = base * 2", ["step:double"]),
        ("squared = base ** 2", ["step:square"]),
        ("total = int(doubled.sum() + squared.sum())", ["step:combine"]),
        ("print(total)", ["pipeline-metrics"]),
    )
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        summary = run(
            nb,
            executor="dask",
            scheduler=cluster.scheduler_address,
            cache_dir=tmp_path / "cache",
        )
    assert summary.ok, [(s.name, s.error, s.traceback) for s in summary.failed]
    assert summary.executor == "dask" and summary.jobs == 2
    assert {s.name: s.status for s in summary.steps} == dict.fromkeys(
        ["load", "double", "square", "combine"], "ran"
    )
    assert summary.metrics == {"total": 50.0}
    assert 1 <= summary.kernels_started <= 2  # the worker's pool, reused across steps
    parent = mlops.get_run(summary.run_id)
    assert parent.tags["pipeline.executor"] == "dask"


@pytest.mark.slow
def test_kernel_pool_reuses_and_replaces_kernels(tmp_path):
    pool = KernelPool(str(tmp_path))
    try:
        km, reused = pool.acquire(None)
        assert not reused and km.is_alive()
        pool.release(km, healthy=True)
        again, reused = pool.acquire(None)
        assert again is km and reused
        pool.release(again, healthy=False)  # a failed step: never reused
        assert not km.is_alive()
        fresh, reused = pool.acquire(None)
        assert fresh is not km and not reused
        pool.release(fresh, healthy=True)
        assert pool.started == 2
    finally:
        pool.shutdown()
    assert not fresh.is_alive()
