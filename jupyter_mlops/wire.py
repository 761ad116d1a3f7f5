"""JSON on the wire: the shapes of ``server/openapi.yaml``, for REST and ``jupyter mlops``.

The REST API and the CLI's ``--format json`` encode runs here, and only here, so they agree on
every field and on every number.

Non-finite numbers. JSON has no NaN or infinity, and a bare ``NaN`` token is not JSON. A
non-finite float is written as ``null`` where the number belongs, and a side map next to it
names the value each such ``null`` stands for, as ``"NaN"``, ``"Infinity"`` or
``"-Infinity"``. Nothing is lost: ``float(name)`` gives the value back. The side maps:

- a run's ``metrics`` map -> ``nonfinite_metrics`` (metric key -> name), present only when one
  of the run's latest values is non-finite;
- a metric history's ``values`` array -> ``nonfinite`` (index as a decimal string -> name),
  always present.

A ``null`` that ``nonfinite_metrics`` does not name is a missing value. ``restore_metrics``
reverses the encoding. The schemas are closed (``additionalProperties: false``), so each shape
is projected field by field from the record; ``RunRecord.SUMMARY_FIELDS`` and
``DETAIL_FIELDS`` are the field lists, which a test checks against ``openapi.yaml``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import orjson

from .store.records import RunRecord

NONFINITE_NAMES = ("NaN", "Infinity", "-Infinity")


def nonfinite_name(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` for a non-finite float."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def finite(value: Any) -> float | None:
    """A JSON-safe metric value: the number, or ``None`` when missing or non-finite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def nonfinite_metrics(metrics: Mapping[str, Any]) -> dict[str, str]:
    """Which non-finite value each ``null`` of a metric map stands for (``"NaN"``, ...)."""
    out: dict[str, str] = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
            if not math.isfinite(number):
                out[str(key)] = nonfinite_name(number)
    return out


def encode_metrics(out: dict[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Put ``metrics`` into ``out`` by the convention: ``metrics`` (null when non-finite) and,
    when any is, ``nonfinite_metrics``."""
    out["metrics"] = {str(k): finite(v) for k, v in metrics.items()}
    nonfinite = nonfinite_metrics(metrics)
    if nonfinite:
        out["nonfinite_metrics"] = nonfinite
    return out


def restore_metrics(shape: Mapping[str, Any]) -> dict[str, float | None]:
    """The metric values of a run shape (REST or CLI JSON) with the non-finite ones back."""
    names = shape.get("nonfinite_metrics") or {}
    return {k: float(names[k]) if k in names else v for k, v in shape["metrics"].items()}


def dumps(value: Any) -> str:
    """Text of a shape built here: strict JSON (a stray non-finite float is an error, not a
    bare ``NaN`` token), indented for people."""
    return json.dumps(value, indent=2, allow_nan=False)


def json_bytes(value: Any) -> bytes:
    """A shape built here as a REST answer's body: compact JSON by orjson, about 7 times as
    fast as ``json`` on number arrays (a compare chart's 50 runs x 1,000 points: ~4 ms, not
    ~27 ms, per metric). ``</`` is escaped as Tornado's own encoding does. The shapes hold no
    non-finite float (``nonfinite`` names them), so strictness costs nothing here."""
    return orjson.dumps(value).replace(b"</", b"<\\/")


def run_summary(record: RunRecord) -> dict[str, Any]:
    """RunSummary."""
    out: dict[str, Any] = {name: getattr(record, name) for name in RunRecord.SUMMARY_FIELDS}
    out["params"] = {str(k): str(v) for k, v in record.params.items()}
    out["tags"] = {str(k): str(v) for k, v in record.tags.items()}
    return encode_metrics(out, record.metrics)


CELL_FIELDS = (
    "position",
    "execution_count",
    "source",
    "start_time",
    "duration_ms",
    "status",
    "cell_id",
    "error",
)
GIT_FIELDS = ("commit", "branch", "dirty", "diff")
ENVIRONMENT_FIELDS = ("python", "platform", "host", "user", "pid", "packages")


def _cell(cell: dict[str, Any]) -> dict[str, Any]:
    out = {name: cell.get(name) for name in CELL_FIELDS}
    out["source"] = out["source"] or ""
    out["status"] = out["status"] or ""
    return out


def _git(git: Any) -> dict[str, Any] | None:
    if not isinstance(git, dict):
        return None
    out = {name: git.get(name) for name in GIT_FIELDS}
    out["dirty"] = bool(out["dirty"])
    for name in ("commit", "branch", "diff"):
        if out[name] is not None:
            out[name] = str(out[name])
    return out


def _environment(env: Any, record: RunRecord) -> dict[str, Any] | None:
    if not isinstance(env, dict):
        return None
    out = {name: env.get(name) for name in ENVIRONMENT_FIELDS}
    if out["user"] is None:
        out["user"] = record.user
    if out["pid"] is None:
        out["pid"] = record.pid
    packages = out["packages"]
    out["packages"] = (
        {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}
    )
    for name in ("python", "platform", "host", "user"):
        if out[name] is not None:
            out[name] = str(out[name])
    if not isinstance(out["pid"], int) or isinstance(out["pid"], bool):
        out["pid"] = None
    return out


def run_detail(record: RunRecord) -> dict[str, Any]:
    """RunDetail = RunSummary + note, capture, cells, artifacts, children."""
    out = run_summary(record)
    out.update(
        note=record.note,
        source=record.source,
        cells=[_cell(asdict(c)) for c in record.cells or []],
        git=_git(record.git),
        environment=_environment(record.environment, record),
        artifacts=artifact_list(record.artifacts or []),
        stdout=record.stdout,
        error=record.error,
        metric_keys=sorted(record.metrics),
        children=list(record.children or []),
        execution_count=record.execution_count,
        artifact_uri=record.artifact_uri,
    )
    return out


def artifact_list(artifacts: Sequence[tuple[str, int | None]]) -> list[dict[str, Any]]:
    return [
        {"path": path, "size": None if size is None else max(0, int(size))}
        for path, size in artifacts
    ]


def experiment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "experiment_id": str(row["experiment_id"]),
        "name": str(row["name"]),
        "creation_time": int(row["creation_time"]),
        "run_count": int(row.get("run_count") or 0),
    }


def metric_history(
    key: str, history: dict[str, Any], keep_last: int | None = None
) -> dict[str, Any]:
    """MetricHistory from ``Store.metric_history``'s arrays (``keep_last``: tail only)."""
    # numpy converts whole columns to Python numbers (a compare chart sends 50,000 points)
    step = np.asarray(history["step"], dtype=np.int64)
    stamp = np.asarray(history["timestamp"], dtype=np.int64)
    value = np.asarray(history["value"], dtype=np.float64)
    if keep_last is not None:
        step, stamp, value = step[-keep_last:], stamp[-keep_last:], value[-keep_last:]
    steps, stamps = step.tolist(), stamp.tolist()
    values: list[float | None] = value.tolist()
    nonfinite: dict[str, str] = {}
    for index in np.flatnonzero(~np.isfinite(value)).tolist():
        nonfinite[str(index)] = nonfinite_name(float(value[index]))
        values[index] = None
    return {
        "key": key,
        "steps": steps,
        "timestamps": stamps,
        "values": values,
        "nonfinite": nonfinite,
        "total_points": int(history["total_points"]),
    }


def comparison(records: Sequence[RunRecord]) -> dict[str, Any]:
    """Comparison: params and latest metrics side by side, and which params differ."""
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, float | None]] = {}
    for record in records:
        for key, value in record.params.items():
            params.setdefault(str(key), {})[record.run_id] = str(value)
        for key, number in record.metrics.items():
            metrics.setdefault(str(key), {})[record.run_id] = finite(number)
    differing = sorted(
        key
        for key, by_run in params.items()
        if len(by_run) < len(records) or len(set(by_run.values())) > 1
    )
    return {
        "runs": [run_summary(r) for r in records],
        "params": dict(sorted(params.items())),
        "metrics": dict(sorted(metrics.items())),
        "differing_params": differing,
    }
