"""Checks every way in for a customer message passes before its turn runs: size, the
conversation (this tenant's), rate limits and the conversation's length."""

from __future__ import annotations

from frontdesk.api.limits import Limiter
from frontdesk.errors import NotFoundError, PayloadTooLargeError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import VerifiedKey
from frontdesk.storage.conversations import count_messages, get_conversation
from frontdesk.types import InboundMessage


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
