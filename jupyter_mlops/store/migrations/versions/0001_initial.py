"""Initial schema: experiments, runs, params, tags, metric series and points, cells, artifacts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.String(32),
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("heartbeat", sa.BigInteger, nullable=False),
        sa.Column("parent_run_id", sa.String(32)),
        sa.Column("user", sa.String(256)),
        sa.Column("host", sa.String(256)),
        sa.Column("pid", sa.Integer),
        sa.Column("notebook_path", sa.Text),
        sa.Column("execution_count", sa.Integer),
        sa.Column("cell_id", sa.String(64)),
        sa.Column("source", sa.Text),
        sa.Column("stdout", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("git", sa.Text),
        sa.Column("environment", sa.Text),
        sa.Column("artifact_uri", sa.Text),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_start", "runs", ["start_time"])
    op.create_index("ix_runs_last_update", "runs", ["last_update_time"])
    op.create_index("ix_runs_parent", "runs", ["parent_run_id"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "params",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_params_key_value", "params", ["key", "run_id"])
    op.create_table(
        "tags",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_tags_key", "tags", ["key", "run_id"])
    op.create_table(
        "metric_series",
        sa.Column("series_id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("latest_value", sa.Float),
        sa.Column("latest_step", sa.BigInteger, nullable=False),
        sa.Column("latest_timestamp", sa.BigInteger, nullable=False),
        sa.Column("point_count", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("run_id", "key", name="uq_metric_series_run_key"),
    )
    op.create_index("ix_metric_series_key_value", "metric_series", ["key", "latest_value"])
    op.create_table(
        "metrics",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column(
            "series_id",
            sa.BigInteger,
            sa.ForeignKey("metric_series.series_id"),
            nullable=False,
        ),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
    )
    op.create_index("ix_metrics_series_step", "metrics", ["series_id", "step"])
    op.create_table(
        "run_cells",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("execution_count", sa.Integer),
        sa.Column("cell_id", sa.String(64)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("logged_time", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "artifacts",
        "run_cells",
        "metrics",
        "metric_series",
        "tags",
        "params",
        "runs",
        "experiments",
    ):
        op.drop_table(table)
