"""Hand-over values: numpy raw buffers, pandas Parquet, scikit-learn, modules, cloudpickle."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.exceptions import HandoverError
from jupyter_mlops.pipeline import handover


def roundtrip(tmp_path, values):
    manifest = handover.save_outputs(values, sorted(values), tmp_path, "producer")
    loaded: dict = {}
    handover.load_inputs({name: str(tmp_path) for name in values}, loaded)
    return manifest, loaded


def test_fast_paths(tmp_path):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    values = {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "frame": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[5, 6]),
        "model": model,
        "np_module": np,
        "other": {"nested": [1, (2, 3)]},
        "func": lambda v: v + 1,
    }
    manifest, loaded = roundtrip(tmp_path, values)
    formats = {k: v["format"] for k, v in manifest["outputs"].items()}
    assert formats == {
        "array": "numpy",
        "frame": "parquet",
        "model": "joblib",
        "np_module": "module",
        "other": "pickle",
        "func": "pickle",
    }
    np.testing.assert_array_equal(loaded["array"], values["array"])
    assert loaded["array"].dtype == np.float32
    pd.testing.assert_frame_equal(loaded["frame"], values["frame"])
    assert list(loaded["model"].predict([[0.0], [3.0]])) == [0, 1]
    assert loaded["np_module"] is np
    assert loaded["other"] == values["other"] and loaded["func"](1) == 2
    hashes = {k: v["hash"] for k, v in manifest["outputs"].items()}
    assert (
        handover.save_outputs(values, sorted(values), tmp_path / "again", "p")["outputs"]["array"][
            "hash"
        ]
        == hashes["array"]
    )


def test_frame_parquet_cannot_hold_falls_back_to_pickle(tmp_path):
    frame = pd.DataFrame({0: [1], "mixed": [object()]})
    manifest, loaded = roundtrip(tmp_path, {"frame": frame})
    assert manifest["outputs"]["frame"]["format"] == "pickle"
    assert list(loaded["frame"].columns) == [0, "mixed"]


def test_unserializable_value_names_variable_and_step(tmp_path):
    generator = (i for i in range(3))
    with pytest.raises(HandoverError, match="Step 'producer' cannot hand over 'gen' .*generator"):
        handover.save_outputs({"gen": generator}, ["gen"], tmp_path, "producer")
    assert not any(p.name.startswith("gen.") for p in tmp_path.iterdir())


def test_missing_name(tmp_path):
    with pytest.raises(HandoverError, match="Step 'producer' did not define 'x'"):
        handover.save_outputs({}, ["x"], tmp_path, "producer")


def test_loads_standalone_without_the_package(tmp_path):
    """Step kernels load this module from its file; it must not need the package."""
    spec = importlib.util.spec_from_file_location("_standalone_handover", handover.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(module.HandoverError):
        module.save_outputs({}, ["x"], tmp_path, "s")
    assert os.path.basename(module.__file__) == "handover.py"
