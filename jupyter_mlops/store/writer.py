"""The background writer: every tracking write goes through one queue and one thread.

Callers append small tuples to a ``deque`` (atomic, lock-free under the GIL) and return at
once; the writer thread wakes every ``interval`` seconds (or on ``flush``), drains the queue
and applies it in one transaction: metric points with one ``executemany``. So a cell never
waits on the database, and at most ~``interval`` seconds of metrics are lost on a hard crash.

Operations (first element is the kind):
  ("run", row, params, tags)          insert a run with its initial params/tags
  ("update", run_id, values)          update run columns
  ("params", run_id, [(k, v)])        insert/replace params
  ("tags", run_id, [(k, v)])          insert/replace tags
  ("m", run_id, key, value, ts, step) one metric point
  ("cell", run_id, row)               one executed cell of a run
  ("artifact", run_id, path, size, ts)
  ("call", fn)                        fn() -> (run_id, values): slow capture (git, packages),
                                      run by ``submit`` on a capture thread, which queues
                                      ("update", run_id, values) when done
  ("flush", event)                    set once everything queued before it is committed
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, case, select, update
from sqlalchemy.exc import OperationalError

from .engine import WRITE
from .schema import artifacts, metric_series, params, run_cells, runs, tags

if TYPE_CHECKING:
    from sqlalchemy import Engine

FLUSH_INTERVAL_S = 0.2
HEARTBEAT_INTERVAL_S = 10.0
RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# How long a fork waits for the writer to finish the transaction it is in.
FORK_WAIT_S = 30.0
# Operations per transaction: about 0.2 s of writing, so points commit (and reach live
# charts) steadily even while a cell keeps the queue full.
MAX_BATCH = 100_000
# Metric points per INSERT statement. The database driver releases the GIL around each
# statement it runs; with one statement per point (executemany), every point waits for a
# busy cell thread to hand the GIL back (up to the 5 ms switch interval), and a cell
# logging in a tight loop starves the writer. Multi-row statements make that once per
# chunk. 4 parameters a point: 250 rows stay under SQLite's oldest limit of 999
# parameters; 3.32+ allows 32766 (PostgreSQL: 65535).
POINTS_PER_INSERT = 2_000
POINTS_PER_INSERT_OLD_SQLITE = 249


def now_ms() -> int:
    return int(time.time() * 1000)


class Writer:
    """Owns the queue and the thread; safe to use from any thread and after ``fork``."""

    def __init__(self, engine: Engine, interval: float = FLUSH_INTERVAL_S) -> None:
        self.engine = engine
        self.interval = interval
        self.queue: deque[tuple[Any, ...]] = deque()
        self.active_runs: set[str] = set()
        self._series: dict[tuple[str, str], int] = {}
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_heartbeat = 0.0
        # True in a forked or multiprocessing child. Such children often end without
        # interpreter exit (atexit): multiprocessing's workers leave through os._exit, or are
        # SIGTERMed by Pool.terminate. Ended runs are then committed before end_run returns.
        self.child_process = in_multiprocessing_child()
        # True while the writer holds operations it took off the queue but has not committed.
        self._draining = False
        # Held while the writer is in a transaction. ``os.fork`` waits for it: a child must
        # not inherit SQLite's in-process lock state of a transaction in progress (its own
        # connections would then wait forever for a lock nobody in the child holds).
        self._db_lock = threading.RLock()
        self._fork_locked = False
        self.listeners: list[Callable[[list[tuple[Any, ...]]], None]] = []
        # Runs whose points are handed, after commit, to ``point_listeners`` as columns
        # {(run_id, key): ([steps], [values])}: what live charts need, gathered in the loop
        # that already walks every point, so watching costs almost nothing extra.
        self.watched_runs: set[str] = set()
        self.point_listeners: list[Callable[[dict[tuple[str, str], Any]], None]] = []
        self._captured: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        self._pending_capture: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        self._reset_calls()

    def _reset_calls(self) -> None:
        # Slow capture (git subprocesses, package metadata) runs on its own thread, not in
        # the writer's transaction: its many small I/O waits each hand the GIL to a busy cell
        # and wait up to 5 ms to get it back, so under a tight logging loop it takes seconds,
        # and metric points queued behind it would not commit (nor reach live charts).
        self._calls: deque[Callable[[], tuple[str, dict[str, Any]]]] = deque()
        self._calls_pending = 0
        self._calls_done = threading.Condition()
        self._calls_thread: threading.Thread | None = None

    # -- producer side -------------------------------------------------------------------
    def submit(self, op: tuple[Any, ...]) -> None:
        if op[0] == "call":
            self._submit_call(op[1])
            return
        self.queue.append(op)
        self.ensure_running()

    def _submit_call(self, fn: Callable[[], tuple[str, dict[str, Any]]]) -> None:
        with self._calls_done:
            self._calls.append(fn)
            self._calls_pending += 1
            self._calls_done.notify_all()
            thread = self._calls_thread
            if thread is None or not thread.is_alive():
                self._calls_thread = threading.Thread(
                    target=self._calls_loop, name="jupyter-mlops-capture", daemon=True
                )
                self._calls_thread.start()

    def _calls_loop(self) -> None:
        done = self._calls_done
        while True:
            with done:
                while not self._calls:
                    done.wait()
                fn = self._calls.popleft()
            try:
                run_id, values = fn()
            except Exception:
                traceback.print_exc()
            else:
                self.submit(("update", run_id, values))
            finally:
                with done:
                    self._calls_pending -= 1
                    done.notify_all()

    def _wait_calls(self, timeout: float | None) -> bool:
        """Block until every submitted call has queued its update. False on timeout."""
        if threading.current_thread() is self._calls_thread:
            return True
        with self._calls_done:
            return self._calls_done.wait_for(lambda: self._calls_pending == 0, timeout)

    def ensure_running(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(
                    target=self._loop, name="jupyter-mlops-writer", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        """Write what is queued now rather than at the next interval (a run just ended)."""
        self._wake.set()

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Block until everything queued so far is committed. Returns False on timeout."""
        start = time.monotonic()
        if not self._wait_calls(timeout):
            return False
        if timeout is not None:
            timeout = max(0.0, timeout - (time.monotonic() - start))
        if not self.queue and not self._draining:
            return True
        if self._thread is not None and threading.current_thread() is self._thread:
            self._drain_once()
            return True
        done = threading.Event()
        self.submit(("flush", done))
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        """Drain and stop the thread (interpreter exit, store switch)."""
        self._wait_calls(timeout=30)
        self._stop = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=30)
        if self.queue:  # thread was never started or died: drain here
            self._drain_once()

    def before_fork(self) -> None:
        """Wait (bounded) until the writer is between transactions; held until after fork."""
        self._fork_locked = self._db_lock.acquire(timeout=FORK_WAIT_S)

    def after_fork_in_parent(self) -> None:
        if self._fork_locked:
            self._fork_locked = False
            self._db_lock.release()

    def after_fork_in_child(self) -> None:
        """The child inherits the queue but not the thread; pooled connections are not ours."""
        self.queue.clear()  # in place: ActiveRun objects hold ``queue.append``
        self._reset_calls()  # the parent's captures are the parent's to finish
        self.active_runs = set()
        self._draining = False
        self._db_lock = threading.RLock()
        self._fork_locked = False
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._thread = None
        self.child_process = True
        self.engine.dispose(close=False)

    # -- consumer side -------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self._drain_once()
                self._maybe_heartbeat()
            except Exception:  # never let the writer die; report and go on
                print(
                    "jupyter-mlops: background writer error:\n" + traceback.format_exc(),
                    file=sys.stderr,
                )
            if self._stop and not self.queue:
                return

    def _drain_once(self) -> None:
        queue = self.queue
        if not queue:
            return
        self._draining = True  # before popping: flush() must not see an empty, idle queue
        try:
            # What is queued now, in transactions of at most MAX_BATCH operations: a cell
            # logging in a tight loop keeps the queue growing, and one huge transaction
            # would commit (and show live points) only after the loop.
            pending = len(queue)
            while pending > 0:
                take = min(pending, MAX_BATCH)
                self._drain_batch([queue.popleft() for _ in range(take)])
                pending -= take
        finally:
            self._draining = False

    def _drain_batch(self, batch: list[tuple[Any, ...]]) -> None:
        flushes = [op[1] for op in batch if op[0] == "flush"]
        work = [op for op in batch if op[0] != "flush"]
        if work:
            self._captured = {}
            self._apply_with_retry(work)
            for listener in list(self.listeners):
                try:
                    listener(work)
                except Exception:
                    traceback.print_exc()
            captured, self._captured = self._captured, {}
            if captured:
                for point_listener in list(self.point_listeners):
                    try:
                        point_listener(captured)
                    except Exception:
                        traceback.print_exc()
        for event in flushes:
            event.set()

    def _apply_with_retry(self, work: list[tuple[Any, ...]]) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            self._pending_capture = {}
            try:
                with (
                    self._db_lock,
                    self.engine.connect().execution_options(**WRITE) as conn,
                    conn.begin(),
                ):
                    self._apply(conn, work)
            except OperationalError as exc:
                # Busy or briefly unreachable database: keep the batch and retry.
                if delay is None:
                    print(
                        f"jupyter-mlops: giving up writing {len(work)} operations after "
                        f"{attempt} retries: {exc.orig}",
                        file=sys.stderr,
                    )
                    return
                self._series.clear()
                time.sleep(delay)
            except Exception:
                # A write the database refuses (constraint, out-of-range value, ...) must not
                # take the rest of the batch with it: a run row and thousands of points
                # would be lost for one bad value. Halve the batch until the bad operation
                # is alone (O(log n) transactions, order kept), then drop only that one.
                self._series.clear()
                if len(work) == 1:
                    print(
                        "jupyter-mlops: dropped an invalid write:\n" + traceback.format_exc(),
                        file=sys.stderr,
                    )
                    return
                middle = len(work) // 2
                self._apply_with_retry(work[:middle])
                self._apply_with_retry(work[middle:])
                return
            else:
                # Live points are handed on only once committed (never twice after a retry).
                for series, (steps, values) in self._pending_capture.items():
                    column = self._captured.setdefault(series, ([], []))
                    column[0].extend(steps)
                    column[1].extend(values)
                return

    def _apply(self, conn: Connection, work: list[tuple[Any, ...]]) -> None:
        points: list[tuple[Any, ...]] = []
        touched: dict[str, int] = {}
        stamp = now_ms()
        # PostgreSQL refuses NUL in text: captured output or source holding one (a binary
        # print) would fail the operation and lose it. Keys and names are refused up front.
        no_nul = conn.dialect.name == "postgresql"
        for op in work:
            kind = op[0]
            if kind == "m":
                points.append(op)
                continue
            if no_nul:
                op = _without_nul(op)
            if kind == "run":
                _, row, run_params, run_tags = op
                conn.execute(runs.insert(), row)
                if run_params:
                    _upsert(conn, params, row["run_id"], run_params)
                if run_tags:
                    _upsert(conn, tags, row["run_id"], run_tags)
            elif kind == "update":
                conn.execute(update(runs).where(runs.c.run_id == op[1]).values(**op[2]))
                touched[op[1]] = stamp
            elif kind == "params":
                _upsert(conn, params, op[1], op[2])
                touched[op[1]] = stamp
            elif kind == "tags":
                _upsert(conn, tags, op[1], op[2])
                touched[op[1]] = stamp
            elif kind == "cell":
                conn.execute(run_cells.insert(), {"run_id": op[1], **op[2]})
                touched[op[1]] = stamp
            elif kind == "artifact":
                _, run_id, path, size, logged = op
                table_upsert(
                    conn,
                    artifacts,
                    {"run_id": run_id, "path": path, "size": size, "logged_time": logged},
                    ("run_id", "path"),
                )
                touched[run_id] = stamp
            else:
                raise ValueError(f"unknown writer operation {kind!r}")
        if points:
            for run_id in self._write_points(conn, points):
                touched[run_id] = stamp
        if touched:
            conn.execute(
                update(runs)
                .where(runs.c.run_id == bindparam("rid"))
                .values(last_update_time=bindparam("ts")),
                [{"rid": rid, "ts": ts} for rid, ts in touched.items()],
            )

    def _write_points(self, conn: Connection, points: list[tuple[Any, ...]]) -> set[str]:
        rows: list[tuple[int, int, int, float | None]] = []
        latest: dict[int, tuple[int, int, float | None]] = {}
        counts: dict[int, int] = {}
        series_cache = self._series
        watched = self.watched_runs
        captured: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        for _, run_id, key, value, ts, step in points:
            sid = series_cache.get((run_id, key))
            if sid is None:
                sid = self._series_id(conn, run_id, key, step, ts)
            if watched and run_id in watched:
                column = captured.get((run_id, key))
                if column is None:
                    column = captured[(run_id, key)] = ([], [])
                column[0].append(step)
                column[1].append(value)
            stored = None if value != value else value  # NaN -> NULL (SQLite has no NaN)
            rows.append((sid, step, ts, stored))
            counts[sid] = counts.get(sid, 0) + 1
            best = latest.get(sid)
            if best is None or (step, ts) >= (best[0], best[1]):
                latest[sid] = (step, ts, stored)
        self._pending_capture = captured
        _insert_points(conn, rows)
        ms = metric_series.c
        newer = (ms.latest_step < bindparam("step")) | (
            (ms.latest_step == bindparam("step")) & (ms.latest_timestamp <= bindparam("ts"))
        )
        conn.execute(
            update(metric_series)
            .where(ms.series_id == bindparam("sid"))
            .values(
                point_count=ms.point_count + bindparam("n"),
                latest_value=case((newer, bindparam("value")), else_=ms.latest_value),
                latest_timestamp=case((newer, bindparam("ts")), else_=ms.latest_timestamp),
                latest_step=case((newer, bindparam("step")), else_=ms.latest_step),
            ),
            [
                {"sid": sid, "n": counts[sid], "step": step, "ts": ts, "value": value}
                for sid, (step, ts, value) in latest.items()
            ],
        )
        return {op[1] for op in points}

    def _series_id(self, conn: Connection, run_id: str, key: str, step: int, ts: int) -> int:
        ms = metric_series.c
        query = select(ms.series_id).where(ms.run_id == run_id, ms.key == key)
        sid = conn.execute(query).scalar()
        if sid is None:
            result = conn.execute(
                metric_series.insert().values(
                    run_id=run_id,
                    key=key,
                    latest_value=None,
                    latest_step=step - 1,
                    latest_timestamp=ts,
                    point_count=0,
                )
            )
            sid = result.inserted_primary_key[0]
        self._series[(run_id, key)] = sid
        return sid

    def _maybe_heartbeat(self) -> None:
        if not self.active_runs:
            return
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_INTERVAL_S:
            return
        self._last_heartbeat = now
        stamp = now_ms()
        active = list(self.active_runs)
        with self._db_lock, self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(
                update(runs).where(runs.c.run_id == bindparam("rid")).values(heartbeat=stamp),
                [{"rid": rid} for rid in active],
            )


_insert_sql: dict[tuple[str, int], str] = {}


def _insert_points(conn: Connection, rows: list[tuple[int, int, int, float | None]]) -> None:
    """Insert metric rows (series_id, step, timestamp, value) with multi-row statements."""
    dialect = conn.dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    chunk = POINTS_PER_INSERT
    if dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 32, 0):
        chunk = POINTS_PER_INSERT_OLD_SQLITE
    row_sql = f"({marker}, {marker}, {marker}, {marker})"
    # Through SQLAlchemy, not the driver's cursor: its errors must arrive as
    # sqlalchemy.exc.OperationalError, which the writer retries (a busy or dropped database),
    # not as the driver's own exception, which it would take for a bad value and drop.
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        sql = _insert_sql.get((marker, len(part)))
        if sql is None:
            sql = "INSERT INTO metrics (series_id, step, timestamp, value) VALUES " + (
                ", ".join([row_sql] * len(part))
            )
            _insert_sql[(marker, len(part))] = sql
        conn.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters in its strings replaced by U+FFFD (nested tuples, lists
    and dicts too); other values as they are."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, tuple):
        return tuple(_without_nul(v) for v in value)
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value


def _upsert(conn: Connection, table: Any, run_id: str, items: list[tuple[str, str]]) -> None:
    for key, value in items:
        table_upsert(conn, table, {"run_id": run_id, "key": key, "value": value}, ("run_id", "key"))


def table_upsert(conn: Connection, table: Any, row: dict[str, Any], keys: tuple[str, ...]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(**row)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: statement.excluded[k] for k in row if k not in keys},
    )
    conn.execute(statement)


def register_fork_handler(writer: Writer) -> None:
    if hasattr(os, "register_at_fork"):
        import weakref

        ref = weakref.ref(writer)

        def _before() -> None:
            instance = ref()
            if instance is not None:
                instance.before_fork()

        def _parent() -> None:
            instance = ref()
            if instance is not None:
                instance.after_fork_in_parent()

        def _child() -> None:
            instance = ref()
            if instance is not None:
                instance.after_fork_in_child()

        os.register_at_fork(before=_before, after_in_parent=_parent, after_in_child=_child)
    # multiprocessing's children skip atexit (they leave through os._exit): drain the writer
    # from multiprocessing's own exit finalizers instead, registered in each child it forks,
    # or now when this process is such a child (spawn, forkserver).
    import multiprocessing.util as mp_util

    mp_util.register_after_fork(writer, _drain_when_child_exits)
    if writer.child_process:
        _drain_when_child_exits(writer)


def in_multiprocessing_child() -> bool:
    """True in a process started by multiprocessing (any start method)."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def _drain_when_child_exits(writer: Writer) -> None:
    import weakref
    from multiprocessing.util import Finalize

    ref = weakref.ref(writer)

    def _close() -> None:
        instance = ref()
        if instance is not None:
            instance.close()

    Finalize(None, _close, exitpriority=10)
