"""Corrections (training_examples) get a lifecycle: the agent's note (why), and disabled
(when, by whom) so a bad correction leaves every later training without being deleted.

Revision ID: 0011_correction_lifecycle
Revises: 0010_chunk_quarantine
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_correction_lifecycle"
down_revision: str | None = "0010_chunk_quarantine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_examples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_examples", schema=None) as batch_op:
        batch_op.drop_column("disabled_by")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("note")
