"""Hybrid retrieval on SQLite and PostgreSQL, with the packaged embedding model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from frontdesk.embedding import CachingEmbedder
from frontdesk.knowledge.context import assemble_context, near_duplicate
from frontdesk.knowledge.ingest import ingest_source, refresh_index, remove_source
from frontdesk.knowledge.retriever import (
    FullTextRetriever,
    HybridRetriever,
    convex_fusion,
    reciprocal_rank_fusion,
)
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import TermShares, keyword_search
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.types import Passage

REFUNDS = b"""---
title: Postage reimbursement
author: Billing
type: procedure
created: 2026-01-01
version: 1
tags: [billing]
related: []
---
# Postage reimbursement

When a guaranteed parcel arrives after its promised day we reimburse the postage paid.
The reimbursement goes to the card used at checkout within five working days.
"""

OUTAGE = b"""---
title: Website unavailable
author: Ops
type: troubleshooting_tip
created: 2026-01-01
version: 1
tags: [outage]
related: []
---
# Website unavailable

If the tracking pages fail to load, check the status page before calling support.
"""


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


async def _index(db: Database, tenant_id: str, files: dict[str, bytes], embedder: object) -> None:
    async with db.session(tenant_id) as session:
        for source, data in files.items():
            await ingest_source(session, source, data)
        await refresh_index(session, embedder, changed=True)  # type: ignore[arg-type]
        await session.commit()


async def test_hybrid_finds_what_keywords_miss(db: Database, embedder: CachingEmbedder) -> None:
    tenant = await ensure_tenant(db, "a")
    await _index(db, tenant.id, {"refunds.md": REFUNDS, "outage.md": OUTAGE}, embedder)
    question = "can I get my money back if it came late"
    keyword = await FullTextRetriever(db).search(tenant.id, "money back")
    assert keyword == []  # no shared words
    hybrid = await HybridRetriever(db, embedder).search(tenant.id, question, limit=2)
    assert hybrid[0].title == "Postage reimbursement"
    only_tips = await HybridRetriever(db, embedder).search(
        tenant.id, question, doc_types=["troubleshooting_tip"]
    )
    assert {p.title for p in only_tips} == {"Website unavailable"}
    tagged = await HybridRetriever(db, embedder).search(tenant.id, question, tags=["outage"])
    assert {p.title for p in tagged} == {"Website unavailable"}


async def test_tenant_never_retrieves_another_tenants_chunks(
    db: Database, embedder: CachingEmbedder
) -> None:
    a = await ensure_tenant(db, "a")
    b = await ensure_tenant(db, "b")
    await _index(db, a.id, {"outage.md": OUTAGE}, embedder)
    await _index(db, b.id, {"refunds.md": REFUNDS}, embedder)
    retriever = HybridRetriever(db, embedder)
    exact_b_text = "we reimburse the postage paid for a guaranteed parcel"
    for query in (exact_b_text, "postage reimbursement", "status page"):
        found = await retriever.search(a.id, query, limit=10)
        assert all(p.title == "Website unavailable" for p in found)
        keyword = await FullTextRetriever(db).search(a.id, query, limit=10)
        assert all(p.title == "Website unavailable" for p in keyword)
    assert (await retriever.search(b.id, exact_b_text))[0].title == "Postage reimbursement"


class RenamedModel:
    """The same vectors under another model name: stands for a model change."""

    def __init__(self, inner: CachingEmbedder) -> None:
        self.inner, self.name, self.dimension, self.calls = inner, "other-model", 384, 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += len(texts)
        return self.inner.embed(texts)


async def test_model_change_re_embeds_and_deletes_drop_vectors(
    db: Database, embedder: CachingEmbedder
) -> None:
    tenant = await ensure_tenant(db, "a")
    await _index(db, tenant.id, {"refunds.md": REFUNDS, "outage.md": OUTAGE}, embedder)
    retriever = HybridRetriever(db, embedder)
    assert await retriever.search(tenant.id, "tracking pages fail to load")

    renamed = RenamedModel(embedder)
    async with db.session(tenant.id) as session:
        assert await refresh_index(session, embedder, changed=False) == 0  # nothing to do
        embedded = await refresh_index(session, renamed, changed=False)
        await session.commit()
    assert embedded == renamed.calls > 0

    async with db.session(tenant.id) as session:
        assert await remove_source(session, "outage.md")
        await refresh_index(session, renamed, changed=True)
        await session.commit()
    found = await HybridRetriever(db, renamed).search(tenant.id, "tracking pages fail to load")
    assert all(p.title != "Website unavailable" for p in found)


async def test_keyword_search_finds_a_tenants_chunk_behind_another_tenants_crowd(
    db: Database,
) -> None:
    """Ranking happens in the shared FTS index first; a tenant whose only match ranks below
    a window full of another tenant's matches must still get it (the joined fallback)."""
    crowd = await ensure_tenant(db, "crowd")
    alone = await ensure_tenant(db, "alone")
    async with db.session(crowd.id) as session:
        for n in range(230):
            body = f"# Parcel notes {n}\n\nparcel parcel parcel notes number {n}.\n"
            await ingest_source(session, f"crowd/{n}.txt", body.encode())
        await session.commit()
    async with db.session(alone.id) as session:
        await ingest_source(session, "alone.txt", b"# Depot\n\nThe depot keeps one parcel.\n")
        await session.commit()
    async with db.session(alone.id) as session:
        hits = await keyword_search(session, "parcel", limit=5)
        typed = await keyword_search(session, "parcel", limit=5, doc_types=["faq"])
    assert len(hits) == 1
    assert typed == []
    async with db.session(crowd.id) as session:
        assert len(await keyword_search(session, "parcel", limit=5)) == 5


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    weighted = reciprocal_rank_fusion([[1, 2], [2, 1]], k=1, weights=[1.0, 2.0])
    assert weighted[0][0] == 2


def test_convex_fusion_keeps_a_confident_keyword_hit_on_top() -> None:
    keyword = [(1, 30.0), (2, 6.0), (3, 5.0)]  # one hit far ahead of the rest
    dense = [(3, 0.52), (2, 0.50), (4, 0.49)]  # near ties
    fused = convex_fusion(keyword, dense, dense_share=0.6)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    # Rank fusion flattens the keyword list's confidence and puts 3 first.
    assert reciprocal_rank_fusion([[1, 2, 3], [3, 2, 4]], k=10)[0][0] == 3
    # A candidate missing from a list gets that list's lowest score, not zero.
    scores = dict(fused)
    assert scores[4] == pytest.approx(0.4 * (5.0 / 30.0) + 0.6 * (0.49 / 0.52))
    assert [item for item, _ in convex_fusion(keyword, dense, dense_share=1.0)][:2] == [3, 2]
    assert convex_fusion([], [], dense_share=0.5) == []
    assert [item for item, _ in convex_fusion([], dense, dense_share=0.5)] == [3, 2, 4]


def _passage(n: int, text: str, score: float = 1.0) -> Passage:
    return Passage(chunk_id=n, document_id="d", title="t", text=text, source="s", score=score)


def test_context_drops_near_duplicates_and_respects_the_budget() -> None:
    base = "Refunds go back to the original card within five to seven working days."
    passages = [
        _passage(1, base),
        _passage(2, base + " Contact billing if not."),  # near-duplicate of 1
        _passage(3, " ".join(["long"] * 500)),  # over the remaining budget
        _passage(4, "Weekend delivery costs two pounds extra."),
    ]
    chosen = assemble_context(passages, budget_tokens=200, max_passages=5)
    assert [p.chunk_id for p in chosen] == [1, 4]
    assert near_duplicate(base, base.upper())
    assert not near_duplicate(base, "Weekend delivery costs two pounds extra.")


async def test_keyword_search_leaves_out_terms_found_in_most_chunks(db: Database) -> None:
    """SQLite: with `max_share`, a term in more than that share of all chunks is left out of
    the query (only chunks matching the rarer terms come back); never every term."""
    tenant = await ensure_tenant(db, "a")
    async with db.session(tenant.id) as session:
        for n in range(9):
            body = f"# Order notes {n}\n\nYour order number {n} is on its way.\n"
            await ingest_source(session, f"orders/{n}.txt", body.encode())
        await ingest_source(session, "depot.txt", b"# Depot\n\nEvery order waits at the depot.\n")
        await session.commit()
    ticks = [0.0]
    shares = TermShares(ttl_seconds=60, min_chunks=5, clock=lambda: ticks[0])
    async with db.session(tenant.id) as session:
        everything = await keyword_search(session, "order depot", limit=20)
        pruned = await keyword_search(
            session, "order depot", limit=20, shares=shares, max_share=0.5
        )
        only_common = await keyword_search(
            session, "orders", limit=20, shares=shares, max_share=0.5
        )
        common = await shares.common(session, ["order", "depot"], 0.5)
        assert await shares.common(session, ["order", "depot"], 1.0) == set()
        small_index = TermShares(min_chunks=11)  # 10 chunks: too few to bother
        assert await small_index.common(session, ["order", "depot"], 0.5) == set()
    assert len(everything) == 10
    assert len(only_common) == 10  # the only term is kept however common
    if db.engine.dialect.name != "sqlite":
        # PostgreSQL ranks with every term (ts_rank_cd has no corpus statistics to spare).
        assert (len(pruned), common) == (10, set())
        return
    assert (len(pruned), common) == (1, {"order"})

    # Counts are remembered until they expire: new chunks change nothing before then.
    async with db.session(tenant.id) as session:
        for n in range(20):
            await ingest_source(session, f"depots/{n}.txt", f"# Depot {n}\n\ndepot {n}\n".encode())
        await session.commit()
    async with db.session(tenant.id) as session:
        assert await shares.common(session, ["order", "depot"], 0.5) == {"order"}
        ticks[0] = 61.0
        assert await shares.common(session, ["order", "depot"], 0.5) == {"depot"}
