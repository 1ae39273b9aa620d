"""Conversations: create one, post a customer message and get the reply, read the transcript."""

from __future__ import annotations

from fastapi import APIRouter, status

from frontdesk.api.deps import CurrentKey, RuntimeDep, require_scope
from frontdesk.api.schemas import (
    ConversationCreate,
    ConversationPublic,
    ErrorResponse,
    MessageCreate,
    MessagePublic,
    ReplyPublic,
    TranscriptPublic,
    TurnPublic,
)
from frontdesk.errors import NotFoundError, PayloadTooLargeError
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.conversations import (
    all_messages,
    create_conversation,
    get_conversation,
    turns_of,
)
from frontdesk.storage.models import Conversation
from frontdesk.types import InboundMessage

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422)
}

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERRORS)


def _public(conversation: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=conversation.id,
        channel=conversation.channel,
        status=conversation.status,
        created_at=conversation.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(
    runtime: RuntimeDep, key: CurrentKey, body: ConversationCreate | None = None
) -> ConversationPublic:
    body = body or ConversationCreate()
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await create_conversation(
            session, channel=body.channel.value, customer_ref=body.customer_ref
        )
        await session.commit()
        return _public(conversation)


@router.post("/{conversation_id}/messages")
async def post_message(
    conversation_id: str, body: MessageCreate, runtime: RuntimeDep, key: CurrentKey
) -> ReplyPublic:
    limit = runtime.settings.assistant.max_message_chars
    if len(body.text) > limit:
        raise PayloadTooLargeError(
            f"message is {len(body.text)} characters; the limit is {limit}",
            code="message_too_long",
        )
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} not found")
    reply = await runtime.assistant.handle(
        InboundMessage(
            tenant_id=key.tenant_id,
            conversation_id=conversation_id,
            text=body.text,
            channel=conversation.channel,
        )
    )
    return ReplyPublic(
        conversation_id=reply.conversation_id,
        turn_id=reply.turn_id,
        answer=reply.text,
        intent=reply.intent,
        confidence=reply.confidence,
        route=reply.route,
        citations=reply.citations,
        entities=reply.entities,
        urgency=reply.urgency,
        fallback=reply.fallback,
        ticket_id=reply.ticket_id,
    )


@router.get("/{conversation_id}")
async def transcript(
    conversation_id: str, runtime: RuntimeDep, key: CurrentKey
) -> TranscriptPublic:
    """Messages and per-turn traces. Not for widget keys: a web page's key is public."""
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        if conversation is None:
            raise NotFoundError(f"conversation {conversation_id} not found")
        messages = await all_messages(session, conversation_id)
        turns = await turns_of(session, conversation_id)
    return TranscriptPublic(
        conversation=_public(conversation),
        messages=[
            MessagePublic(
                seq=m.seq, role=m.role, text=m.text, turn_id=m.turn_id, created_at=m.created_at
            )
            for m in messages
        ],
        turns=[
            TurnPublic(
                id=t.id,
                intent=t.intent,
                confidence=t.confidence,
                route=t.route,
                citations=t.citations,
                stage_ms=t.stage_ms,
                total_ms=t.total_ms,
                fallback=t.fallback,
                error_stage=t.error_stage,
                created_at=t.created_at,
            )
            for t in turns
        ],
    )
