"""Channel threads: a Slack thread or WhatsApp sender mapped to its conversation.

Revision ID: 0006_channel_threads
Revises: 0005_message_deliveries
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import disable_rls, enable_rls

revision: str = "0006_channel_threads"
down_revision: str | None = "0005_message_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_threads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("thread_key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_channel_threads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_channel_threads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_threads")),
        sa.UniqueConstraint("tenant_id", "channel", "thread_key", name="uq_channel_threads_key"),
    )
    with op.batch_alter_table("channel_threads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_threads_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_channel_threads_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, ["channel_threads"])


def downgrade() -> None:
    disable_rls(op, ["channel_threads"])
    with op.batch_alter_table("channel_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_threads_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_channel_threads_conversation_id"))
    op.drop_table("channel_threads")
