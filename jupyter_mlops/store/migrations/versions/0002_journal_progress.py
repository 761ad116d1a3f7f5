"""Journal progress: how far each writer journal has been applied to this store.

The progress row of a journal is updated in the same transaction as the operations it
applies, so a journal replayed after a crash (or by ``jupyter mlops sync``) resumes exactly
where the last commit left off: nothing is applied twice, nothing is skipped.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_progress",
        sa.Column("journal_id", sa.String(64), primary_key=True),
        sa.Column("segment", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        # Operations of the record at ``offset`` already applied (a record split by the
        # writer around an operation the database refused).
        sa.Column("record_ops", sa.Integer, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("journal_progress")
