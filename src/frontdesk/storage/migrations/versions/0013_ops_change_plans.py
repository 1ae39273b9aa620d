"""Operations assistant: change plans (a bulk change to a target system's elements: selector,
JSON Patch per element, validation, diff, approval, apply and rollback), one tenant's each.

Revision ID: 0013_ops_change_plans
Revises: 0012_dialogue_memory
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import disable_rls, enable_rls

revision: str = "0013_ops_change_plans"
down_revision: str | None = "0012_dialogue_memory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ops_change_plans",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal_code", sa.String(length=64), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("selector", sa.JSON(), nullable=False),
        sa.Column("patches", sa.JSON(), nullable=False),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.Column("rollback_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ops_change_plans_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_change_plans")),
    )
    with op.batch_alter_table("ops_change_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ops_change_plans_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_ops_change_plans_tenant_created", ["tenant_id", "created_at"], unique=False
        )
    enable_rls(op, ["ops_change_plans"])


def downgrade() -> None:
    disable_rls(op, ["ops_change_plans"])
    with op.batch_alter_table("ops_change_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_ops_change_plans_tenant_created")
        batch_op.drop_index(batch_op.f("ix_ops_change_plans_tenant_id"))
    op.drop_table("ops_change_plans")
