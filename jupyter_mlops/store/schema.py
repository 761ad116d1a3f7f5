"""The run store's tables (SQLAlchemy Core).

Metrics are split in two: ``metric_series`` has one row per (run, key) holding the latest value
and the point count, and ``metrics`` holds the points keyed by a small integer series id. That
keeps the points table and its (series_id, step) index narrow, instead of MLflow's primary key
over every column with the run uuid and key repeated in each row.

This module describes the *current* schema for queries; the schema on disk is created and
upgraded only by the Alembic migrations in ``migrations/``. ``tests/test_store_schema.py``
checks that both agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Alembic revision that this code reads and writes. Bump with every migration.
SCHEMA_HEAD = "0004"

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 256
MAX_NOTE_LENGTH = 100_000

LIFECYCLE_ACTIVE = "active"
LIFECYCLE_DELETED = "deleted"
LIFECYCLE_STAGES = (LIFECYCLE_ACTIVE, LIFECYCLE_DELETED)

# SQLite only aliases rowid (fast autoincrement) for INTEGER PRIMARY KEY, not BIGINT.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", String(32), primary_key=True),
    Column("name", String(MAX_NAME_LENGTH), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("experiment_id", String(32), ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(MAX_NAME_LENGTH), nullable=False),
    Column("kind", String(16), nullable=False),  # cell | session | api | notebook | pipeline
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("last_update_time", BigInteger, nullable=False),
    Column("heartbeat", BigInteger, nullable=False),
    Column("parent_run_id", String(32)),
    Column("user", String(256)),
    Column("host", String(256)),
    Column("pid", Integer),
    Column("notebook_path", Text),
    Column("execution_count", Integer),
    Column("cell_id", String(64)),
    Column("source", Text),
    Column("stdout", Text),
    Column("error", Text),
    Column("git", Text),  # JSON
    Column("environment", Text),  # JSON
    Column("artifact_uri", Text),
    # MLflow's lifecycle stage: "active", or "deleted" once archived (a soft delete).
    Column("lifecycle_stage", String(16), nullable=False, server_default=LIFECYCLE_ACTIVE),
    Column("note", Text),  # Markdown, edited by the user after the run
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_start", "start_time"),
    Index("ix_runs_last_update", "last_update_time"),
    Index("ix_runs_parent", "parent_run_id"),
    Index("ix_runs_status", "status"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "run_id"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key", "key", "run_id"),
)

metric_series = Table(
    "metric_series",
    metadata,
    Column("series_id", BigIntId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(MAX_KEY_LENGTH), nullable=False),
    Column("latest_value", Float),  # NULL means NaN (SQLite cannot store NaN)
    Column("latest_step", BigInteger, nullable=False),
    Column("latest_timestamp", BigInteger, nullable=False),
    Column("point_count", BigInteger, nullable=False),
    UniqueConstraint("run_id", "key", name="uq_metric_series_run_key"),
    Index("ix_metric_series_key_value", "key", "latest_value"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, ForeignKey("metric_series.series_id"), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float),  # NULL means NaN
    Index("ix_metrics_series_step", "series_id", "step"),
)

run_cells = Table(
    "run_cells",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("execution_count", Integer),
    Column("cell_id", String(64)),
    Column("source", Text, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("duration_ms", Float),
    Column("status", String(16), nullable=False),
    Column("error", Text),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("logged_time", BigInteger, nullable=False),
)

# Each distinct git diff a run captured, once (store/diffs.py): runs' git JSON holds its
# SHA-256.
git_diffs = Table(
    "git_diffs",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("diff", Text, nullable=False),
)

# How far each writer journal has been applied (store/journal.py): updated in the same
# transaction as the operations, so a replay resumes exactly after the last commit.
journal_progress = Table(
    "journal_progress",
    metadata,
    Column("journal_id", String(64), primary_key=True),
    Column("segment", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("record_ops", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)
