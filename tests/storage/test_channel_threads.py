"""Channel threads: one conversation per thread, also when its first messages race; a full
conversation is replaced; tenants are apart. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from frontdesk.storage import migrate
from frontdesk.storage.channel_threads import find_thread, restart_thread, thread_conversation
from frontdesk.storage.conversations import get_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Conversation
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


THREAD = {"channel": "slack", "thread_key": "T1:C1:1.1", "customer_ref": "U1"}


async def test_racing_first_messages_share_one_conversation(db: Database) -> None:
    tenant = await ensure_tenant(db, "acme")
    ids = await asyncio.gather(*[thread_conversation(db, tenant.id, **THREAD) for _ in range(4)])
    assert len(set(ids)) == 1
    async with db.session(tenant.id) as session:
        conversation = await get_conversation(session, ids[0])
        assert conversation is not None
        assert (conversation.channel, conversation.customer_ref) == ("slack", "U1")
        # The losers' conversations were rolled back with their thread rows.
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert await thread_conversation(db, tenant.id, **THREAD) == ids[0]


async def test_a_thread_restarts_and_tenants_are_apart(db: Database) -> None:
    acme, globex = await ensure_tenant(db, "acme"), await ensure_tenant(db, "globex")
    first = await thread_conversation(db, acme.id, **THREAD)
    theirs = await thread_conversation(db, globex.id, **THREAD)  # the same key elsewhere
    assert theirs != first
    key = {"channel": "slack", "thread_key": THREAD["thread_key"]}
    assert await find_thread(db, acme.id, **key) == first
    again = await restart_thread(db, acme.id, **THREAD)
    assert again != first
    assert await find_thread(db, acme.id, **key) == again
    assert await find_thread(db, globex.id, **key) == theirs
    assert await find_thread(db, acme.id, channel="whatsapp", thread_key="x") is None
