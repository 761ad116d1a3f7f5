"""The ``local`` target: a real second kernel started through jupyter_client."""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import (
    RemoteKernelDiedError,
    RemoteTimeoutError,
    RemoteTransferError,
    RemoteVersionError,
)
from jupyter_mlops.remote import Registry, RemoteTraceback, run_remote
from tests.remote_helpers import Recorder, wait_for, wait_for_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def targets() -> Iterator[Registry]:
    registry = Registry()
    yield registry
    registry.close_all()


def test_variables_round_trip(targets: Registry) -> None:
    X = np.arange(12.0).reshape(4, 3)
    namespace = {"n": 20, "X": X, "df": pd.DataFrame({"a": [1, 2, 3]})}
    result = run_remote(
        "local",
        "class Fitted:\n"
        "    def fit(self, X):\n"
        "        self.coef_ = X.mean(axis=0)\n"
        "        return self\n"
        "    def predict(self, X):\n"
        "        return X @ self.coef_\n"
        "model = Fitted().fit(X)\n"
        "m = n + 1\n"
        "Y = X * 2\n"
        "df2 = df.assign(b=df.a * 10)\n"
        "import sys\n"
        "exe = sys.executable\n"
        "m * 2",
        namespace,
        sink=Recorder(),
        targets=targets,
    )
    assert result.value == 42
    assert namespace["m"] == 21
    np.testing.assert_array_equal(namespace["Y"], X * 2)
    assert namespace["df2"]["b"].tolist() == [10, 20, 30]
    # A class defined on the remote side comes back by value, fitted.
    np.testing.assert_allclose(namespace["model"].predict(X), X @ X.mean(axis=0))
    assert set(result.assigned) == {"Fitted", "model", "m", "Y", "df2", "sys", "exe"}
    assert namespace["exe"] == sys.executable  # the same interpreter as this process
    assert result.bytes_sent >= X.nbytes


def test_output_streams_before_the_cell_ends(targets: Registry, tmp_path: Path) -> None:
    flag = tmp_path / "seen"
    sink = Recorder().when("first", flag.touch)
    run_remote(
        "local",
        "print('first', flush=True)\n" + wait_for_file(str(flag)) + "print('second')",
        {},
        sink=sink,
        targets=targets,
    )
    assert sink.text("stdout") == "first\nsecond\n"


def test_remote_exception_is_raised_here_with_its_traceback_after_its_output(
    targets: Registry,
) -> None:
    sink = Recorder()
    with pytest.raises(ValueError, match="bad value 3") as info:
        run_remote(
            "local",
            "def check(v):\n    raise ValueError(f'bad value {v}')\nprint('before')\ncheck(3)",
            {},
            sink=sink,
            targets=targets,
        )
    assert sink.text() == "before\n"
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "line 2, in check" in cause.text and "check(3)" in cause.text


def test_interrupt_reaches_the_remote_kernel_which_keeps_its_state(targets: Registry) -> None:
    run_remote("local", "kept = 'still here'", {}, sink=Recorder(), targets=targets)
    sink = Recorder().when("looping", _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        run_remote(
            "local",
            "import time\nprint('looping', flush=True)\nfor _ in range(6000):\n"
            "    time.sleep(0.01)\nprint('NOT INTERRUPTED')",
            {},
            sink=sink,
            targets=targets,
        )
    assert "NOT INTERRUPTED" not in sink.text()
    back: dict = {}
    run_remote("local", "again = kept", back, sink=Recorder(), targets=targets, inputs=[])
    assert back["again"] == "still here"


def test_timeout_interrupts_and_names_the_target(targets: Registry) -> None:
    with pytest.raises(RemoteTimeoutError, match="'local'.*--timeout 0.5 s"):
        run_remote(
            "local",
            "import time\nfor _ in range(6000):\n    time.sleep(0.01)",
            {},
            sink=Recorder(),
            targets=targets,
            timeout=0.5,
        )
    assert run_remote("local", "1 + 1", {}, sink=Recorder(), targets=targets).value == 2


def test_kernel_killed_mid_cell_is_a_clear_error_and_the_next_cell_gets_a_new_kernel(
    targets: Registry,
) -> None:
    pids: list[int] = []

    def kill() -> None:
        pid = int(sink.text().split("pid=")[1].split()[0])
        pids.append(pid)
        os.kill(pid, signal.SIGKILL)

    sink = Recorder().when("\n", kill)
    with pytest.raises(RemoteKernelDiedError, match="Target 'local': the remote kernel died"):
        run_remote(
            "local",
            "import os, time\nprint(f'pid={os.getpid()}', flush=True)\ntime.sleep(60)",
            {},
            sink=sink,
            targets=targets,
        )
    back: dict = {}
    run_remote("local", "import os\npid = os.getpid()", back, sink=Recorder(), targets=targets)
    assert back["pid"] != pids[0]


def test_unpicklable_input_fails_before_anything_is_sent() -> None:
    fresh = Registry()
    with pytest.raises(RemoteTransferError, match="Variable 'lock'"):
        run_remote(
            "local", "print(lock)", {"lock": threading.Lock()}, sink=Recorder(), targets=fresh
        )
    assert fresh.live == {}  # no kernel was even started


def test_version_mismatch_is_refused_naming_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mlops.remote import cell

    real = cell.local_versions()
    monkeypatch.setattr(cell, "local_versions", lambda: dict(real, cloudpickle="0.0.1"))
    fresh = Registry()
    try:
        with pytest.raises(
            RemoteVersionError, match=r"Target 'local'.*cloudpickle .* there, 0\.0\.1 here"
        ):
            run_remote("local", "x = 1", {}, sink=Recorder(), targets=fresh)
        assert fresh.live["local"].channels is None  # the kernel it started is shut down
    finally:
        fresh.close_all()


def test_metrics_logged_remotely_land_live_in_the_local_run(
    targets: Registry, tmp_store: str, tmp_path: Path
) -> None:
    flag = tmp_path / "metric-seen"
    with mlops.start_run("remote-metrics") as run:

        def when_stored() -> None:
            def watch() -> None:
                wait_for(
                    lambda: (mlops.flush(), mlops.get_run(run.run_id).metrics.get("loss"))[1],
                    "the first relayed point in the local store",
                )
                flag.touch()

            threading.Thread(target=watch, daemon=True).start()

        run_remote(
            "local",
            "import jupyter_mlops as mlops\n"
            "mlops.log_metric('loss', 0.5)\n"
            "print('logged', flush=True)\n"
            + wait_for_file(str(flag))
            + "for step in range(1, 4):\n"
            "    mlops.log_metric('loss', 0.5 / (step + 1))\n"
            "mlops.log_params({'lr': 0.1})\n"
            "mlops.set_tag('where', 'remote')",
            {},
            sink=Recorder().when("logged", when_stored),
            targets=targets,
        )
    mlops.flush()
    record = mlops.get_run(run.run_id)
    assert record.history("loss")["step"].tolist() == [0, 1, 2, 3]
    assert record.params == {"lr": "0.1"}
    assert record.tags["where"] == "remote"
    assert record.tags["remote.target"] == "local"
    assert record.tags["remote.status"] == "FINISHED"
    assert float(record.tags["remote.duration_s"]) > 0


def test_logging_remotely_without_a_local_run_says_so(targets: Registry, tmp_store: str) -> None:
    with pytest.raises(RuntimeError, match="No active run on the local side"):
        run_remote(
            "local",
            "import jupyter_mlops as mlops\nmlops.log_metric('loss', 1.0)",
            {},
            sink=Recorder(),
            targets=targets,
        )


def test_two_cells_on_one_kernel_take_turns(targets: Registry, tmp_path: Path) -> None:
    """An --async cell and a cell started while it runs: the second waits, both complete."""
    from jupyter_mlops.remote import run_remote_async

    flag = tmp_path / "release"
    first = Recorder()
    handle = run_remote_async(
        "local",
        "print('first running', flush=True)\n" + wait_for_file(str(flag)) + "order = ['first']",
        {},
        sink=first,
        targets=targets,
    )
    wait_for(lambda: "first running" in first.text(), "the first cell to run")
    second = Recorder()
    result: dict = {}

    def release_when_waiting() -> None:
        wait_for(lambda: second.notices, "the second cell to wait its turn")
        flag.touch()

    releaser = threading.Thread(target=release_when_waiting)
    releaser.start()
    run_remote(
        "local",
        "order.append('second')",
        result,
        sink=second,
        targets=targets,
        inputs=[],
        outputs=["order"],
    )
    releaser.join()
    assert handle.wait(60) and handle.error is None
    assert result["order"] == ["first", "second"]
    assert "is running another cell" in second.notices[0]


def test_cancelling_an_async_cell_interrupts_the_remote_side(targets: Registry) -> None:
    from jupyter_mlops.exceptions import RemoteCancelledError
    from jupyter_mlops.remote import run_remote_async

    sink = Recorder()
    handle = run_remote_async(
        "local",
        "import time\nprint('looping', flush=True)\nfor _ in range(6000):\n    time.sleep(0.01)",
        {},
        sink=sink,
        targets=targets,
    )
    wait_for(lambda: "looping" in sink.text(), "the async cell to run")
    assert not handle.done()
    assert handle.cancel()
    assert handle.wait(60)
    assert isinstance(handle.error, RemoteCancelledError)
    with pytest.raises(RemoteCancelledError, match="'local' was cancelled"):
        handle.result()
    assert handle.cancel() is False  # already over
    assert run_remote("local", "'free again'", {}, sink=Recorder(), targets=targets).value == (
        "free again"
    )


def test_an_input_whose_module_is_missing_there_is_a_clear_error(
    targets: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.remote import RemoteExecutionError

    (tmp_path / "only_here.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here  # type: ignore[import-not-found]

    with pytest.raises(
        RemoteExecutionError, match="could not be loaded there: No module named 'only_here'"
    ):
        run_remote(
            "local", "print(thing)", {"thing": only_here.Thing()}, sink=Recorder(), targets=targets
        )
    assert run_remote("local", "'fine'", {}, sink=Recorder(), targets=targets).value == "fine"
