"""``%%remote`` and ``%remote`` driven in a real IPython kernel, as a notebook would.

The user's kernel is started with jupyter_client; its ``%%remote local`` cells start a second
kernel. Every IOPub message of the user's kernel is kept, whatever cell it belongs to, so the
tests see output while a cell runs and the notices an ``--async`` cell sends later.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager

from jupyter_mlops.store import Store
from tests.remote_helpers import WAIT_S, wait_for, wait_for_file

pytestmark = pytest.mark.slow


class Cell:
    def __init__(self, reply: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        self.reply = reply
        self.messages = messages

    @property
    def status(self) -> str:
        return self.reply["status"]

    @property
    def ename(self) -> str | None:
        return self.reply.get("ename")

    @property
    def evalue(self) -> str:
        return self.reply.get("evalue", "")

    def text(self, name: str | None = None) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["header"]["msg_type"] == "stream" and name in (None, m["content"]["name"])
        )

    def results(self) -> list[str]:
        return [
            m["content"]["data"].get("text/plain", "")
            for m in self.messages
            if m["header"]["msg_type"] in ("execute_result", "display_data")
        ]

    def traceback(self) -> str:
        """The error's traceback as shown, without its colours."""
        text = "\n".join(
            "\n".join(m["content"]["traceback"])
            for m in self.messages
            if m["header"]["msg_type"] == "error"
        )
        return re.sub(r"\x1b\[[0-9;]*m", "", text)


class UserKernel:
    def __init__(self, root: Path, store_url: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
        env.update(JUPYTER_MLOPS_STORE=store_url, JUPYTER_MLOPS_ARTIFACTS=str(root / "art"))
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(root))
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict[str, Any]] = []  # every message, of every cell

    def run(self, code: str, hook: Callable[[dict[str, Any]], None] | None = None) -> Cell:
        msg_id = self.kc.execute(code, allow_stdin=False)
        mine: list[dict[str, Any]] = []
        deadline = time.monotonic() + WAIT_S * 2
        while True:
            assert time.monotonic() < deadline, f"cell did not finish: {code!r}"
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except Exception:  # queue.Empty
                continue
            self.iopub.append(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            mine.append(msg)
            if hook is not None:
                hook(msg)
            content = msg["content"]
            if msg["header"]["msg_type"] == "status" and content["execution_state"] == "idle":
                break
        while True:  # skip replies to earlier requests (wait_for_ready's kernel_info)
            reply = self.kc.get_shell_msg(timeout=WAIT_S)
            if reply["parent_header"].get("msg_id") == msg_id:
                return Cell(reply["content"], mine)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def when_text(text: str, action: Callable[[], None]) -> Callable[[dict[str, Any]], None]:
    """An output hook running ``action`` once ``text`` has been printed by the cell."""
    seen: list[str] = []
    done: list[bool] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] == "stream":
            seen.append(msg["content"]["text"])
            if not done and text in "".join(seen):
                done.append(True)
                action()

    return hook


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("remote-magics")


@pytest.fixture(scope="module")
def store_url(root: Path) -> str:
    return f"sqlite:///{root / 'mlops.db'}"


@pytest.fixture(scope="module")
def kernel(root: Path, store_url: str) -> Iterator[UserKernel]:
    user = UserKernel(root, store_url)
    loaded = user.run("%load_ext jupyter_mlops")
    assert loaded.status == "ok", loaded.traceback()
    yield user
    user.run("%unload_ext jupyter_mlops")  # shuts down the kernels %%remote started
    user.shutdown()


def test_variables_move_both_ways_and_the_last_value_shows(kernel: UserKernel) -> None:
    setup = kernel.run(
        "import numpy as np, pandas as pd\n"
        "X = np.arange(12.0).reshape(4, 3)\n"
        "df = pd.DataFrame({'a': [1, 2, 3]})\n"
        "class Model:  # defined in the notebook: travels by value\n"
        "    def fit(self, X):\n"
        "        self.coef_ = X.mean(axis=0)\n"
        "        return self\n"
        "    def predict(self, X):\n"
        "        return X @ self.coef_\n"
        "scale = 10"
    )
    assert setup.status == "ok", setup.traceback()
    cell = kernel.run(
        "%%remote local\n"
        "model = Model().fit(X)\n"
        "df2 = df.assign(b=df.a * scale)\n"
        "n_rows = len(df2)\n"
        "n_rows * 2"
    )
    assert cell.status == "ok", cell.traceback()
    assert cell.results() == ["6"]
    check = kernel.run(
        "print(n_rows, df2.b.tolist(), np.allclose(model.predict(X), X @ X.mean(axis=0)), "
        "type(model).__name__)"
    )
    assert check.text() == "3 [10, 20, 30] True Model\n"


def test_in_and_out_override_the_analysis(kernel: UserKernel) -> None:
    kernel.run("a = 1\nb = 2")
    cell = kernel.run(
        "%%remote local --in a --out c\n"
        "c = a + 1\n"
        "d = 99\n"
        "print(sorted(k for k in ('a', 'b') if k in globals()))"
    )
    assert cell.status == "ok", cell.traceback()
    assert cell.text() == "['a']\n"  # b was not sent (the remote kernel never had it)
    check = kernel.run("print(c, 'd' in globals())")
    assert check.text() == "2 False\n"


def test_output_streams_live_under_the_cell(kernel: UserKernel, root: Path) -> None:
    flag = root / "live.flag"
    cell = kernel.run(
        "%%remote local\nprint('first', flush=True)\n"
        + wait_for_file(str(flag))
        + "from IPython.display import HTML, display\n"
        "display(HTML('<b>rich</b>'))\n"
        "print('second')",
        hook=when_text("first", flag.touch),
    )
    assert cell.status == "ok", cell.traceback()
    assert cell.text("stdout") == "first\nsecond\n"
    rich = [
        m["content"]["data"] for m in cell.messages if m["header"]["msg_type"] == "display_data"
    ]
    assert rich and rich[0]["text/html"] == "<b>rich</b>"


def test_remote_exception_shows_the_output_then_the_remote_traceback(kernel: UserKernel) -> None:
    cell = kernel.run(
        "%%remote local\n"
        "def check(v):\n"
        "    raise ValueError(f'bad value {v}')\n"
        "print('before the failure')\n"
        "check(7)"
    )
    assert (cell.status, cell.ename, cell.evalue) == ("error", "ValueError", "bad value 7")
    assert cell.text() == "before the failure\n"
    trace = cell.traceback()
    # The remote frames, with the line numbers the notebook shows under the magic line.
    assert "line 3, in check" in trace and "line 5" in trace and "RemoteTraceback" in trace
    assert kernel.run("1 + 1").results() == ["2"]


def test_unpicklable_input_fails_before_anything_runs_naming_it(kernel: UserKernel) -> None:
    kernel.run("import threading\nlock = threading.Lock()")
    cell = kernel.run("%%remote local\nprint('RAN', lock)")
    assert (cell.status, cell.ename) == ("error", "RemoteTransferError")
    assert "Variable 'lock'" in cell.evalue
    assert "RAN" not in cell.text()


def test_syntax_error_shows_where_it_is_and_nothing_runs(kernel: UserKernel) -> None:
    cell = kernel.run("%%remote local\nprint('RAN')\nx = (")
    assert cell.ename == "SyntaxError"
    trace = cell.traceback()
    assert "File <%%remote local In[" in trace and ">:3" in trace and "x = (" in trace
    assert "magics/remote.py" not in trace
    assert "RAN" not in cell.text()


def test_bad_target_and_bad_options(kernel: UserKernel) -> None:
    cell = kernel.run("%%remote gpu-box\n1")
    assert (cell.ename, "Unknown remote target 'gpu-box'" in cell.evalue) == (
        "RemoteTargetError",
        True,
    )
    cell = kernel.run("%%remote local --timeout -1\n1")
    assert "--timeout must be a positive" in (cell.evalue + cell.text("stderr"))
    cell = kernel.run("%%remote gateway:http://127.0.0.1:9\n1")
    assert cell.ename == "RemoteUnreachableError"
    assert "cannot reach the gateway" in cell.evalue
    assert kernel.run("1 + 1").results() == ["2"]


def test_interrupting_the_cell_interrupts_the_remote_side(kernel: UserKernel) -> None:
    kernel.run("%%remote local\nsurvivor = 'kept'")
    cell = kernel.run(
        "%%remote local\nimport time\nprint('looping', flush=True)\nfor _ in range(6000):\n"
        "    time.sleep(0.01)\nprint('NOT INTERRUPTED')",
        hook=when_text("looping", kernel.km.interrupt_kernel),
    )
    assert cell.ename == "KeyboardInterrupt"
    assert "NOT INTERRUPTED" not in cell.text()
    after = kernel.run("%%remote local --in '' \nsurvivor")  # same remote kernel, same state
    assert after.results() == ["'kept'"], after.traceback()


def test_remote_kernel_killed_mid_cell(kernel: UserKernel) -> None:
    def kill() -> None:
        os.kill(int(seen[0].split("pid=")[1].split()[0]), signal.SIGKILL)

    seen: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] == "stream":
            seen.append(msg["content"]["text"])
            if "pid=" in seen[0] and len(seen) == 1:
                kill()

    cell = kernel.run(
        "%%remote local\nimport os, time\nprint(f'pid={os.getpid()}', flush=True)\ntime.sleep(60)",
        hook=hook,
    )
    assert cell.ename == "RemoteKernelDiedError"
    assert "Target 'local': the remote kernel died" in cell.evalue
    after = kernel.run("%%remote local\nimport os\nos.getpid()")
    assert after.status == "ok" and after.results() != [], after.traceback()


def test_async_returns_a_handle_at_once_and_lands_later_with_a_notice(
    kernel: UserKernel, root: Path
) -> None:
    flag = root / "async.flag"
    started = kernel.run(
        "%%remote local --async\nprint('working', flush=True)\n"
        + wait_for_file(str(flag))
        + "answer = 42"
    )
    assert started.status == "ok", started.traceback()
    assert any("RemoteHandle 'local' running" in r for r in started.results())
    display_id = next(
        m["content"]["transient"]["display_id"]
        for m in started.messages
        if m["header"]["msg_type"] == "display_data"
    )
    assert kernel.run("handle = _\n'answer' in globals()").results() == ["False"]
    flag.touch()
    done = kernel.run("print(handle.result(60), answer)")
    assert done.text() == "None 42\n", done.traceback()
    updates = [
        m["content"]["data"]["text/plain"]
        for m in kernel.iopub
        if m["header"]["msg_type"] == "update_display_data"
        and m["content"]["transient"]["display_id"] == display_id
    ]
    assert "working" in updates[-1]
    assert "done in" in updates[-1] and "assigned answer" in updates[-1]


def test_remote_metrics_land_in_the_local_tracked_run(kernel: UserKernel, store_url: str) -> None:
    cell = kernel.run(
        "%%track remote-metrics\n"
        "%%remote local\n"
        "import jupyter_mlops as mlops\n"
        "for step in range(4):\n"
        "    mlops.log_metric('loss', 1 / (step + 1))\n"
        "mlops.log_param('where', 'remote')"
    )
    assert cell.status == "ok", cell.traceback()
    store = Store(store_url, reap=False)
    try:

        def finished() -> Any:
            found, _ = store.search_runs(filter="name = 'remote-metrics'")
            return found[0] if found and found[0].status == "FINISHED" else None

        run = wait_for(finished, "the tracked run to end")
        record = store.get_run(run.run_id)
        assert record.params == {"where": "remote"}
        assert record.tags["remote.target"] == "local"
        assert record.tags["remote.status"] == "FINISHED"
        history = store.metric_history(run.run_id, "loss")
        assert [round(float(v), 3) for v in history["value"]] == [1.0, 0.5, 0.333, 0.25]
    finally:
        store.close()


def test_remote_add_list_close(kernel: UserKernel) -> None:
    added = kernel.run("%remote add box local")
    assert added.status == "ok" and "box" in added.text(), added.traceback()
    assert kernel.run("%%remote box\n'on box'").results() == ["'on box'"]
    listed = kernel.run("%remote list").text()
    assert "box" in listed and "kernel pid" in listed and "[added]" in listed
    assert kernel.run("%remote close box").text() == "Closed 'box'.\n"
    assert "box" in kernel.run("%remote list").text()  # still named, just not running
    wrong = kernel.run("%remote frobnicate")
    assert "Unknown %remote command" in (wrong.evalue + wrong.text("stderr"))
