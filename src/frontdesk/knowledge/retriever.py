"""Keyword retrieval over the tenant's chunks, returning passages ready to cite."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import keyword_search
from frontdesk.storage.models import Chunk, Document
from frontdesk.types import Passage


class FullTextRetriever:
    """BM25 over SQLite FTS5, or ts_rank over PostgreSQL full text."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(
        self, tenant_id: str, query: str, *, limit: int = 5, doc_types: Sequence[str] = ()
    ) -> list[Passage]:
        async with self._db.session(tenant_id) as session:
            hits = await keyword_search(session, query, limit=limit, doc_types=doc_types)
            if not hits:
                return []
            rows = await session.execute(
                select(Chunk, Document)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.id.in_([hit.chunk_id for hit in hits]))
            )
            by_id = {row[0].id: (row[0], row[1]) for row in rows}
        passages = []
        for hit in hits:
            if hit.chunk_id not in by_id:
                continue
            chunk, document = by_id[hit.chunk_id]
            passages.append(
                Passage(
                    chunk_id=chunk.id,
                    document_id=document.id,
                    title=document.title,
                    heading=chunk.heading,
                    text=chunk.text,
                    source=document.source,
                    kind=chunk.kind,
                    doc_type=document.doc_type,
                    tags=list(document.tags),
                    score=hit.score,
                )
            )
        return passages
