"""The remote side of ``%%remote``: runs a cell where it is sent, and reports back.

This module is self-contained (the standard library and cloudpickle only): its source is sent
to the remote kernel or Dask worker and executed there as the module ``MODULE_NAME``, so the
remote side needs no jupyter-mlops install and always speaks the same protocol as the client.
The client imports it too, for the wire format (``encode``/``decode``) they share.

What it does there:
- puts the inputs back together (``Assembler``), runs the cell in the kernel's namespace (a
  fresh one on Dask), and pickles the names asked back;
- relays ``mlops.log_metric``/``log_param``/``set_tag`` calls of the cell to the client
  (``Outbox``) instead of opening a database: over the kernel's IOPub channel as comm
  messages, or over Dask's event topics. The local side logs them into its active run;
- on Dask, captures the task thread's stdout/stderr and forwards them while the task runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import linecache
import os
import pickle
import platform
import socket
import sys
import threading
import time
import traceback
import types
from typing import Any

MODULE_NAME = "jupyter_mlops_remote_agent"
COMM_TARGET = "jupyter_mlops.remote"
PROTOCOL = 5
FLUSH_INTERVAL = 0.1  # seconds between relayed batches (metrics, Dask output)
RELAYED = ("log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags")


# -- wire format -------------------------------------------------------------------------------
def encode(values: dict[str, Any]) -> list[Any]:
    """``{name: value}`` -> frames: the pickle stream, then one raw frame per out-of-band
    buffer (protocol 5: array memory is never copied into the stream)."""
    import cloudpickle

    buffers: list[pickle.PickleBuffer] = []
    head = cloudpickle.dumps(values, protocol=PROTOCOL, buffer_callback=buffers.append)
    return [head, *(buffer.raw() for buffer in buffers)]


def decode(frames: list[Any]) -> dict[str, Any]:
    """Frames -> ``{name: value}``; read-only frames (received memory) are copied once, so
    arrays come back writable."""
    if not frames:
        return {}
    buffers = [f if isinstance(f, bytearray) else bytearray(f) for f in frames[1:]]
    return pickle.loads(bytes(frames[0]), buffers=buffers)


def split_frames(frames: list[Any], chunk_bytes: int) -> list[tuple[int, int, int, Any]]:
    """Frames cut in pieces of at most ``chunk_bytes``: (index, offset, frame size, piece)."""
    pieces: list[tuple[int, int, int, Any]] = []
    for index, frame in enumerate(frames):
        view = memoryview(frame).cast("B")
        if view.nbytes == 0:
            pieces.append((index, 0, 0, b""))
        for offset in range(0, view.nbytes, chunk_bytes):
            pieces.append((index, offset, view.nbytes, view[offset : offset + chunk_bytes]))
    return pieces


def human(size: float) -> str:
    """Bytes for people: 512 B, 1.5 kB, 104.9 MB."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


class Assembler:
    """Pieces of frames (``split_frames``) put back together, one frame buffer each."""

    def __init__(self, count: int) -> None:
        self.frames: list[bytearray | None] = [None] * count

    def put(self, index: int, offset: int, size: int, piece: Any) -> None:
        frame = self.frames[index]
        if frame is None:
            frame = self.frames[index] = bytearray(size)
        view = memoryview(piece).cast("B")
        frame[offset : offset + view.nbytes] = view

    def result(self) -> list[bytearray]:
        missing = [i for i, f in enumerate(self.frames) if f is None]
        if missing:
            raise RuntimeError(f"input frames {missing} never arrived")
        return [f for f in self.frames if f is not None]


def versions() -> dict[str, Any]:
    """What the client checks before anything moves: pickles of code objects only load on the
    same Python minor version and cloudpickle."""
    try:
        import cloudpickle

        cloudpickle_version = cloudpickle.__version__
    except ImportError:
        cloudpickle_version = None
    return {
        "python": platform.python_version(),
        "cloudpickle": cloudpickle_version,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "executable": sys.executable,
    }


# -- relaying tracking calls ---------------------------------------------------------------------
class Outbox:
    """What the running cell sends home, batched: tracking events and (Dask) output text.
    ``send`` gets a dict; it is called at most every ``FLUSH_INTERVAL`` seconds (from the
    cell's thread or a small timer thread), and once more at ``close``."""

    def __init__(self, send: Any, has_run: bool) -> None:
        self.send = send
        self.has_run = has_run
        self._events: list[list[Any]] = []
        self._text: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()  # batches leave in order
        self._last = time.monotonic()
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None  # started by the first thing to send

    def _queued(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(
                target=self._tick, name="mlops-remote-outbox", daemon=True
            )
            self._timer.start()
        if time.monotonic() - self._last >= FLUSH_INTERVAL:
            self.flush()

    def event(self, event: list[Any]) -> None:
        if not self.has_run:
            raise RuntimeError(
                "No active run on the local side: start one around the %%remote cell "
                "(%%track, %track start, or mlops.start_run()) to log from the remote cell."
            )
        with self._lock:
            self._events.append(event)
        self._queued()

    def stream(self, name: str, text: str) -> None:
        with self._lock:
            if self._text and self._text[-1][0] == name:
                self._text[-1] = (name, self._text[-1][1] + text)
            else:
                self._text.append((name, text))
        self._queued()

    def flush(self) -> None:
        with self._sending:
            with self._lock:
                events, self._events = self._events, []
                text, self._text = self._text, []
                self._last = time.monotonic()
            if events or text:
                self.send({"op": "relay", "events": events, "text": text})

    def _tick(self) -> None:
        while not self._closed.wait(FLUSH_INTERVAL):
            if self._events or self._text:
                with contextlib.suppress(Exception):  # a failed send must not kill the cell
                    self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()


_local = threading.local()  # .outbox of a Dask task thread, .sink of its captured streams
_process_outbox: Outbox | None = None  # a kernel runs one cell at a time: the whole process


def current_outbox() -> Outbox | None:
    return getattr(_local, "outbox", None) or _process_outbox


def _number(key: Any, value: Any) -> float:
    if not isinstance(key, str) or not key:
        raise ValueError(f"Metric key must be a non-empty string, got {key!r}.")
    if isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"Metric {key!r} must be a number, got {type(value).__name__} {value!r}.")
    return float(value)


def _relay_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], outbox: Outbox) -> None:
    def bound(*a: Any, **k: Any) -> dict[str, Any]:
        params = {
            "log_metric": ("key", "value", "step"),
            "log_metrics": ("metrics", "step"),
            "log_param": ("key", "value"),
            "log_params": ("params",),
            "set_tag": ("key", "value"),
            "set_tags": ("tags",),
        }[name]
        out = dict(zip(params, a, strict=False))
        out.update(k)
        return out

    call = bound(*args, **kwargs)
    stamp = int(time.time() * 1000)
    step = call.get("step")
    step = None if step is None else int(step)
    if name == "log_metric":
        outbox.event(["m", call["key"], _number(call["key"], call["value"]), step, stamp])
    elif name == "log_metrics":
        points = [["m", k, _number(k, v), step, stamp] for k, v in dict(call["metrics"]).items()]
        for point in points:
            outbox.event(point)
    elif name in ("log_param", "set_tag"):
        kind = "p" if name == "log_param" else "t"
        outbox.event([kind, call["key"], str(call["value"])])
    else:
        kind = "p" if name == "log_params" else "t"
        for key, value in dict(call["params" if kind == "p" else "tags"]).items():
            outbox.event([kind, key, str(value)])


_shim_targets: list[Any] = []  # the modules install_shim wrapped

# Marks this copy's wrappers: a worker shared by clients of two versions holds two copies of
# this module, and each cell must relay through its own copy's outbox.
_MARK = object()


def _relaying(name: str, original: Any) -> Any:
    def relayed(*args: Any, **kwargs: Any) -> Any:
        outbox = current_outbox()
        if outbox is None:  # not inside a remote cell (or another thread of a Dask worker)
            if original is None:
                raise RuntimeError(f"mlops.{name} only works inside a %%remote cell here.")
            return original(*args, **kwargs)
        return _relay_call(name, args, kwargs, outbox)

    relayed.__name__ = name
    relayed.__wrapped__ = original  # type: ignore[attr-defined]
    relayed.__jupyter_mlops_relay__ = _MARK  # type: ignore[attr-defined]
    return relayed


def install_shim() -> None:
    """Make ``mlops.log_metric`` (and friends) relay to the client inside remote cells.

    With jupyter-mlops installed remotely, its functions are wrapped (outside remote cells, and
    in other threads of a shared Dask worker, they behave as before); without it, a small
    stand-in ``jupyter_mlops`` module offers the relayed calls only.
    """
    global _shim_targets
    if _shim_targets and all(
        getattr(getattr(module, name, None), "__jupyter_mlops_relay__", None) is _MARK
        for module in _shim_targets
        for name in RELAYED
    ):
        return  # every cell calls this: the usual case costs a few attribute reads
    import importlib.util

    try:
        installed = importlib.util.find_spec("jupyter_mlops") is not None
    except (ImportError, ValueError):
        installed = False
    if installed:
        import jupyter_mlops
        import jupyter_mlops.tracking.fluent as fluent

        targets = [jupyter_mlops, fluent]
    else:
        stand_in = sys.modules.get("jupyter_mlops")
        if stand_in is None:
            stand_in = types.ModuleType("jupyter_mlops", "Relays tracking calls to the client.")
            sys.modules["jupyter_mlops"] = stand_in
        targets = [stand_in]
    for module in targets:
        for name in RELAYED:
            current = getattr(module, name, None)
            mark = getattr(current, "__jupyter_mlops_relay__", None)
            if mark is _MARK:
                continue
            if mark is not None:  # another copy of the agent (another client's version)
                current = getattr(current, "__wrapped__", None)
            setattr(module, name, _relaying(name, current))
    _shim_targets = targets


# -- running a cell --------------------------------------------------------------------------
def _compile_cell(source: str, filename: str) -> tuple[Any, Any]:
    import ast

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)
    last = None
    final = tree.body[-1] if tree.body else None
    if isinstance(final, ast.Expr) and not source.rstrip().endswith(";"):
        tree.body.pop()
        last = ast.Expression(final.value)
    body = compile(tree, filename, "exec")
    return body, None if last is None else compile(last, filename, "eval")


def _error_info(exc: BaseException, filename: str) -> dict[str, Any]:
    """The exception as the client shows it: type, message, the traceback from the cell's own
    frames on (the agent's are dropped), and the exception pickled when it pickles."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    info: dict[str, Any] = {
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": text,
        "frames": None,
    }
    with contextlib.suppress(Exception):
        exc.__traceback__ = None
        info["frames"] = encode({"exception": exc})
    return info


def run_cell(
    source: str,
    namespace: dict[str, Any],
    outputs: list[str],
    filename: str,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Run ``source`` in ``namespace``; pickle back ``outputs`` (and a last expression's
    value). Returns a report: ``status`` ok|error, ``frames``, ``skipped`` {name: reason},
    ``error`` (see ``_error_info``). Outputs weighing more than ``max_bytes`` together stay
    here, each named with its size."""
    report: dict[str, Any] = {"status": "ok", "frames": [], "skipped": {}, "error": None}
    try:
        body, last = _compile_cell(source, filename)
        exec(body, namespace)  # noqa: S102 - running the user's cell is the point
        value = eval(last, namespace) if last is not None else None  # noqa: S307
    except BaseException as exc:  # KeyboardInterrupt too: the client re-raises it
        report["status"] = "error"
        report["error"] = _error_info(exc, filename)
        return report
    values = {name: namespace[name] for name in outputs if name in namespace}
    if last is not None and value is not None:
        values["__value__"] = value
    try:
        report["frames"] = encode(values)
    except Exception:
        for name in list(values):
            try:
                encode({name: values[name]})
            except Exception as exc:
                report["skipped"][name] = f"it cannot be pickled ({type(exc).__name__}: {exc})"
                if name == "__value__":
                    _show(values[name])
                del values[name]
        report["frames"] = encode(values)
    total = sum(memoryview(frame).nbytes for frame in report["frames"])
    if max_bytes is not None and total > max_bytes:
        for name, value in values.items():
            size = sum(memoryview(frame).nbytes for frame in encode({name: value}))
            report["skipped"][name] = (
                f"the outputs weigh {human(total)} together, over the {human(max_bytes)} "
                f"limit; this one {human(size)}. Pick fewer with --out, or raise "
                "c.MLOps.remote_max_transfer_mb"
            )
        report["frames"] = encode({})
    return report


def _input_error(exc: Exception) -> dict[str, Any]:
    """The report of a cell whose inputs did not load here (a module or class missing)."""
    error = {
        "ename": type(exc).__name__,
        "evalue": f"the variables sent could not be loaded there: {exc}",
        "traceback": "",
        "frames": None,
    }
    return {"status": "error", "frames": [], "skipped": {}, "error": error}


def _show(value: Any) -> None:
    """An unpicklable last value is displayed where it lives (its rich output streams home)."""
    with contextlib.suppress(Exception):
        from IPython.display import display

        display(value)


# -- in a kernel ---------------------------------------------------------------------------
class KernelAgent:
    """Registered as a comm target; the client opens one comm, sends inputs over it, then
    executes ``run(...)``. Results go back as comm messages, the frames as binary buffers."""

    def __init__(self) -> None:
        self.comm: Any = None
        self.pending: dict[str, Assembler] = {}
        from IPython import get_ipython

        self.shell = get_ipython()
        self.kernel = self.shell.kernel
        self.kernel.comm_manager.register_target(COMM_TARGET, self._opened)
        install_shim()

    def _opened(self, comm: Any, msg: dict[str, Any]) -> None:
        self.comm = comm
        comm.on_msg(self._received)

    def _received(self, msg: dict[str, Any]) -> None:
        data = msg["content"]["data"]
        if data.get("op") == "put":
            assembler = self.pending.get(data["token"])
            if assembler is None:
                assembler = self.pending[data["token"]] = Assembler(data["count"])
            buffers = msg.get("buffers") or [b""]
            assembler.put(data["index"], data["offset"], data["size"], buffers[0])
        elif data.get("op") == "drop":
            self.pending.pop(data["token"], None)

    def _sender(self, token: str) -> Any:
        parent = self.kernel.get_parent()
        comm = self.comm
        session, socket_ = self.kernel.session, self.kernel.iopub_socket

        def send(data: dict[str, Any], buffers: list[Any] | None = None) -> None:
            data = dict(data, token=token)
            content = {"comm_id": comm.comm_id, "data": data}
            session.send(
                socket_, "comm_msg", content, parent=parent, ident=comm.topic, buffers=buffers
            )

        return send

    def run(
        self,
        token: str,
        source: str,
        outputs: list[str],
        has_run: bool,
        label: str,
        chunk_bytes: int,
        max_bytes: int | None = None,
    ) -> None:
        global _process_outbox
        assembler = self.pending.pop(token, None)
        send = self._sender(token)
        namespace = self.shell.user_ns
        try:
            inputs = decode(assembler.result()) if assembler is not None else {}
        except Exception as exc:
            report = _input_error(exc)
        else:
            namespace.update(inputs)
            del inputs
            outbox = _process_outbox = Outbox(send, has_run)
            install_shim()  # a jupyter_mlops imported by an earlier cell gets wrapped too
            try:
                report = run_cell(source, namespace, outputs, label, max_bytes)
            finally:
                _process_outbox = None
                with contextlib.suppress(Exception):
                    outbox.close()
        frames = report.pop("frames")
        error = report.get("error")
        error_frames = (error.pop("frames", None) or []) if error else []
        # Binary parts ride as buffers (the JSON part would base64 them): the results, then
        # the pickled exception, in pieces a WebSocket client can take.
        frames = frames + error_frames
        result = dict(report, op="result", frames=len(frames), error_frames=len(error_frames))
        if sum(memoryview(frame).nbytes for frame in frames) <= chunk_bytes:
            send(dict(result, inline=True), frames)  # small: one message
            return
        for index, offset, size, piece in split_frames(frames, chunk_bytes):
            data = {"op": "part", "count": len(frames), "index": index}
            send(dict(data, offset=offset, size=size), [piece])
        send(result)


def install_kernel_agent() -> dict[str, Any]:
    """Run in the remote kernel at first use: register the comm target, report versions."""
    module = sys.modules[MODULE_NAME]
    if getattr(module, "agent", None) is None:
        module.agent = KernelAgent()  # type: ignore[attr-defined]
    return versions()


# -- on a Dask worker ------------------------------------------------------------------------
class _Router:
    """sys.stdout/stderr of a worker process: a task thread's writes go to its capture, every
    other thread's to the stream it replaced."""

    def __init__(self, name: str, original: Any) -> None:
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        outbox = getattr(_local, "outbox", None)
        if outbox is None:
            return self._original.write(text)
        outbox.stream(self._name, text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _route_streams() -> None:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _Router):
            setattr(sys, name, _Router(name, stream))


_tasks: dict[str, int] = {}  # token -> thread id of the task running it


def run_task(
    token: str,
    frames: list[Any],
    source: str,
    outputs: list[str],
    has_run: bool,
    topic: str,
    label: str,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """A ``%%remote`` cell as a Dask task: its output and tracking calls go to ``topic`` while
    it runs; returns the report of ``run_cell`` (frames included)."""
    from distributed import get_worker

    worker = get_worker()

    def send(data: dict[str, Any]) -> None:
        worker.log_event(topic, dict(data, token=token))

    install_shim()
    _route_streams()
    _tasks[token] = threading.get_ident()
    send({"op": "started", "worker": worker.address, "versions": versions()})
    outbox = _local.outbox = Outbox(send, has_run)
    try:
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        try:
            namespace.update(decode(frames))
        except Exception as exc:
            return _input_error(exc)
        report = run_cell(source, namespace, outputs, label, max_bytes)
        # Dask sends bytes as they are (a memoryview would not pickle): one copy here.
        report["frames"] = [bytes(frame) for frame in report["frames"]]
        return report
    finally:
        _local.outbox = None
        _tasks.pop(token, None)
        with contextlib.suppress(Exception):
            outbox.close()
        send({"op": "finished"})


def stop_task(token: str) -> bool:
    """Raise KeyboardInterrupt in the thread running ``token`` (it lands at the next Python
    bytecode; code blocked in C keeps running until it returns). False: not running here."""
    import ctypes

    ident = _tasks.get(token)
    if ident is None:
        return False
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
    )
    return True


# -- bootstrap ---------------------------------------------------------------------------------
def source_text() -> str:
    """This module's source, as sent to the remote side."""
    import inspect

    return inspect.getsource(sys.modules[__name__])


def source_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# Defined in a module that does not exist on the remote side, ``entry`` pickles by value:
# the remote side needs only cloudpickle. It loads the agent from source when missing (or
# when another client sent another version), then calls it.
BOOTSTRAP = """
def entry(source, digest, name, *args):
    import sys, types
    module = sys.modules.get("jupyter_mlops_remote_agent")
    if module is None or getattr(module, "SOURCE_HASH", None) != digest:
        module = types.ModuleType("jupyter_mlops_remote_agent")
        module.__dict__["SOURCE_HASH"] = digest
        sys.modules["jupyter_mlops_remote_agent"] = module
        exec(compile(source, "<jupyter-mlops remote agent>", "exec"), module.__dict__)
    return getattr(module, name)(*args)
"""
