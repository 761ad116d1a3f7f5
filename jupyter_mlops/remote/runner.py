"""One remote cell from start to end: analysis, shipping, running, results, tracking.

Faces (the ``%%remote`` magic) give a namespace, a sink for the output and the options; this
module does the rest, with no IPython front-end code, so it is usable from Python too::

    from jupyter_mlops.remote import run_remote
    result = run_remote("local", "y = x * 2", {"x": 21}, sink=PrintSink())
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InvalidParameterError, RemoteCancelledError, RemoteError
from . import analysis, transfer
from .cell import CellRequest, Outcome, Sink
from .targets import Registry, registry


class RemoteTraceback(Exception):
    """The remote side's traceback, shown as the cause of the re-raised exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text


class RemoteExecutionError(RemoteError):
    """A remote exception that could not be rebuilt here (its class does not unpickle)."""


@dataclass
class RemoteResult:
    target: str
    value: Any = None  # the cell's last expression, when it had one
    assigned: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it stayed remote
    duration_s: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0


class PrintSink:
    """Output to this process's stdout/stderr (scripts, tests)."""

    def stream(self, name: str, text: str) -> None:
        (sys.stderr if name == "stderr" else sys.stdout).write(text)

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        data = content.get("data") or {}
        if "text/plain" in data:
            print(data["text/plain"])

    def relay(self, events: list[list[Any]]) -> None:  # the runner handles relays
        pass

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr)


class _TrackingSink:
    """Relayed tracking calls go into the local run active when the cell started (through
    the normal tracking API, so the live chart shows them); the rest goes to ``inner``."""

    def __init__(self, inner: Sink, run: Any) -> None:
        self.inner = inner
        self.run = run
        self.complained: set[str] = set()

    def stream(self, name: str, text: str) -> None:
        self.inner.stream(name, text)

    def display(self, msg_type: str, content: dict[str, Any]) -> None:
        self.inner.display(msg_type, content)

    def notice(self, text: str) -> None:
        self.inner.notice(text)

    def relay(self, events: list[list[Any]]) -> None:
        run = self.run
        if run is None:
            return
        for event in events:
            try:
                if event[0] == "m":
                    _, key, value, step, stamp = event
                    run.log_metric(key, value, step, stamp)
                elif event[0] == "p":
                    run.log_param(event[1], event[2])
                elif event[0] == "t":
                    run.set_tag(event[1], event[2])
            except InvalidParameterError as exc:
                if str(event[1]) not in self.complained:
                    self.complained.add(str(event[1]))
                    self.inner.notice(f"A relayed tracking call was refused: {exc}")


def _raise_remote(error: dict[str, Any], target: str) -> None:
    __tracebackhide__ = True
    if error.get("ename") == "KeyboardInterrupt":
        raise KeyboardInterrupt
    exc: Any = None
    if error.get("frames"):
        with contextlib.suppress(Exception):
            exc = transfer.decode(error["frames"]).get("exception")
    if not isinstance(exc, BaseException):
        exc = RemoteExecutionError(
            f"{error.get('ename')}: {error.get('evalue')} (raised on target {target!r})"
        )
    raise exc from RemoteTraceback(error.get("traceback", ""))


@dataclass
class PreparedCell:
    """A remote cell checked and packed, nothing sent yet (see ``prepare``)."""

    spec: Any
    request: CellRequest
    namespace: MutableMapping[str, Any]
    targets: Registry
    run: Any  # the local active run, or None


def prepare(
    target: str,
    source: str,
    namespace: MutableMapping[str, Any],
    *,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    timeout: float | None = None,
    label: str | None = None,
    transform: Callable[[str], str] | None = None,
    targets: Registry | None = None,
) -> PreparedCell:
    """Everything that can fail before anything is sent: the target name, the cell's syntax,
    the inputs (each must pickle), their size."""
    from ..config import configured
    from ..tracking import fluent

    settings = configured()  # read once per cell: config files are read each time
    reg = targets or registry()
    spec = reg.resolve(target, settings)
    code = transform(source) if transform is not None else source
    label = label or f"<%%remote {spec.name}>"
    names = analysis.scan(code, label)  # a SyntaxError is the user's: raised before anything
    ins = analysis.inputs_for(names, namespace, inputs)
    outs = analysis.outputs_for(names, outputs)
    max_bytes = int(settings.remote_max_transfer_mb * 1024**2)
    # No inputs, no frames: nothing to send before the cell (one message fewer).
    frames = transfer.dumps({name: namespace[name] for name in ins}, max_bytes) if ins else []
    run = fluent.active_run()
    request = CellRequest(
        token=uuid.uuid4().hex,
        source=code,
        frames=frames,
        outputs=outs,
        has_run=run is not None,
        label=label,
        timeout=timeout,
        max_bytes=max_bytes,
    )
    return PreparedCell(spec, request, namespace, reg, run)


def execute(cell: PreparedCell, sink: Sink) -> RemoteResult:
    """Run a prepared cell (see ``run_remote``)."""
    __tracebackhide__ = True
    spec, run = cell.spec, cell.run
    remote = cell.targets.get(spec)
    started = time.perf_counter()
    status = "FAILED"
    try:
        outcome: Outcome = remote.run(cell.request, _TrackingSink(sink, run))
        status = "FINISHED" if outcome.status == "ok" else "FAILED"
        if outcome.error is not None and outcome.error.get("ename") == "KeyboardInterrupt":
            status = "KILLED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        duration = time.perf_counter() - started
        if run is not None:
            with contextlib.suppress(Exception):
                run.set_tags(
                    {
                        "remote.target": spec.name,
                        "remote.url": spec.url,
                        "remote.status": status,
                        "remote.duration_s": f"{duration:.3f}",
                    }
                )
    if outcome.status != "ok":
        _raise_remote(outcome.error or {}, spec.name)
    values = transfer.decode(outcome.frames)
    value = values.pop("__value__", None)
    cell.namespace.update(values)
    for name, reason in outcome.skipped.items():
        if name != "__value__":
            sink.notice(f"{name} stays on {spec.name!r}: {reason}.")
    return RemoteResult(
        target=spec.name,
        value=value,
        assigned=list(values),
        skipped=outcome.skipped,
        duration_s=duration,
        bytes_sent=outcome.bytes_sent,
        bytes_received=outcome.bytes_received,
    )


def run_remote(
    target: str, source: str, namespace: MutableMapping[str, Any], *, sink: Sink, **options: Any
) -> RemoteResult:
    """Run ``source`` on ``target``: ship the names it reads from ``namespace`` (or
    ``inputs=``), stream its output to ``sink``, put the names it assigns (or ``outputs=``)
    back into ``namespace``. A remote exception is raised here with the remote traceback as
    its cause; KeyboardInterrupt here interrupts the remote side. ``options``: those of
    ``prepare``.

    Inside an active run, the remote cell's ``mlops.log_metric`` calls land in that run, and
    the run gets tags ``remote.target``, ``remote.status`` and ``remote.duration_s``.
    """
    __tracebackhide__ = True
    return execute(prepare(target, source, namespace, **options), sink)


class RemoteHandle:
    """A remote cell running in the background (``%%remote --async``): ``done()``,
    ``result(timeout)`` (the value, or the remote exception), ``cancel()``."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.result_: RemoteResult | None = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._callbacks: list[Callable[[RemoteHandle], None]] = []
        self._lock = threading.Lock()
        self._finished = False  # callbacks taken: later ones are called at once

    def __repr__(self) -> str:
        if not self._done.is_set():
            state = "running"
        elif self.error is not None:
            state = f"failed: {type(self.error).__name__}"
        else:
            state = f"done in {self.result_.duration_s:.2f} s" if self.result_ else "done"
        return f"<RemoteHandle {self.target!r} {state}>"

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the cell; its last expression's value, or its exception raised here."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"The remote cell on {self.target!r} is still running.")
        if self.error is not None:
            raise self.error
        return self.result_.value if self.result_ is not None else None

    def cancel(self) -> bool:
        """Interrupt the cell as Ctrl-C would (the remote side is interrupted or cancelled).
        False when it has already finished."""
        thread = self._thread
        if self._done.is_set() or thread is None or thread.ident is None:
            return False
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
        )
        return True

    def add_done_callback(self, callback: Callable[[RemoteHandle], None]) -> None:
        """Call ``callback(handle)`` when the cell is done (at once if it is)."""
        with self._lock:
            finished = self._finished
            if not finished:
                self._callbacks.append(callback)
        if finished:
            callback(self)

    def _finish(self) -> None:
        # Callbacks (the notebook's notice) first: whoever waits on result() sees it shown.
        with self._lock:
            self._finished = True
        for callback in list(self._callbacks):
            with contextlib.suppress(Exception):
                callback(self)
        self._done.set()


def run_remote_async(
    target: str, source: str, namespace: MutableMapping[str, Any], *, sink: Sink, **options: Any
) -> RemoteHandle:
    """``run_remote`` in a background thread; returns its handle at once (after the checks of
    ``prepare``, which fail here). The names the cell assigns land in ``namespace`` when it
    is done."""
    cell = prepare(target, source, namespace, **options)
    handle = RemoteHandle(cell.spec.name)

    def work() -> None:
        try:
            handle.result_ = execute(cell, sink)
        except KeyboardInterrupt:
            handle.error = RemoteCancelledError(
                f"The remote cell on {handle.target!r} was cancelled."
            )
        except BaseException as exc:
            handle.error = exc
        finally:
            handle._finish()

    handle._thread = threading.Thread(target=work, name=f"mlops-remote-{target}", daemon=True)
    handle._thread.start()
    return handle
