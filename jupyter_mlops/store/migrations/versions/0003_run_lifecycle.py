"""Run lifecycle: ``runs.lifecycle_stage`` (archive as a soft delete) and ``runs.note``.

``lifecycle_stage`` is MLflow's vocabulary: ``active``, or ``deleted`` for an archived run,
which searches hide unless asked. Existing runs become ``active``. ``note`` holds a Markdown
note the user writes about a run.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN with a constant default: instant on SQLite and PostgreSQL, no copy.
    op.add_column(
        "runs",
        sa.Column("lifecycle_stage", sa.String(16), nullable=False, server_default="active"),
    )
    op.add_column("runs", sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("note")
        batch.drop_column("lifecycle_stage")
