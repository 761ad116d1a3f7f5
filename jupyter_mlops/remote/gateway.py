"""Cells on a Jupyter Kernel Gateway or Enterprise Gateway (``gateway:http://HOST:PORT``).

A kernel is started with the REST API (``POST /api/kernels``) and driven over its WebSocket
(``/api/kernels/{id}/channels``), both with ``Authorization: token ...``. Messages are JSON
text, and binary WebSocket messages when they carry buffers (Jupyter's WebSocket framing:
a count, offsets, the JSON message, the raw buffers), so arrays move without base64.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import (
    RemoteAuthError,
    RemoteError,
    RemoteKernelDiedError,
    RemoteUnreachableError,
)
from .kernel import Channels, KernelTarget

# Tornado's servers refuse WebSocket messages over 10 MiB by default: inputs go in pieces.
CHUNK_BYTES = 8 * 1024**2
RECEIVE_LIMIT = 64 * 1024**3
_CLOSED = object()


def _quickack(ws: Any) -> Any:
    """A function that asks Linux to acknowledge received data at once (``TCP_QUICKACK``).

    Jupyter's server writes a kernel's messages with Nagle's algorithm on: after a small
    message (a ``busy`` status), it holds the next one until that one is acknowledged, and a
    client with nothing to send back delays its acknowledgment by 40 ms. Each execution
    would wait that long. The flag does not stick, so it is set again before every read.
    """
    import socket

    option = getattr(socket, "TCP_QUICKACK", None)
    sock = getattr(getattr(ws, "protocol", None), "stream", None)
    sock = getattr(sock, "socket", None) or getattr(getattr(ws, "stream", None), "socket", None)
    if option is None or sock is None:
        return lambda: None

    def quickack() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    return quickack


class GatewayREST:
    """The gateway's REST API with the token; errors become typed, naming the target."""

    def __init__(self, target: str, base_url: str, token: str | None) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self.token = token

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        return headers

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 60
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=self.headers()
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise RemoteAuthError(
                    f"Target {self.target!r}: the gateway at {self.base_url} refused the "
                    f"{'token' if self.token else 'request (no token given)'} "
                    f"(HTTP {exc.code}). Set it with %remote add NAME URL --token TOKEN."
                ) from None
            if exc.code == 404:
                raise LookupError(path) from None
            detail = exc.read()[:500].decode(errors="replace")
            raise RemoteError(
                f"Target {self.target!r}: {method} {path} failed with HTTP {exc.code}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteUnreachableError(
                f"Target {self.target!r}: cannot reach the gateway at {self.base_url}: {reason}."
            ) from None
        return json.loads(payload) if payload else None


class GatewayChannels(Channels):
    """One gateway kernel: started by REST, its channels over one WebSocket served by a
    private event loop thread."""

    chunk_bytes = CHUNK_BYTES

    def __init__(self, target: str, rest: GatewayREST, kernel_name: str | None = None) -> None:
        self.target = target
        self.rest = rest
        body = {"name": kernel_name} if kernel_name else {}
        # An Enterprise Gateway answers once the kernel runs: on a cluster that can take minutes.
        self.kernel_id: str = rest.request("POST", "/api/kernels", body, timeout=300)["id"]
        self.session = uuid.uuid4().hex
        self.incoming: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name=f"mlops-gateway-{target}"
        )
        self.thread.start()
        try:
            self.ws = self._on_loop(self._connect(), timeout=60)
        except BaseException:
            self.close()
            raise

    def _on_loop(self, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _connect(self) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        parts = urlsplit(self.rest.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = (
            f"{scheme}://{parts.netloc}{parts.path}/api/kernels/{self.kernel_id}/channels"
            f"?session_id={self.session}"
        )
        request = HTTPRequest(url, headers=self.rest.headers(), request_timeout=60)
        try:
            ws = await websocket_connect(request, max_message_size=RECEIVE_LIMIT)
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code in (401, 403):
                raise RemoteAuthError(
                    f"Target {self.target!r}: the gateway refused the WebSocket (HTTP {code})."
                ) from None
            raise RemoteUnreachableError(
                f"Target {self.target!r}: cannot open the kernel's WebSocket at {url}: {exc}"
            ) from None
        asyncio.ensure_future(self._read(ws))
        return ws

    async def _read(self, ws: Any) -> None:
        from jupyter_server.services.kernels.connection.base import deserialize_binary_message

        quickack = _quickack(ws)
        while True:
            quickack()
            message = await ws.read_message()
            if message is None:
                self.closed.set()
                self.incoming.put(_CLOSED)
                return
            if isinstance(message, bytes):
                msg = deserialize_binary_message(message)
            else:
                msg = json.loads(message)
                msg.setdefault("buffers", [])
            self.incoming.put(msg)

    def send(self, msg_type: str, content: dict[str, Any], buffers: list[Any] | None = None) -> str:
        from jupyter_server.services.kernels.connection.base import serialize_binary_message

        msg_id = uuid.uuid4().hex
        msg: dict[str, Any] = {
            "header": {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "username": "jupyter-mlops",
                "session": self.session,
                "date": datetime.now(timezone.utc).isoformat(),
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
        }
        if buffers:
            msg["buffers"] = [memoryview(b).cast("B") for b in buffers]
            payload: Any = serialize_binary_message(msg)
        else:
            payload = json.dumps(msg)
        if self.closed.is_set():  # dropped between cells: reconnect, the kernel is kept
            self._revive()
        try:
            self._on_loop(self._write(payload, bool(buffers)), timeout=120)
        except Exception as exc:
            raise RemoteKernelDiedError(
                f"Target {self.target!r}: lost the connection to the gateway kernel: {exc}"
            ) from None
        return msg_id

    async def _write(self, payload: Any, binary: bool) -> None:
        await self.ws.write_message(payload, binary=binary)

    def recv(self, timeout: float) -> dict[str, Any] | None:
        try:
            msg = self.incoming.get(timeout=timeout)
        except queue.Empty:
            return None
        if msg is _CLOSED:
            self._revive()
            raise RemoteUnreachableError(
                f"Target {self.target!r}: the connection to gateway kernel {self.kernel_id} "
                "dropped during the cell and was reopened. The kernel keeps its variables; the "
                "rest of this cell's output and its results are lost."
            )
        return msg

    def interrupt(self) -> None:
        with contextlib.suppress(LookupError):
            self.rest.request("POST", f"/api/kernels/{self.kernel_id}/interrupt", {})

    def check(self) -> None:
        """A closed WebSocket is handled where its end is read (``recv``)."""

    def _revive(self) -> None:
        """After the WebSocket closed: reopen it if the gateway still has the kernel (its
        variables are kept); else the kernel is gone, and so is its state."""
        try:
            self.rest.request("GET", f"/api/kernels/{self.kernel_id}", timeout=10)
        except LookupError:
            raise RemoteKernelDiedError(
                f"Target {self.target!r}: the gateway no longer has kernel {self.kernel_id} "
                "(the gateway restarted, or the kernel was shut down); its variables are lost. "
                "The next %%remote starts a new kernel."
            ) from None
        except RemoteUnreachableError as exc:
            raise RemoteKernelDiedError(
                f"{exc} The connection to kernel {self.kernel_id} was lost with it; the next "
                "%%remote tries again."
            ) from None
        while not self.incoming.empty():  # the end-of-connection marker, and what preceded it
            with contextlib.suppress(queue.Empty):
                self.incoming.get_nowait()
        self.closed.clear()
        self.ws = self._on_loop(self._connect(), timeout=60)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            ws = getattr(self, "ws", None)
            if ws is not None:
                self.loop.call_soon_threadsafe(ws.close)
        with contextlib.suppress(Exception):
            self.rest.request("DELETE", f"/api/kernels/{self.kernel_id}", timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def describe(self) -> str:
        return f"gateway kernel {self.kernel_id}"


class GatewayTarget(KernelTarget):
    """``gateway:http://HOST:PORT``: a kernel of a Kernel Gateway or Enterprise Gateway."""

    def __init__(
        self, name: str, url: str, token: str | None = None, kernel_name: str | None = None
    ) -> None:
        super().__init__(name, url)
        base = url.split(":", 1)[1] if url.startswith("gateway:") else url
        if not base.startswith(("http://", "https://")):
            raise RemoteError(f"Target {name!r}: a gateway URL is gateway:http(s)://HOST:PORT.")
        self.rest = GatewayREST(name, base, token)
        self.kernel_name = kernel_name

    def connect(self) -> Channels:
        return GatewayChannels(self.name, self.rest, self.kernel_name)
