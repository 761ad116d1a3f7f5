"""The background writer: batching, flush, NaN/inf, bad operations, fork and thread safety."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import (
    InvalidParameterError,
    StoreError,
    StoreOfflineError,
    StoreTimeoutError,
    StoreUnreachableError,
)
from jupyter_mlops.store import Store
from jupyter_mlops.store.ids import now_ms
from jupyter_mlops.store.ops import ops_weight
from jupyter_mlops.store.writer import Writer
from jupyter_mlops.tracking import fluent


def _count(url: str, sql: str, *args: Any) -> int:
    """Count rows through a separate connection: what other processes see."""
    conn = sqlite3.connect(sa.engine.make_url(url).database or "")
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def _points(url: str, run_id: str, key: str | None = None) -> int:
    sql = (
        "SELECT COUNT(*) FROM metrics m JOIN metric_series s ON s.series_id = m.series_id "
        "WHERE s.run_id = ?"
    )
    if key is None:
        return _count(url, sql, run_id)
    return _count(url, sql + " AND s.key = ?", run_id, key)


def test_metrics_are_batched(tmp_store: str) -> None:
    batches: list[int] = []
    with mlops.start_run("batched") as run:
        writer = run.store.writer
        writer.flush()
        writer.listeners.append(lambda work: batches.append(ops_weight(work)))
        for i in range(5000):
            mlops.log_metric("loss", 1.0 / (i + 1))
        mlops.flush()
        writer.listeners.clear()
    assert sum(batches) == 5000
    # one transaction per wake-up, not per point (logging 5000 points takes a few ms)
    assert len(batches) < 100
    assert _points(tmp_store, run.run_id) == 5000


def test_logging_never_waits_on_the_database(tmp_store: str) -> None:
    """With another process holding the write lock, logging still returns at once; the
    points are committed when the lock is released."""
    with mlops.start_run("deferred") as run:
        mlops.flush()
        other = sqlite3.connect(sa.engine.make_url(tmp_store).database or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the busy timeout is 60 s: a blocked call would hang
        try:
            for i in range(5000):
                mlops.log_metric("x", i)
            assert _points(tmp_store, run.run_id) == 0
        finally:
            other.execute("COMMIT")
            other.close()
        mlops.flush()
        assert _points(tmp_store, run.run_id) == 5000


def test_flush_waits_for_a_batch_already_taken_off_the_queue(tmp_store: str) -> None:
    """flush() after the writer popped a batch but before it committed must still wait."""
    store = mlops.get_store()
    started, release = threading.Event(), threading.Event()

    def slow_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith('INSERT INTO "metrics"'):
            started.set()
            release.wait(10)

    sa.event.listen(store.writer.engine, "before_cursor_execute", slow_insert)
    try:
        with mlops.start_run("slow", capture=False) as run:
            mlops.log_metric("m", 1.0)
            store.writer._wake.set()
            assert started.wait(10)
            assert not store.writer.queue  # the batch is in the writer's hands
            threading.Timer(0.3, release.set).start()
            mlops.flush()
            assert release.is_set()
            assert _points(tmp_store, run.run_id) == 1
    finally:
        sa.event.remove(store.writer.engine, "before_cursor_execute", slow_insert)


def test_nan_and_inf_are_stored_and_read_back(tmp_store: str) -> None:
    values = [1.5, math.nan, math.inf, -math.inf, 0.0, -2.0]
    with mlops.start_run("specials") as run:
        for step, value in enumerate(values):
            mlops.log_metric("v", value, step=step)
        mlops.log_metric("last_nan", math.nan)
        mlops.log_metric("last_inf", math.inf)
        mlops.log_metric("last_ninf", float("-inf"))
    loaded = mlops.get_run(run.run_id)
    history = loaded.history("v")
    got = list(history["value"])
    assert got[0] == 1.5 and math.isnan(got[1]) and got[2] == math.inf
    assert got[3] == -math.inf and got[4:] == [0.0, -2.0]
    assert list(history["step"]) == list(range(len(values)))
    assert math.isnan(loaded.metrics["last_nan"])
    assert loaded.metrics["last_inf"] == math.inf
    assert loaded.metrics["last_ninf"] == -math.inf
    frame = mlops.runs()
    assert math.isnan(frame.loc[0, "metrics.last_nan"])
    assert frame.loc[0, "metrics.last_inf"] == math.inf


def test_an_invalid_operation_does_not_lose_the_rest_of_the_batch(
    tmp_store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    store = mlops.get_store()
    with mlops.start_run("mixed") as run:
        mlops.flush()
        writer = store.writer
        try:
            mlops.log_metric("good", 1.0)
            # a cell row for a run that does not exist violates nothing in SQLite (no FK
            # enforcement) but a duplicate primary key does:
            row = {
                "position": 0,
                "execution_count": 1,
                "cell_id": None,
                "source": "x",
                "start_time": 0,
                "duration_ms": 1.0,
                "status": "FINISHED",
                "error": None,
            }
            writer.queue.append(("cell", run.run_id, row))
            writer.queue.append(("cell", run.run_id, row))
            mlops.log_metric("good", 2.0)
            mlops.flush()
        finally:
            pass
    assert _points(tmp_store, run.run_id, "good") == 2
    assert len(mlops.get_run(run.run_id).cells) == 1
    err = capfd.readouterr().err
    assert "the store refused cell 0 of run" in err and "UNIQUE constraint failed" in err
    rejected = (store.journal_root / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 1 and run.run_id in rejected[0]


def test_close_drains_the_queue(tmp_store: str) -> None:
    store = Store(tmp_store)
    run_id = store.new_run_row(name="x", experiment_id=store.experiment_id("e"), kind="api")
    store.writer.submit(("run", run_id, [], []))
    for i in range(10):
        store.writer.queue.append(("m", run_id["run_id"], "k", float(i), 0, i))
    store.close()
    assert _points(tmp_store, run_id["run_id"]) == 10


def test_writer_without_thread_flushes_from_close(tmp_store: str) -> None:
    store = Store(tmp_store)
    writer = Writer(store.engine)
    writer.queue.append(("tags", "no-such-run", [("a", "b")]))
    writer.close()  # never started a thread: drains in the caller
    assert not writer.queue
    store.close()


PENDING = 20_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_logs_and_exits_parent_keeps_working(tmp_store: str) -> None:
    with mlops.start_run("forked") as run:
        for i in range(100):
            mlops.log_metric("parent", i)
        mlops.flush()
        # Queued at fork time, and the writer woken to commit them: the fork lands while the
        # parent's writer is (likely) inside a transaction. The child must neither write these
        # points nor inherit SQLite's lock state of that transaction.
        for i in range(PENDING):
            mlops.log_metric("pending", i)
        run.store.writer._wake.set()
        time.sleep(0.001)
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                for i in range(200):
                    mlops.log_metric("child", i)
                with mlops.start_run("child-run") as child:
                    mlops.log_metric("inner", 1.0)
                mlops.flush(timeout=60)
                code = 0 if child.status == "FINISHED" else 3
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        for i in range(100):
            mlops.log_metric("parent", 100 + i)
        mlops.set_tag("after", "fork")
    record = mlops.get_run(run.run_id)
    assert record.status == "FINISHED"
    assert record.tags["after"] == "fork"
    assert _points(tmp_store, run.run_id, "parent") == 200
    assert _points(tmp_store, run.run_id, "child") == 200
    assert _points(tmp_store, run.run_id, "pending") == PENDING  # written once, by the parent
    children = mlops.runs(filter="name = 'child-run'")
    assert list(children["status"]) == ["FINISHED"]
    assert list(children["parent_run_id"]) == [run.run_id]


def test_threads_logging_at_once(tmp_store: str) -> None:
    threads_n, points_n = 6, 2000
    errors: list[BaseException] = []
    with mlops.start_run("threads") as run:
        barrier = threading.Barrier(threads_n)

        def work(index: int) -> None:
            try:
                barrier.wait()
                for i in range(points_n):
                    run.log_metric(f"t{index}", float(i), step=i)
                    if i % 500 == 0:
                        mlops.flush()
                run.log_params({f"p{index}": index})
                run.set_tag(f"tag{index}", "x")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    record = mlops.get_run(run.run_id)
    assert set(record.params) == {f"p{n}" for n in range(threads_n)}
    assert set(record.tags) == {f"tag{n}" for n in range(threads_n)}
    for n in range(threads_n):
        assert record.metrics[f"t{n}"] == points_n - 1
        assert _points(tmp_store, run.run_id, f"t{n}") == points_n


def test_a_value_the_database_refuses_loses_only_that_operation(
    tmp_store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """A point the database cannot hold (a step beyond 64 bits slipped past validation) used
    to fail the whole batch: the run row and every other point of it were lost."""
    store = mlops.get_store()
    writer = store.writer
    writer.flush()
    writer.interval = 3600.0
    writer._wake.set()
    try:
        run = mlops.start_run("refused")  # its run row is in the same batch as the bad point
        for i in range(100):
            mlops.log_metric("good", float(i))
        writer.queue.append(("m", run.run_id, "bad", 1.0, now_ms(), 2**70))
        for i in range(100, 200):
            mlops.log_metric("good", float(i))
        run.end()
        mlops.flush()
    finally:
        writer.interval = 0.2
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert _points(tmp_store, run.run_id, "good") == 200
    assert loaded.metrics["good"] == 199.0
    assert "the store refused log_metric('bad'" in capfd.readouterr().err


def _pool_task(i: int) -> str:
    with mlops.start_run(f"pool-{i}") as run:
        for step in range(50):
            mlops.log_metric("x", float(step), step=step)
    return run.run_id


def _process_leaving_a_run_open() -> None:
    mlops.start_run("left-open")
    mlops.log_metric("y", 1.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork start method")
def test_multiprocessing_fork_children_lose_nothing(tmp_store: str) -> None:
    """multiprocessing's children skip atexit (os._exit) and Pool.terminate() SIGTERMs its
    workers: their runs used to vanish, run rows included, with the writer's queue."""
    import multiprocessing

    mlops.get_store()  # opened before the fork, as in a notebook
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:  # __exit__ is terminate()
        run_ids = pool.map(_pool_task, range(4))
    process = context.Process(target=_process_leaving_a_run_open)
    process.start()
    process.join(60)
    assert process.exitcode == 0
    for run_id in run_ids:
        loaded = mlops.get_run(run_id)
        assert loaded.status == "FINISHED"
        assert len(loaded.history("x")) == 50
    (left_open,) = mlops.runs(filter="name = 'left-open'")["run_id"]
    loaded = mlops.get_run(left_open)
    assert loaded.status == "FINISHED"  # ended at the child's exit, as atexit would
    assert loaded.metrics == {"y": 1.0}


def _spawned_task(i: int) -> str:
    with mlops.start_run(f"spawned-{i}") as run:
        mlops.log_metric("x", float(i))
    return run.run_id


def test_spawned_children_use_the_store_and_experiment_set_here(
    tmp_store: str, tmp_path: Path
) -> None:
    """set_store / set_experiment are exported to child processes (as MLflow's
    set_tracking_uri is): spawned workers used the default store, and Pool.terminate()
    killed them before their runs were written."""
    import multiprocessing

    other = tmp_path / "elsewhere" / "mlops.db"
    mlops.set_store(other)
    mlops.set_experiment("spawned")
    with multiprocessing.get_context("spawn").Pool(2) as pool:  # __exit__ is terminate()
        run_ids = pool.map(_spawned_task, range(3))
    for run_id in run_ids:
        loaded = mlops.get_run(run_id)
        assert loaded.status == "FINISHED" and loaded.experiment == "spawned"
    assert len(mlops.runs()) == 3
    mlops.set_store(None)  # back to the environment's store, and the environment restored
    assert os.environ["JUPYTER_MLOPS_STORE"] == tmp_store
    assert mlops.get_store().url == tmp_store


def test_a_forked_child_exiting_does_not_end_its_parents_run(tmp_store: str) -> None:
    """The child inherits the parent's active runs: its atexit (or leaving the parent's
    `with` block on sys.exit) used to end the parent's run while the parent was still in it."""
    from jupyter_mlops.tracking import fluent

    with mlops.start_run("parent") as run:
        mlops.flush()
        pid = os.fork()
        if pid == 0:  # child: log, leave the with block by SystemExit, exit as the interpreter does
            code = 1
            try:
                mlops.log_metric("from_child", 1.0)
                run.__exit__(SystemExit, SystemExit(0), None)
                fluent._at_exit()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert mlops.get_run(run.run_id).status == "RUNNING"
        assert mlops.active_run() is run
        mlops.log_metric("after", 2.0)
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED"
    assert loaded.metrics == {"from_child": 1.0, "after": 2.0}


def test_flush_timing_out_is_a_typed_store_error(tmp_store: str) -> None:
    from jupyter_mlops.exceptions import StoreTimeoutError, StoreUnreachableError

    with mlops.start_run("locked-out") as run:
        mlops.flush()
        other = sqlite3.connect(sa.engine.make_url(tmp_store).database or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            mlops.log_metric("x", 1.0)
            with pytest.raises(StoreTimeoutError, match="did not accept writes within") as info:
                mlops.flush(timeout=0.5)
            assert isinstance(info.value, StoreUnreachableError)
            assert isinstance(info.value, TimeoutError)
        finally:
            other.execute("COMMIT")
            other.close()
    assert mlops.get_run(run.run_id).metrics == {"x": 1.0}  # kept queued, then written


def test_points_commit_while_a_cell_logs_in_a_tight_loop(tmp_store: str) -> None:
    """A pure-Python loop of log_metric holds the GIL: the writer must still commit (and hand
    points to live charts) while the loop runs, not only once it ends. It used to run the
    run's slow capture and one huge transaction first, each I/O wait costing a GIL switch."""
    committed: list[float] = []
    with mlops.start_run("tight") as run:
        writer = run.store.writer
        writer.watched_runs.add(run.run_id)
        writer.point_listeners.append(lambda columns: committed.append(time.monotonic()))
        try:
            deadline = time.monotonic() + 60  # generous: a loaded machine is slow, not wrong
            while not committed and time.monotonic() < deadline:
                for _ in range(1000):
                    mlops.log_metric("loss", 1.0)
            loop_ended = time.monotonic()
        finally:
            writer.point_listeners.clear()
            writer.watched_runs.discard(run.run_id)
    assert committed and committed[0] <= loop_ended, "no point committed while the loop ran"
    mlops.flush()
    assert mlops.get_run(run.run_id).metrics["loss"] == 1.0


def test_flush_waits_for_the_runs_capture(tmp_store: str) -> None:
    """Capture (git, packages) runs on its own thread; flush still covers it."""
    with mlops.start_run("captured") as run:
        pass
    mlops.flush()
    record = mlops.get_run(run.run_id)
    assert record.environment and record.environment.get("python")


def test_a_database_error_while_inserting_points_is_retried_not_dropped(tmp_store: str) -> None:
    """Busy or dropped databases surface as SQLAlchemy's OperationalError, which the writer
    retries with the batch kept; a driver error that bypassed SQLAlchemy would be taken for
    a bad value and its points dropped."""
    failures: list[str] = []

    def fail_first_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith('INSERT INTO "metrics"') and not failures:
            failures.append(statement)
            cursor.execute("SELECT * FROM no_such_table")  # the driver's OperationalError

    with mlops.start_run("retried") as run:
        engine = run.store.writer.engine
        sa.event.listen(engine, "before_cursor_execute", fail_first_insert)
        try:
            for i in range(5000):
                mlops.log_metric("loss", float(i), step=i)
            mlops.flush()
        finally:
            sa.event.remove(engine, "before_cursor_execute", fail_first_insert)
    assert failures, "the insert never went through SQLAlchemy's execution"
    assert _points(tmp_store, run.run_id, "loss") == 5000


# -- store trouble: nothing logged is lost, and the user is told ---------------------------


def _db_files(url: str, shm: bool = True) -> list[Path]:
    db = Path(sa.engine.make_url(url).database or "")
    found = [db, Path(f"{db}-wal")] + ([Path(f"{db}-shm")] if shm else [])
    return [p for p in found if p.exists()]


def _chattr(flag: str, paths: list[Path]) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@pytest.fixture
def immutable_files() -> Any:
    """Make files read-only even for root (``chattr +i``); always undone afterwards."""
    made: list[Path] = []

    def make(paths: list[Path]) -> None:
        try:
            _chattr("+i", paths)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"chattr +i is not available here: {exc}")
        made.extend(paths)

    yield make
    if made:
        _chattr("-i", made)


def test_a_read_only_database_keeps_everything_and_says_so(
    tmp_store: str, immutable_files: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    store = mlops.get_store()
    with mlops.start_run("ro", capture=False) as run:
        mlops.log_metric("x", -1.0, step=0)
        mlops.flush()
        # Not the -shm file: SQLite maps it in memory, and a write to it would be a SIGBUS.
        immutable_files(_db_files(tmp_store, shm=False))
        for i in range(1, 3001):
            mlops.log_metric("x", float(i), step=i)
        with pytest.raises(StoreTimeoutError, match="kept in the journal") as info:
            mlops.flush(timeout=4)
    assert str(store.writer.journal_path) in str(info.value)
    # A read does not pretend: it names the problem at once instead of missing the points.
    with pytest.raises(StoreUnreachableError, match="not accepting writes"):
        mlops.get_run(run.run_id)
    err = capfd.readouterr().err
    assert err.count("is not accepting writes") == 1, err  # one notice, no traceback per retry
    assert "Traceback" not in err
    _chattr("-i", _db_files(tmp_store, shm=False))
    mlops.flush(timeout=60)
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED" and loaded.metrics["x"] == 3000.0
    assert list(loaded.history("x")["step"]) == list(range(3001))
    assert "everything logged is written" in capfd.readouterr().err


def test_a_deleted_database_file_is_detected_and_a_new_one_gets_everything(
    tmp_store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    mlops.get_store()
    run = mlops.start_run("survivor", params={"lr": 0.1}, capture=False)
    for i in range(500):
        mlops.log_metric("x", float(i), step=i)
    mlops.flush()
    for path in _db_files(tmp_store):
        path.unlink()
    for i in range(500, 1000):
        mlops.log_metric("x", float(i), step=i)
    with pytest.raises(StoreTimeoutError):
        mlops.flush(timeout=3)
    assert "was deleted" in capfd.readouterr().err
    assert not _db_files(tmp_store), "the writer must not make a new database by itself"
    run.end()
    # Someone makes a store at that path again (here: another process opening it).
    subprocess.run(
        [sys.executable, "-c", f"from jupyter_mlops.store import Store; Store({tmp_store!r})"],
        check=True,
    )
    mlops.flush(timeout=60)
    assert "was replaced" in capfd.readouterr().err
    # The new file has the whole run: what was committed to the deleted file is written
    # again from the journal, with what came after.
    assert _points(tmp_store, run.run_id) == 1000
    loaded = mlops.get_run(run.run_id)
    assert loaded.status == "FINISHED" and loaded.params == {"lr": "0.1"}


def test_offline_logging_touches_no_database(
    tmp_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_OFFLINE", "1")
    mlops.set_experiment("on-a-train")  # no database to create it in: resolved at sync
    with mlops.start_run("offline") as run:
        mlops.log_metric("x", 1.0)
    mlops.flush()
    assert not _db_files(tmp_store)
    with pytest.raises(StoreOfflineError, match="jupyter mlops sync"):
        mlops.runs()
    monkeypatch.delenv("JUPYTER_MLOPS_OFFLINE")
    fluent.reset()  # as if this process ended: its journal is released
    loaded = mlops.get_run(run.run_id)  # a new store: it replays the journal
    assert loaded.experiment == "on-a-train" and loaded.metrics == {"x": 1.0}


def test_a_failed_set_store_never_falls_back_to_another_store(
    tmp_store: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(StoreError):
        mlops.set_store(blocker / "sub" / "x.db")
    for call in (lambda: mlops.start_run("x"), mlops.runs, lambda: mlops.set_experiment("e")):
        with pytest.raises(StoreError, match="set_store failed"):
            call()
    mlops.set_store(tmp_path / "good.db")
    with mlops.start_run("ok"):
        pass
    assert len(mlops.runs()) == 1


def test_the_first_point_of_a_series_may_have_the_smallest_step(tmp_store: str) -> None:
    with mlops.start_run("edges") as run:
        mlops.log_metric("x", 1.0, step=-(2**63))
        mlops.log_metric("y", 2.0, step=2**63 - 1)
        mlops.log_metric("y", 3.0, step=-(2**63))
    loaded = mlops.get_run(run.run_id)
    assert loaded.metrics == {"x": 1.0, "y": 2.0}
    assert list(loaded.history("x")["step"]) == [-(2**63)]
    sampled = loaded.history("y", max_points=10)
    assert list(sampled["step"]) == [-(2**63), 2**63 - 1]


def test_a_parent_id_the_database_would_refuse_is_refused_up_front(tmp_store: str) -> None:
    with pytest.raises(InvalidParameterError, match="not a run id"):
        mlops.start_run("child", parent="p" * 33)
    with pytest.raises(InvalidParameterError, match="cell_id is 65 characters"):
        mlops.start_run("cell", cell_id="c" * 65)
    mlops.flush()
    assert mlops.runs().empty


@pytest.mark.slow
def test_a_notebook_is_told_once_when_the_store_fails_and_once_when_it_is_back(
    tmp_store: str, immutable_files: Any
) -> None:
    """The notices come from the writer's thread; in a kernel they show under the cell."""
    import nbformat
    from nbclient import NotebookClient

    db = sa.engine.make_url(tmp_store).database
    probe = Path(db).with_name("probe")
    probe.write_text("")
    immutable_files([probe])  # skips here when chattr +i is not available
    cells = [
        "import jupyter_mlops as mlops, subprocess, time\n"
        "run = mlops.start_run('nb', capture=False)\n"
        "mlops.log_metric('a', 0.0)\nmlops.flush()",
        f"subprocess.run(['chattr', '+i', {db!r}, {db + '-wal'!r}], check=True)\n"
        "for i in range(1, 101):\n    mlops.log_metric('a', float(i))\n"
        "deadline = time.monotonic() + 60\n"
        "while mlops.get_store().writer.problem is None or not mlops.get_store().writer._outage:\n"
        "    assert time.monotonic() < deadline\n    time.sleep(0.1)",
        f"subprocess.run(['chattr', '-i', {db!r}, {db + '-wal'!r}], check=True)\n"
        "run.end()\nmlops.flush()\nprint(len(run.store.metric_history(run.run_id, 'a')['step']))",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    try:
        NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    finally:
        subprocess.run(["chattr", "-i", db, db + "-wal"], check=False)
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in notebook.cells]
    assert texts[1].count("is not accepting writes") == 1, texts
    assert "kept in" in texts[1] and "Traceback" not in texts[1]
    assert "everything logged is written" in texts[2] and "101" in texts[2], texts


def test_operations_neither_journaled_nor_committed_are_reported_lost_at_close(
    tmp_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    immutable_files: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """No journal can be made (its folder would be under a file) and the database refuses
    writes: at close the operations held in memory are gone, and the user is told so."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("JUPYTER_MLOPS_JOURNAL", str(blocker / "journals"))
    store = mlops.get_store()
    with mlops.start_run("doomed", capture=False):
        mlops.log_metric("x", 0.0, step=0)
        mlops.flush()
    assert "Cannot create the journal" in capfd.readouterr().err
    immutable_files(_db_files(tmp_store, shm=False))
    run = mlops.start_run("lost", capture=False)
    for i in range(100):
        run.log_metric("x", float(i), step=i)
    store.writer.close(wait=3)
    err = capfd.readouterr().err
    assert "logged operations are LOST" in err and "Cannot create the journal" in err, err


def _end_a_run_and_exit(flag: str) -> None:
    with mlops.start_run("child", capture=False):
        mlops.log_metric("x", 1.0)
    Path(flag).touch()  # end_run returned
    os._exit(0)  # as multiprocessing's workers leave: no atexit


def test_a_worker_ending_a_run_while_the_store_refuses_writes_returns_once_journaled(
    tmp_store: str, tmp_path: Path, immutable_files: Any
) -> None:
    """A forked worker's end_run makes the run durable before returning; with the store
    unavailable the journal is that, so it returns instead of waiting out flush's minute,
    and the next opening of the store writes the run."""
    import multiprocessing

    from jupyter_mlops.store import Store

    mlops.get_store()
    with mlops.start_run("parent", capture=False):
        pass
    mlops.flush()
    immutable_files(_db_files(tmp_store, shm=False))
    flag = tmp_path / "ended"
    child = multiprocessing.get_context("fork").Process(
        target=_end_a_run_and_exit, args=(str(flag),)
    )
    child.start()
    deadline = time.monotonic() + 45  # flush's own timeout is 60 s
    while not flag.exists():
        assert time.monotonic() < deadline, "end_run waited for the store"
        time.sleep(0.1)
    child.join(60)
    _chattr("-i", _db_files(tmp_store, shm=False))
    store = Store(tmp_store)  # replays the worker's journal
    try:
        (record,) = [r for r in store.search_runs()[0] if r.name == "child"]
        assert record.status == "FINISHED" and record.metrics == {"x": 1.0}
    finally:
        store.close()


def test_points_logged_while_the_writer_seals_are_stored_exactly_once(tmp_store: str) -> None:
    """log_metric appends to a series buffer without a lock while the journal thread (and
    here the test, as fast as it can) cuts the buffer into operations."""
    import threading

    per_thread, threads = 20_000, 3
    with mlops.start_run("racing", capture=False, live=False) as run:
        writer = run.store.writer
        done = threading.Event()

        def log(offset: int) -> None:
            for i in range(per_thread):
                run.log_metric("shared", float(offset + i), step=offset + i)

        def seal() -> None:
            while not done.is_set():
                writer.seal_points()

        sealer = threading.Thread(target=seal)
        sealer.start()
        loggers = [threading.Thread(target=log, args=(k * per_thread,)) for k in range(threads)]
        for thread in loggers:
            thread.start()
        for thread in loggers:
            thread.join()
        done.set()
        sealer.join()
    history = run.store.metric_history(run.run_id, "shared")
    assert sorted(history["step"]) == list(range(per_thread * threads))
    assert list(history["value"]) == [float(s) for s in history["step"]]


def test_points_logged_after_the_run_ended_are_not_lost(tmp_store: str) -> None:
    with mlops.start_run("late", capture=False, live=False) as run:
        run.log_metric("x", 1.0)
    for _ in range(5):  # the ended run's buffers are retired over a few journal passes
        run.store.writer.flush()
    run.log_metric("x", 2.0)
    assert list(run.store.metric_history(run.run_id, "x")["value"]) == [1.0, 2.0]
