"""Cells on a Dask distributed cluster (``dask:tcp://HOST:PORT``): one task on a worker.

The task runs the agent (shipped by value: workers need only cloudpickle), which captures the
task thread's stdout/stderr and relays tracking calls as events on a Dask topic
(``Worker.log_event``); the client subscribes to the topic and shows them as they come.

Dask cannot cancel a task that is already running. On interrupt or timeout we cancel the
future, then raise KeyboardInterrupt inside the task's thread on its worker: Python code stops
at its next bytecode. Code blocked in C (a long ``time.sleep``, a native library call) cannot
be stopped that way; the user is told so, plainly, and the task's results are discarded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

from ..exceptions import RemoteError, RemoteTimeoutError, RemoteUnreachableError
from . import agent
from .cell import CellRequest, Outcome, Sink, Target, check_versions
from .transfer import frame_nbytes

TOPIC = "jupyter-mlops-remote"
STOP_GRACE = 5.0  # seconds a running task gets to stop after KeyboardInterrupt is raised in it
CONNECT_TIMEOUT = "10s"  # how long to try reaching the scheduler
FINISH_WAIT = 5.0  # seconds to wait for the last output events after the task's result


def _entry() -> Any:
    """The bootstrap ``entry`` function, defined outside any importable module so cloudpickle
    sends it by value."""
    namespace: dict[str, Any] = {"__name__": "jupyter_mlops_remote_bootstrap"}
    exec(compile(agent.BOOTSTRAP, "<jupyter-mlops bootstrap>", "exec"), namespace)  # noqa: S102
    return namespace["entry"]


class DaskTarget(Target):
    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, url)
        self.address = url.split(":", 1)[1] if url.startswith("dask:") else url
        if "://" not in self.address:
            raise RemoteError(f"Target {name!r}: a Dask URL is dask:tcp://HOST:PORT.")
        self.client: Any = None
        self._queues: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._source = agent.source_text()
        self._digest = agent.source_hash(self._source)
        self._entry = _entry()

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        q = self._queues.get(msg.get("token", ""))
        if q is not None:
            q.put(msg)

    def _connect(self) -> Any:
        with self._lock:
            if self.client is not None and self.client.status == "running":
                return self.client
            try:
                from distributed import Client
            except ImportError:
                raise RemoteError(
                    f"Target {self.name!r} needs Dask distributed here: "
                    "pip install 'jupyter-mlops[dask]'."
                ) from None
            try:
                client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise RemoteUnreachableError(
                    f"Target {self.name!r}: cannot reach the Dask scheduler at "
                    f"{self.address}: {exc}"
                ) from None
            try:
                found = client.run(self._entry, self._source, self._digest, "versions")
                for worker, remote in found.items():
                    check_versions(self.name, remote, f"Dask worker {worker}")
                client.subscribe_topic(TOPIC, self._on_event)
            except BaseException:
                client.close()
                raise
            self.client = client
            return client

    def status(self) -> str:
        if self.client is None:
            return "not connected"
        try:
            workers = len(self.client.scheduler_info().get("workers", {}))
        except Exception as exc:
            return f"disconnected ({exc})"
        return f"connected to {self.address}, {workers} worker(s)"

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a client that lost its scheduler
                client.unsubscribe_topic(TOPIC)
            with contextlib.suppress(Exception):
                client.close()

    def run(self, request: CellRequest, sink: Sink) -> Outcome:
        client = self._connect()
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._queues[request.token] = events
        try:
            return _Task(self, client, request, sink, events).wait()
        finally:
            self._queues.pop(request.token, None)


class _Task:
    def __init__(
        self,
        target: DaskTarget,
        client: Any,
        request: CellRequest,
        sink: Sink,
        events: queue.Queue[dict[str, Any]],
    ) -> None:
        self.target, self.client, self.request = target, client, request
        self.sink, self.events = sink, events
        self.worker: str | None = None
        self.finished = False
        # Dask sends bytes as they are (a memoryview would not pickle): one copy here.
        frames = [frame if isinstance(frame, bytes) else bytes(frame) for frame in request.frames]
        self.future = client.submit(
            target._entry,
            target._source,
            target._digest,
            "run_task",
            request.token,
            frames,
            request.source,
            request.outputs,
            request.has_run,
            TOPIC,
            request.label,
            request.max_bytes,
            key=f"mlops-remote-{request.token}",
            pure=False,
        )

    def _drain(self, timeout: float) -> None:
        try:
            msg = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            op = msg.get("op")
            if op == "started":
                if self.worker is not None and msg.get("worker") != self.worker:
                    self.sink.notice(
                        f"Target {self.target.name!r}: worker {self.worker} was lost while "
                        f"running the cell; Dask started it again on {msg.get('worker')}."
                    )
                self.worker = msg.get("worker")
            elif op == "relay":
                for name, text in msg.get("text", []):
                    self.sink.stream(name, text)
                if msg.get("events"):
                    self.sink.relay(msg["events"])
            elif op == "finished":
                self.finished = True
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return

    def wait(self) -> Outcome:
        started = time.monotonic()
        deadline = None if self.request.timeout is None else started + self.request.timeout
        try:
            while not self.future.done():
                self._drain(0.05)
                if self.client.status in ("closing", "closed"):
                    self.target.close()
                    raise RemoteUnreachableError(
                        f"Target {self.target.name!r}: lost the Dask scheduler at "
                        f"{self.target.address} while the cell ran; the next %%remote "
                        "reconnects."
                    )
                if deadline is not None and time.monotonic() > deadline:
                    self._cancel("timeout")
                    raise RemoteTimeoutError(
                        f"Target {self.target.name!r}: the cell ran over --timeout "
                        f"{self.request.timeout:g} s and was cancelled."
                    )
        except KeyboardInterrupt:
            self._cancel("interrupt")
            raise
        try:
            report = self.future.result()
        except Exception as exc:  # the task could not run (worker lost, deserialization)
            raise RemoteError(
                f"Target {self.target.name!r}: the Dask task failed outside the cell: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        end = time.monotonic() + FINISH_WAIT
        while not self.finished and time.monotonic() < end:
            self._drain(0.05)
        frames = list(report.get("frames") or [])
        return Outcome(
            status=report["status"],
            frames=frames,
            skipped=report.get("skipped") or {},
            error=report.get("error"),
            bytes_sent=frame_nbytes(self.request.frames),
            bytes_received=frame_nbytes(frames),
        )

    def _cancel(self, why: str) -> None:
        """Cancel the future; stop the running task if it started; say plainly if it cannot."""
        self.future.cancel()
        self._drain(0)
        if self.worker is None or self.finished:
            self.sink.notice(f"Target {self.target.name!r}: the task was cancelled.")
            return
        try:
            stopped = self.client.run(
                self.target._entry,
                self.target._source,
                self.target._digest,
                "stop_task",
                self.request.token,
                workers=[self.worker],
            )
        except Exception:
            stopped = {}
        end = time.monotonic() + STOP_GRACE
        while not self.finished and time.monotonic() < end:
            self._drain(0.05)
        if self.finished:
            self.sink.notice(
                f"Target {self.target.name!r}: the running task was stopped on {self.worker}."
            )
        else:
            self.sink.notice(
                f"Target {self.target.name!r}: the task is still running on worker "
                f"{self.worker} and cannot be stopped: "
                + (
                    "it is blocked in code that does not return to Python (a C extension or a "
                    "long sleep), and Dask cannot kill a running task. "
                    if any(stopped.values())
                    else "it was not found on its worker. "
                )
                + "It will run to its end there; its output and results are discarded."
            )
