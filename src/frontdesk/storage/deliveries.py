"""Idempotent delivery of customer messages: a key is claimed once per tenant (the database's
unique constraint decides between concurrent deliveries), then completed with the reply or
given back if the turn could not run."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from frontdesk.storage.db import Database
from frontdesk.storage.models import utcnow
from frontdesk.storage.support_models import MessageDelivery

PROCESSING, DONE = "processing", "done"
STALE_AFTER_S = 300.0  # far longer than any turn (model timeouts and retries included)


async def claim(
    db: Database, tenant_id: str, key: str, *, stale_after_s: float = STALE_AFTER_S
) -> MessageDelivery | None:
    """None when this call claimed `key`; otherwise the delivery that holds it already.
    A claim still processing after `stale_after_s` was abandoned (its process died): it is
    taken over, so the channel's retry is answered instead of refused for ever."""
    try:
        async with db.session(tenant_id) as session:
            session.add(MessageDelivery(key=key, status=PROCESSING))
            await session.commit()
            return None
    except IntegrityError:
        pass
    now = utcnow()
    async with db.session(tenant_id) as session:
        taken = await session.execute(
            update(MessageDelivery)
            .where(
                MessageDelivery.tenant_id == tenant_id,
                MessageDelivery.key == key,
                MessageDelivery.status == PROCESSING,
                MessageDelivery.created_at < now - timedelta(seconds=stale_after_s),
            )
            .values(created_at=now)
        )
        await session.commit()
        if int(getattr(taken, "rowcount", 0) or 0) == 1:
            return None
        return await session.scalar(select(MessageDelivery).where(MessageDelivery.key == key))


async def seconds_until_abandoned(db: Database, tenant_id: str, key: str) -> float:
    """How long until a claim of `key` still processing may be taken over (0 when there is
    none to wait for)."""
    async with db.session(tenant_id) as session:
        claimed = await session.scalar(
            select(MessageDelivery.created_at).where(
                MessageDelivery.key == key, MessageDelivery.status == PROCESSING
            )
        )
    if claimed is None:
        return 0.0
    if claimed.tzinfo is None:  # SQLite hands back naive UTC
        claimed = claimed.replace(tzinfo=UTC)
    return max(0.0, (claimed - utcnow()).total_seconds() + STALE_AFTER_S)


async def complete(
    db: Database, tenant_id: str, key: str, *, conversation_id: str | None, response: Any
) -> None:
    async with db.session(tenant_id) as session:
        delivery = await session.scalar(select(MessageDelivery).where(MessageDelivery.key == key))
        if delivery is not None:
            delivery.status, delivery.response = DONE, response
            delivery.conversation_id = conversation_id
            await session.commit()


async def give_back(db: Database, tenant_id: str, key: str) -> None:
    """The turn did not run (refused, failed): a later delivery of `key` may try again."""
    async with db.session(tenant_id) as session:
        await session.execute(
            delete(MessageDelivery).where(
                MessageDelivery.tenant_id == tenant_id,
                MessageDelivery.key == key,
                MessageDelivery.status == PROCESSING,
            )
        )
        await session.commit()
