"""The remote side (agent.py), in this process and in a bare interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from jupyter_mlops.remote import agent
from jupyter_mlops.remote.transfer import decode


def test_run_cell_returns_outputs_and_the_last_value() -> None:
    namespace: dict = {"x": 2}
    report = agent.run_cell("\ny = x * 3\ny + 1", namespace, ["y"], "<cell>")
    assert report["status"] == "ok"
    assert decode(report["frames"]) == {"y": 6, "__value__": 7}


def test_unpicklable_outputs_stay_remote_and_are_named() -> None:
    report = agent.run_cell(
        "import threading\nlock = threading.Lock()\nx = 1", {}, ["lock", "x"], "<cell>"
    )
    assert report["status"] == "ok"
    assert "lock" in report["skipped"] and "pickle" in report["skipped"]["lock"]
    assert decode(report["frames"]) == {"x": 1}


def test_errors_keep_only_the_cells_frames() -> None:
    report = agent.run_cell("def f():\n    return 1 / 0\nf()", {}, [], "<remote test>")
    error = report["error"]
    assert (report["status"], error["ename"]) == ("error", "ZeroDivisionError")
    assert error["traceback"].startswith("Traceback (most recent call last):\n")
    assert 'File "<remote test>", line 3' in error["traceback"]
    assert "agent.py" not in error["traceback"]
    assert isinstance(decode(error["frames"])["exception"], ZeroDivisionError)


def test_outbox_batches_and_checks_values() -> None:
    sent: list[dict] = []
    outbox = agent.Outbox(sent.append, has_run=True)
    try:
        for step in range(1000):
            agent._relay_call("log_metric", ("loss", step * 0.5), {"step": step}, outbox)
        agent._relay_call("log_params", ({"lr": 0.1},), {}, outbox)
        with pytest.raises(ValueError, match="Metric 'loss' must be a number"):
            agent._relay_call("log_metric", ("loss", "high"), {}, outbox)
    finally:
        outbox.close()
    events = [event for batch in sent for event in batch["events"]]
    assert len(sent) < 50  # batched, not one message per call
    assert [e[3] for e in events if e[0] == "m"] == list(range(1000))
    assert ["p", "lr", "0.1"] in events
    with pytest.raises(RuntimeError, match="No active run on the local side"):
        agent.Outbox(sent.append, has_run=False).event(["m", "x", 1.0, None, 0])


def test_relayed_functions_fall_through_outside_remote_cells(tmp_store: str) -> None:
    """In a Dask worker sharing this process, only the task's thread relays."""
    agent.install_shim()
    import jupyter_mlops as mlops

    assert getattr(mlops.log_metric, "__jupyter_mlops_relay__", False)
    from jupyter_mlops.exceptions import NoActiveRunError

    with pytest.raises(NoActiveRunError):  # the real function: no run here
        mlops.log_metric("loss", 1.0)
    sent: list[dict] = []

    def task() -> None:
        agent._local.outbox = outbox = agent.Outbox(sent.append, has_run=True)
        try:
            mlops.log_metric("loss", 2.0)
        finally:
            agent._local.outbox = None
            outbox.close()

    thread = threading.Thread(target=task)
    thread.start()
    thread.join()
    assert sent[0]["events"][0][:4] == ["m", "loss", 2.0, None]


BARE = """
import importlib.abc, json, sys, types

class NoMlops(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "jupyter_mlops" or name.startswith("jupyter_mlops."):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NoMlops())
source = sys.stdin.read()
module = types.ModuleType("jupyter_mlops_remote_agent")
sys.modules[module.__name__] = module
exec(compile(source, "<agent>", "exec"), module.__dict__)
module.install_shim()
import jupyter_mlops as mlops
sent = []
module._process_outbox = module.Outbox(sent.append, has_run=True)
mlops.log_metric("acc", 0.9, step=3)
mlops.set_tag("host", "bare")
module._process_outbox.close()
print(json.dumps([e[:4] if e[0] == "m" else e for b in sent for e in b["events"]]))
"""


def test_without_jupyter_mlops_remotely_a_stand_in_relays() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BARE],
        input=agent.source_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["m", "acc", 0.9, 3], ["t", "host", "bare"]]


def test_outputs_over_the_size_guard_stay_remote_each_named_with_its_size() -> None:
    report = agent.run_cell(
        "import numpy as np\nbig = np.zeros(200_000)\nsmall = 1", {}, ["big", "small"], "<c>", 1000
    )
    assert decode(report["frames"]) == {}
    assert "over the 1.0 kB limit; this one 1.6 MB" in report["skipped"]["big"]
    assert set(report["skipped"]) == {"big", "small"}
