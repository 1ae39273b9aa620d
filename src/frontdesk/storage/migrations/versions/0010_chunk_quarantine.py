"""Chunks quarantined by the knowledge screen (issue 17.3).

`chunks.quarantine`: the screen's findings (instructions to the reader, requests for secrets,
hidden text), NULL for a clean chunk; such a chunk is kept but never retrieved, embedded or
quoted. `chunks.screened`: the screen's version that read the chunk; chunks indexed before
(0) are screened when the index is next refreshed (any ingest, upload or reindex).

Plain ADD COLUMN (no batch copy): on SQLite the chunks table carries the FTS5 triggers.

Revision ID: 0010_chunk_quarantine
Revises: 0009_visitor_binding
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_chunk_quarantine"
down_revision: str | None = "0009_visitor_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chunks", sa.Column("quarantine", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("chunks", sa.Column("screened", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("chunks", "screened")
    op.drop_column("chunks", "quarantine")
