"""Retrievers over a tenant's chunks, returning passages ready to cite.

`FullTextRetriever`: BM25 (SQLite FTS5) or ts_rank (PostgreSQL full text).
`HybridRetriever`: that keyword list and an embedding-similarity list, each up to
`candidates` long, joined by reciprocal-rank fusion (score = sum of 1 / (k + rank)).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.interfaces import Embedder
from frontdesk.knowledge.vectors import VectorCache
from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import keyword_search
from frontdesk.storage.models import Chunk, Document
from frontdesk.types import Passage


async def load_passages(
    session: AsyncSession, scored: Sequence[tuple[int, float]], tags: Sequence[str] = ()
) -> list[Passage]:
    """Passages for (chunk id, score) pairs, in the given order; tag filter applied here."""
    if not scored:
        return []
    rows = await session.execute(
        select(Chunk, Document)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.id.in_([chunk_id for chunk_id, _ in scored]))
    )
    by_id = {row[0].id: (row[0], row[1]) for row in rows}
    passages = []
    wanted = set(tags)
    for chunk_id, score in scored:
        if chunk_id not in by_id:
            continue
        chunk, document = by_id[chunk_id]
        if wanted and not wanted & set(document.tags):
            continue
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
                score=score,
            )
        )
    return passages


class FullTextRetriever:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(
        self,
        tenant_id: str,
        query: str,
        *,
        limit: int = 5,
        doc_types: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> list[Passage]:
        async with self._db.session(tenant_id) as session:
            fetch = limit * 4 if tags else limit
            hits = await keyword_search(session, query, limit=fetch, doc_types=doc_types)
            passages = await load_passages(session, [(h.chunk_id, h.score) for h in hits], tags)
        return passages[:limit]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


class HybridRetriever:
    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        *,
        candidates: int = 100,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
    ) -> None:
        self._db = db
        self._embedder = embedder
        self._cache = VectorCache()
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight

    async def search(
        self,
        tenant_id: str,
        query: str,
        *,
        limit: int = 5,
        doc_types: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> list[Passage]:
        if not query.strip():
            return []
        query_vector = (await asyncio.to_thread(self._embedder.embed, [query]))[0]
        async with self._db.session(tenant_id) as session:
            hits = await keyword_search(session, query, limit=self.candidates, doc_types=doc_types)
            vectors = await self._cache.get(session, tenant_id)
            dense: list[tuple[int, float]] = []
            if vectors is not None and vectors.model == self._embedder.name:
                q = np.asarray(query_vector, dtype=np.float32)
                dense = vectors.top(q, self.candidates, frozenset(doc_types))
            fused = reciprocal_rank_fusion(
                [[h.chunk_id for h in hits], [chunk_id for chunk_id, _ in dense]],
                k=self.rrf_k,
                weights=[1.0, self.dense_weight],
            )
            fetch = limit * 4 if tags else limit
            return (await load_passages(session, fused[:fetch], tags))[:limit]
