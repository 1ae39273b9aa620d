"""Conversations bound to their visitor, idempotency keys scoped to their caller.

`conversations.visitor_token_hash`: the hash of the secret a conversation's visitor got when
it was started through the API (a widget key needs it to read or write the conversation).
`message_deliveries.namespace` (`channel` for channel message ids, else the caller's actor)
joins the unique key, and `request_hash` records what a key was sent with.

Revision ID: 0009_visitor_binding
Revises: 0008_turn_nlu_model
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.storage.rls import ALL_TENANTS, SETTING

revision: str = "0009_visitor_binding"
down_revision: str | None = "0008_turn_nlu_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL_PREFIXES = ("email:", "slack:", "whatsapp:")


def _all_tenants() -> None:
    # Row-level security is forced on these tables: without this the updates see no rows.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"SELECT set_config('{SETTING}', '{ALL_TENANTS}', true)"))


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visitor_token_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        # Keys from before: channel ids stay the channels'; callers' keys are set apart
        # (their caller is not known), so none of them is replayed to anyone.
        batch_op.add_column(sa.Column("namespace", sa.String(length=64), nullable=False,
                                      server_default="legacy"))  # fmt: skip
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
    _all_tenants()
    deliveries = sa.table("message_deliveries", sa.column("namespace"), sa.column("key"))
    op.execute(
        deliveries.update()
        .where(sa.or_(*(deliveries.c.key.startswith(p) for p in CHANNEL_PREFIXES)))
        .values(namespace="channel")
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.alter_column("namespace", server_default=None)
        batch_op.drop_constraint("uq_message_deliveries_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_deliveries_key", ["tenant_id", "namespace", "key"]
        )


def downgrade() -> None:
    _all_tenants()
    deliveries = sa.table("message_deliveries", sa.column("namespace"))
    op.execute(deliveries.delete().where(deliveries.c.namespace != "channel"))
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_deliveries_key", type_="unique")
        batch_op.create_unique_constraint("uq_message_deliveries_key", ["tenant_id", "key"])
        batch_op.drop_column("request_hash")
        batch_op.drop_column("namespace")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("visitor_token_hash")
