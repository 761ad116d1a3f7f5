"""Slow capture (git subprocesses, package metadata) run off the caller's thread, on a thread
of its own, each result queued as a run update.

Calls added with ``add_to_batch`` under one key share one call: the items added before it
runs are handed to it together (a sweep's runs captured once, not once each, which would
also cost a GIL hand-over per system call while the sweep's loop holds the GIL).

Not on the writer's threads: the capture's many small I/O waits each hand the GIL to a busy
cell and wait up to 5 ms to get it back, so under a tight logging loop it takes seconds, and
the journal and the database must not wait behind it. ``flush`` waits for these calls first.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from .ops import UPDATE, RunUpdate

# A deferred call returns the run it is about and the run columns it computed.
Capture = Callable[[], tuple[str, dict[str, Any]]]
# A batched call gets the items added under its key and returns the updates of their runs.
BatchCapture = Callable[[list[Any]], list[tuple[str, dict[str, Any]]]]


class DeferredCalls:
    """Calls run in order on one daemon thread (started on demand); each ``(run_id,
    values)`` they return (a batched call: a list of them) is handed to ``submit`` as a
    ``RunUpdate``."""

    def __init__(self, submit: Callable[[RunUpdate], None]) -> None:
        self._submit = submit
        self._calls: deque[Callable[[], Any]] = deque()
        self._pending = 0
        self._done = threading.Condition()
        self.thread: threading.Thread | None = None
        # key -> items waiting for the call already queued for that key
        self._batches: dict[str, list[Any]] = {}

    def add(self, fn: Capture) -> None:
        self._add(fn)

    def _add(self, fn: Callable[[], Any]) -> None:
        with self._done:
            self._calls.append(fn)
            self._pending += 1
            self._done.notify_all()
            thread = self.thread
            if thread is None or not thread.is_alive():
                self.thread = threading.Thread(
                    target=self._loop, name="jupyter-mlops-capture", daemon=True
                )
                self.thread.start()

    def add_to_batch(self, key: str, fn: BatchCapture, item: Any) -> None:
        """Queue ``item`` for ``fn``: a call is queued when no call for ``key`` is waiting
        to start; the items added until it starts are all handed to it."""
        with self._done:
            waiting = self._batches.get(key)
            if waiting is not None:
                waiting.append(item)
                return
            self._batches[key] = [item]
        self._add(lambda: self._run_batch(key, fn))

    def _run_batch(self, key: str, fn: BatchCapture) -> list[tuple[str, dict[str, Any]]]:
        with self._done:
            items = self._batches.pop(key)
        return fn(items)

    def wait(self, timeout: float | None) -> bool:
        """Block until every call added has queued its update. False on timeout."""
        if threading.current_thread() is self.thread:
            return True
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def _loop(self) -> None:
        done = self._done
        while True:
            with done:
                while not self._calls:
                    done.wait()
                fn = self._calls.popleft()
            try:
                result = fn()
                for run_id, values in result if isinstance(result, list) else (result,):
                    self._submit(RunUpdate(UPDATE, run_id, values))
            except Exception:
                traceback.print_exc()
            finally:
                with done:
                    self._pending -= 1
                    done.notify_all()
