"""Plain data read back from the store (no Jupyter, no SQLAlchemy types)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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

    # The run's fields in every run shape (``wire.run_summary``: REST, CLI JSON, events),
    # besides params, metrics and tags. openapi.yaml's RunSummary is checked against them.
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

    # The shape's fields beyond the summary (``wire.run_detail``), and the record's fields
    # that no shape carries: the heartbeat is the reaper's, the pid is in ``environment``.
    DETAIL_FIELDS = (
        "note",
        "source",
        "cells",
        "git",
        "environment",
        "artifacts",
        "stdout",
        "error",
        "metric_keys",
        "children",
        "execution_count",
        "artifact_uri",
    )
    NOT_SENT = ("heartbeat", "pid")


def load_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
