"""The JSON shapes of ``openapi.yaml``, built from the store's records.

The schemas are closed (``additionalProperties: false``), so each shape is projected explicitly
from ``RunRecord.summary()`` / ``detail()`` instead of passing those through. Non-finite
numbers are ``null`` in metric maps; a run summary's ``nonfinite_metrics`` and a metric history's
``nonfinite`` say which non-finite value each ``null`` stands for (``"NaN"``, ``"Infinity"``,
``"-Infinity"``, per ``records.json_number``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..store.records import json_number

SUMMARY_FIELDS = (
    "run_id",
    "name",
    "experiment",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
    "parent_run_id",
    "notebook_path",
    "last_update_time",
    "lifecycle_stage",
)
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


def finite(value: Any) -> float | None:
    """A JSON-safe metric value: the number, or ``None`` when missing or non-finite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def run_summary(record: Any) -> dict[str, Any]:
    """RunSummary."""
    full = record.summary()
    out = {name: full.get(name) for name in SUMMARY_FIELDS}
    out["params"] = {str(k): str(v) for k, v in record.params.items()}
    out["metrics"] = {str(k): finite(v) for k, v in record.metrics.items()}
    out["tags"] = {str(k): str(v) for k, v in record.tags.items()}
    nonfinite = nonfinite_metrics(record.metrics)
    if nonfinite:
        out["nonfinite_metrics"] = nonfinite
    return out


def nonfinite_metrics(metrics: dict[str, Any]) -> dict[str, str]:
    """Which non-finite value each ``null`` of a metric map stands for (``"NaN"``, ...)."""
    out: dict[str, str] = {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
            if not math.isfinite(number):
                out[str(key)] = str(json_number(number))
    return out


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


def _environment(env: Any, record: Any) -> dict[str, Any] | None:
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


def run_detail(record: Any) -> dict[str, Any]:
    """RunDetail = RunSummary + note, capture, cells, artifacts, children."""
    full = record.detail()
    out = run_summary(record)
    out.update(
        note=full.get("note"),
        source=full.get("source"),
        cells=[_cell(c) for c in full.get("cells") or []],
        git=_git(full.get("git")),
        environment=_environment(full.get("environment"), record),
        artifacts=artifact_list(record.artifacts or []),
        stdout=full.get("stdout"),
        error=full.get("error"),
        metric_keys=sorted(record.metrics),
        children=list(full.get("children") or []),
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
    steps = [int(s) for s in history["step"]]
    stamps = [int(t) for t in history["timestamp"]]
    raw = [float(v) for v in history["value"]]
    if keep_last is not None:
        steps, stamps, raw = steps[-keep_last:], stamps[-keep_last:], raw[-keep_last:]
    values: list[float | None] = []
    nonfinite: dict[str, str] = {}
    for index, value in enumerate(raw):
        if math.isfinite(value):
            values.append(value)
        else:
            values.append(None)
            nonfinite[str(index)] = str(json_number(value))
    return {
        "key": key,
        "steps": steps,
        "timestamps": stamps,
        "values": values,
        "nonfinite": nonfinite,
        "total_points": int(history["total_points"]),
    }


def comparison(records: list[Any]) -> dict[str, Any]:
    """Comparison: params and latest metrics side by side, and which params differ."""
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, float | None]] = {}
    for record in records:
        for key, value in record.params.items():
            params.setdefault(str(key), {})[record.run_id] = str(value)
        for key, value in record.metrics.items():
            metrics.setdefault(str(key), {})[record.run_id] = finite(value)
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
