"""Variables to frames and back: protocol-5 buffers, unpicklable inputs, the size guard."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.exceptions import RemoteTransferError
from jupyter_mlops.remote.agent import Assembler
from jupyter_mlops.remote.transfer import decode, dumps, frame_nbytes, human, split_frames


class Model:
    """A fitted-model-like object defined in a test module (pickled by reference)."""

    def fit(self, X: np.ndarray) -> Model:
        self.coef_ = X.mean(axis=0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_


def test_round_trip_scalars_arrays_frames_and_models() -> None:
    X = np.arange(12.0).reshape(4, 3)
    values = {
        "n": 3,
        "s": "text",
        "arr": X,
        "df": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        "model": Model().fit(X),
        "fn": lambda v: v + 1,  # by value: cloudpickle
    }
    back = decode(dumps(values))
    assert back["n"] == 3 and back["s"] == "text"
    np.testing.assert_array_equal(back["arr"], X)
    assert back["arr"].flags.writeable
    pd.testing.assert_frame_equal(back["df"], values["df"])
    np.testing.assert_array_equal(back["model"].predict(X), values["model"].predict(X))
    assert back["fn"](1) == 2


def test_array_memory_travels_out_of_band() -> None:
    arr = np.ones(1_000_000)
    frames = dumps({"arr": arr})
    assert len(frames) == 2  # the pickle stream, and the array's own memory
    assert len(frames[0]) < 1000
    assert memoryview(frames[1]).nbytes == arr.nbytes
    assert frame_nbytes(frames) < arr.nbytes + 1000


def test_unpicklable_input_names_the_variable() -> None:
    with pytest.raises(RemoteTransferError, match=r"Variable 'lock' \(lock\) cannot be sent"):
        dumps({"fine": 1, "lock": threading.Lock()})


def test_size_guard_names_sizes() -> None:
    with pytest.raises(RemoteTransferError, match=r"8\.0 MB, over the 1\.0 MB limit \(big 8\.0 MB"):
        dumps({"big": np.zeros(1_000_000)}, max_bytes=1_000_000)


def test_split_and_assemble() -> None:
    frames = [b"head", np.arange(1000, dtype=np.uint8).tobytes(), b""]
    pieces = split_frames(frames, 300)
    assert max(memoryview(p).nbytes for *_, p in pieces) <= 300
    assembler = Assembler(len(frames))
    for index, offset, size, piece in reversed(pieces):
        assembler.put(index, offset, size, piece)
    assert [bytes(f) for f in assembler.result()] == frames


def test_human() -> None:
    assert [human(5), human(1500), human(104_857_600)] == ["5 B", "1.5 kB", "104.9 MB"]
