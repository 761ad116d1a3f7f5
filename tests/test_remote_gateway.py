"""``gateway:http://HOST:PORT``: a real Jupyter Kernel Gateway on 127.0.0.1, with a token."""

from __future__ import annotations

import _thread
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jupyter_mlops.exceptions import (
    RemoteAuthError,
    RemoteKernelDiedError,
    RemoteUnreachableError,
)
from jupyter_mlops.remote import Registry, run_remote
from tests.remote_helpers import Recorder, wait_for, wait_for_file

pytestmark = pytest.mark.slow

TOKEN = "gateway-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """``jupyter kernelgateway`` on a free loopback port, restartable on the same port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"gateway:http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "kernelgateway",
                "--KernelGatewayApp.ip=127.0.0.1",
                f"--KernelGatewayApp.port={self.port}",
                "--KernelGatewayApp.port_retries=0",
                f"--KernelGatewayApp.auth_token={TOKEN}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )  # fmt: skip

        def listening() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            except OSError:
                return False
            return True

        wait_for(listening, "the kernel gateway to listen")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(30)
            self.proc = None


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server = Gateway(tmp_path_factory.mktemp("gateway") / "gateway.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def targets(gateway: Gateway) -> Iterator[Registry]:
    registry = Registry()
    registry.add("gw", gateway.url, token=TOKEN)
    yield registry
    registry.close_all()


def test_round_trip_and_live_output_through_the_gateway(targets: Registry, tmp_path: Path) -> None:
    flag = tmp_path / "seen"
    sink = Recorder().when("first", flag.touch)
    big = np.arange(3_000_000, dtype=np.float64)  # 24 MB: several WebSocket messages
    namespace = {"big": big, "k": 3}
    result = run_remote(
        "gw",
        "print('first', flush=True)\n"
        + wait_for_file(str(flag))
        + "doubled = big * 2\ntotal = float(big.sum()) * k\nprint('second')",
        namespace,
        sink=sink,
        targets=targets,
    )
    assert sink.text() == "first\nsecond\n"
    np.testing.assert_array_equal(namespace["doubled"], big * 2)
    assert namespace["total"] == float(big.sum()) * 3
    assert result.bytes_sent >= big.nbytes and result.bytes_received >= big.nbytes


def test_remote_exception_through_the_gateway(targets: Registry) -> None:
    sink = Recorder()
    with pytest.raises(KeyError, match="missing"):
        run_remote("gw", "print('before')\n{}['missing']", {}, sink=sink, targets=targets)
    assert sink.text() == "before\n"


def test_wrong_token_is_refused_naming_the_target(gateway: Gateway) -> None:
    registry = Registry()
    registry.add("wrong", gateway.url, token="not-the-token")
    with pytest.raises(RemoteAuthError, match="Target 'wrong'.*refused the token.*401"):
        run_remote("wrong", "1", {}, sink=Recorder(), targets=registry)
    registry.add("none", gateway.url)
    with pytest.raises(RemoteAuthError, match="no token given"):
        run_remote("none", "1", {}, sink=Recorder(), targets=registry)


def test_unreachable_gateway_names_the_target() -> None:
    registry = Registry()
    url = f"gateway:http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteUnreachableError, match=f"Target '{url}': cannot reach the gateway"):
        run_remote(url, "1", {}, sink=Recorder(), targets=registry)


def test_trivial_cells_reuse_the_kernel(targets: Registry) -> None:
    back: dict = {}
    run_remote("gw", "import os\npid = os.getpid()", back, sink=Recorder(), targets=targets)
    first = back["pid"]
    for _ in range(3):
        run_remote("gw", "import os\npid = os.getpid()", back, sink=Recorder(), targets=targets)
        assert back["pid"] == first


def test_interrupt_reaches_the_gateway_kernel(targets: Registry) -> None:
    run_remote("gw", "marker = 'kept'", {}, sink=Recorder(), targets=targets)
    sink = Recorder().when("looping", _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        run_remote(
            "gw",
            "import time\nprint('looping', flush=True)\nfor _ in range(6000):\n"
            "    time.sleep(0.01)\nprint('NOT INTERRUPTED')",
            {},
            sink=sink,
            targets=targets,
        )
    assert "NOT INTERRUPTED" not in sink.text()
    back: dict = {}
    run_remote("gw", "again = marker", back, sink=Recorder(), targets=targets, inputs=[])
    assert back["again"] == "kept"


def test_a_gateway_kernel_killed_mid_cell_is_reported_and_replaced(gateway: Gateway) -> None:
    registry = Registry()
    registry.add("dying", gateway.url, token=TOKEN)

    def kill() -> None:
        os.kill(int(sink.text().split("pid=")[1].split()[0]), signal.SIGKILL)

    sink = Recorder().when("\n", kill)
    try:
        with pytest.raises(RemoteKernelDiedError, match="Target 'dying'.*variables are lost"):
            run_remote(
                "dying",
                "import os, time\nprint(f'pid={os.getpid()}', flush=True)\ntime.sleep(60)",
                {},
                sink=sink,
                targets=registry,
            )
        back: dict = {}
        run_remote("dying", "import os\npid = os.getpid()", back, sink=Recorder(), targets=registry)
        assert back["pid"] != int(sink.text().split("pid=")[1].split()[0])
    finally:
        registry.close_all()


def test_a_connection_dropped_between_cells_reconnects_to_the_same_kernel(
    targets: Registry,
) -> None:
    run_remote("gw", "kept_here = 'yes'", {}, sink=Recorder(), targets=targets)
    channels = targets.live["gw"].channels
    channels.loop.call_soon_threadsafe(channels.ws.close)
    wait_for(channels.closed.is_set, "the WebSocket to close")
    back: dict = {}
    run_remote("gw", "again = kept_here", back, sink=Recorder(), targets=targets, inputs=[])
    assert back["again"] == "yes"


def test_gateway_restart_is_reported_then_a_new_kernel_is_used(gateway: Gateway) -> None:
    """Last in this module: it restarts the shared gateway (a crash: SIGKILL)."""
    registry = Registry()
    registry.add("restarting", gateway.url, token=TOKEN)
    try:
        run_remote("restarting", "state = 1", {}, sink=Recorder(), targets=registry)
        gateway.stop(kill=True)
        gateway.start()
        with pytest.raises(RemoteKernelDiedError, match="Target 'restarting'.*variables are lost"):
            run_remote("restarting", "state", {}, sink=Recorder(), targets=registry)
        back: dict = {}
        run_remote(
            "restarting", "fresh = 'state' in globals()", back, sink=Recorder(), targets=registry
        )
        assert back["fresh"] is False
    finally:
        registry.close_all()
