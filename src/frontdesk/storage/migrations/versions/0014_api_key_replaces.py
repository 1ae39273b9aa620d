"""API keys: `replaces_id`, the revoked key a key was issued to replace, unique, so two
processes replacing the chat page's revoked widget key at once make one key between them.

Revision ID: 0014_api_key_replaces
Revises: 0013_ops_change_plans
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_api_key_replaces"
down_revision: str | None = "0013_ops_change_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_api_keys_replaces_id", ["replaces_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("uq_api_keys_replaces_id", type_="unique")
        batch_op.drop_column("replaces_id")
