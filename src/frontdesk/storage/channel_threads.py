"""Threads of the push channels (Slack, WhatsApp) and the conversation each continues.
Callers pass the tenant's database; every read and write is inside that tenant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import utcnow
from frontdesk.storage.support_models import ChannelThread


async def thread_conversation(
    db: Database, tenant_id: str, *, channel: str, thread_key: str, customer_ref: str | None
) -> str:
    """The conversation of the thread, started (with the mapping) when the thread is new.
    Two first messages of one thread at once: the unique key lets one mapping win and the
    other caller gets the winner's conversation (its own empty one is rolled back)."""
    existing = await find_thread(db, tenant_id, channel=channel, thread_key=thread_key)
    if existing is not None:
        return existing
    try:
        async with db.session(tenant_id) as session:
            conversation = await create_conversation(
                session, channel=channel, customer_ref=customer_ref
            )
            session.add(
                ChannelThread(
                    channel=channel, thread_key=thread_key, conversation_id=conversation.id
                )
            )
            await session.commit()
            return conversation.id
    except IntegrityError:
        winner = await find_thread(db, tenant_id, channel=channel, thread_key=thread_key)
        if winner is None:  # pragma: no cover - the winner's row was deleted in between
            raise
        return winner


async def find_thread(db: Database, tenant_id: str, *, channel: str, thread_key: str) -> str | None:
    async with db.session(tenant_id) as session:
        return await session.scalar(
            select(ChannelThread.conversation_id).where(
                ChannelThread.channel == channel, ChannelThread.thread_key == thread_key
            )
        )


async def restart_thread(
    db: Database, tenant_id: str, *, channel: str, thread_key: str, customer_ref: str | None
) -> str:
    """Point the thread at a new conversation (the old one is full): the thread goes on, the
    old conversation stays as it was."""
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(
            session, channel=channel, customer_ref=customer_ref
        )
        row = await session.scalar(
            select(ChannelThread).where(
                ChannelThread.channel == channel, ChannelThread.thread_key == thread_key
            )
        )
        if row is None:
            session.add(
                ChannelThread(
                    channel=channel, thread_key=thread_key, conversation_id=conversation.id
                )
            )
        else:
            row.conversation_id, row.updated_at = conversation.id, utcnow()
        await session.commit()
        return conversation.id
