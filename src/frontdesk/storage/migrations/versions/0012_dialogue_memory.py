"""Conversations remember: the dialogue state (active task, slots, pending question) on the
conversation and a snapshot on each turn, the running summary, each message's language, and
a customer profile across conversations keyed by `customer_ref`.

Revision ID: 0012_dialogue_memory
Revises: 0011_correction_lifecycle
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import disable_rls, enable_rls

revision: str = "0012_dialogue_memory"
down_revision: str | None = "0011_correction_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialogue_state", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialogue_state", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    op.create_table(
        "customer_profiles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_ref", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("last_channel", sa.String(length=32), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_profiles")),
        sa.UniqueConstraint("tenant_id", "customer_ref", name="uq_customer_profiles_ref"),
    )
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_profiles_tenant_id"), ["tenant_id"], unique=False
        )
    enable_rls(op, ["customer_profiles"])


def downgrade() -> None:
    disable_rls(op, ["customer_profiles"])
    with op.batch_alter_table("customer_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_profiles_tenant_id"))
    op.drop_table("customer_profiles")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("dialogue_state")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("summary")
        batch_op.drop_column("dialogue_state")
