"""Idempotent delivery of customer messages: a key is claimed once per tenant and namespace
(the database's unique constraint decides between concurrent deliveries), then completed with
the reply or given back if the turn could not run.

A key lives in a namespace: `channel` for the ids a channel gives its messages (an e-mail's
Message-ID, a Slack event id...), else the caller who sent it (`key:<id>`, `user:<id>`). An
API caller's `Idempotency-Key` is never read in another caller's namespace nor in the
channels', so nobody can pre-claim another's delivery or be replayed another's answer. Each
claim also records a fingerprint of its request (route, conversation, body): the same key
with another request is refused instead of replayed.

Exactly once across crashes: a claim is a short lease (`LEASE_S`, its `created_at` renewed
while the turn runs), so a dead process's claim is taken over in seconds; each claim (and
takeover) gives the row a new id, the claim's token. The turn's own transaction marks the
delivery `recorded` with the reply (`record_turn`, called by the record stage), only while
the claim is still this one's: a process dying after its turn committed leaves a recorded
delivery, whose retry gets the stored reply instead of a second turn; a holder whose lease
lapsed (and was taken over) records nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import ConflictError
from frontdesk.storage.db import Database
from frontdesk.storage.models import new_id, utcnow
from frontdesk.storage.support_models import MessageDelivery

log = logging.getLogger(__name__)

# processing: claimed, the turn running; recorded: the turn committed (response holds its
# reply as {"reply": ...}), the caller's answer not yet stored; done: response is the answer.
PROCESSING, RECORDED, DONE = "processing", "recorded", "done"
# A claim's lease: its holder renews it every third of this while the turn runs, so a live
# turn of any length keeps it and a dead process's lapses within this many seconds.
LEASE_S = 10.0
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


@dataclass(frozen=True)
class Claim:
    """This process's claim of a key: `id` is the row's id while the claim is ours."""

    tenant_id: str
    key: DeliveryKey
    id: str


async def claim(
    db: Database, tenant_id: str, key: DeliveryKey, *, stale_after_s: float = LEASE_S
) -> Claim | MessageDelivery:
    """A Claim when this call claimed `key`; otherwise the delivery that holds it already.
    A claim still processing and not renewed for `stale_after_s` was abandoned (its process
    died): it is taken over (by the same request only), so the retry is answered instead of
    refused for ever."""
    for _ in range(3):  # the holder may give the key back between our insert and our read
        try:
            async with db.session(tenant_id) as session:
                row = MessageDelivery(id=new_id(), namespace=key.namespace, key=key.key,
                                      request_hash=key.request, status=PROCESSING)  # fmt: skip
                session.add(row)
                await session.commit()
                return Claim(tenant_id, key, row.id)
        except IntegrityError:
            pass
        now = utcnow()
        async with db.session(tenant_id) as session:
            held = await _held(session, key)
            if held is None:
                continue
            if not same_request(held, key):
                return held
            # A claim this process failed to give back (the database was away) is free now.
            lapsed = 0.0 if held.id in _not_given_back else stale_after_s
            token = new_id()  # the dead holder's token stops matching: it can record nothing
            taken = await session.execute(
                update(MessageDelivery)
                .where(
                    MessageDelivery.tenant_id == tenant_id,
                    MessageDelivery.id == held.id,
                    MessageDelivery.status == PROCESSING,
                    MessageDelivery.created_at < now - timedelta(seconds=lapsed),
                )
                .values(id=token, created_at=now)
                .execution_options(synchronize_session=False)  # `held` is read again below
            )
            await session.commit()
            if _count(taken) == 1:
                _not_given_back.discard(held.id)
                log.info("delivery %s: a lapsed claim taken over", key.key)
                return Claim(tenant_id, key, token)
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
    return max(0.0, (claimed - utcnow()).total_seconds() + LEASE_S)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def renew(db: Database, tenant_id: str, claim: Claim) -> bool:
    """Extend the claim's lease; False when it is no longer ours (taken over, given back)."""
    async with db.session(tenant_id) as session:
        renewed = await session.execute(
            update(MessageDelivery)
            .where(MessageDelivery.id == claim.id, MessageDelivery.status == PROCESSING)
            .values(created_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return _count(renewed) == 1


async def mark_recorded(
    session: AsyncSession, claim: Claim, conversation_id: str | None, reply: Any
) -> bool:
    """In the turn's transaction: the delivery's turn is recorded, with its reply. False
    (nothing written) when the claim is no longer ours."""
    marked = await session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.id == claim.id, MessageDelivery.status == PROCESSING)
        .values(status=RECORDED, response={"reply": reply}, conversation_id=conversation_id)
        .execution_options(synchronize_session=False)
    )
    return _count(marked) == 1


@dataclass
class _Holding:
    claim: Claim | None  # None: replaying a recorded turn
    replay: Any = None  # the recorded turn's reply (JSON), answered instead of a new turn
    recorded: bool = field(default=False)
    name: str | None = None  # the customer's name the turn's reply greets (a reference)


_holding: ContextVar[_Holding | None] = ContextVar("frontdesk_delivery", default=None)


@asynccontextmanager
async def holding(db: Database, claim: Claim) -> AsyncIterator[None]:
    """While the body runs the claim's turn: its lease is renewed, and the turn's record
    stage marks the delivery (`record_turn`)."""
    token = _holding.set(_Holding(claim))
    renewing = asyncio.create_task(_renew_while_held(db, claim))
    try:
        yield
    finally:
        renewing.cancel()
        with suppress(asyncio.CancelledError):
            await renewing
        _holding.reset(token)


async def _renew_while_held(db: Database, claim: Claim) -> None:
    while True:
        await asyncio.sleep(LEASE_S / 3)
        try:
            if not await renew(db, claim.tenant_id, claim):
                log.warning("delivery %s: the claim was lost (its turn ran past the lease)",
                            claim.key.key)  # fmt: skip
                return
        except Exception as exc:  # the database is away: the turn will fail on its own
            log.debug("delivery %s: lease not renewed (%s)", claim.key.key, exc)


@asynccontextmanager
async def replaying(reply: Any) -> AsyncIterator[None]:
    """While the body runs, `replayed_reply()` is `reply`: the recorded turn's reply is
    presented again instead of running a second turn."""
    token = _holding.set(_Holding(None, replay=reply))
    try:
        yield
    finally:
        _holding.reset(token)


def greeted_name() -> str | None:
    """The customer's name the held delivery's turn greeted them by (None: none)."""
    held = _holding.get()
    return held.name if held is not None else None


def replayed_reply() -> Any:
    """The recorded reply (JSON) to present instead of running a turn, or None."""
    held = _holding.get()
    return held.replay if held is not None else None


async def record_turn(
    session: AsyncSession, conversation_id: str, reply: Callable[[], Any], *,
    name: str | None = None,
) -> None:  # fmt: skip
    """For the record stage, before its commit: a turn run for a claimed delivery marks it
    recorded in the same transaction. A claim lost meanwhile (taken over after its lease
    lapsed) is a conflict: the turn is not stored, since the key's new holder answers it.
    `name`: the customer's name the reply greets them by, which `reply()` holds as a
    reference; the caller's answer is stored the same way (`greeted_name`)."""
    held = _holding.get()
    if held is None or held.claim is None or held.recorded:
        return
    held.name = name
    if not await mark_recorded(session, held.claim, conversation_id, reply()):
        raise ConflictError(
            "this message's delivery was taken over by a retry; that one answers it",
            code="delivery_in_progress",
        )
    held.recorded = True


async def complete(
    db: Database, tenant_id: str, key: DeliveryKey, *, conversation_id: str | None, response: Any
) -> None:
    async with db.session(tenant_id) as session:
        delivery = await _held(session, key)
        if delivery is not None:
            delivery.status, delivery.response = DONE, response
            # An answer that names no conversation (chat completions) keeps the turn's: it is
            # erased with it, and its name reference is rendered from its customer's profile.
            delivery.conversation_id = conversation_id or delivery.conversation_id
            await session.commit()


# Claims this process could not give back (the database was away when their turn failed):
# a retry reaching this process takes them over at once instead of waiting out the lease.
_not_given_back: set[str] = set()


async def give_back(db: Database, tenant_id: str, claim: Claim) -> None:
    """The turn did not run (refused, failed): a later delivery of the key may try again.
    A recorded turn is never given back (its retry presents the stored reply). When the
    database cannot be reached the claim is noted instead (the caller's error stands)."""
    try:
        async with db.session(tenant_id) as session:
            await session.execute(
                delete(MessageDelivery).where(
                    MessageDelivery.tenant_id == tenant_id,
                    MessageDelivery.id == claim.id,
                    MessageDelivery.status == PROCESSING,
                )
            )
            await session.commit()
    except Exception as exc:
        if db.outage.failed(exc) is None:
            raise
        if len(_not_given_back) < 100_000:  # bounded: past it, leases still free them
            _not_given_back.add(claim.id)
