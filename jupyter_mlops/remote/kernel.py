"""Cells on a Jupyter kernel: the ``local`` target (a kernel of our own, via jupyter_client),
and the execution protocol every kernel target shares (the gateway's only differs in its
channels, see ``gateway.py``).

Protocol, per kernel: at first use the agent's source is executed there (it registers a comm
target and reports its versions, which must match ours), and one comm is opened. Per cell: the
inputs go as ``comm_msg`` pieces with binary buffers on the shell channel, then an
``execute_request`` calls the agent. While it runs, IOPub carries the cell's own stream and
display messages (shown as they come) and the agent's comm messages (relayed tracking calls,
and at the end the result frames as binary buffers).
"""

from __future__ import annotations

import abc
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

from ..exceptions import RemoteError, RemoteKernelDiedError, RemoteTimeoutError
from . import agent
from .cell import CellRequest, Outcome, Sink, Target, check_versions
from .transfer import frame_nbytes, split_frames

INTERRUPT_GRACE = 10.0  # seconds a remote kernel gets to stop after an interrupt
CHECK_EVERY = 0.5  # seconds between liveness checks while a cell runs
OUTPUT_TYPES = ("display_data", "update_display_data", "execute_result", "clear_output")


class Channels(abc.ABC):
    """The messaging to one kernel: send on shell, receive shell and IOPub messages."""

    chunk_bytes = 256 * 1024**2  # the largest piece of input one message carries

    @abc.abstractmethod
    def send(self, msg_type: str, content: dict[str, Any], buffers: list[Any] | None = None) -> str:
        """Send on the shell channel; returns the msg_id."""

    @abc.abstractmethod
    def recv(self, timeout: float) -> dict[str, Any] | None:
        """The next shell or IOPub message (``msg["channel"]`` says which), or None."""

    @abc.abstractmethod
    def interrupt(self) -> None: ...

    @abc.abstractmethod
    def check(self) -> None:
        """Raise :class:`RemoteKernelDiedError` when the kernel is gone."""

    @abc.abstractmethod
    def close(self) -> None:
        """Shut the kernel down (when we started it) and close the channels."""

    @abc.abstractmethod
    def describe(self) -> str: ...


class ZMQChannels(Channels):
    """A kernel started here with jupyter_client (the ``local`` target)."""

    def __init__(self, target: str, kernel_name: str = "python3") -> None:
        import zmq
        from jupyter_client import KernelManager

        self.target = target
        self.km = KernelManager(kernel_name=kernel_name)
        spec = self.km.kernel_spec
        if spec is not None and spec.language == "python" and spec.argv:
            # The interpreter of this kernel, not whichever `python` the spec names: the two
            # sides then share the Python and package versions that pickles depend on.
            spec.argv = [sys.executable, *spec.argv[1:]]
        # The kernel's own stdout/stderr (not the cell's: that comes over IOPub) go to a log,
        # kept for the message when it dies; inherited, they would land in the local cell.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the kernel
            prefix="jupyter-mlops-remote-", suffix=".log", delete=False
        )
        try:
            self.km.start_kernel(stdout=subprocess.DEVNULL, stderr=self.log)
            self.kc = self.km.blocking_client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=60)
        except KeyboardInterrupt:  # interrupted while starting: leave no kernel behind
            self._shutdown()
            raise
        except Exception as exc:
            tail = self._log_tail()
            self._shutdown()
            raise RemoteKernelDiedError(
                f"Target {target!r}: the kernel {kernel_name!r} did not start: {exc}" + tail
            ) from None
        self._poller = zmq.Poller()
        self._sockets = {
            self.kc.shell_channel.socket: ("shell", self.kc.shell_channel),
            self.kc.iopub_channel.socket: ("iopub", self.kc.iopub_channel),
        }
        for socket in self._sockets:
            self._poller.register(socket, zmq.POLLIN)

    def send(self, msg_type: str, content: dict[str, Any], buffers: list[Any] | None = None) -> str:
        msg = self.kc.session.msg(msg_type, content)
        self.kc.session.send(self.kc.shell_channel.socket, msg, buffers=buffers)
        return msg["header"]["msg_id"]

    def recv(self, timeout: float) -> dict[str, Any] | None:
        for socket, _ in self._poller.poll(int(timeout * 1000)):
            name, channel = self._sockets[socket]
            msg = channel.get_msg(timeout=0)
            msg["channel"] = name
            return msg
        return None

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def check(self) -> None:
        if not self.km.is_alive():
            code = getattr(getattr(self.km, "provisioner", None), "exit_code", None)
            raise RemoteKernelDiedError(
                f"Target {self.target!r}: the remote kernel died"
                + (f" (exit code {code})" if code is not None else "")
                + "; its variables are lost. The next %%remote starts a new kernel."
                + self._log_tail()
            )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            with open(self.log.name, errors="replace") as log:
                tail = [line for line in log.read().splitlines() if "WARNING" not in line]
        except OSError:
            return ""
        return ("\nIts last output:\n" + "\n".join(tail[-lines:])) if tail else ""

    def _shutdown(self) -> None:
        try:
            if getattr(self, "kc", None) is not None:
                self.kc.stop_channels()
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:  # closing what is already gone
            pass
        with contextlib.suppress(OSError):
            self.log.close()
            os.unlink(self.log.name)

    def close(self) -> None:
        self._shutdown()

    def describe(self) -> str:
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        return f"kernel pid {pid}" if pid else "kernel"


class KernelTarget(Target):
    """A target that runs cells on a Jupyter kernel, started (or connected) on first use and
    reused after; after a death or a restart, the next cell gets a new one."""

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, url)
        self.channels: Channels | None = None
        self.comm_id = ""
        self.versions: dict[str, Any] = {}
        # A kernel runs one cell at a time, and one reader must own its channels while it
        # does: a second cell (an --async one running meanwhile) waits its turn here.
        self._turn = threading.Lock()

    @abc.abstractmethod
    def connect(self) -> Channels:
        """Start or reach a kernel."""

    def status(self) -> str:
        if self.channels is None:
            return "not started"
        return f"{self.channels.describe()}, Python {self.versions.get('python', '?')}"

    def close(self) -> None:
        channels, self.channels = self.channels, None
        if channels is not None:
            channels.close()

    def _discard(self) -> None:
        """After a failure: forget the kernel (shut it down if we own it)."""
        try:
            self.close()
        except Exception:
            self.channels = None

    def _ensure(self) -> Channels:
        if self.channels is not None:
            return self.channels
        channels = self.connect()
        try:
            source = agent.source_text()
            code = (
                f"exec(compile({agent.BOOTSTRAP!r}, '<jupyter-mlops bootstrap>', 'exec'))\n"
                f"__jupyter_mlops_versions__ = entry({source!r}, "
                f"{agent.source_hash(source)!r}, 'install_kernel_agent')\n"
                "del entry"
            )
            reply = self._call(
                channels,
                "execute_request",
                {
                    "code": code,
                    "silent": True,
                    "store_history": False,
                    "user_expressions": {"v": "__jupyter_mlops_versions__"},
                    "allow_stdin": False,
                },
                timeout=120,
            )
            content = reply["content"]
            if content.get("status") != "ok":
                raise RemoteError(
                    f"Target {self.name!r}: could not install the remote agent: "
                    f"{content.get('ename')}: {content.get('evalue')}"
                )
            import ast

            expression = content["user_expressions"]["v"]
            if expression.get("status") != "ok":
                raise RemoteError(
                    f"Target {self.name!r}: the remote agent did not start: "
                    f"{expression.get('ename')}: {expression.get('evalue')}"
                )
            self.versions = ast.literal_eval(expression["data"]["text/plain"])
            check_versions(self.name, self.versions, "the remote kernel")
            self.comm_id = uuid.uuid4().hex
            channels.send(
                "comm_open",
                {"comm_id": self.comm_id, "target_name": agent.COMM_TARGET, "data": {}},
            )
        except BaseException:
            channels.close()
            raise
        self.channels = channels
        return channels

    def _call(
        self, channels: Channels, msg_type: str, content: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Send a request and wait for its shell reply (IOPub messages are dropped)."""
        msg_id = channels.send(msg_type, content)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = channels.recv(0.2)
            if msg is None:
                channels.check()
                continue
            if msg["channel"] == "shell" and msg["parent_header"].get("msg_id") == msg_id:
                return msg
        raise RemoteError(f"Target {self.name!r}: no reply to {msg_type} in {timeout:.0f} s.")

    def run(self, request: CellRequest, sink: Sink) -> Outcome:
        if not self._turn.acquire(blocking=False):
            sink.notice(f"Target {self.name!r} is running another cell; this one waits for it.")
            self._turn.acquire()
        try:
            channels = self._ensure()
            try:
                return self._run(channels, request, sink)
            except RemoteKernelDiedError:
                self._discard()
                raise
        finally:
            self._turn.release()

    def _run(self, channels: Channels, request: CellRequest, sink: Sink) -> Outcome:
        sent = 0
        try:
            for index, offset, size, piece in split_frames(request.frames, channels.chunk_bytes):
                data = {
                    "op": "put",
                    "token": request.token,
                    "count": len(request.frames),
                    "index": index,
                    "offset": offset,
                    "size": size,
                }
                channels.send("comm_msg", {"comm_id": self.comm_id, "data": data}, [piece])
                sent += memoryview(piece).nbytes
        except BaseException:  # interrupted while sending: the remote side drops the pieces
            with contextlib.suppress(Exception):
                data = {"op": "drop", "token": request.token}
                channels.send("comm_msg", {"comm_id": self.comm_id, "data": data})
            raise
        call = (
            "__import__('sys').modules[" + repr(agent.MODULE_NAME) + "].agent.run("
            f"{request.token!r}, {request.source!r}, {request.outputs!r}, "
            f"{request.has_run!r}, {request.label!r}, {channels.chunk_bytes!r}, "
            f"{request.max_bytes!r})"
        )
        msg_id = channels.send(
            "execute_request",
            {
                "code": call,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": False,
            },
        )
        state = _Execution(self, channels, msg_id, request, sink)
        outcome = state.wait()
        outcome.bytes_sent = sent
        return outcome


class _Execution:
    """Following one execute_request until its result, reply and idle status are in."""

    def __init__(
        self,
        target: KernelTarget,
        channels: Channels,
        msg_id: str,
        request: CellRequest,
        sink: Sink,
    ) -> None:
        self.target, self.channels, self.msg_id = target, channels, msg_id
        self.request, self.sink = request, sink
        self.result: tuple[dict[str, Any], list[Any]] | None = None
        self.reply: dict[str, Any] | None = None
        self.idle = False
        self.error_output: dict[str, Any] | None = None
        self.parts: agent.Assembler | None = None  # result frames arriving in pieces

    def wait(self) -> Outcome:
        started = time.monotonic()
        deadline = None if self.request.timeout is None else started + self.request.timeout
        stopping: str | None = None  # "interrupt" or "timeout" once we asked the kernel to stop
        stop_deadline = 0.0
        last_check = started
        while not (self.idle and self.reply is not None):
            try:
                now = time.monotonic()
                if stopping is None and deadline is not None and now > deadline:
                    stopping, stop_deadline = "timeout", now + INTERRUPT_GRACE
                    self.channels.interrupt()
                if stopping is not None and now > stop_deadline:
                    self.target._discard()
                    self.sink.notice(
                        f"Target {self.target.name!r}: the remote kernel did not stop within "
                        f"{INTERRUPT_GRACE:.0f} s of the interrupt; it was shut down (its "
                        "variables are lost) and the next %%remote starts a new one."
                    )
                    break
                msg = self.channels.recv(0.1)
                if msg is None or now - last_check > CHECK_EVERY:
                    last_check = now
                    self.channels.check()
                if msg is not None:
                    self._handle(msg)
            except KeyboardInterrupt:
                if stopping is None:
                    stopping, stop_deadline = "interrupt", time.monotonic() + INTERRUPT_GRACE
                    self.channels.interrupt()
                else:  # a second Ctrl-C: stop waiting
                    self.target._discard()
                    raise
        if stopping == "interrupt":
            raise KeyboardInterrupt
        if stopping == "timeout":
            raise RemoteTimeoutError(
                f"Target {self.target.name!r}: the cell ran over --timeout "
                f"{self.request.timeout:g} s and was interrupted."
            )
        if self.result is None:
            content = (self.reply or {}).get("content", {})
            error = self.error_output or content
            raise RemoteError(
                f"Target {self.target.name!r}: the remote agent failed: "
                f"{error.get('ename', '?')}: {error.get('evalue', '')}\n"
                + "\n".join(error.get("traceback", []))
            )
        data, buffers = self.result
        error = data.get("error")
        count = int(data.get("error_frames") or 0)
        if count:
            buffers, error_frames = buffers[:-count], buffers[-count:]
            if error is not None:
                error["frames"] = error_frames
        return Outcome(
            status=data["status"],
            frames=buffers,
            skipped=data.get("skipped") or {},
            error=error,
            bytes_received=frame_nbytes(buffers),
        )

    def _handle(self, msg: dict[str, Any]) -> None:
        msg_type = msg["header"]["msg_type"]
        content = msg["content"]
        if msg_type == "status" and content.get("execution_state") in ("restarting", "dead"):
            # A gateway says its kernel restarted (or died) under us: the state is gone.
            raise RemoteKernelDiedError(
                f"Target {self.target.name!r}: the remote kernel "
                f"{'restarted' if content['execution_state'] == 'restarting' else 'died'} "
                "during the cell; its variables are lost. The next %%remote uses a new kernel."
            )
        if msg["parent_header"].get("msg_id") != self.msg_id:
            return
        if msg["channel"] == "shell":
            if msg_type == "execute_reply":
                self.reply = msg
            return
        if msg_type == "stream":
            self.sink.stream(content["name"], content["text"])
        elif msg_type in OUTPUT_TYPES:
            self.sink.display(msg_type, content)
        elif msg_type == "error":
            self.error_output = content
        elif msg_type == "status":
            self.idle = content.get("execution_state") == "idle"
        elif msg_type == "comm_msg" and content.get("comm_id") == self.target.comm_id:
            data = content.get("data", {})
            if data.get("token") != self.request.token:
                return
            if data.get("op") == "relay":
                for name, text in data.get("text", []):
                    self.sink.stream(name, text)
                if data.get("events"):
                    self.sink.relay(data["events"])
            elif data.get("op") == "part":
                if self.parts is None:
                    self.parts = agent.Assembler(data["count"])
                buffers = msg.get("buffers") or [b""]
                self.parts.put(data["index"], data["offset"], data["size"], buffers[0])
            elif data.get("op") == "result":
                if data.get("inline"):
                    frames = list(msg.get("buffers") or [])
                else:
                    frames = self.parts.result() if self.parts is not None else []
                self.result = (data, list(frames))


class LocalKernelTarget(KernelTarget):
    """``local``: a separate kernel on this machine."""

    def __init__(self, name: str = "local", url: str = "local", kernel_name: str = "python3"):
        super().__init__(name, url)
        self.kernel_name = kernel_name

    def connect(self) -> Channels:
        return ZMQChannels(self.name, self.kernel_name)
