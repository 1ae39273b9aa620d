"""What every way in for a customer message goes through: the checks before its turn runs
(size, the conversation is this tenant's, rate limits, the conversation's length), and
idempotent delivery (a repeated `Idempotency-Key` gets the first reply, not a second turn).

A caller's key is its own (scoped to the API key or user that sent it) and bound to the
request it came with: the same key on another route, conversation or body is refused with
422 `idempotency_key_reused`, never answered with another request's reply. Channels' own
message ids live apart (`deliveries.CHANNEL`), where no `Idempotency-Key` header can reach."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from frontdesk.api.limits import Limiter
from frontdesk.errors import ConflictError, InvalidRequestError, NotFoundError, PayloadTooLargeError
from frontdesk.orchestration.remembering import name_to_show
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import VerifiedKey
from frontdesk.storage.conversations import count_messages, create_conversation, get_conversation
from frontdesk.storage.deliveries import DeliveryKey
from frontdesk.text import NAME_MARK, mark_names, render_names
from frontdesk.types import Channel, InboundMessage, Reply

M = TypeVar("M", bound=BaseModel)
REPLAYED = {"Idempotent-Replayed": "true"}
IDEMPOTENCY_DOC = (
    "A key unique to this delivery of the message (e.g. the channel's event id): a repeat "
    "with the same key and the same request returns the first reply (header "
    "Idempotent-Replayed: true); the same key with another request is 422 "
    "`idempotency_key_reused`. Keys are per API key (or signed-in user)."
)
MAX_KEY_CHARS = 200  # the column's width


def fingerprint(endpoint: str, *request: object) -> str:
    """What a delivery asked for, so a key sent again with something else is caught."""
    canonical = json.dumps([endpoint, *request], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def caller_delivery(
    key: VerifiedKey, idempotency_key: str | None, endpoint: str, *request: object
) -> DeliveryKey | None:
    """An API caller's `Idempotency-Key`, in the caller's own namespace (None: no key sent)."""
    if idempotency_key is None:
        return None
    if not 1 <= len(idempotency_key) <= MAX_KEY_CHARS:
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters",
            code="invalid_idempotency_key",
        )
    return DeliveryKey(key.actor, idempotency_key, fingerprint(endpoint, *request))


def channel_key(channel: Channel, message_id: str) -> str:
    """A channel's message id as its delivery key (`email:<Message-ID>`): one too long for
    the column is kept as its hash, so a long id is answered like any other."""
    key = f"{channel.value}:{message_id}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    return f"{channel.value}:sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"


def channel_delivery(delivery_key: str, endpoint: str, *request: object) -> DeliveryKey:
    """A channel's own message id, in the namespace only channels write."""
    return DeliveryKey(deliveries.CHANNEL, delivery_key, fingerprint(endpoint, *request))


def _reused(delivery: DeliveryKey) -> InvalidRequestError:
    return InvalidRequestError(
        f"Idempotency-Key {delivery.key!r} was already used for another request (another "
        "route, conversation or message): use a new key for each new message",
        code="idempotency_key_reused",
    )


async def accept_message(
    runtime: Runtime, key: VerifiedKey, limiter: Limiter, conversation_id: str, text: str
) -> InboundMessage:
    limit = runtime.settings.assistant.max_message_chars
    if len(text) > limit:
        raise PayloadTooLargeError(
            f"message is {len(text)} characters; the limit is {limit}", code="message_too_long"
        )
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        stored = await count_messages(session, conversation_id) if conversation else 0
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found")
    await limiter.hit_key(key.id)
    await limiter.hit_conversation(conversation_id)
    limiter.check_length(stored)
    return InboundMessage(
        tenant_id=key.tenant_id,
        conversation_id=conversation_id,
        text=text,
        channel=conversation.channel,
    )


async def once(
    runtime: Runtime,
    key: VerifiedKey,
    delivery: DeliveryKey | None,
    produce: Callable[[], Awaitable[M]],
    model: type[M],
) -> tuple[M, bool]:
    """`produce()`'s result, run at most once per delivery key: a repeated delivery of the
    same request gets the first result back (and True); the same key with another request
    is refused (422). While the first is still being produced a repeat is refused (409); if
    producing fails before its turn was recorded, the key is given back for a retry. A turn
    recorded by a process that died before answering is presented again, not run again."""
    if delivery is None:
        return await produce(), False
    claimed = await deliveries.claim(runtime.db, key.tenant_id, delivery)
    if isinstance(claimed, deliveries.Claim):
        try:
            async with deliveries.holding(runtime.db, claimed):
                result = await produce()
                name = deliveries.greeted_name()
        except BaseException:
            await deliveries.give_back(runtime.db, key.tenant_id, claimed)
            raise
        await _complete(runtime, key, delivery, result, name)
        return result, False
    if not deliveries.same_request(claimed, delivery):
        raise _reused(delivery)
    # A stored answer greeting the customer holds their name as a reference: it is shown
    # with the profile's name now (none once the profile is gone).
    name = await _name_in(runtime, key.tenant_id, claimed.conversation_id, claimed.response)
    if claimed.status == deliveries.DONE:
        try:
            return model.model_validate(render_names(claimed.response, name)), True
        except ValidationError:  # stored by another route (a key from before scoping)
            raise _reused(delivery) from None
    if claimed.status == deliveries.RECORDED:  # its process died before answering
        reply = (claimed.response or {}).get("reply")
        async with deliveries.replaying(render_names(reply, name)):
            result = await produce()
        await _complete(runtime, key, delivery, result, name)
        return result, True
    wait = await deliveries.seconds_until_abandoned(runtime.db, key.tenant_id, delivery)
    raise ConflictError(
        "a message with this Idempotency-Key is still being answered; retry shortly",
        code="delivery_in_progress",
        retry_after=max(1, math.ceil(wait)),
    )


async def _name_in(
    runtime: Runtime, tenant_id: str, conversation_id: str | None, response: object
) -> str | None:
    """The name to show for a stored answer's name reference (None: it has none, or the
    customer's profile is gone or keeps no name)."""
    if conversation_id is None or NAME_MARK not in json.dumps(response, ensure_ascii=False):
        return None
    async with runtime.db.session(tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        ref = conversation.customer_ref if conversation is not None else None
        return await name_to_show(session, ref, runtime.settings)


async def _complete(
    runtime: Runtime, key: VerifiedKey, delivery: DeliveryKey, result: M, name: str | None
) -> None:
    """Store the answer for repeats, the customer's `name` (a greeting's) as a reference."""
    response = result.model_dump(mode="json")
    await deliveries.complete(
        runtime.db,
        key.tenant_id,
        delivery,
        conversation_id=getattr(result, "conversation_id", None),
        response=mark_names(response, name) if name else response,
    )


async def take_turn(
    runtime: Runtime,
    key: VerifiedKey,
    limiter: Limiter,
    text: str,
    *,
    conversation_id: str | None,
    channel: Channel,
    customer_ref: str | None = None,
) -> Reply:
    """Answer `text` in the conversation, or in a new one on `channel` when there is none:
    the admission checks, then the turn inside the tenant's concurrency slot. (A delivery
    whose turn was recorded before its process died gets that turn's reply.)"""
    recorded = deliveries.replayed_reply()
    if recorded is not None:
        return Reply.model_validate(recorded)
    if conversation_id is None:
        async with runtime.db.session(key.tenant_id) as session:
            conversation = await create_conversation(
                session, channel=channel.value, customer_ref=customer_ref
            )
            await session.commit()
            conversation_id = conversation.id
    message = await accept_message(runtime, key, limiter, conversation_id, text)
    async with limiter.tenant_slot(
        key.tenant_id, runtime.settings.concurrency_for(key.tenant_slug)
    ):
        return await runtime.assistant.handle(message)
