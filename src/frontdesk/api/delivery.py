"""What every way in for a customer message goes through: the checks before its turn runs
(size, the conversation is this tenant's, rate limits, the conversation's length), and
idempotent delivery (a repeated `Idempotency-Key` gets the first reply, not a second turn)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel

from frontdesk.api.limits import Limiter
from frontdesk.errors import ConflictError, InvalidRequestError, NotFoundError, PayloadTooLargeError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import VerifiedKey
from frontdesk.storage.conversations import count_messages, create_conversation, get_conversation
from frontdesk.types import Channel, InboundMessage, Reply

M = TypeVar("M", bound=BaseModel)
REPLAYED = {"Idempotent-Replayed": "true"}
IDEMPOTENCY_DOC = (
    "A key unique to this delivery of the message (e.g. the channel's event id): a repeat "
    "with the same key returns the first reply (header Idempotent-Replayed: true)."
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
    idempotency_key: str | None,
    produce: Callable[[], Awaitable[M]],
    model: type[M],
) -> tuple[M, bool]:
    """`produce()`'s result, run at most once per `Idempotency-Key` of the tenant: a repeated
    delivery gets the first result back (and True). While the first is still being produced a
    repeat is refused (409); if producing fails, the key is given back for a retry."""
    if idempotency_key is None:
        return await produce(), False
    if not 1 <= len(idempotency_key) <= 200:
        raise InvalidRequestError(
            "Idempotency-Key must be 1 to 200 characters", code="invalid_idempotency_key"
        )
    earlier = await deliveries.claim(runtime.db, key.tenant_id, idempotency_key)
    if earlier is not None:
        if earlier.status == deliveries.DONE:
            return model.model_validate(earlier.response), True
        raise ConflictError(
            "a message with this Idempotency-Key is still being answered; retry shortly",
            code="delivery_in_progress",
        )
    try:
        result = await produce()
    except BaseException:
        await deliveries.give_back(runtime.db, key.tenant_id, idempotency_key)
        raise
    await deliveries.complete(
        runtime.db,
        key.tenant_id,
        idempotency_key,
        conversation_id=getattr(result, "conversation_id", None),
        response=result.model_dump(mode="json"),
    )
    return result, False


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
    the admission checks, then the turn inside the tenant's concurrency slot."""
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
