"""Turns: the NLU model version that read the message, so a turn says which training
answered after `frontdesk train` swapped a new model into a running server.

Revision ID: 0008_turn_nlu_model
Revises: 0007_job_heartbeat
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_turn_nlu_model"
down_revision: str | None = "0007_job_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nlu_model", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("nlu_model")
