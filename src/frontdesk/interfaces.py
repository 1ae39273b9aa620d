"""Every replaceable part is a small Protocol here. Built-ins and plugins implement them alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from frontdesk.types import Entity, IntentPrediction, Passage, Usage


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    messages: list[ChatMessage]
    passages: list[Passage] = Field(default_factory=list)
    purpose: Literal["answer", "summarise", "classify"] = "answer"


class ChatResult(BaseModel):
    text: str
    cited: list[int] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    grounded: bool = True


@runtime_checkable
class ChatModel(Protocol):
    name: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...


@runtime_checkable
class IntentClassifier(Protocol):
    @property
    def intents(self) -> list[str]: ...

    def predict(self, text: str) -> IntentPrediction: ...


@runtime_checkable
class EntityExtractor(Protocol):
    def extract(self, text: str, *, now: datetime) -> list[Entity]: ...


@runtime_checkable
class Retriever(Protocol):
    async def search(
        self,
        tenant_id: str,
        query: str,
        *,
        limit: int = 5,
        doc_types: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> list[Passage]: ...


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Screening(BaseModel):
    """What a guard made of a text: the text to use from here on, and what it found."""

    text: str
    findings: list[str] = Field(default_factory=list)
    injection_score: float = 0.0
    blocked: bool = False
    reason: str | None = None


@runtime_checkable
class Guard(Protocol):
    def screen(self, text: str) -> Screening: ...


@runtime_checkable
class Channel(Protocol):
    """An output channel needs one method; richer messages fall back to text."""

    async def send_text(self, conversation_id: str, text: str) -> None: ...


class TicketDraft(BaseModel):
    conversation_id: str
    team: str
    priority: str
    subject: str
    summary: dict[str, object]


@runtime_checkable
class TicketBackend(Protocol):
    async def create(self, tenant_id: str, draft: TicketDraft) -> str: ...


@runtime_checkable
class Tool(Protocol):
    name: str
    description: str

    async def __call__(self, **arguments: object) -> object: ...
