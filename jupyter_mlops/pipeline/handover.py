"""Serialize and load the values one step hands over to another.

Fast paths: numpy arrays as their raw buffers (``.npy``: a header, then the bytes), pandas
DataFrames as Parquet (pyarrow), scikit-learn objects with joblib; modules by name; cloudpickle
for the rest.
A value that cannot be written is a ``HandoverError`` naming the variable and the step.

This module runs inside step kernels, where it is loaded from its file without importing the
package (``import jupyter_mlops`` costs about half a second per kernel): it imports only the
standard library at the top, and the rest when a value needs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

try:
    from ..exceptions import HandoverError
except ImportError:  # loaded from its file in a step kernel: same name, same message

    class HandoverError(Exception):  # type: ignore[no-redef]
        """A value a step hands over cannot be serialized."""


MANIFEST = "outputs.json"


def file_hash(path: str | os.PathLike[str]) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
    if isinstance(value, type(sys)):
        return "module"
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            return "numpy"
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return "parquet"
    if module == "sklearn":
        return "joblib"
    return "pickle"


def save(name: str, value: Any, folder: str | os.PathLike[str], step: str) -> dict[str, Any]:
    """Write ``value`` under ``folder``; returns its manifest entry (format, file, hash)."""
    folder = Path(folder)
    kind = _kind(value)
    try:
        if kind == "module":
            return {"format": "module", "module": value.__name__, "hash": value.__name__}
        if kind == "parquet":
            try:
                file = folder / f"{name}.parquet"
                value.to_parquet(file, engine="pyarrow")
                return _entry("parquet", file)
            except Exception:  # noqa: BLE001 - mixed-type columns, non-text labels: pickle
                kind = "pickle"
        if kind == "numpy":
            import numpy as np

            file = folder / f"{name}.npy"
            np.save(file, value, allow_pickle=False)
            return _entry("numpy", file)
        if kind == "joblib":
            import joblib

            file = folder / f"{name}.joblib"
            joblib.dump(value, file)
            return _entry("joblib", file)
        import cloudpickle

        file = folder / f"{name}.pkl"
        with open(file, "wb") as handle:
            cloudpickle.dump(value, handle, protocol=5)
        return _entry("pickle", file)
    except HandoverError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is the value's: name it
        for leftover in folder.glob(f"{name}.*"):
            leftover.unlink(missing_ok=True)
        raise HandoverError(
            f"Step {step!r} cannot hand over {name!r} ({type(value).__module__}."
            f"{type(value).__qualname__}): {type(exc).__name__}: {exc}. Make it a value that "
            "pickles, or compute it in the step that uses it."
        ) from None


def _entry(kind: str, file: Path) -> dict[str, Any]:
    size = file.stat().st_size
    return {"format": kind, "file": file.name, "hash": file_hash(file), "bytes": size}


def load(entry: dict[str, Any], folder: str | os.PathLike[str]) -> Any:
    kind = entry["format"]
    if kind == "module":
        import importlib

        return importlib.import_module(entry["module"])
    path = Path(folder) / entry["file"]
    if kind == "numpy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if kind == "parquet":
        import pandas as pd

        return pd.read_parquet(path, engine="pyarrow")
    if kind == "joblib":
        import joblib

        return joblib.load(path)
    import pickle

    with open(path, "rb") as handle:
        return pickle.load(handle)


def save_outputs(
    values: dict[str, Any], names: list[str], folder: str | os.PathLike[str], step: str
) -> dict[str, Any]:
    """Write each of ``names`` from ``values`` (the step's namespace), then the manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name in names:
        if name not in values:
            raise HandoverError(
                f"Step {step!r} did not define {name!r}, which a later step reads (is it "
                "assigned only in a branch that did not run?)."
            )
        entries[name] = save(name, values[name], folder, step)
    manifest = {"step": step, "outputs": entries}
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest), encoding="utf-8")
    tmp.replace(folder / MANIFEST)
    return manifest


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_inputs(inputs: dict[str, str], target: dict[str, Any]) -> None:
    """``inputs``: name -> producer's output folder. Loads each value into ``target``."""
    manifests: dict[str, dict[str, Any]] = {}
    for name, folder in inputs.items():
        manifest = manifests.get(folder)
        if manifest is None:
            manifest = read_manifest(folder)
            if manifest is None:
                raise HandoverError(
                    f"The outputs in {folder!r} are missing (was the cache cleared?)."
                )
            manifests[folder] = manifest
        entry = manifest["outputs"].get(name)
        if entry is None:
            raise HandoverError(
                f"Step {manifest.get('step')!r} did not hand over {name!r} (outputs in {folder!r})."
            )
        target[name] = load(entry, folder)
