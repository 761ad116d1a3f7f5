"""Slow capture (git subprocesses, package metadata) run off the caller's thread, on a thread
of its own, each result queued as a run update.

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


class DeferredCalls:
    """Calls run in order on one daemon thread (started on demand); each ``(run_id,
    values)`` they return is handed to ``submit`` as a ``RunUpdate``."""

    def __init__(self, submit: Callable[[RunUpdate], None]) -> None:
        self._submit = submit
        self._calls: deque[Capture] = deque()
        self._pending = 0
        self._done = threading.Condition()
        self.thread: threading.Thread | None = None

    def add(self, fn: Capture) -> None:
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
                run_id, values = fn()
            except Exception:
                traceback.print_exc()
            else:
                self._submit(RunUpdate(UPDATE, run_id, values))
            finally:
                with done:
                    self._pending -= 1
                    done.notify_all()
