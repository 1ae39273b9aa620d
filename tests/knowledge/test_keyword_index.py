"""In-process BM25 from the full-text index's term counts (FTS5; PostgreSQL's tsvector): the
same ranking as FTS5's bm25(), kept in step with the index, one tenant's chunks and statistics
only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.knowledge import keyword_index
from frontdesk.knowledge.ingest import ingest_source, refresh_index, remove_source
from frontdesk.knowledge.keyword_index import KeywordSearch, QueryTokenizer, TenantTerms
from frontdesk.knowledge.retriever import FullTextRetriever
from frontdesk.knowledge.vectors import index_version
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import keyword_search
from frontdesk.storage.models import Chunk
from frontdesk.storage.tenants import ensure_tenant


def atom(title: str, doc_type: str, body: str) -> bytes:
    return (
        f"---\ntitle: {title}\nauthor: Support\ntype: {doc_type}\ncreated: 2026-01-01\n"
        f"version: 1\ntags: []\nrelated: []\n---\n# {title}\n\n{body}\n"
    ).encode()


DOCS = {
    "refund.md": atom(
        "Refund policy",
        "playbook",
        "Refunds are paid to the original card within five working days. A refund for a "
        "damaged parcel needs a photo of the damage.",
    ),
    "late.md": atom(
        "Late parcels",
        "procedure",
        "When a parcel is late, check the tracking page. Late parcels with guaranteed "
        "delivery get their postage refunded.",
    ),
    "cards.md": atom(
        "Card payments",
        "faq",
        "We take Visa and Mastercard. Card payments are charged when the parcel ships.\n\n"
        "## Declined cards\n\nA declined card is usually the bank's fraud check: ask the "
        "bank, then pay again. Running the payment twice never charges twice.",
    ),
    "returns.md": atom(
        "Returning an item",
        "procedure",
        "Print the return label, pack the item in its original box and drop the parcel at "
        "any post office. Returns are free within thirty days.",
    ),
    "naive.md": atom(
        "Café opening hours",
        "faq",
        "The café in our flagship store opens at nine. Naïve questions welcome.",
    ),
}
QUERIES = [
    "refund for a late parcel",
    "my card was declined, can I pay again",
    "how do I return an item",
    "run payments",  # stems: matches "Running"
    "cafe naive",  # diacritics folded by unicode61
    "parcel parcels refund refunds",  # two words per stem: each counts, as in FTS5
    "nothing matches zebra",
]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: object) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/kb.db")
    await migrate.upgrade(database)
    yield database
    await database.dispose()


async def _ingest(db: Database, tenant_id: str, files: dict[str, bytes]) -> None:
    async with db.session(tenant_id) as session:
        for source, data in files.items():
            await ingest_source(session, source, data)
        await refresh_index(session, None, changed=True)
        await session.commit()


async def _memory(
    search: KeywordSearch,
    db: Database,
    tenant_id: str,
    query: str,
    doc_types: tuple[str, ...] = (),
) -> list[tuple[int, float]]:
    """The in-process ranking, built first if the index moved."""
    assert await search.warm(tenant_id)
    async with db.session(tenant_id) as session:
        current = await index_version(session)
        assert current is not None
        assert search._memory.current(tenant_id, current.version) is not None
        hits = await search.search(
            session, tenant_id, query, limit=10, doc_types=doc_types, version=current.version
        )
    return [(h.chunk_id, h.score) for h in hits]


async def test_memory_bm25_ranks_and_scores_as_fts5(sqlite_db: Database) -> None:
    tenant = await ensure_tenant(sqlite_db, "a")
    await _ingest(sqlite_db, tenant.id, DOCS)
    index = KeywordSearch(sqlite_db)
    for query in QUERIES:
        memory = await _memory(index, sqlite_db, tenant.id, query)
        async with sqlite_db.session(tenant.id) as session:
            fts5 = [(h.chunk_id, h.score) for h in await keyword_search(session, query, limit=10)]
        assert [c for c, _ in memory] == [c for c, _ in fts5], query
        for (_, mine), (_, theirs) in zip(memory, fts5, strict=True):
            assert mine == pytest.approx(theirs, rel=1e-4), query
    assert await _memory(index, sqlite_db, tenant.id, "nothing matches zebra") == []
    assert await _memory(index, sqlite_db, tenant.id, "run payments")  # the stem matched


async def test_memory_bm25_follows_reingest_and_deletion(sqlite_db: Database) -> None:
    tenant = await ensure_tenant(sqlite_db, "a")
    await _ingest(sqlite_db, tenant.id, {"refund.md": DOCS["refund.md"]})
    index = KeywordSearch(sqlite_db)
    assert await _memory(index, sqlite_db, tenant.id, "declined card") != []  # "card"
    assert await _memory(index, sqlite_db, tenant.id, "thirty free office") == []
    await _ingest(sqlite_db, tenant.id, {"returns.md": DOCS["returns.md"]})
    assert len(await _memory(index, sqlite_db, tenant.id, "thirty free office")) == 1
    async with sqlite_db.session(tenant.id) as session:
        assert await remove_source(session, "returns.md")
        await refresh_index(session, None, changed=True)
        await session.commit()
    assert await _memory(index, sqlite_db, tenant.id, "thirty free office") == []


async def test_memory_bm25_filters_types_and_never_crosses_tenants(sqlite_db: Database) -> None:
    a = await ensure_tenant(sqlite_db, "a")
    b = await ensure_tenant(sqlite_db, "b")
    await _ingest(sqlite_db, a.id, DOCS)
    index = KeywordSearch(sqlite_db)
    before = await _memory(index, sqlite_db, a.id, "parcel refund")
    async with sqlite_db.session(a.id) as session:
        fts5_before = await keyword_search(session, "parcel refund", limit=10)
    secret = atom("Parcel secret", "playbook", "Tenant B's parcel refund secret: zebra.")
    await _ingest(sqlite_db, b.id, {"secret.md": secret})
    assert await _memory(index, sqlite_db, a.id, "zebra secret") == []
    assert len(await _memory(index, sqlite_db, b.id, "zebra secret")) == 1
    # A's statistics are A's own: B's chunk changes FTS5's scores for A, not these.
    assert await _memory(index, sqlite_db, a.id, "parcel refund") == before
    async with sqlite_db.session(a.id) as session:
        fts5_after = await keyword_search(session, "parcel refund", limit=10)
    assert [h.score for h in fts5_after] != [h.score for h in fts5_before]
    found = await _memory(index, sqlite_db, a.id, "parcel refund", ("procedure",))
    async with sqlite_db.session(a.id) as session:
        procedures = await keyword_search(
            session, "parcel refund", limit=10, doc_types=["procedure"]
        )
    assert [c for c, _ in found] == [h.chunk_id for h in procedures] != []


async def test_retrievers_answer_on_both_databases(db: Database) -> None:
    """In-process BM25 (both databases) and each database's own ranking: all find it."""
    tenant = await ensure_tenant(db, "a")
    await _ingest(db, tenant.id, DOCS)
    scorings: tuple[Literal["memory", "fts5"], ...] = ("memory", "fts5")
    for scoring in scorings:
        retriever = FullTextRetriever(db, keyword_scoring=scoring)
        passages = await retriever.search(tenant.id, "my card was declined", limit=2)
        assert passages[0].title == "Card payments", scoring


async def test_keyword_search_without_an_index_record_uses_the_database(
    sqlite_db: Database,
) -> None:
    tenant = await ensure_tenant(sqlite_db, "a")
    async with sqlite_db.session(tenant.id) as session:
        await ingest_source(session, "refund.md", DOCS["refund.md"])
        await session.commit()  # no refresh_index: no version to key a cache on
        hits = await KeywordSearch(sqlite_db).search(
            session, tenant.id, "refund card", limit=5, version=None
        )
    assert hits


def test_query_tokenizer_uses_the_index_tokenizer() -> None:
    tokenizer = QueryTokenizer("porter unicode61")
    assert tokenizer.terms(["running", "cafés", "x2", "cells"]) == [
        ("run",),
        ("cafe",),
        ("x2",),
        ("cell",),
    ]
    assert tokenizer.terms(["running"]) == [("run",)]  # remembered
    plain = QueryTokenizer("unicode61")
    assert plain.terms(["running"]) == [("running",)]


async def test_a_large_tenant_is_answered_by_fts5_while_its_index_builds(
    sqlite_db: Database,
) -> None:
    tenant = await ensure_tenant(sqlite_db, "a")
    await _ingest(sqlite_db, tenant.id, DOCS)
    search = KeywordSearch(sqlite_db)
    search._memory.inline_chunks = 2  # the fixture's five chunks count as large
    async with sqlite_db.session(tenant.id) as session:
        current = await index_version(session)
        assert current is not None
        first = await search.search(
            session, tenant.id, "card declined", limit=5, version=current.version
        )
        fts5 = await keyword_search(session, "card declined", limit=5)
    assert first == fts5 != []  # FTS5 answered while the index builds in the background
    await search._memory.start_build(tenant.id)  # the build the search started
    assert search._memory.current(tenant.id, current.version) is not None
    await search.aclose()


async def test_a_small_tenant_is_built_inside_its_first_search(sqlite_db: Database) -> None:
    tenant = await ensure_tenant(sqlite_db, "a")
    await _ingest(sqlite_db, tenant.id, DOCS)
    search = KeywordSearch(sqlite_db)
    async with sqlite_db.session(tenant.id) as session:
        current = await index_version(session)
        assert current is not None
        await search.search(session, tenant.id, "card declined", limit=5, version=current.version)
    assert search._memory.current(tenant.id, current.version) is not None
    assert not search._memory._builds  # nothing left running


async def test_a_failed_build_is_logged_and_retried_later_while_fts5_answers(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await ensure_tenant(db, "a")
    await _ingest(db, tenant.id, DOCS)

    async def broken(session: AsyncSession) -> list[tuple[str, int, float, int]]:
        # A failing statement: on PostgreSQL it spoils the transaction unless contained.
        await session.execute(text("SELECT disk_on_fire FROM chunks"))
        raise AssertionError("unreachable")

    monkeypatch.setattr(keyword_index, "chunk_term_weights", broken)
    search = KeywordSearch(db)
    now = [0.0]
    search._memory._clock = lambda: now[0]

    async def keyword(query: str) -> list[object]:
        async with db.session(tenant.id) as session:
            current = await index_version(session)
            assert current is not None
            return list(
                await search.search(session, tenant.id, query, limit=5, version=current.version)
            )

    assert await keyword("card declined") != []  # FTS5 answered
    assert "building the keyword index of tenant" in caplog.text
    assert "disk_on_fire" in caplog.text
    assert not search._memory.built(tenant.id)
    monkeypatch.undo()
    assert await keyword("card declined") != []
    assert not search._memory.built(tenant.id)  # no new try within retry_s
    now[0] = search._memory.retry_s + 1
    assert await keyword("card declined") != []
    assert search._memory.built(tenant.id)
    await search.aclose()


def test_terms_in_most_chunks_are_left_out_from_a_thousand_chunks() -> None:
    """As keyword_search does with FTS5: with `max_share`, a term in more than that share of
    the chunks is left out, never every term, and not below 1,000 chunks."""
    rows = [("order", chunk, 1.0, 20) for chunk in range(1, 1001)]
    rows += [("depot", chunk, 1.0, 20) for chunk in (7, 8, 9)]
    terms = TenantTerms.build(1, rows, {})
    both = [("order",), ("depot",)]
    assert len(terms.top(both, 2000)) == 1000
    assert {h.chunk_id for h in terms.top(both, 2000, max_share=0.5)} == {7, 8, 9}
    assert len(terms.top([("order",)], 2000, max_share=0.5)) == 1000  # never every term
    small = TenantTerms.build(1, rows[:900] + rows[1000:], {})
    assert len(small.top(both, 2000, max_share=0.5)) == 900  # too few chunks to bother


async def test_memory_bm25_on_both_databases(db: Database, tmp_path: object) -> None:
    """PostgreSQL too gets BM25 in process (its own ranking, ts_rank_cd, has no idf): the
    index comes from the tsvector column, query words from PostgreSQL's stemmer. It ranks
    the demo-like queries first where SQLite's FTS5-based index does, keeps to the tenant,
    with the tenant's own statistics, and follows re-ingest and deletion."""
    reference_db = Database(f"sqlite:///{tmp_path}/reference.db")
    await migrate.upgrade(reference_db)
    reference_tenant = await ensure_tenant(reference_db, "a")
    await _ingest(reference_db, reference_tenant.id, DOCS)
    reference = KeywordSearch(reference_db)
    a = await ensure_tenant(db, "a")
    b = await ensure_tenant(db, "b")
    await _ingest(db, a.id, DOCS)
    index = KeywordSearch(db)

    async def titles(tenant_id: str, query: str) -> list[str]:
        hits = await _memory(index, db, tenant_id, query)
        async with db.session(tenant_id) as session:
            rows = dict((await session.execute(select(Chunk.id, Chunk.title))).all())
        return [rows[c] for c, _ in hits]

    async with reference_db.session(reference_tenant.id) as session:
        reference_titles = dict((await session.execute(select(Chunk.id, Chunk.title))).all())
    for query in QUERIES[:4]:
        expected = await _memory(reference, reference_db, reference_tenant.id, query)
        assert (await titles(a.id, query))[:1] == [reference_titles[expected[0][0]]], query
    assert await _memory(index, db, a.id, "nothing matches zebra") == []
    assert await titles(a.id, "run payments")  # "Running": the stem matched

    before = await _memory(index, db, a.id, "parcel refund")
    secret = atom("Parcel secret", "playbook", "Tenant B's parcel refund secret: zebra.")
    await _ingest(db, b.id, {"secret.md": secret})
    assert await _memory(index, db, a.id, "zebra secret") == []
    assert await titles(b.id, "zebra secret") == ["Parcel secret"]
    assert await _memory(index, db, a.id, "parcel refund") == before  # A's statistics

    async with db.session(a.id) as session:
        assert await remove_source(session, "cards.md")
        await refresh_index(session, None, changed=True)
        await session.commit()
    assert "Card payments" not in await titles(a.id, "my card was declined")
    await reference_db.dispose()


async def test_document_counts_after_a_search_on_both_databases(db: Database) -> None:
    """What answerability reads: chunks holding each word, unknown (None) for a word the
    index cannot place rather than 0 ("never mentioned")."""
    tenant = await ensure_tenant(db, "a")
    await _ingest(db, tenant.id, DOCS)
    retriever = FullTextRetriever(db)
    assert retriever.document_counts(tenant.id, ["card"]) is None  # no index in process yet
    await retriever.search(tenant.id, "declined card payments zebra", limit=2)
    found = retriever.document_counts(tenant.id, ["declined", "card", "zebra", "ferret"])
    assert found is not None
    chunks, counts = found
    assert chunks >= len(DOCS)
    declined, card, zebra, ferret = counts
    assert declined is not None
    assert card is not None
    assert 1 <= declined <= card
    assert zebra == 0  # searched for, held by no chunk
    # Never searched for: SQLite's tokenizer places it here (no chunk holds it); PostgreSQL
    # was never asked for its lexemes, so the index cannot say.
    assert ferret == (0 if db.dialect == "sqlite" else None)
