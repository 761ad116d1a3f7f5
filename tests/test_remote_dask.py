"""``dask:tcp://HOST:PORT``: a real distributed LocalCluster on 127.0.0.1."""

from __future__ import annotations

import _thread
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import RemoteTimeoutError, RemoteUnreachableError
from jupyter_mlops.remote import Registry, RemoteTraceback, run_remote
from jupyter_mlops.remote import dask as remote_dask
from tests.remote_helpers import Recorder, wait_for, wait_for_file

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def url(cluster: Any) -> str:
    return f"dask:{cluster.scheduler_address}"


@pytest.fixture(scope="module")
def targets(url: str) -> Iterator[Registry]:
    registry = Registry()
    registry.add("cluster", url)
    yield registry
    registry.close_all()


def idle(cluster: Any) -> bool:
    return not any(ws.processing for ws in cluster.scheduler.workers.values())


def test_round_trip_live_output_and_metrics_into_the_local_run(
    targets: Registry, tmp_store: str, tmp_path: Path
) -> None:
    flag = tmp_path / "seen"
    sink = Recorder().when("first", flag.touch)
    X = np.arange(6.0).reshape(3, 2)
    namespace = {"X": X, "df": pd.DataFrame({"a": [1, 2]})}
    with mlops.start_run("on-dask") as run:
        result = run_remote(
            "cluster",
            "import jupyter_mlops as mlops\n"
            "print('first')\n" + wait_for_file(str(flag)) + "for step in range(3):\n"
            "    mlops.log_metric('loss', 1 / (step + 1))\n"
            "Y = X.T @ X\n"
            "df2 = df.assign(b=df.a + 1)\n"
            "print('second')\n"
            "len(df2)",
            namespace,
            sink=sink,
            targets=targets,
        )
    assert sink.text("stdout") == "first\nsecond\n"
    assert result.value == 2
    np.testing.assert_array_equal(namespace["Y"], X.T @ X)
    assert namespace["df2"]["b"].tolist() == [2, 3]
    mlops.flush()
    record = mlops.get_run(run.run_id)
    assert record.history("loss")["value"].tolist() == [1.0, 0.5, 1 / 3]
    assert record.tags["remote.target"] == "cluster"
    assert record.tags["remote.status"] == "FINISHED"


def test_worker_prints_do_not_capture_other_threads(targets: Registry, capsys: Any) -> None:
    """processes=False: the worker shares this process; only the task's thread is captured."""
    sink = Recorder()
    run_remote("cluster", "print('from the task')", {}, sink=sink, targets=targets)
    print("from the test")
    assert sink.text() == "from the task\n"
    assert "from the test" in capsys.readouterr().out


def test_remote_exception_with_traceback(targets: Registry) -> None:
    sink = Recorder()
    with pytest.raises(ZeroDivisionError) as info:
        run_remote(
            "cluster",
            "def ratio(a):\n    return a / 0\nprint('before')\nratio(1)",
            {},
            sink=sink,
            targets=targets,
        )
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "in ratio" in info.value.__cause__.text
    assert sink.text() == "before\n"


def test_interrupt_stops_a_running_task(targets: Registry, cluster: Any) -> None:
    sink = Recorder().when("looping", _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        run_remote(
            "cluster",
            "import time\nprint('looping')\nfor _ in range(6000):\n    time.sleep(0.01)\n"
            "print('NOT INTERRUPTED')",
            {},
            sink=sink,
            targets=targets,
        )
    assert any("the running task was stopped" in n for n in sink.notices), sink.notices
    wait_for(lambda: idle(cluster), "the worker to be idle")
    assert "NOT INTERRUPTED" not in sink.text()


def test_a_task_blocked_in_c_cannot_be_stopped_and_the_user_is_told(
    targets: Registry, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote_dask, "STOP_GRACE", 0.5)
    sink = Recorder().when("blocking", _thread.interrupt_main)
    # The task blocks in C (a socket read) until the test releases it.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    with pytest.raises(KeyboardInterrupt):
        run_remote(
            "cluster",
            "import socket\nconn = socket.create_connection(('127.0.0.1', port))\n"
            "print('blocking')\nconn.recv(1)\n",
            {"port": port},
            sink=sink,
            targets=targets,
        )
    assert any("cannot be stopped" in n for n in sink.notices), sink.notices
    conn, _ = server.accept()
    conn.sendall(b"x")
    conn.close()
    server.close()
    wait_for(lambda: idle(cluster), "the blocked task to end")


def test_timeout_cancels(targets: Registry, cluster: Any) -> None:
    with pytest.raises(RemoteTimeoutError, match="'cluster'.*--timeout 0.5 s"):
        run_remote(
            "cluster",
            "import time\nfor _ in range(6000):\n    time.sleep(0.01)",
            {},
            sink=Recorder(),
            targets=targets,
            timeout=0.5,
        )
    wait_for(lambda: idle(cluster), "the worker to be idle")


def test_unreachable_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote_dask, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"dask:tcp://127.0.0.1:{port}"
    with pytest.raises(RemoteUnreachableError, match="cannot reach the Dask scheduler"):
        run_remote(url, "1", {}, sink=Recorder(), targets=Registry())
