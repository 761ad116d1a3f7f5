"""Git diffs stored once: table ``git_diffs`` (digest -> diff text).

A run's ``git`` JSON refers to its diff by SHA-256 instead of holding the text, so a sweep
from one dirty checkout stores the diff once rather than once per run. Existing runs keep
their inline diff (read as before): nothing is rewritten.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "git_diffs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("diff", sa.Text, nullable=False),
    )


def downgrade() -> None:
    # Put each diff back inline first: dropping the table must not lose a run's diff.
    import json

    conn = op.get_bind()
    texts: dict[str, str] = dict(conn.execute(sa.text("SELECT digest, diff FROM git_diffs")).all())
    rows = conn.execute(
        sa.text("SELECT run_id, git FROM runs WHERE git LIKE '%diff_sha256%'")
    ).all()
    for run_id, text in rows:
        git = json.loads(text)
        git["diff"] = texts.get(git.pop("diff_sha256", None))
        conn.execute(
            sa.text("UPDATE runs SET git = :git WHERE run_id = :run_id"),
            {"git": json.dumps(git), "run_id": run_id},
        )
    op.drop_table("git_diffs")
