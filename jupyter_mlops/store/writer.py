"""The background writer: every tracking write goes through one queue, a journal and a thread.

Callers append operations (``ops.py``, as plain tuples) to a ``deque`` (atomic, lock-free
under the GIL) and return at once; ``log_metric`` packs its points onto a ``bytearray`` per
series (``PointSeries``), which the writer cuts into ``Points`` operations whenever it writes
the journal, and before any other operation of the same run is queued. Two threads take it
from there:

- the journal thread wakes every ``interval`` (``c.MLOps.writer_interval``, 0.1 s), or on
  ``flush``, and appends
  what is queued to this process's journal file (``journal.py``): from then on a SIGKILL, a
  store outage or a deleted database loses nothing. It hands the records to
- the apply thread, which writes them to the database in transactions of at most
  ``batch_size`` operations (``c.MLOps.writer_batch_size``, 100,000: about 0.2 s of writing,
  so points commit, and reach live charts, steadily even while a cell keeps the queue
  full), each recording how far the journal is applied. A busy or
  unreachable database (or a read-only or deleted file) is retried with back-off for as long
  as it takes, the user told once when it starts and once when it is caught up. An operation
  the database refuses for good is isolated at once (the batch is halved until it is alone),
  reported with the call that made it and kept in ``rejected.jsonl`` beside the journal; it
  never holds up the others.

When the apply thread falls behind (an outage, a tight logging loop), records stay in the
journal file and are read back from it, so the memory held stays bounded. Offline
(``JUPYTER_MLOPS_OFFLINE=1``) there is no apply thread: the journal waits for
``jupyter mlops sync`` or the next process that opens the store.

Slow capture runs on a third thread (``deferred.py``); the fork and multiprocessing hooks are
in ``fork.py``, operations -> SQL in ``apply.py``, SQL that differs by database in
``dialect.py``.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat, starmap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from ..config import tunables
from .apply import Applied, ApplyState, apply
from .deferred import BatchCapture, Capture, DeferredCalls
from .dialect import insert_rows
from .engine import WRITE
from .fork import in_multiprocessing_child
from .ids import now_ms
from .journal import (
    JournalError,
    JournalWriter,
    Position,
    Record,
    read_record,
    read_records,
    record_rejected,
)
from .journal import segments as journal_segments
from .ops import (
    POINT,
    POINTS,
    RUN,
    Op,
    QueuedOp,
    describe,
    op_run_id,
    ops_weight,
    readable,
    split_by_weight,
)
from .schema import journal_progress, runs
from .store_file import StoreFile, StoreFileGone, StoreReplaced

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = ["Writer"]

# A logging call that finds the journal not written for this many intervals writes it
# itself: a loop that makes short system calls (a print, a file write per step) gives up the
# GIL and takes it back so often that the journal thread may never get it, and a SIGKILL
# would lose all.
JOURNAL_DUE_INTERVALS = 1.5
HEARTBEAT_INTERVAL_S = 10.0
# Back-off between attempts while the store is unavailable: doubling, capped.
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 5.0
# Tell the user the store is unavailable once it has failed for this long (a lock held by
# another process for a moment is not worth a message).
UNAVAILABLE_NOTICE_S = 2.0
# How long a fork waits for the writer to finish the transaction it is in.
FORK_WAIT_S = 30.0
# Operations kept in memory between the journal and the database; beyond that, records are
# read back from the journal file when their turn comes.
MAX_IN_MEMORY_OPS = 1_000_000
# At interpreter exit, how long to wait for a store that is accepting writes.
CLOSE_WAIT_S = 60.0
_FLUSH = "flush"
# A run's series buffers are dropped this many journal passes after the run ended: a thread
# that was inside log_metric when the run ended has appended its point by then.
_RETIRED_PASSES = 3


class PointSeries:
    """The metric points of one run not yet queued: ``buffers[key]`` holds ``ops.POINT``
    records that ``ActiveRun.log_metric`` appends (``+=`` on a bytearray is atomic under the
    GIL, so it takes no lock); ``Writer.seal_points`` moves them to the queue."""

    __slots__ = ("buffers", "retired", "run_id")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.buffers: dict[str, bytearray] = {}
        self.retired = 0  # journal passes left before it is dropped; 0: in use


def _notify(message: str) -> None:
    print(f"jupyter-mlops: {message}", file=sys.stderr, flush=True)


class Writer:
    """Owns the queue, the journal and the threads; safe to use from any thread and after
    ``fork``."""

    def __init__(
        self,
        engine: Engine | None,
        *,
        journal_root: Path | None = None,
        store_url: str = "",
        sqlite_path: str | None = None,
        offline: bool = False,
        on_store_replaced: Callable[[], None] | None = None,
        interval: float | None = None,
        batch_size: int | None = None,
    ) -> None:
        """``interval`` and ``batch_size``: default ``c.MLOps.writer_interval`` and
        ``c.MLOps.writer_batch_size`` (``config.tunables``)."""
        if interval is None or batch_size is None:
            settings = tunables()
            interval = settings.writer_interval if interval is None else interval
            batch_size = settings.writer_batch_size if batch_size is None else batch_size
        self.interval = interval
        self.batch_size = batch_size
        self._due_s = interval * JOURNAL_DUE_INTERVALS
        self.engine = engine
        self.journal_root = journal_root
        self.store_url = store_url
        self.offline = offline or engine is None
        self.queue: deque[QueuedOp] = deque()
        self.active_runs: set[str] = set()
        self.state = ApplyState()
        self.listeners: list[Callable[[list[QueuedOp]], None]] = []
        # Runs whose points are handed, after commit, to ``point_listeners`` as
        # {(run_id, key): bytes of ops.POINT records}: what live charts need.
        self.watched_runs = self.state.watched
        self.point_listeners: list[Callable[[dict[tuple[str, str], bytes]], None]] = []
        # True in a forked or multiprocessing child. Such children often end without
        # interpreter exit (atexit): multiprocessing's workers leave through os._exit, or are
        # SIGTERMed by Pool.terminate. Ended runs are then committed before end_run returns.
        self.child_process = in_multiprocessing_child()
        self._sqlite_path = sqlite_path
        self._store_file = StoreFile(sqlite_path)
        self._on_store_replaced = on_store_replaced
        # Digests of the git diffs this process has sent to the store (store/diffs.py).
        self.git_diffs_sent: set[str] = set()
        self._points: dict[str, list[PointSeries]] = {}
        self._points_lock = threading.Lock()
        self._init_threads()

    def _init_threads(self) -> None:
        self._journal: JournalWriter | None = None
        self._journal_failed: str | None = None
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._stop = False
        self._journal_thread: threading.Thread | None = None
        self._apply_thread: threading.Thread | None = None
        # Records between the two threads, and what the apply thread has committed.
        self._cond = threading.Condition()
        self._records: deque[tuple[Record, list[Any]]] = deque()
        self._in_memory = 0
        self._journaled = 0  # records written; flush waits until _committed catches up
        self._offline_ops = 0
        self._committed = 0
        self._position: Position | None = None
        self._flush_requested = False
        self._journal_busy = False
        # Wall time (time.time, which log_metric reads anyway) by which the journal must have
        # been written again; infinite while no journal thread runs.
        self.journal_due = math.inf
        # Why writes are not reaching the store right now (None: they are).
        self.problem: str | None = None
        self._problem_since = 0.0
        self._outage = False  # told the user; tell again when caught up
        self._refused: Exception | None = None
        self._rejected_runs: set[str] = set()
        self._last_heartbeat = 0.0
        # Replaying another process's journal: stop retrying a store that stays down past
        # this time (monotonic), and leave the journal for later.
        self.give_up_at: float | None = None
        # Held while the apply thread is in a transaction, and the journal thread while it
        # writes. ``os.fork`` waits for both: a child must not inherit SQLite's in-process
        # lock state of a transaction in progress, nor a half-written journal record.
        self._db_lock = threading.RLock()
        self._journal_lock = threading.RLock()
        self._fork_locked = (False, False)
        self._deferred = DeferredCalls(self.submit)

    @property
    def journal_path(self) -> Path | None:
        """This process's journal folder (None until the first write, or without one)."""
        return self._journal.path if self._journal is not None else None

    # -- producer side -------------------------------------------------------------------
    def submit(self, op: Op | QueuedOp) -> None:
        """Queue an operation (a NamedTuple of ``ops.py``, or a tuple in its layout). It is
        queued as a plain tuple: the journal's ``marshal`` takes exact tuples only. The
        run's metric points logged before it are queued ahead of it."""
        if self._points:
            run_id = op_run_id(op)
            if run_id in self._points:
                self.seal_points(run_id)
        self.queue.append(op if type(op) is tuple else tuple(op))
        self.ensure_running()

    # -- metric points -------------------------------------------------------------------
    def point_series(self, run_id: str) -> PointSeries:
        """A new, empty set of series buffers for ``run_id``, sealed from now on."""
        series = PointSeries(run_id)
        with self._points_lock:
            self._points.setdefault(run_id, []).append(series)
        return series

    def add_series(self, series: PointSeries, key: str) -> bytearray:
        """The buffer of ``key`` in ``series`` (created under the lock that sealing takes)."""
        with self._points_lock:
            return series.buffers.setdefault(key, bytearray())

    def retire(self, series: PointSeries) -> None:
        """The run of ``series`` ended: seal it for a few more passes, then drop it."""
        self.seal_points(series.run_id)
        series.retired = _RETIRED_PASSES

    def seal_points(self, run_id: str | None = None) -> None:
        """Queue the points buffered so far, of ``run_id`` or of every run, as ``Points``
        operations (at most ``batch_size`` points each), ahead of what is queued after."""
        if not self._points:
            return
        piece = self.batch_size * POINT.size
        append = self.queue.append
        with self._points_lock:
            for series, key, buffer in self._buffers(run_id):
                if not buffer:
                    continue
                data = bytes(buffer)
                # A point appended meanwhile by another thread is after these ones, and stays
                # for the next call.
                del buffer[: len(data)]
                for start in range(0, len(data), piece):
                    append((POINTS, series.run_id, key, data[start : start + piece]))
            if run_id is None:
                self._drop_retired()

    def _buffers(self, run_id: str | None = None) -> Iterator[tuple[PointSeries, str, bytearray]]:
        """Every series buffer (of ``run_id``, or of every run); the caller holds the lock."""
        groups = self._points.values() if run_id is None else [self._points.get(run_id, [])]
        for group in list(groups):
            for series in group:
                for key, buffer in series.buffers.items():
                    yield series, key, buffer

    def _drop_retired(self) -> None:
        for run_id, group in list(self._points.items()):
            for series in list(group):
                if series.retired:
                    series.retired -= 1
                    if not series.retired:
                        group.remove(series)
            if not group:
                del self._points[run_id]

    def _buffered_points(self) -> int:
        with self._points_lock:
            return sum(len(buffer) for _, _, buffer in self._buffers()) // POINT.size

    def submit_call(self, fn: Capture) -> None:
        """Run ``fn`` (slow capture) off the caller's thread, after the calls submitted
        before; the ``(run_id, values)`` it returns is queued as a run update, and ``flush``
        waits for it."""
        self._deferred.add(fn)

    def submit_batched(self, key: str, fn: BatchCapture, item: Any) -> None:
        """Like ``submit_call``, for a capture that can serve many runs at once: ``fn`` gets
        the items added under ``key`` since the last call started, and returns a
        ``(run_id, values)`` for each run (``deferred.py``)."""
        self._deferred.add_to_batch(key, fn, item)

    def ensure_running(self) -> None:
        thread = self._journal_thread
        if thread is not None and thread.is_alive():
            return
        with self._start_lock:
            if self._journal_thread is None or not self._journal_thread.is_alive():
                self._stop = False
                # The journal is created here, by the thread that logs, not by the journal
                # thread: behind a tight logging loop that thread waits up to 5 ms for the
                # GIL after each system call, and creating a journal takes a dozen of them,
                # so a SIGKILL seconds later found it still empty and lost everything.
                with self._journal_lock:
                    self._open_journal()
                self.journal_due = time.time() + self._due_s
                self._journal_thread = threading.Thread(
                    target=self._journal_loop, name="jupyter-mlops-journal", daemon=True
                )
                self._journal_thread.start()
            if not self.offline and (
                self._apply_thread is None or not self._apply_thread.is_alive()
            ):
                self._apply_thread = threading.Thread(
                    target=self._apply_loop, name="jupyter-mlops-writer", daemon=True
                )
                self._apply_thread.start()

    def wake(self) -> None:
        """Write what is queued now rather than at the next interval (a run just ended)."""
        self._wake.set()

    def flush(self, timeout: float | None = 60.0, *, journaled_is_enough: bool = False) -> bool:
        """Block until everything queued so far is committed (offline: journaled). Returns
        False on timeout. ``journaled_is_enough``: return once it is journaled while the
        store is unavailable (a journal outlives the process; committing can wait)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._deferred.wait(timeout):
            return False
        self.seal_points()
        current = threading.current_thread()
        if current is self._journal_thread or current is self._apply_thread:
            return True  # a listener flushing from inside the writer: it is written already
        if self.queue or self._journal_busy:
            self.ensure_running()
            done = threading.Event()
            self._flush_requested = True
            self.queue.append((_FLUSH, done))
            self._wake.set()
            if not done.wait(_remaining(deadline)):
                return False
        with self._cond:
            target = self._journaled
            if self.offline:
                return True
            if not journaled_is_enough:
                return self._cond.wait_for(lambda: self._committed >= target, _remaining(deadline))
            # The apply thread does not signal a store problem: look twice a second.
            while self._committed < target and not self._kept():
                left = _remaining(deadline)
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            return True

    def _kept(self) -> bool:
        """The store is unavailable and the journal holds what it has not taken."""
        return self.problem is not None and self._journal is not None

    def pending(self) -> int:
        """Operations queued or journaled and not yet committed (an estimate)."""
        with self._cond:
            held = sum(r.size() for r, _ in self._records)
        return len(self.queue) + held + self._offline_ops + self._buffered_points()

    def close(self, wait: float = CLOSE_WAIT_S) -> None:
        """Journal what is queued, give the store up to ``wait`` seconds to take it, and stop.
        What is not committed stays in the journal, which is released for the next process
        opening the store (or ``jupyter mlops sync``) to apply."""
        self._deferred.wait(timeout=30)
        self.seal_points()
        if self.queue:
            self.ensure_running()
        deadline = time.monotonic() + wait
        journal_done = self._drain_to_journal_now()
        if not self.offline and journal_done:
            with self._cond:
                target = self._journaled
                while self._committed < target and self._apply_alive():
                    if self.problem is not None and self._outage:
                        break  # the store is down: waiting at exit helps nobody
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(min(left, 0.5))
        self._stop = True
        self._wake.set()
        with self._cond:
            self._cond.notify_all()
        for thread in (self._journal_thread, self._apply_thread):
            if (
                thread is not None
                and thread.is_alive()
                and thread is not threading.current_thread()
            ):
                thread.join(timeout=5)
        with self._cond:
            complete = self._committed >= self._journaled and not self._records
        journal = self._journal
        if journal is None:
            if not complete:  # memory only (no journal could be written): say what is lost
                _notify(
                    f"{self.pending() or 'some'} logged operations are LOST: the store did not "
                    f"take them ({self.problem or 'not committed in time'}) and there is no "
                    f"journal to keep them ({self._journal_failed or 'journaling is off'})."
                )
            return
        if complete and not self.offline:
            journal.remove()
        else:
            left = self.pending()
            journal.close()
            where = "offline" if self.offline else (self.problem or "not committed in time")
            _notify(
                f"{left or 'some'} logged operations are not in the store yet ({where}); they "
                f"are kept in the journal {journal.path} and will be written the next time "
                "the store is opened, or by `jupyter mlops sync`."
            )
        self._journal = None

    def _apply_alive(self) -> bool:
        thread = self._apply_thread
        return thread is not None and thread.is_alive()

    def _drain_to_journal_now(self) -> bool:
        """Journal the queue from the calling thread (interpreter exit). False if it could
        not be journaled."""
        thread = self._journal_thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            done = threading.Event()
            self._flush_requested = True
            self.queue.append((_FLUSH, done))
            self._wake.set()
            return done.wait(30)
        self._journal_once()
        return True

    def before_fork(self) -> None:
        """Wait (bounded) until the writer is between transactions; held until after fork."""
        db = self._db_lock.acquire(timeout=FORK_WAIT_S)
        journal = self._journal_lock.acquire(timeout=FORK_WAIT_S)
        self._fork_locked = (db, journal)

    def after_fork_in_parent(self) -> None:
        db, journal = self._fork_locked
        self._fork_locked = (False, False)
        if journal:
            self._journal_lock.release()
        if db:
            self._db_lock.release()

    def after_fork_in_child(self) -> None:
        """The child inherits the queue but not the threads; pooled connections and the
        journal are the parent's."""
        self.queue.clear()  # in place: the same deque for whoever holds it
        # The parent's buffered points are the parent's; the child may log to the same runs.
        self._points_lock = threading.Lock()
        for _, _, buffer in self._buffers():
            del buffer[:]
        if self._journal is not None:
            self._journal.forget_after_fork()
        self.active_runs = set()
        watched = self.state.watched
        self._init_threads()
        self.state = ApplyState()
        self.state.watched = watched
        self.watched_runs = watched
        self.child_process = True
        if self.engine is not None:
            self.engine.dispose(close=False)

    # -- journal thread ------------------------------------------------------------------
    def _journal_loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._journal_pass()
            if self._stop and not self.queue:
                self.journal_due = math.inf
                return

    def journal_overdue(self) -> None:
        """Called by a logging thread past ``journal_due``: the journal thread is starved of
        the GIL, so this thread writes the journal (that wait is the back-pressure that keeps
        a SIGKILL's loss to the last moment)."""
        if self._journal_thread is None or threading.current_thread() is self._journal_thread:
            return
        self._journal_pass()

    def _journal_pass(self) -> None:
        try:
            self._journal_once()
        except Exception:  # never let the writer die; report and go on
            _notify("journal error:\n" + traceback.format_exc())
        self.journal_due = time.time() + self._due_s

    def _journal_once(self) -> None:
        self.seal_points()
        queue = self.queue
        if not queue:
            return
        with self._journal_lock:
            self._journal_busy = True
            try:
                pending = len(queue)
                popleft = queue.popleft
                while pending > 0:
                    take = min(pending, self.batch_size)
                    # popleft called by starmap, in C: no Python step per operation while
                    # this thread holds the GIL that a logging loop is waiting for.
                    chunk = list(starmap(popleft, repeat((), take)))
                    pending -= take
                    flushes: list[Any] = []
                    if self._flush_requested:
                        flushes = [op[1] for op in chunk if op[0] == _FLUSH]
                        if flushes:
                            chunk = [op for op in chunk if op[0] != _FLUSH]
                    weight = ops_weight(chunk)
                    if weight <= self.batch_size:
                        self._journal_chunk(chunk, flushes, weight)
                    else:  # points of many passes (a starved journal thread) or many series
                        *parts, last = split_by_weight(chunk, self.batch_size)
                        for part in parts:
                            self._journal_chunk(part, [], ops_weight(part))
                        self._journal_chunk(last, flushes, ops_weight(last))
                self._flush_requested = bool(queue) and self._flush_requested
            finally:
                self._journal_busy = False

    def _journal_chunk(self, ops: list[QueuedOp], flushes: list[Any], weight: int) -> None:
        record = None
        if ops:
            journal = self._open_journal()
            if journal is not None:
                try:
                    record = journal.append(ops)
                except (OSError, JournalError) as exc:
                    self._journal_failed = f"cannot write the journal {journal.path}: {exc}"
                    _notify(self._journal_failed + "; keeping operations in memory only.")
            if record is None:
                record = Record(0, 0, 0, ops)  # no journal: memory only, as before journals
            record.weight = weight
        if self.offline:
            self._offline_ops += weight
            for event in flushes:
                event.set()
            return
        with self._cond:
            if record is not None:
                if self._in_memory + weight > MAX_IN_MEMORY_OPS and record.segment > 0:
                    # Read back from the journal when its turn comes.
                    kept = Record(record.segment, record.offset, record.end, None, weight=weight)
                    self._records.append((kept, []))
                else:
                    self._in_memory += weight
                    self._records.append((record, []))
                self._journaled += 1
            # A flush is answered once everything journaled before it is committed.
            for event in flushes:
                event.set()
            self._cond.notify_all()

    def _open_journal(self) -> JournalWriter | None:
        if self._journal is not None:
            return self._journal
        if self.journal_root is None or self._journal_failed:
            return None
        try:
            self._journal = JournalWriter(self.journal_root, self.store_url)
        except JournalError as exc:
            self._journal_failed = str(exc)
            _notify(f"{exc} Logged operations are kept in memory only until then.")
            return None
        if self._position is None:
            self._position = self._journal.first_position()
        return self._journal

    # -- apply thread --------------------------------------------------------------------
    def _apply_loop(self) -> None:
        while True:
            with self._cond:
                while not self._records and not self._stop:
                    self._cond.wait(1.0)
                    if not self._records:
                        break
                if self._stop and not self._records:
                    return
                batch = self._take_batch()
            try:
                if batch:
                    self._apply_batch(batch)
                self._maybe_heartbeat()
            except _Stopping:
                return
            except StoreReplaced:
                self._rewind()
                continue
            except Exception:  # never let the writer die; report and go on
                _notify("background writer error:\n" + traceback.format_exc())
                time.sleep(RETRY_FIRST_S)

    def _take_batch(self) -> list[Record]:
        """Whole records from the head of the queue, up to ``batch_size`` operations (at least
        one). They stay queued until committed."""
        batch: list[Record] = []
        total = 0
        for record, _ in self._records:
            size = record.size() or self.batch_size
            if batch and total + size > self.batch_size:
                break
            batch.append(record)
            total += size
        return batch

    def _apply_batch(self, batch: list[Record]) -> None:
        loaded = [self._loaded(record) for record in batch]
        ops: list[QueuedOp] = []
        starts: list[int] = []
        for record in loaded:
            starts.append(len(ops))
            ops.extend(record.ops or ())
        last = loaded[-1]
        end = last.position_after(len(last.ops or ()))
        done = False
        if not self._rejected_runs:
            done = self._apply_span(ops, end)
        if not done:
            self._apply_isolating(ops, loaded, starts, end)
        with self._cond:
            for record in batch:
                self._records.popleft()
                if record.ops is not None:
                    self._in_memory -= record.size()
            self._committed += len(batch)
            self._position = end
            self._cond.notify_all()
        journal = self._journal
        if isinstance(journal, JournalWriter) and end.segment > 1:
            journal.drop_segments_before(end.segment)
        self._caught_up()

    def _loaded(self, record: Record) -> Record:
        if record.ops is not None or self._journal is None:
            return record
        loaded = read_record(self._journal.path, record.segment, record.offset)
        if record.first:
            assert loaded.ops is not None
            loaded.ops, loaded.first = loaded.ops[record.first :], record.first
        return loaded

    def _apply_span(self, ops: list[QueuedOp], position: Position) -> bool:
        """Commit ``ops`` and the journal position after them, however long the store takes
        to come back. False when the database refuses one of them for good."""
        delay = RETRY_FIRST_S
        while True:
            try:
                applied = self._commit(ops, position)
            except (OperationalError, DisconnectionError, StoreFileGone) as exc:
                self._unavailable(exc)
                if delay > RETRY_FIRST_S and self.engine is not None:
                    # Connections that saw the failure may stay broken (a restarted
                    # server, a file made read-only and back): reconnect.
                    self.engine.dispose()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    self._refused = exc
                    return False
                self._unavailable(exc)
            except (_Stopping, StoreReplaced, KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                self._refused = exc
                return False
            else:
                self._available()
                self._after_commit(ops, applied)
                return True
            self._sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _apply_isolating(
        self,
        ops: list[QueuedOp],
        records: list[Record],
        starts: list[int],
        end: Position,
    ) -> None:
        """A write the database refuses (constraint, out-of-range value, ...) must not take
        the rest of the batch with it. Halve the batch until the bad operation is alone
        (O(log n) transactions, order kept), then reject only that one. Each part commits
        with the journal position after its last operation, so a replay never repeats it.
        Operations of a run whose creation was refused would each fail (or be orphans): they
        are rejected at once, not one transaction each."""

        def position_after(count: int) -> Position:
            if count >= len(ops):
                return end
            k = bisect.bisect_right(starts, count) - 1
            return records[k].position_after(count - starts[k])

        indexed = list(enumerate(ops))

        def drop_rejected_runs(
            part: list[tuple[int, QueuedOp]],
        ) -> list[tuple[int, QueuedOp]]:
            rejected_runs = self._rejected_runs
            if not rejected_runs:
                return part
            dropped = [op for _, op in part if op_run_id(op) in rejected_runs]
            if not dropped:
                return part
            self._reject(dropped, None)
            return [(i, op) for i, op in part if op_run_id(op) not in rejected_runs]

        remaining = indexed
        while remaining:
            # After each refusal: the refused run's other operations go at once.
            remaining = drop_rejected_runs(remaining)
            size = len(remaining)
            while size:
                part = remaining[:size]
                chunk = [op for _, op in part]
                if self._apply_span(chunk, position_after(part[-1][0] + 1)):
                    break
                if size == 1:
                    self._reject(chunk, self._refused)
                    break
                size //= 2
            remaining = remaining[size:]
        # Rejected operations at the end: move the position past them too.
        self._apply_span([], end)

    def _commit(self, ops: list[QueuedOp], position: Position) -> Applied:
        self._check_store_file()
        stamp = now_ms()
        engine = self.engine
        assert engine is not None
        try:
            with self._db_lock, engine.connect().execution_options(**WRITE) as conn, conn.begin():
                applied = apply(conn, ops, self.state, stamp)
                if position.segment > 0 and self._journal is not None:
                    self._save_position(conn, position)
        except BaseException:
            self.state.forget()
            raise
        # A database file deleted or replaced while we wrote took this batch with it: write
        # it again (to the new file, when there is one).
        self._check_store_file()
        return applied

    def _save_position(self, conn: Connection, position: Position) -> None:
        journal = self._journal
        assert journal is not None
        insert_rows(
            conn,
            "journal_progress",
            ("journal_id", "segment", "offset", "record_ops", "updated_time"),
            [(journal.journal_id, position.segment, position.offset, position.done, now_ms())],
            conflict=("journal_id",),
        )

    def _after_commit(self, ops: list[QueuedOp], applied: Applied) -> None:
        for listener in list(self.listeners):
            try:
                listener(ops)
            except Exception:
                traceback.print_exc()
        if applied.points:
            for point_listener in list(self.point_listeners):
                try:
                    point_listener(applied.points)
                except Exception:
                    traceback.print_exc()

    def _reject(self, ops: list[QueuedOp], error: Exception | None) -> None:
        reason = _error_text(error) if error is not None else "its run was refused by the store"
        stamp = now_ms()
        entries = [
            {
                "time": stamp,
                "journal": self._journal.journal_id if self._journal else None,
                "call": describe(op),
                "error": reason,
                "operation": readable(op),
            }
            for op in ops
        ]
        for op in ops:
            if op[0] == RUN:
                self._rejected_runs.add(op[1]["run_id"])
        where = None
        if self.journal_root is not None:
            try:
                where = record_rejected(self.journal_root, entries)
            except OSError as exc:
                _notify(f"cannot keep refused operations in {self.journal_root}: {exc}")
        kept = f"; kept in {where}" if where else ""
        if error is not None:
            _notify(f"the store refused {describe(ops[0])}: {reason}{kept}")
        else:
            _notify(
                f"{len(ops)} operation(s) of refused run {op_run_id(ops[0])} were not written{kept}"
            )

    # -- replaying another journal -------------------------------------------------------
    def replay(self, journal: JournalRef, records: Iterable[Record]) -> int:
        """Apply ``records`` of another (dead) process's ``journal`` on the calling thread,
        exactly once thanks to its recorded position. Returns the operations applied. Raises
        ``ReplayStopped`` when the store stays unavailable past ``give_up_at``."""
        self._journal = journal  # type: ignore[assignment]
        applied = 0
        try:
            pending: list[Record] = []
            size = 0
            for record in records:
                pending.append(record)
                size += record.size()
                if size >= self.batch_size:
                    applied += self._replay_batch(pending)
                    pending, size = [], 0
            if pending:
                applied += self._replay_batch(pending)
        except _Stopping:
            raise ReplayStopped(self.problem or "the store is unavailable") from None
        finally:
            self._journal = None
        return applied

    def _replay_batch(self, records: list[Record]) -> int:
        with self._cond:
            self._records.extend((record, []) for record in records)
            self._in_memory += sum(r.size() for r in records)
        while True:
            with self._cond:
                if not self._records:
                    break
                batch = self._take_batch()
            self._apply_batch(batch)
        return sum(r.size() for r in records)

    # -- store trouble -------------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> None:
        if self.problem is None and not self._outage:
            self._problem_since = time.monotonic()
        self.problem = _error_text(exc)
        if not self._outage and time.monotonic() - self._problem_since >= (
            0 if isinstance(exc, StoreFileGone) else UNAVAILABLE_NOTICE_S
        ):
            self._outage = True
            where = self._journal.path if self._journal else "memory (no journal)"
            _notify(
                f"the store {self._display()} is not accepting writes ({self.problem}). "
                f"Logging goes on: operations are kept in {where} and written when it is "
                "back. Retrying..."
            )

    def _available(self) -> None:
        self.problem = None

    def _caught_up(self) -> None:
        """After a batch: once an outage's backlog is written, say so (once)."""
        if self._outage and self.problem is None:
            with self._cond:
                behind = bool(self._records)
            if not behind:
                self._outage = False
                _notify(f"the store {self._display()} is back; everything logged is written.")

    def _display(self) -> str:
        from ..config import mask_url

        return repr(mask_url(self.store_url)) if self.store_url else ""

    def _sleep(self, delay: float) -> None:
        # Interruptible by close(): at exit a down store is left to the journal.
        end = time.monotonic() + delay
        while not self._stop and time.monotonic() < end:
            time.sleep(min(0.05, delay))
        if (self._stop and self._outage) or (
            self.give_up_at is not None and time.monotonic() > self.give_up_at
        ):
            raise _Stopping

    def _check_store_file(self) -> None:
        """A SQLite file deleted or replaced under a running process: writes would go on into
        the unlinked file and vanish. Wait for a database at that path again."""
        identity = self._store_file.replacement()  # raises StoreFileGone
        if identity is None:
            return
        # A database exists at the path again (restored, or a new one): use it.
        assert self.engine is not None
        self.engine.dispose()
        self.state.forget()
        if self._on_store_replaced is not None:
            self._on_store_replaced()
        self._store_file.use(identity)
        raise StoreReplaced(f"the database file {self._sqlite_path} was replaced")

    def _rewind(self) -> None:
        """The database file was replaced (restored from a backup, or made anew): write this
        process's journal to it again, from where the new file says it stands (the start,
        for a new file), so runs begun before the switch are complete in it."""
        journal = self._journal
        if not isinstance(journal, JournalWriter):
            return
        start = self._stored_position(journal.journal_id)
        with self._journal_lock, self._cond:
            pending = [record for record, _ in self._records]
            stop = (pending[0].segment, pending[0].offset) if pending else None
            earlier = []
            for record in read_records(journal.path, start):
                if stop is not None and (record.segment, record.offset) >= stop:
                    break
                earlier.append(
                    Record(record.segment, record.offset, record.end, None, record.first)
                )
            self._records.extendleft((record, []) for record in reversed(earlier))
            self._journaled += len(earlier)
            self._cond.notify_all()
        if start is None and not any(n == 1 for n, _ in journal_segments(journal.path)):
            _notify(
                f"the first segments of the journal {journal.path} were already deleted; the "
                "new database gets what this process logged since then."
            )
        _notify(
            f"the database file {self._sqlite_path} was replaced; writing everything this "
            "process logged (from its journal) to the new one."
        )

    def _stored_position(self, journal_id: str) -> Position | None:
        assert self.engine is not None
        p = journal_progress.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(p.segment, p.offset, p.record_ops).where(p.journal_id == journal_id)
            ).first()
        return Position(*row) if row else None

    def _maybe_heartbeat(self) -> None:
        if not self.active_runs or self.problem is not None or self.engine is None:
            return
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_INTERVAL_S:
            return
        self._last_heartbeat = now
        stamp = now_ms()
        active = list(self.active_runs)
        with (
            contextlib.suppress(OperationalError, DBAPIError),
            self._db_lock,
            self.engine.connect().execution_options(**WRITE) as conn,
            conn.begin(),
        ):
            conn.execute(
                update(runs).where(runs.c.run_id == bindparam("rid")).values(heartbeat=stamp),
                [{"rid": rid} for rid in active],
            )


class JournalRef(Protocol):
    """What applying needs of a journal: its id (the progress row) and folder."""

    journal_id: str
    path: Path


class ReplayStopped(Exception):
    """A replay gave up: the store stayed unavailable (the journal is kept)."""


class _Stopping(Exception):
    """close() (or a replay's deadline) while the store is down: leave the rest to the
    journal."""


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _error_text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
