"""Executors: a real Dask LocalCluster runs the steps; an unreachable scheduler is a clear
error before anything runs; warm kernels are reused with a clean namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_kernel_lookup_does_not_import_ipython(tmp_path):
    """Starting a step kernel must not import IPython in this process (0.25 s before the
    kernel's process exists); IPython's own kernel folder is still searched."""
    spec = tmp_path / "ipdir" / "kernels" / "mine"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        '{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],'
        ' "display_name": "Mine", "language": "python"}'
    )
    code = (
        "import sys\n"
        "from jupyter_mlops.pipeline import executors\n"
        "specs = executors._kernel_spec_manager()\n"
        "print(sorted(specs.find_kernel_specs()))\n"
        "specs.get_kernel_spec('python3')\n"
        "print('IPython' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipdir")},
        capture_output=True,
        text=True,
        check=True,
    )
    names, imported = done.stdout.splitlines()
    assert "mine" in names and "python3" in names
    assert imported == "False"


class _FakeKernel:
    def __init__(self, name: str, calls: list[str], exits: bool = True) -> None:
        self.name, self.calls, self.exits = name, calls, exits

    def request_shutdown(self) -> None:
        self.calls.append(f"ask {self.name}")

    def finish_shutdown(self, pollinterval: float = 0.1) -> None:
        self.calls.append(f"wait {self.name} {pollinterval}")
        if not self.exits:
            raise RuntimeError("no exit")

    def cleanup_resources(self) -> None:
        self.calls.append(f"clean {self.name}")

    def shutdown_kernel(self, now: bool = False) -> None:
        self.calls.append(f"kill {self.name}" if now else f"shutdown {self.name}")


def test_pool_shutdown_asks_every_kernel_before_waiting():
    """Kernels exit together: every kernel gets its shutdown request before the pool waits for
    any of them (one after the other cost 0.2 s a kernel); a kernel that fails to stop is
    killed; ``now`` kills without asking."""
    calls: list[str] = []
    pool = KernelPool()
    pool._all = [_FakeKernel("a", calls), _FakeKernel("b", calls, exits=False)]
    pool.shutdown()
    assert calls == [
        "ask a",
        "ask b",
        "wait a 0.01",
        "clean a",
        "wait b 0.01",
        "kill b",
    ]
    assert pool._all == []
    calls.clear()
    pool = KernelPool()
    pool._all = [_FakeKernel("a", calls)]
    pool.shutdown(now=True)
    assert calls == ["kill a"]


@pytest.mark.slow
def test_a_step_writes_its_executed_notebook_once(tmp_store, tmp_path, monkeypatch):
    """papermill wrote a step's notebook at every cell's start and end (9 writes for 3 cells);
    once is enough, and it is still the executed notebook."""
    from papermill.iorw import papermill_io

    written: list[str] = []
    original = papermill_io.write

    def counting(buf: str, path: str, extensions: tuple[str, ...] = (".ipynb", ".json")) -> None:
        written.append(path)
        original(buf, path, extensions)

    monkeypatch.setattr(papermill_io, "write", counting)
    nb = write(
        tmp_path / "two.ipynb",
        ("a = 1\nprint('first says', a)", ["step:first"]),
        ("b = a + 1", ["step:second"]),
    )
    summary = run(nb, jobs=1, cache_dir=tmp_path / "cache")
    assert summary.ok
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["executed.ipynb"] * 2
    executed = Path(summary.step("first").notebook).read_text()
    assert "first says 1" in executed and '"papermill"' in executed


@pytest.mark.slow
def test_a_timed_out_step_keeps_its_executed_notebook(tmp_store, tmp_path):
    """A step that fails outside its cells (a timeout) is written with the cells that ran,
    as when papermill wrote it at every cell."""
    nb = write(
        tmp_path / "slow.ipynb",
        ("import time\nprint('before the sleep')\ntime.sleep(60)", ["step:slow"]),
    )
    summary = run(nb, jobs=1, cache_dir=tmp_path / "cache", timeout=2)
    slow = summary.step("slow")
    assert slow.status == "failed" and "Timeout" in (slow.error or "")
    executed = Path(slow.notebook).read_text()
    assert "before the sleep" in executed


def test_step_clients_retry_connecting_every_10_ms():
    """A step's client connects before its new kernel listens; ZeroMQ's default retry (every
    100 ms) made the first step wait 50 ms on average."""
    import zmq

    client = executors._ready_client_class()()
    try:
        socket = client.context.socket(zmq.DEALER)
        assert socket.getsockopt(zmq.RECONNECT_IVL) == 10
        socket.close(linger=0)
    finally:
        client.context.term()


def test_a_step_kernel_freezes_the_gc_at_exit(tmp_path):
    """The kernel's first step registers gc.freeze to run first at its exit (once, however
    many steps it runs): its shutdown took 0.12-0.17 s of collections, now 0.03 s."""
    code = (
        "import atexit, gc, sys\n"
        "from jupyter_mlops.pipeline import kernel\n"
        "registered = []\n"
        "atexit.register = lambda f, *a, **k: registered.append(f)\n"
        f"kernel.begin({{'cwd': {str(tmp_path)!r}, 'step': 'a'}})\n"
        f"kernel.begin({{'cwd': {str(tmp_path)!r}, 'step': 'b'}})\n"
        "print(registered == [gc.freeze])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True", done.stderr
