"""Hybrid search's passages held in process: the same answers as reading them from the
database, in step with the index, one tenant's passages only, and a size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.embedding import CachingEmbedder
from frontdesk.knowledge.ingest import ingest_source, refresh_index, remove_source
from frontdesk.knowledge.passage_cache import PassageCache
from frontdesk.knowledge.retriever import HybridRetriever
from frontdesk.knowledge.vectors import index_version
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant


def atom(title: str, tags: str, body: str) -> bytes:
    return (
        f"---\ntitle: {title}\nauthor: Support\ntype: faq\ncreated: 2026-01-01\n"
        f"version: 1\ntags: [{tags}]\nrelated: []\n---\n# {title}\n\n{body}\n"
    ).encode()


FILES = {
    "refund.md": atom("Refund policy", "billing", "Refunds reach the original card in five days."),
    "late.md": atom(
        "Late parcels", "delivery", "A late parcel with guaranteed delivery is refunded."
    ),
    "cards.md": atom(
        "Card payments", "billing", "A declined card is usually the bank's fraud check."
    ),
}
QUERIES = ["refund for a late parcel", "my card was declined", "how long do refunds take"]


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


async def test_held_passages_answer_as_the_database_does(
    db: Database, embedder: CachingEmbedder
) -> None:
    tenant = await ensure_tenant(db, "a")
    await _index(db, tenant.id, FILES, embedder)
    held = HybridRetriever(db, embedder)
    read = HybridRetriever(db, embedder, cached_passages=0)
    for query in QUERIES:
        for tags in ((), ("billing",)):
            expected = await read.search(tenant.id, query, limit=3, tags=tags)
            assert expected
            assert await held.search(tenant.id, query, limit=3, tags=tags) == expected
    # The held copies are not handed out: changing a result changes nothing held.
    first = await held.search(tenant.id, QUERIES[0], limit=1)
    first[0].tags.append("changed")
    first[0].text = "changed"
    again = await held.search(tenant.id, QUERIES[0], limit=1)
    assert again[0].text != "changed"
    assert "changed" not in again[0].tags


async def test_held_passages_follow_the_index_and_the_tenant(
    db: Database, embedder: CachingEmbedder
) -> None:
    a = await ensure_tenant(db, "a")
    b = await ensure_tenant(db, "b")
    await _index(db, a.id, FILES, embedder)
    secret = atom("Tenant B refunds", "billing", "Refunds for tenant B go to store credit.")
    await _index(db, b.id, {"b.md": secret}, embedder)
    retriever = HybridRetriever(db, embedder)
    titles = {p.title for p in await retriever.search(a.id, "refund store credit", limit=10)}
    assert "Tenant B refunds" not in titles
    assert "Refund policy" in titles
    assert (await retriever.search(b.id, "store credit"))[0].title == "Tenant B refunds"

    changed = atom("Refund policy", "billing", "Refunds now reach the card in two days.")
    async with db.session(a.id) as session:
        await ingest_source(session, "refund.md", changed)
        assert await remove_source(session, "cards.md")
        await refresh_index(session, embedder, changed=True)
        await session.commit()
    found = await retriever.search(a.id, "refund declined card", limit=10)
    assert "Card payments" not in {p.title for p in found}
    assert any("two days" in p.text for p in found)


async def test_a_tenant_over_the_limit_is_read_from_the_database(
    db: Database, embedder: CachingEmbedder
) -> None:
    tenant = await ensure_tenant(db, "a")
    await _index(db, tenant.id, FILES, embedder)
    small = PassageCache(max_chunks=2)
    roomy = PassageCache(max_chunks=10)
    async with db.session(tenant.id) as session:
        current = await index_version(session)
        assert await small.get(session, tenant.id, current) is None
        held = await roomy.get(session, tenant.id, current)
    assert held is not None
    assert len(held) == 3
    found = await HybridRetriever(db, embedder, cached_passages=2).search(
        tenant.id, "my card was declined", limit=1
    )
    assert found[0].title == "Card payments"


async def test_a_search_with_everything_held_opens_no_session_on_sqlite(
    db: Database, embedder: CachingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await ensure_tenant(db, "a")
    await _index(db, tenant.id, FILES, embedder)
    retriever = HybridRetriever(db, embedder)
    first = await retriever.search(tenant.id, QUERIES[1], limit=2)  # loads what it holds
    opened: list[str] = []
    open_session = db.session

    def counting(tenant_id: str) -> object:
        opened.append(tenant_id)
        return open_session(tenant_id)

    monkeypatch.setattr(db, "session", counting)
    assert await retriever.search(tenant.id, QUERIES[1], limit=2) == first
    assert opened == ([] if db.dialect == "sqlite" else [tenant.id])
    # A change to the index: the next search reads it in a session, then holds it again.
    async with open_session(tenant.id) as session:
        assert await remove_source(session, "cards.md")
        await refresh_index(session, embedder, changed=True)
        await session.commit()
    found = await retriever.search(tenant.id, QUERIES[1], limit=2)
    assert "Card payments" not in {p.title for p in found}
    assert len(opened) == (1 if db.dialect == "sqlite" else 2)
