"""What the runner does with what comes back: exceptions rebuilt, relays into the run."""

from __future__ import annotations

import pickle

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.remote import RemoteExecutionError, RemoteTraceback
from jupyter_mlops.remote.runner import _raise_remote, _TrackingSink
from tests.remote_helpers import Recorder


def test_a_remote_exception_is_raised_as_itself_with_the_remote_traceback() -> None:
    from jupyter_mlops.remote.agent import encode

    error = {
        "ename": "KeyError",
        "evalue": "'k'",
        "traceback": "Traceback (most recent call last):\n  ...\nKeyError: 'k'\n",
        "frames": encode({"exception": KeyError("k")}),
    }
    with pytest.raises(KeyError) as info:
        _raise_remote(error, "local")
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "KeyError: 'k'" in str(info.value.__cause__)


def test_an_exception_that_does_not_unpickle_here_keeps_its_name_and_message() -> None:
    error = {
        "ename": "GPUOutOfMemory",
        "evalue": "needs 80 GB",
        "traceback": "Traceback ...\nGPUOutOfMemory: needs 80 GB\n",
        "frames": [pickle.dumps("not an exception")],
    }
    with pytest.raises(RemoteExecutionError, match=r"GPUOutOfMemory: needs 80 GB .*'gpu'"):
        _raise_remote(error, "gpu")


def test_a_remote_keyboard_interrupt_is_one_here() -> None:
    with pytest.raises(KeyboardInterrupt):
        _raise_remote({"ename": "KeyboardInterrupt", "evalue": "", "traceback": ""}, "local")


def test_relayed_calls_land_in_the_run_and_bad_ones_are_told_once(tmp_store: str) -> None:
    inner = Recorder()
    with mlops.start_run("relayed") as run:
        sink = _TrackingSink(inner, run)
        sink.relay([["m", "loss", 0.5, None, 1_700_000_000_000], ["m", "loss", 0.25, None, 0]])
        sink.relay([["p", "lr", "0.1"], ["t", "stage", "remote"], ["m", "", 1.0, None, 0]])
        sink.relay([["m", "", 2.0, None, 0]])
    mlops.flush()
    record = mlops.get_run(run.run_id)
    history = record.history("loss")
    assert history["value"].tolist() == [0.5, 0.25] and history["step"].tolist() == [0, 1]
    assert record.params == {"lr": "0.1"} and record.tags["stage"] == "remote"
    assert len(inner.notices) == 1 and "refused" in inner.notices[0]
