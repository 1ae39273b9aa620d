"""Request and response bodies: XCreate / XPublic families."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.input_hygiene import RequestBody
from frontdesk.storage.fields import fits
from frontdesk.storage.models import Conversation
from frontdesk.types import Channel, Citation, Entity, Route, Urgency


class ConversationCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    channel: Channel = Channel.API
    customer_ref: Annotated[str, fits(Conversation.customer_ref)] | None = None


class ConversationPublic(BaseModel):
    id: str
    channel: str
    status: str
    created_at: datetime
    # The dialogue state now: active task and form, slots, pending question (transcripts).
    dialogue_state: dict[str, object] | None = None
    # The running summary (intents, facts given, outcomes) and the last message's language.
    summary: str | None = None
    language: str | None = None


class ConversationCreated(ConversationPublic):
    conversation_token: str = Field(
        description="The conversation's secret, shown only now. A widget key must send it as "
        "the X-Conversation-Token header to post to or read this conversation."
    )


class MessageCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="The customer's message.")


class ReplyPublic(BaseModel):
    conversation_id: str
    turn_id: str
    answer: str
    intent: str | None
    confidence: float | None
    # The trained NLU model version that gave the intent (`frontdesk train` makes new ones).
    nlu_model: str | None = None
    route: Route | None
    citations: list[Citation]
    entities: list[Entity]
    urgency: Urgency | None
    fallback: bool
    ticket_id: str | None
    # The dialogue state after this turn: {active: {intent, form, slots, requested_slot,
    # attempts} | null, paused: [...], slots: {name: {value, turn}}}.
    dialogue_state: dict[str, object] | None = None
    # The language detected in the customer's message (en, es...; None: too short to tell).
    language: str | None = None


class MessagePublic(BaseModel):
    seq: int
    role: str
    text: str
    turn_id: str | None
    created_at: datetime


class TurnPublic(BaseModel):
    id: str
    intent: str | None
    confidence: float | None
    nlu_model: str | None = None
    route: dict[str, object] | None
    citations: list[dict[str, object]]
    stage_ms: dict[str, float]
    total_ms: float
    fallback: bool
    error_stage: str | None
    # The model that wrote the answer (extractive, cache:..., openai:...), what the turn's
    # model calls used and cost, and why a configured model was not used, if it was not.
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    note: str | None = None
    # Whether the knowledge base answers the question: {answerable, score, reason, signals}.
    answerability: dict[str, object] | None = None
    dialogue_state: dict[str, object] | None = None  # after this turn
    language: str | None = None  # detected in the customer's message (None: too short)
    created_at: datetime


class TranscriptPublic(BaseModel):
    conversation: ConversationPublic
    messages: list[MessagePublic]
    turns: list[TurnPublic]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
