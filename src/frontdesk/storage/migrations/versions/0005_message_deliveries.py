"""Message deliveries: idempotency keys of customer messages and the reply each one got.

Revision ID: 0005_message_deliveries
Revises: 0004_handoff
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import disable_rls, enable_rls

revision: str = "0005_message_deliveries"
down_revision: str | None = "0004_handoff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_message_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_deliveries")),
        sa.UniqueConstraint("tenant_id", "key", name="uq_message_deliveries_key"),
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_deliveries_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_message_deliveries_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, ["message_deliveries"])


def downgrade() -> None:
    disable_rls(op, ["message_deliveries"])
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_deliveries_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_message_deliveries_conversation_id"))
    op.drop_table("message_deliveries")
