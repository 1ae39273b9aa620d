"""Conversations: create one, post a customer message and get the reply, read the transcript."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse

from frontdesk.api.delivery import (
    IDEMPOTENCY_DOC,
    REPLAYED,
    accept_message,
    caller_delivery,
    once,
    take_turn,
)
from frontdesk.api.deps import (
    ConversationWriter,
    CurrentKey,
    LimiterDep,
    RuntimeDep,
    VisitorKey,
    require_scope,
)
from frontdesk.api.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationPublic,
    ErrorResponse,
    MessageCreate,
    MessagePublic,
    ReplyPublic,
    TranscriptPublic,
    TurnPublic,
)
from frontdesk.api.streaming import STREAM_DOC, sse_reply
from frontdesk.errors import InvalidRequestError, NotFoundError
from frontdesk.orchestration.remembering import name_to_show
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.audit import audit
from frontdesk.storage.conversations import (
    all_messages,
    create_conversation,
    get_conversation,
    new_visitor_token,
    turns_of,
)
from frontdesk.storage.models import Conversation
from frontdesk.text import render_name
from frontdesk.types import Channel, Reply

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 429)
}

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERRORS)


def _public(conversation: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=conversation.id,
        channel=conversation.channel,
        status=conversation.status,
        created_at=conversation.created_at,
        dialogue_state=conversation.dialogue_state,
        summary=conversation.summary,
        language=conversation.language,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(
    runtime: RuntimeDep,
    key: VisitorKey,
    limiter: LimiterDep,
    body: ConversationCreate | None = None,
) -> ConversationCreated:
    """Start a conversation. The response's `conversation_token` is shown only here: a widget
    key must send it as `X-Conversation-Token` on every call about this conversation."""
    body = body or ConversationCreate()
    await limiter.hit_new_conversation(key.id)
    token = new_visitor_token()
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await create_conversation(session, channel=body.channel.value,
                                                 customer_ref=body.customer_ref,
                                                 visitor_token=token)  # fmt: skip
        await session.commit()
        return ConversationCreated(**_public(conversation).model_dump(), conversation_token=token)


@router.post(
    "/{conversation_id}/messages",
    response_model=ReplyPublic,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DOC}},
)
async def post_message(
    conversation_id: str,
    body: MessageCreate,
    runtime: RuntimeDep,
    key: ConversationWriter,
    limiter: LimiterDep,
    stream: Annotated[bool, Query(description="stream the reply as server-sent events")] = False,
    accept: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(description=IDEMPOTENCY_DOC)] = None,
) -> ReplyPublic | Response:
    streaming = stream or "text/event-stream" in (accept or "")
    if streaming and idempotency_key is not None:
        raise InvalidRequestError(
            "Idempotency-Key is for plain JSON replies, not streams", code="idempotency_with_stream"
        )
    delivery = caller_delivery(key, idempotency_key, "conversations.messages",
                               conversation_id, body.text)  # fmt: skip
    slots = runtime.settings.concurrency_for(key.tenant_slug)

    async def answer() -> ReplyPublic:
        reply = await take_turn(runtime, key, limiter, body.text,
                                conversation_id=conversation_id, channel=Channel.API)  # fmt: skip
        return public_reply(reply)

    if not streaming:
        reply, replayed = await once(runtime, key, delivery, answer, ReplyPublic)
        if replayed:
            return JSONResponse(reply.model_dump(mode="json"), headers=REPLAYED)
        return reply
    message = await accept_message(runtime, key, limiter, conversation_id, body.text)
    # The slot is taken now (a refusal is a plain 429) and given back when the turn ends.
    hold = AsyncExitStack()
    await hold.enter_async_context(limiter.tenant_slot(key.tenant_id, slots))
    return sse_reply(runtime, message, public_reply, release=hold.aclose)


def public_reply(reply: Reply) -> ReplyPublic:
    return ReplyPublic(
        conversation_id=reply.conversation_id,
        turn_id=reply.turn_id,
        answer=reply.text,
        intent=reply.intent,
        confidence=reply.confidence,
        nlu_model=reply.nlu_model,
        route=reply.route,
        citations=reply.citations,
        entities=reply.entities,
        urgency=reply.urgency,
        fallback=reply.fallback,
        ticket_id=reply.ticket_id,
        dialogue_state=reply.dialogue_state,
        language=reply.language,
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
        name = await name_to_show(session, conversation.customer_ref, runtime.settings)
        audit(session, actor=key.actor, action="conversation.read", target=conversation_id)
        await session.commit()
    return TranscriptPublic(
        conversation=_public(conversation),
        messages=[
            MessagePublic(
                seq=m.seq,
                role=m.role,
                text=render_name(m.text, name),
                turn_id=m.turn_id,
                created_at=m.created_at,
            )
            for m in messages
        ],
        turns=[
            TurnPublic(
                id=t.id,
                intent=t.intent,
                confidence=t.confidence,
                nlu_model=t.nlu_model,
                route=t.route,
                citations=t.citations,
                stage_ms=t.stage_ms,
                total_ms=t.total_ms,
                fallback=t.fallback,
                error_stage=t.error_stage,
                model=t.model,
                prompt_tokens=t.prompt_tokens,
                completion_tokens=t.completion_tokens,
                cost=t.cost,
                note=t.error if t.error_stage is None else None,
                answerability=((t.decision or {}).get("facts") or {}).get("answerability"),
                dialogue_state=t.dialogue_state,
                language=t.language,
                created_at=t.created_at,
            )
            for t in turns
        ],
    )
