"""Console users and sessions; PostgreSQL row-level security on every tenant table.

On PostgreSQL each table holding tenant data gets a policy that shows and accepts only rows
whose tenant_id equals the session setting `app.tenant_id` (set per transaction by
`frontdesk.storage.db`; '*' for the few system sessions that work across tenants). It is a
second wall behind the ORM scoping: a raw query that forgets its tenant filter still sees
one tenant. FORCE makes it apply to the table owner too, which is usually the app's role.

Revision ID: 0003_security
Revises: 0002_embeddings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import disable_rls, enable_rls

revision: str = "0003_security"
down_revision: str | None = "0002_embeddings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tenant tables as of this revision; later migrations call enable_rls for theirs.
TENANT_TABLES = (
    "api_keys",
    "audit_log",
    "conversations",
    "messages",
    "turns",
    "tickets",
    "documents",
    "chunks",
    "knowledge_index",
    "jobs",
    "users",
    "user_sessions",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),
    )
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_index(batch_op.f("ix_users_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_user_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("prefix", name=op.f("uq_user_sessions_prefix")),
    )
    with op.batch_alter_table("user_sessions") as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    enable_rls(op, TENANT_TABLES)


def downgrade() -> None:
    disable_rls(op, TENANT_TABLES)
    op.drop_table("user_sessions")
    op.drop_table("users")
