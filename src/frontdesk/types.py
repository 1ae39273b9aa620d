"""Vocabulary shared by every layer: what flows through the pipeline and out of the API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Channel(StrEnum):
    API = "api"
    WEB = "web"
    CLI = "cli"
    OPENAI = "openai"
    EMAIL = "email"
    SLACK = "slack"
    WHATSAPP = "whatsapp"
    VOICE = "voice"


class Action(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    TOOL = "tool"
    ANSWER_THEN_HANDOFF = "answer_then_handoff"  # answer from the knowledge base, then hand off


class Answerability(BaseModel):
    """Whether the knowledge base answers this question, decided after retrieval."""

    answerable: bool
    score: float  # 0..1: how likely the best passages answer the question
    reason: str  # in words, for the trace and the hand-off summary
    signals: dict[str, float] = Field(default_factory=dict)
    ms: float = 0.0  # how long the judgement took (it is part of the retrieve stage)


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class InboundMessage(BaseModel):
    tenant_id: str
    conversation_id: str
    text: str
    channel: Channel = Channel.API
    received_at: datetime | None = None


class IntentPrediction(BaseModel):
    name: str
    confidence: float
    ranking: list[tuple[str, float]] = Field(default_factory=list)
    # True when the message looks unlike every intent the model was trained on (or the model
    # is not sure enough): such messages route to human review.
    out_of_scope: bool = False
    oos_score: float = 0.0


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Sentiment(BaseModel):
    label: SentimentLabel
    score: float  # -1 (very negative) .. 1 (very positive)


class Entity(BaseModel):
    type: str
    text: str
    value: Any
    start: int
    end: int
    extractor: str
    confidence: float = 1.0
    # Rasa's entity roles and groups ("city" as the destination, in the second group).
    role: str | None = None
    group: str | None = None


class Passage(BaseModel):
    """A retrieved chunk of knowledge, with what a citation needs."""

    chunk_id: int
    document_id: str
    title: str
    heading: str = ""
    text: str
    source: str
    kind: str = "section"
    doc_type: str = ""
    tags: list[str] = Field(default_factory=list)
    score: float = 0.0
    # What each list of a hybrid search said of it (None: not in that list, or no such list):
    # the raw BM25 score and the embedding cosine. Answerability reads them.
    keyword_score: float | None = None
    dense_score: float | None = None


class Citation(BaseModel):
    n: int
    title: str
    source: str
    chunk_id: int
    heading: str = ""


class Route(BaseModel):
    action: Action
    team: str | None = None
    priority: Urgency = Urgency.NORMAL
    rule: str
    reason: str
    ask: str | None = None
    tool: str | None = None  # for action "tool": which tool to call


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    model: str = ""


class Reply(BaseModel):
    conversation_id: str
    turn_id: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    nlu_model: str | None = None  # the trained model version that gave the intent
    route: Route | None = None
    citations: list[Citation] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    urgency: Urgency | None = None
    fallback: bool = False
    ticket_id: str | None = None
    # The conversation's dialogue state after this turn (frontdesk.dialogue.state's shape).
    dialogue_state: dict[str, Any] | None = None
    language: str | None = None  # detected in the customer's message (None: too short)
