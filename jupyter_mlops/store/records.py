"""Plain data read back from the store (no Jupyter, no SQLAlchemy types)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass
class CellRecord:
    position: int
    execution_count: int | None
    cell_id: str | None
    source: str
    start_time: int
    duration_ms: float | None
    status: str
    error: str | None = None


@dataclass
class RunRecord:
    run_id: str
    name: str
    experiment_id: str
    experiment: str
    kind: str
    status: str
    start_time: int
    end_time: int | None
    last_update_time: int
    heartbeat: int
    parent_run_id: str | None
    user: str | None
    host: str | None
    pid: int | None
    notebook_path: str | None
    execution_count: int | None
    cell_id: str | None
    artifact_uri: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lifecycle_stage: str = "active"  # "deleted" once archived (a soft delete)
    note: str | None = None  # Markdown
    # Detail (filled by Store.get_run, not by searches)
    source: str | None = None
    stdout: str | None = None
    error: str | None = None
    git: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    cells: list[CellRecord] | None = None
    artifacts: list[tuple[str, int]] | None = None
    children: list[str] | None = None

    SUMMARY_FIELDS = (
        "run_id",
        "name",
        "experiment",
        "experiment_id",
        "status",
        "start_time",
        "end_time",
        "last_update_time",
        "parent_run_id",
        "notebook_path",
        "cell_id",
        "kind",
        "user",
        "host",
        "lifecycle_stage",
    )

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: what `runs list --format json` prints; REST's RunSummary is projected
        from it (``server/serialize.py``)."""
        out = {name: getattr(self, name) for name in self.SUMMARY_FIELDS}
        out["params"] = dict(self.params)
        out["metrics"] = {k: json_number(v) for k, v in self.metrics.items()}
        out["tags"] = dict(self.tags)
        return out

    def detail(self) -> dict[str, Any]:
        """JSON-ready detail: summary plus capture, cells and artifacts."""
        out = self.summary()
        out.update(
            note=self.note,
            source=self.source,
            stdout=self.stdout,
            error=self.error,
            git=self.git,
            environment=self.environment,
            execution_count=self.execution_count,
            pid=self.pid,
            artifact_uri=self.artifact_uri,
            cells=[asdict(c) for c in self.cells or []],
            artifacts=[{"path": p, "size": s} for p, s in self.artifacts or []],
            children=list(self.children or []),
            metric_keys=sorted(self.metrics),
        )
        return out


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN/inf: send them as strings MLflow-style ("NaN", "Infinity")."""
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def load_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
