"""The Turn: everything one message's pass through the pipeline finds, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.dialogue import DialogueState, Tracked
from frontdesk.interfaces import ChatResult, Screening
from frontdesk.llm.service import StreamSink
from frontdesk.memory.history import HistoryItem
from frontdesk.memory.profile import ProfileView
from frontdesk.orchestration.screened_stream import ScreenedStream
from frontdesk.storage.models import Conversation, CustomerProfile, new_id
from frontdesk.types import (
    Answerability,
    Citation,
    Entity,
    InboundMessage,
    IntentPrediction,
    Passage,
    Route,
    Sentiment,
    Urgency,
)


@dataclass
class Turn:
    message: InboundMessage
    now: datetime
    session: AsyncSession
    conversation: Conversation
    id: str = field(default_factory=new_id)
    history: list[HistoryItem] = field(default_factory=list)
    # The routing decisions of the conversation's last turns, oldest first (read with the
    # history by `load_context`; None: not read, `decide` reads them).
    prior_decisions: list[dict[str, Any] | None] | None = None
    screening: Screening | None = None
    text: str = ""  # the customer's text after screening (redacted); what later stages see
    intent: IntentPrediction | None = None
    nlu_model: str | None = None  # the trained model version that gave the intent
    entities: list[Entity] = field(default_factory=list)
    urgency: Urgency | None = None
    sentiment: Sentiment | None = None
    route: Route | None = None
    passages: list[Passage] = field(default_factory=list)
    answerability: Answerability | None = None  # set by `retrieve`, before `decide`
    result: ChatResult | None = None
    reply_text: str = ""
    # reply_text as stored, when it greets the customer by name: the name as a reference
    # (frontdesk.text.NAME_MARK), rendered from the profile wherever the message is shown
    stored_reply: str | None = None
    system_prompt: str = ""  # what the model was told; the reply must not echo it
    sink: StreamSink | None = None  # streams the answer's text as it is written (SSE)
    stream: ScreenedStream | None = None  # `sink` behind the output screen, while answering
    citations: list[Citation] = field(default_factory=list)
    ticket_id: str | None = None
    stage_ms: dict[str, float] = field(default_factory=dict)
    finished: bool = False  # a stage answered already (blocked input, say): skip the rest
    fallback: bool = False
    error_stage: str | None = None
    error: str | None = None
    # The routing decision as recorded: facts, triggers, rule and why, tool outcomes.
    decision: dict[str, Any] = field(default_factory=dict)
    silent: bool = False  # an agent owns the conversation: store the message, do not reply
    language: str | None = None  # detected in the message (None: too short to tell)
    profile: ProfileView | None = None  # the customer's, by customer_ref (memory/profile.py)
    profile_row: CustomerProfile | None = None  # as read, for the one write at the end
    profile_read: bool = False  # profile_row was read with the conversation (none: no row)
    # The conversation's dialogue state: as loaded, then as `respond` leaves it (stored).
    dialogue_state: DialogueState = field(default_factory=DialogueState)
    tracked: Tracked | None = None  # what this message did to it (`track`)
    classified: dict[str, Any] | None = None  # the classifier's intent, when the task's replaced it
    form_slots: dict[str, str] = field(default_factory=dict)  # a complete form's slots: tool args
