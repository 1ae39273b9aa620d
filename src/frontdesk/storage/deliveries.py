"""Idempotent delivery of customer messages: a key is claimed once per tenant and namespace
(the database's unique constraint decides between concurrent deliveries), then completed with
the reply or given back if the turn could not run.

A key lives in a namespace: `channel` for the ids a channel gives its messages (an e-mail's
Message-ID, a Slack event id...), else the caller who sent it (`key:<id>`, `user:<id>`). An
API caller's `Idempotency-Key` is never read in another caller's namespace nor in the
channels', so nobody can pre-claim another's delivery or be replayed another's answer. Each
claim also records a fingerprint of its request (route, conversation, body): the same key
with another request is refused instead of replayed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import ConflictError
from frontdesk.storage.db import Database
from frontdesk.storage.models import utcnow
from frontdesk.storage.support_models import MessageDelivery

PROCESSING, DONE = "processing", "done"
STALE_AFTER_S = 300.0  # far longer than any turn (model timeouts and retries included)
# Channel-derived keys. A caller's namespace is its actor ("kind:id"), which always has a
# colon, so it can never be this one.
CHANNEL = "channel"


@dataclass(frozen=True)
class DeliveryKey:
    namespace: str  # CHANNEL, or the caller's actor ("key:<id>", "user:<id>")
    key: str
    request: str | None = None  # fingerprint of what was asked; None: not compared


def _this(key: DeliveryKey) -> Any:
    return (MessageDelivery.namespace == key.namespace) & (MessageDelivery.key == key.key)


async def _held(session: AsyncSession, key: DeliveryKey) -> MessageDelivery | None:
    found: MessageDelivery | None = await session.scalar(select(MessageDelivery).where(_this(key)))
    return found


def same_request(held: MessageDelivery, key: DeliveryKey) -> bool:
    """Whether the delivery holding the key was claimed for this same request (rows from
    before fingerprints were kept, and keys claimed without one, are taken as the same)."""
    return held.request_hash is None or key.request is None or held.request_hash == key.request


async def claim(
    db: Database, tenant_id: str, key: DeliveryKey, *, stale_after_s: float = STALE_AFTER_S
) -> MessageDelivery | None:
    """None when this call claimed `key`; otherwise the delivery that holds it already.
    A claim still processing after `stale_after_s` was abandoned (its process died): it is
    taken over (by the same request only), so the channel's retry is answered instead of
    refused for ever."""
    for _ in range(3):  # the holder may give the key back between our insert and our read
        try:
            async with db.session(tenant_id) as session:
                row = MessageDelivery(namespace=key.namespace, key=key.key,
                                      request_hash=key.request, status=PROCESSING)  # fmt: skip
                session.add(row)
                await session.commit()
                return None
        except IntegrityError:
            pass
        now = utcnow()
        async with db.session(tenant_id) as session:
            held = await _held(session, key)
            if held is None:
                continue
            if not same_request(held, key):
                return held
            taken = await session.execute(
                update(MessageDelivery)
                .where(
                    MessageDelivery.tenant_id == tenant_id,
                    _this(key),
                    MessageDelivery.status == PROCESSING,
                    MessageDelivery.created_at < now - timedelta(seconds=stale_after_s),
                )
                .values(created_at=now)
                .execution_options(synchronize_session=False)  # `held` is read again below
            )
            await session.commit()
            if int(getattr(taken, "rowcount", 0) or 0) == 1:
                return None
            held = await session.scalar(
                select(MessageDelivery).where(_this(key)).execution_options(populate_existing=True)
            )
            if held is not None:
                return held
    raise ConflictError(
        "a message with this key is being delivered again right now; retry shortly",
        code="delivery_in_progress",
    )


async def seen(db: Database, tenant_id: str, key: DeliveryKey) -> bool:
    """Whether `key` is claimed (being answered, or answered)."""
    async with db.session(tenant_id) as session:
        found = await session.scalar(select(MessageDelivery.id).where(_this(key)))
    return found is not None


async def seconds_until_abandoned(db: Database, tenant_id: str, key: DeliveryKey) -> float:
    """How long until a claim of `key` still processing may be taken over (0 when there is
    none to wait for)."""
    async with db.session(tenant_id) as session:
        claimed = await session.scalar(
            select(MessageDelivery.created_at).where(
                _this(key), MessageDelivery.status == PROCESSING
            )
        )
    if claimed is None:
        return 0.0
    if claimed.tzinfo is None:  # SQLite hands back naive UTC
        claimed = claimed.replace(tzinfo=UTC)
    return max(0.0, (claimed - utcnow()).total_seconds() + STALE_AFTER_S)


async def complete(
    db: Database, tenant_id: str, key: DeliveryKey, *, conversation_id: str | None, response: Any
) -> None:
    async with db.session(tenant_id) as session:
        delivery = await _held(session, key)
        if delivery is not None:
            delivery.status, delivery.response = DONE, response
            delivery.conversation_id = conversation_id
            await session.commit()


async def give_back(db: Database, tenant_id: str, key: DeliveryKey) -> None:
    """The turn did not run (refused, failed): a later delivery of `key` may try again."""
    async with db.session(tenant_id) as session:
        await session.execute(
            delete(MessageDelivery).where(
                MessageDelivery.tenant_id == tenant_id,
                _this(key),
                MessageDelivery.status == PROCESSING,
            )
        )
        await session.commit()
