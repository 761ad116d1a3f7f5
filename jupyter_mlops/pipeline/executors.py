"""Executors: run step notebooks with papermill, locally in parallel or on a Dask cluster.

papermill runs each step through its engine API: ``WarmKernelEngine`` is papermill's nbclient
engine given an already running kernel from a ``KernelPool``, so a kernel start (~0.3-1 s) is
paid once per worker instead of once per step. The first cell of every step notebook gives
the step a clean namespace (``kernel.begin``); a kernel whose step failed is shut down, never
reused.

- ``LocalExecutor``: ``jobs`` threads, each step on a pooled kernel.
- ``DaskExecutor``: each step is a task on a ``distributed`` cluster; every worker process
  keeps its own kernel pool. Steps exchange values through the cache folder, so on a real
  multi-machine cluster that folder must be shared (the same path on every worker).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import contextvars
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ..config import HEADLESS_ENV
from ..exceptions import PipelineError, SchedulerUnreachableError

CONNECT_TIMEOUT = 10.0  # seconds to reach a Dask scheduler
ENGINE_NAME = "jupyter-mlops-pipeline"  # papermill engine name (beside tracking's "jupyter-mlops")
STDOUT_TAIL = 4000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class StepTask:
    """Everything a process needs to run one step (picklable: it travels to Dask workers)."""

    step: str
    notebook: dict[str, Any]  # the generated step notebook (nbformat 4 JSON)
    output_path: str  # where papermill writes the executed notebook
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel_name: str | None = None
    cwd: str | None = None
    timeout: int | None = None
    warm: bool = True


@dataclass
class StepResult:
    step: str
    ok: bool
    started: float
    ended: float
    error: str | None = None  # "ename: evalue"
    ename: str | None = None
    traceback: str = ""
    notebook: bytes | None = None  # the executed notebook
    stdout: str = ""  # its tail
    kernel_reused: bool = False
    host: str = ""

    @property
    def duration(self) -> float:
        return self.ended - self.started


def _preload() -> None:
    """Import what steps need in the calling thread first: threads importing jupyter_client
    at the same time can see it half initialised (a circular import between its modules)."""
    import jupyter_client.manager  # noqa: F401
    import papermill  # noqa: F401

    _register_engine()


def _register_engine() -> None:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import Engine, papermill_engines
    from papermill.iorw import write_ipynb
    from papermill.utils import merge_kwargs, remove_args

    if ENGINE_NAME in papermill_engines._engines:
        return

    class WarmKernelEngine(Engine):
        """papermill's nbclient engine, on a kernel that is already running (``km``)."""

        @classmethod
        def execute_notebook(
            cls, nb: Any, kernel_name: str, output_path: str | None = None, **kwargs: Any
        ) -> Any:
            """The executed notebook is written once. papermill's engine writes it when the
            notebook starts and at every cell's start and end (for someone watching the
            file), then execute_notebook writes it again when it ends; nobody watches a
            step's staging file. It is written here only when the engine fails (a timeout,
            a dead kernel), with the cells that ran, where papermill's last write would have
            left it; otherwise execute_notebook's final write (or its error write) is the one.
            """
            try:
                return super().execute_notebook(nb, kernel_name, output_path=None, **kwargs)
            except BaseException:
                if output_path:
                    with contextlib.suppress(Exception):
                        write_ipynb(nb, output_path)
                raise

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            km: Any = None,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, km=km, **final)
            try:
                return client.execute()
            finally:
                if km is not None and client.kc is not None:
                    client.kc.stop_channels()  # the kernel stays up for the next step

    papermill_engines.register(ENGINE_NAME, WarmKernelEngine)


_SPECS: Any = None


def _kernel_spec_manager() -> Any:
    """jupyter_client's kernel spec lookup, without its import of IPython.

    A ``KernelManager`` looks its kernel up with a ``KernelSpecManager`` whose default folders
    add IPython's own (``~/.ipython/kernels``), found by importing ``IPython``: 0.25 s of this
    process's time, in the thread that starts the first kernel, before that kernel's process
    exists. The same folders, from the same environment variable and default.
    """
    global _SPECS
    if _SPECS is None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_core.paths import jupyter_path

        ipython_dir = os.environ.get("IPYTHONDIR") or os.path.join("~", ".ipython")
        ipython_kernels = os.path.join(os.path.expanduser(ipython_dir), "kernels")
        _SPECS = KernelSpecManager(kernel_dirs=[*jupyter_path("kernels"), ipython_kernels])
    return _SPECS


def _kill(km: Any) -> None:
    """Kill a kernel now; one that is dead already is no error."""
    with contextlib.suppress(Exception):
        km.shutdown_kernel(now=True)


_READY_CLIENT: Any = None


def _ready_client_class() -> Any:
    """jupyter_client's async client, with a shorter readiness check.

    It retries connecting to a kernel that is still starting every 10 ms instead of 100 ms
    (``_context_default``). A new client checks the kernel answers on the shell channel and
    that its IOPub subscription is live (some message arrives), as jupyter_client does; then
    it flushes IOPub until 10 ms pass without a message instead of 200 ms. That quiet period
    was most of the cost of running a step on a warm kernel (each step connects a new client:
    clients belong to the event loop of the thread that runs the step). Late messages are
    harmless: nbclient ignores messages that answer other requests.
    """
    global _READY_CLIENT
    if _READY_CLIENT is not None:
        return _READY_CLIENT
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        def _context_default(self) -> Any:
            # A step's client often connects before its new kernel has bound its sockets;
            # ZeroMQ then retries every RECONNECT_IVL, 100 ms by default: on average 50 ms
            # more before the first step's kernel answers. Local sockets: retry every 10 ms.
            import zmq

            context = super()._context_default()
            context.setsockopt(zmq.RECONNECT_IVL, 10)
            return context

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.time() + (timeout if timeout is not None else 60.0)
            while True:
                self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    try:
                        await self.iopub_channel.get_msg(timeout=0.05)
                    except Empty:
                        pass  # not subscribed yet: ask again
                    else:
                        self._handle_kernel_info_reply(reply)
                        break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.time() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
            while True:
                try:
                    await self.iopub_channel.get_msg(timeout=0.01)
                except Empty:
                    break

    _READY_CLIENT = ReadyClient
    return ReadyClient


class KernelPool:
    """Running kernels, reused step after step. Thread-safe."""

    def __init__(self, cwd: str | None = None) -> None:
        self.cwd = cwd
        self.started = 0  # kernels started by this pool
        self._idle: dict[str | None, list[Any]] = {}
        self._starting: dict[str | None, int] = {}
        self._busy: dict[str | None, int] = {}
        self._all: list[Any] = []
        self._cond = threading.Condition()
        self._closed = False
        self._sockets: str | None = None
        self._serial = 0

    def _start(self, kernel_name: str | None) -> Any:
        from jupyter_client import KernelManager

        specs = _kernel_spec_manager()
        if os.name == "nt":
            km = KernelManager(kernel_name=kernel_name or "python3", kernel_spec_manager=specs)
        else:
            # Unix sockets in a folder of the pool's: no TCP ports to collide, nothing on the
            # network (ipykernel warns about unencrypted TCP at every start otherwise).
            with self._cond:
                if self._sockets is None:
                    self._sockets = tempfile.mkdtemp(prefix="mlops-kernels-")
                self._serial += 1
                prefix = os.path.join(self._sockets, f"k{self._serial}")
            km = KernelManager(
                kernel_name=kernel_name or "python3",
                transport="ipc",
                ip=prefix,
                kernel_spec_manager=specs,
            )
        km.client_factory = _ready_client_class()  # nbclient drives the kernel asynchronously
        # Headless: no live widget in a step kernel, nobody watches it.
        km.start_kernel(cwd=self.cwd, env={**os.environ, HEADLESS_ENV: "1"})
        with self._cond:
            self.started += 1
            self._all.append(km)
        return km

    def prestart(self, kernel_name: str | None, count: int) -> None:
        """Start kernels in the background until ``count`` are idle or starting."""
        with self._cond:
            have = (
                len(self._idle.get(kernel_name, []))
                + self._starting.get(kernel_name, 0)
                + self._busy.get(kernel_name, 0)
            )
            missing = max(0, count - have)
            self._starting[kernel_name] = self._starting.get(kernel_name, 0) + missing
        for _ in range(missing):
            threading.Thread(
                target=self._start_idle, args=(kernel_name,), daemon=True, name="mlops-kernel"
            ).start()

    def _start_idle(self, kernel_name: str | None) -> None:
        km = None
        try:
            km = self._start(kernel_name)
        except Exception:  # noqa: BLE001 - acquire() starts one itself and reports the error
            traceback.print_exc()
        with self._cond:
            self._starting[kernel_name] -= 1
            if km is not None:
                self._idle.setdefault(kernel_name, []).append(km)
            self._cond.notify_all()

    def acquire(self, kernel_name: str | None) -> tuple[Any, bool]:
        """A running kernel: (manager, whether it ran a step before)."""
        with self._cond:
            while True:
                idle = self._idle.get(kernel_name)
                while idle:
                    km = idle.pop()
                    if km.is_alive():
                        self._busy[kernel_name] = self._busy.get(kernel_name, 0) + 1
                        return km, getattr(km, "_mlops_steps", 0) > 0
                    self._drop(km)
                if not self._starting.get(kernel_name):
                    break
                self._cond.wait()
            self._busy[kernel_name] = self._busy.get(kernel_name, 0) + 1
        try:
            return self._start(kernel_name), False
        except BaseException:
            with self._cond:
                self._busy[kernel_name] -= 1
            raise

    def release(self, km: Any, healthy: bool, kernel_name: str | None = None) -> None:
        km._mlops_steps = getattr(km, "_mlops_steps", 0) + 1
        with self._cond:
            self._busy[kernel_name] = max(0, self._busy.get(kernel_name, 0) - 1)
        if healthy and not self._closed and km.is_alive():
            with self._cond:
                self._idle.setdefault(kernel_name, []).append(km)
                self._cond.notify_all()
            return
        self._stop([km])

    def _drop(self, km: Any) -> None:
        if km in self._all:
            self._all.remove(km)

    def _stop(self, kernels: list[Any], now: bool = False) -> None:
        """Stop kernels together: ask them all to shut down, then wait for each, checking
        every 10 ms. (``shutdown_kernel`` interrupts the kernel first and checks every 100 ms:
        0.2 s for a kernel that exits 0.1 s after the request, one kernel after the other.)
        A kernel that does not exit is terminated, then killed, as ``shutdown_kernel`` does;
        ``now``: killed at once."""
        with self._cond:
            for km in kernels:
                self._drop(km)
        asked = []
        for km in kernels:
            if now:
                _kill(km)
                continue
            try:
                km.request_shutdown()
            except Exception:  # noqa: BLE001 - already dead, or its socket is gone
                _kill(km)
            else:
                asked.append(km)
        for km in asked:
            try:
                km.finish_shutdown(pollinterval=0.01)
                km.cleanup_resources()
            except Exception:  # noqa: BLE001
                _kill(km)

    def shutdown(self, now: bool = False) -> None:
        """Stop every kernel (waiting for the ones still starting); ``now``: kill them, busy or
        not."""
        with self._cond:
            self._closed = True
            while any(self._starting.values()):
                self._cond.wait(timeout=60)
            kernels = list(self._all)
            self._idle.clear()
        self._stop(kernels, now)
        if self._sockets is not None:
            shutil.rmtree(self._sockets, ignore_errors=True)


def execute_step(task: StepTask, pool: KernelPool | None) -> StepResult:
    """Run one step notebook with papermill; never raises for a failure of the step."""
    import socket

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _register_engine()
    started = time.time()
    km, reused = (None, False)
    if pool is not None:
        km, reused = pool.acquire(task.kernel_name)
    ok, error, ename, trace = True, None, None, ""
    try:
        papermill.execute_notebook(
            nbformat.from_dict(task.notebook),
            task.output_path,
            parameters=task.parameters or None,
            engine_name=ENGINE_NAME,
            kernel_name=task.kernel_name,
            cwd=task.cwd,
            progress_bar=False,
            log_output=False,
            execution_timeout=task.timeout,
            km=km,
        )
    except PapermillExecutionError as exc:
        ok, ename = False, exc.ename
        error = f"{exc.ename}: {exc.evalue}"
        trace = _ANSI.sub("", "\n".join(exc.traceback if isinstance(exc.traceback, list) else []))
    except BaseException as exc:  # noqa: BLE001 - a dead kernel, a timeout, an interrupt
        ok, ename = False, type(exc).__name__
        error = f"{type(exc).__name__}: {exc}".strip()
        trace = "".join(traceback.format_exception(exc))
        if isinstance(exc, KeyboardInterrupt):
            if km is not None and pool is not None:
                pool.release(km, healthy=False, kernel_name=task.kernel_name)
            raise
    if km is not None and pool is not None:
        # A fresh-kernels run never puts a kernel back; a failed step's kernel is never reused.
        pool.release(km, healthy=ok and task.warm, kernel_name=task.kernel_name)
    notebook = None
    if os.path.exists(task.output_path):
        with open(task.output_path, "rb") as handle:
            notebook = handle.read()
    return StepResult(
        step=task.step,
        ok=ok,
        started=started,
        ended=time.time(),
        error=error,
        ename=ename,
        traceback=trace,
        notebook=notebook,
        stdout=_stdout_tail(notebook),
        kernel_reused=reused,
        host=socket.gethostname(),
    )


def _stdout_tail(notebook: bytes | None) -> str:
    if not notebook:
        return ""
    import json

    try:
        cells = json.loads(notebook).get("cells", [])
    except ValueError:
        return ""
    text = "".join(
        "".join(output.get("text", ""))
        for cell in cells
        if cell.get("metadata", {}).get("tags") != ["mlops-generated"]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )
    return text[-STDOUT_TAIL:]


class Executor:
    """Runs ``StepTask``s; ``submit`` returns a future of the ``StepResult``."""

    name = "executor"
    slots = 1  # how many steps it runs at once

    def submit(self, task: StepTask) -> concurrent.futures.Future[StepResult]:
        raise NotImplementedError

    def prepare(self, kernel_name: str | None, count: int) -> None:
        """``count`` steps are about to run: start what they need now."""

    def close(self, cancel: bool = False) -> None:
        """Release what the executor holds; ``cancel``: stop running steps too."""

    @property
    def kernels_started(self) -> int:
        return 0


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, jobs: int | None = None, *, warm: bool = True, cwd: str | None = None):
        self.slots = jobs or os.cpu_count() or 1
        self.warm = warm
        # Fresh kernels come from the pool too (never put back): they talk over Unix sockets,
        # where kernels on TCP sometimes lose the race for the free ports they were given.
        self.pool = KernelPool(cwd)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.slots, thread_name_prefix="mlops-step"
        )

    def submit(self, task: StepTask) -> concurrent.futures.Future[StepResult]:
        _preload()
        return self._threads.submit(execute_step, task, self.pool)

    def prepare(self, kernel_name: str | None, count: int) -> None:
        if self.pool is not None:
            import jupyter_client.manager  # noqa: F401 - in this thread first (see _preload)

            self.pool.prestart(kernel_name, min(self.slots, count))
        _preload()  # papermill's imports (~1 s) while the kernels boot

    def close(self, cancel: bool = False) -> None:
        if cancel and self.pool is not None:
            self.pool.shutdown(now=True)  # a running step's kernel dies: its thread returns
        self._threads.shutdown(wait=True, cancel_futures=cancel)
        if self.pool is not None:
            self.pool.shutdown()

    @property
    def kernels_started(self) -> int:
        return self.pool.started if self.pool is not None else 0


# Dask -------------------------------------------------------------------------------------

_worker_pool: KernelPool | None = None
_worker_lock = threading.Lock()


def _pool_of_this_worker() -> KernelPool:
    global _worker_pool
    with _worker_lock:
        if _worker_pool is None:
            _worker_pool = KernelPool()
            atexit.register(_worker_pool.shutdown)
        return _worker_pool


_worker_thread = threading.local()


def run_on_worker(task: StepTask) -> StepResult:
    """The Dask task: one step, on this worker process's kernel pool.

    It runs in a contextvars context of its own thread. Dask runs each task in a copy of the
    submitting side's context, and jupyter_core keeps "this thread's event loop" in a
    ContextVar: a copied one is another thread's loop, shared by every worker thread, and two
    steps at once would both run it ("This event loop is already running").
    """
    context = getattr(_worker_thread, "context", None)
    if context is None:
        context = _worker_thread.context = contextvars.Context()
    return context.run(execute_step, task, _pool_of_this_worker())


def shutdown_worker_pool() -> int:
    """Stop this worker's kernels (run on every worker when a pipeline ends)."""
    global _worker_pool
    with _worker_lock:
        pool, _worker_pool = _worker_pool, None
    if pool is None:
        return 0
    pool.shutdown()
    return pool.started


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, address: str, *, warm: bool = True, timeout: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise PipelineError(
                "--executor dask needs the 'distributed' package: pip install distributed"
            ) from None
        self.address = address
        self.warm = warm
        try:
            self.client = Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachableError(
                f"Cannot reach the Dask scheduler at {address!r}: {exc}".rstrip()
            ) from None
        except ValueError as exc:  # a malformed address
            raise SchedulerUnreachableError(
                f"{address!r} is not a Dask scheduler address ({exc})."
            ) from None
        threads = self.client.nthreads()
        self.slots = max(1, sum(threads.values()))
        self._kernels = 0
        self._futures: list[Any] = []

    def submit(self, task: StepTask) -> concurrent.futures.Future[StepResult]:
        future: concurrent.futures.Future[StepResult] = concurrent.futures.Future()
        dask_future = self.client.submit(run_on_worker, task, pure=False, key=_task_key(task))
        self._futures.append(dask_future)

        def done(finished: Any) -> None:
            try:
                future.set_result(finished.result())
            except BaseException as exc:  # noqa: BLE001 - a lost worker, a cancelled task
                now = time.time()
                future.set_result(
                    StepResult(
                        step=task.step,
                        ok=False,
                        started=now,
                        ended=now,
                        error=f"{type(exc).__name__}: {exc}",
                        ename=type(exc).__name__,
                        traceback="".join(traceback.format_exception(exc)),
                    )
                )

        dask_future.add_done_callback(done)
        return future

    def close(self, cancel: bool = False) -> None:
        try:
            if cancel:
                self.client.cancel(list(self._futures), force=True)
            started = self.client.run(shutdown_worker_pool)
            self._kernels = sum(started.values())
        finally:
            self.client.close()

    @property
    def kernels_started(self) -> int:
        return self._kernels


def _task_key(task: StepTask) -> str:
    import uuid

    return f"mlops-step-{task.step}-{uuid.uuid4().hex[:8]}"


def make_executor(
    kind: str,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    warm: bool = True,
    cwd: str | None = None,
) -> Executor:
    if kind == "local":
        return LocalExecutor(jobs, warm=warm, cwd=cwd)
    if kind == "dask":
        if not scheduler:
            raise PipelineError("--executor dask needs --scheduler ADDRESS (tcp://host:port).")
        return DaskExecutor(scheduler, warm=warm)
    raise PipelineError(f"Unknown executor {kind!r}: use 'local' or 'dask'.")
