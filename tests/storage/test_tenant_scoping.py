"""Tenant scoping is enforced by the data layer itself, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, update

from frontdesk.errors import TenantScopeError
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import keyword_search
from frontdesk.storage.models import Chunk, Conversation, Document
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


async def _seed(db: Database, tenant_id: str, word: str) -> str:
    async with db.session(tenant_id) as session:
        conversation = Conversation(channel="api")
        document = Document(source=f"{word}.md", title=word, content_hash=word)
        session.add_all([conversation, document])
        await session.flush()
        session.add(
            Chunk(
                document_id=document.id,
                ordinal=0,
                kind="section",
                title=word,
                heading="",
                text=f"all about {word} deliveries",
            )
        )
        await session.commit()
        return conversation.id


async def test_reads_writes_and_search_stay_in_the_tenant(db: Database) -> None:
    a = await ensure_tenant(db, "tenant-a")
    b = await ensure_tenant(db, "tenant-b")
    conv_a = await _seed(db, a.id, "pigeon")
    conv_b = await _seed(db, b.id, "falcon")

    async with db.session(a.id) as session:
        assert [c.id for c in await session.scalars(select(Conversation))] == [conv_a]
        assert await session.get(Conversation, conv_b) is None
        assert [h.chunk_id for h in await keyword_search(session, "falcon", limit=5)] == []
        assert len(await keyword_search(session, "pigeon deliveries", limit=5)) == 1

        # Bulk UPDATE and DELETE only reach this tenant's rows.
        await session.execute(update(Conversation).values(status="closed"))
        await session.execute(delete(Chunk))
        await session.commit()

    async with db.session(b.id) as session:
        other = await session.get(Conversation, conv_b)
        assert other is not None
        assert other.status == "open"
        assert len(await keyword_search(session, "falcon", limit=5)) == 1


async def test_session_without_tenant_cannot_touch_tenant_data(db: Database) -> None:
    async with db.session(None) as session:  # type: ignore[arg-type]
        with pytest.raises(TenantScopeError):
            await session.scalars(select(Conversation))


async def test_cannot_write_a_row_into_another_tenant(db: Database) -> None:
    a = await ensure_tenant(db, "tenant-a")
    b = await ensure_tenant(db, "tenant-b")
    async with db.session(a.id) as session:
        session.add(Conversation(channel="api", tenant_id=b.id))
        with pytest.raises(TenantScopeError):
            await session.flush()


async def test_new_rows_are_stamped_with_the_session_tenant(db: Database) -> None:
    a = await ensure_tenant(db, "tenant-a")
    async with db.session(a.id) as session:
        conversation = Conversation(channel="api")
        session.add(conversation)
        await session.commit()
        assert conversation.tenant_id == a.id
