"""Passages for ranked chunk ids: from the database, or from every passage of a tenant's index
held in process, so that the passages a hybrid search returns cost no database round trip.

Reading ten passages through the ORM takes about 2.3 ms on SciFact's index (0.4 ms of it
SQLite), an eighth of the 20 ms a search may take. Like the vectors, the passages are loaded
once per index version, in the transaction that read the version, so they are exactly the
index the other lists came from. A tenant with more than `max_chunks` chunks is read from the
database as before: its texts would cost more memory than the round trip is worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.knowledge.vectors import IndexVersion
from frontdesk.storage.models import Chunk, Document
from frontdesk.types import Passage


def passage_query() -> Select[tuple[int, str, str, str, str, str, str, str, list[str]]]:
    """The columns a passage needs; columns, not ORM objects: no entities for rows read once.
    Quarantined chunks are left out."""
    return (
        select(
            Chunk.id,
            Chunk.document_id,
            Chunk.heading,
            Chunk.text,
            Chunk.kind,
            Document.title,
            Document.source,
            Document.doc_type,
            Document.tags,
        )
        .join(Document, Document.id == Chunk.document_id)
        .where(
            # Passages the knowledge screen quarantined are never retrieved: every search reads
            # its passages through here.
            Chunk.quarantine.is_(None)
        )
    )


def to_passage(row: Row[tuple[int, str, str, str, str, str, str, str, list[str]]]) -> Passage:
    return Passage(
        chunk_id=row.id,
        document_id=row.document_id,
        title=row.title,
        heading=row.heading,
        text=row.text,
        source=row.source,
        kind=row.kind,
        doc_type=row.doc_type,
        tags=list(row.tags),
    )


@dataclass
class TenantPassages:
    version: int
    by_id: dict[int, Passage] | None  # None: too many chunks to hold


class PassageCache:
    def __init__(self, max_chunks: int = 20_000) -> None:
        self.max_chunks = max_chunks
        self._by_tenant: dict[str, TenantPassages] = {}

    def current(self, tenant_id: str, current: IndexVersion) -> dict[int, Passage] | None:
        """The tenant's passages if they are held for `current`."""
        found = self._by_tenant.get(tenant_id)
        return found.by_id if found is not None and found.version == current.version else None

    async def get(
        self, session: AsyncSession, tenant_id: str, current: IndexVersion | None
    ) -> dict[int, Passage] | None:
        """The tenant's passages by chunk id at `current` (read in this session), or None
        when they are read from the database instead."""
        if current is None or self.max_chunks <= 0:
            return None
        cached = self._by_tenant.get(tenant_id)
        if cached is not None and cached.version == current.version:
            return cached.by_id
        chunks = await session.scalar(select(func.count()).select_from(Chunk)) or 0
        by_id = None
        if chunks <= self.max_chunks:
            by_id = {row.id: to_passage(row) for row in await session.execute(passage_query())}
        self._by_tenant[tenant_id] = TenantPassages(current.version, by_id)
        return by_id


async def load_passages(
    session: AsyncSession,
    scored: Sequence[tuple[int, float]],
    tags: Sequence[str] = (),
    cached: dict[int, Passage] | None = None,
) -> list[Passage]:
    """Passages for (chunk id, score) pairs, in the given order, from `cached` or else the
    database; ids no longer in the index are skipped; the tag filter is applied here."""
    by_id = cached
    if by_id is None:
        if not scored:
            return []
        rows = await session.execute(
            passage_query().where(Chunk.id.in_([chunk_id for chunk_id, _ in scored]))
        )
        by_id = {row.id: to_passage(row) for row in rows}
    return pick_passages(by_id, scored, tags)


def pick_passages(
    by_id: dict[int, Passage], scored: Sequence[tuple[int, float]], tags: Sequence[str] = ()
) -> list[Passage]:
    """Copies (with their scores) of the passages for (chunk id, score) pairs, in order."""
    wanted = set(tags)
    return [
        found.model_copy(update={"score": score, "tags": list(found.tags)})
        for chunk_id, score in scored
        if (found := by_id.get(chunk_id)) is not None and (not wanted or wanted & set(found.tags))
    ]
