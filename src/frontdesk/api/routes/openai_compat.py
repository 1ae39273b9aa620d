"""An OpenAI-compatible chat endpoint, so any OpenAI client library can talk to frontdesk.

`POST /v1/chat/completions` takes the last `user` message as the customer's words and answers
through the full pipeline (screening, understanding, routing, retrieval, the answer, the
output screen), exactly as `POST /v1/conversations/{id}/messages` does. frontdesk keeps the
conversation itself, so a client continues one by sending back the `conversation_id` the
reply carried (`extra_body={"conversation_id": ...}` in the Python client); without one a new
conversation starts, and earlier messages in the request are not replayed. `model`,
`temperature` and the like are accepted and ignored: the operator's configuration decides.
`stream: true` is honoured with OpenAI's chunk format, sent once the reply has passed the
output screen (the format has no way to take back words already sent). An `Idempotency-Key`
header makes a repeated request return the first completion instead of a second turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from frontdesk.api.delivery import IDEMPOTENCY_DOC, REPLAYED, caller_delivery, once, take_turn
from frontdesk.api.deps import CurrentKey, LimiterDep, RuntimeDep, require_scope
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import InvalidRequestError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.fields import fits
from frontdesk.storage.models import Conversation, Turn
from frontdesk.types import Channel, Reply

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 413, 422, 429)
}
router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=ERRORS)


class ContentPart(RequestBody):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(RequestBody):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(RequestBody):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens...: accepted, unused
    model: str = "frontdesk"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: Annotated[str, fits(Conversation.customer_ref)] | None = Field(
        default=None, description="stored as customer_ref"
    )
    conversation_id: Annotated[str, fits(Conversation.id)] | None = Field(
        default=None, description="frontdesk's conversation to continue (from an earlier reply)"
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class CompletionUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    conversation_id: str
    frontdesk: dict[str, Any] = Field(description="intent, route, citations, turn id")


def customer_text(messages: list[ChatMessage]) -> str:
    """The words of the last message, which must be the customer's (role `user`)."""
    last = messages[-1]
    if last.role != "user":
        raise InvalidRequestError(
            f"the last message must have role 'user', not '{last.role}'", code="no_user_message"
        )
    if isinstance(last.content, list):
        if any(part.type != "text" for part in last.content):
            raise InvalidRequestError("only text content is supported", code="unsupported_content")
        text = "\n".join(part.text or "" for part in last.content)
    else:
        text = last.content or ""
    if not text.strip():
        raise InvalidRequestError("the last user message is empty", code="empty_message")
    return text


@router.post("/chat/completions", response_model=ChatCompletion)
async def chat_completions(
    body: ChatCompletionRequest,
    runtime: RuntimeDep,
    key: CurrentKey,
    limiter: LimiterDep,
    idempotency_key: Annotated[str | None, Header(description=IDEMPOTENCY_DOC)] = None,
) -> ChatCompletion | Response:
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    text = customer_text(body.messages)

    async def answer() -> ChatCompletion:
        reply = await take_turn(
            runtime,
            key,
            limiter,
            text,
            conversation_id=body.conversation_id,
            channel=Channel.OPENAI,
            customer_ref=body.user,
        )
        return await _completion(runtime, key.tenant_id, reply, body.model)

    delivery = caller_delivery(key, idempotency_key, "chat.completions",
                               body.model_dump(mode="json"))  # fmt: skip
    completion, replayed = await once(runtime, key, delivery, answer, ChatCompletion)
    headers = REPLAYED if replayed else None
    if body.stream:
        return StreamingResponse(
            _chunks(completion), media_type="text/event-stream", headers=headers
        )
    return JSONResponse(completion.model_dump(mode="json"), headers=headers)


async def _completion(runtime: Runtime, tenant_id: str, reply: Reply, model: str) -> ChatCompletion:
    async with runtime.db.session(tenant_id) as session:
        turn = await session.scalar(select(Turn).where(Turn.id == reply.turn_id))
    prompt, completion = (turn.prompt_tokens or 0, turn.completion_tokens or 0) if turn else (0, 0)
    return ChatCompletion(
        id=f"chatcmpl-{reply.turn_id}",
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=reply.text))],
        usage=CompletionUsage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ),
        conversation_id=reply.conversation_id,
        frontdesk={
            "turn_id": reply.turn_id,
            "intent": reply.intent,
            "confidence": reply.confidence,
            "route": reply.route.model_dump(mode="json") if reply.route else None,
            "citations": [c.model_dump(mode="json") for c in reply.citations],
            "fallback": reply.fallback,
            "ticket_id": reply.ticket_id,
        },
    )


async def _chunks(completion: ChatCompletion) -> AsyncIterator[bytes]:
    base = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "conversation_id": completion.conversation_id,
    }
    content = completion.choices[0].message.content
    for delta, finish in (
        ({"role": "assistant", "content": ""}, None),
        ({"content": content}, None),
        ({}, "stop"),
    ):
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"
