"""Every replaceable part is a small Protocol here. Built-ins and plugins implement them alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from frontdesk.types import Entity, IntentPrediction, Passage, Usage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

Purpose = Literal["answer", "summarise", "classify", "ops"]


class ToolSpec(BaseModel):
    """A tool as a model sees it: a name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCall] = Field(default_factory=list)  # assistant asking for tools
    tool_call_id: str | None = None  # a tool's result answers this call


class ChatRequest(BaseModel):
    messages: list[ChatMessage]
    passages: list[Passage] = Field(default_factory=list)
    purpose: Purpose = "answer"
    tenant_id: str = ""  # whose budget pays for it
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    json_output: bool = False  # ask the provider for a JSON object (structured output)


class ChatResult(BaseModel):
    text: str
    cited: list[int] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    usage_estimated: bool = False  # the provider gave no usage: counted locally
    grounded: bool = True
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str = "stop"


class ChatChunk(BaseModel):
    """One piece of a streamed answer: text as it arrives; the last chunk carries `result`."""

    text: str = ""
    result: ChatResult | None = None


@runtime_checkable
class ChatModel(Protocol):
    """A model behind one provider. `complete` answers at once; `stream` yields text chunks
    as they arrive and ends with a chunk whose `result` has the whole text, tool calls and
    usage. Providers' failures are raised as `frontdesk.llm.errors.ProviderError`."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...


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
        session: AsyncSession | None = None,
    ) -> list[Passage]:
        """`session`: the caller's open session of `tenant_id`, used instead of a new one. A
        turn passes its own: waiting for a second pooled connection while holding one
        starves the pool under load (issue 21)."""
        ...


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
    # Where personal data was replaced: (start, end) in the original text and the placeholder
    # put there. In memory only, to align what understanding finds in the original with `text`.
    redacted_spans: list[tuple[int, int, str]] = Field(default_factory=list, exclude=True)


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
    parameters: dict[str, Any]  # JSON Schema of the arguments

    async def __call__(self, **arguments: object) -> object: ...


class Transcript(BaseModel):
    """What a transcriber heard in one recording."""

    text: str
    language: str | None = None
    language_probability: float | None = None
    duration_s: float = 0.0  # of the audio
    speech_s: float | None = None  # left after cutting silence, when the transcriber does
    transcription_ms: float = 0.0  # decoding and transcribing, not a first model load


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text. Failures are `frontdesk.speech` errors with stable codes:
    invalid_audio, no_speech, audio_too_long, voice_unavailable."""

    name: str

    async def transcribe(self, audio: bytes) -> Transcript: ...


# The operations assistant reaches a running system only through a TargetSystem.
Severity = Literal["debug", "info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = ("debug", "info", "warning", "error", "critical")


class TargetElement(BaseModel):
    """One configurable element of a target system (a depot, a sorter, a route...)."""

    id: str
    kind: str
    config: dict[str, Any]
    text: str  # as the target stores it (a file's text, a resource's JSON): what diffs show
    digest: str  # SHA-256 of the stored bytes: "changed since the plan was made" compares it


class ElementChange(BaseModel):
    """The new configuration of one element; `base_digest`, when given, must still be the
    element's digest when the change is applied (else the whole change set is refused).
    With `kind`, the element is new: the target creates it, and refuses the whole change set
    (element_exists) when the id is taken."""

    id: str
    config: dict[str, Any]
    base_digest: str | None = None
    kind: str | None = None


class AppliedVersion(BaseModel):
    """A change set applied as one version of the target's configuration."""

    version: int
    changed: list[str]
    digests: dict[str, str]  # element id -> digest after the change
    rollback_of: int | None = None


class TargetEvent(BaseModel):
    ts: datetime
    element: str
    severity: Severity
    code: str
    message: str


class MetricPoint(BaseModel):
    ts: datetime
    element: str
    values: dict[str, float]


@runtime_checkable
class TargetSystem(Protocol):
    """A running system the operations assistant reads and changes. Changes go in only as
    whole change sets (`apply`), validated against each kind's JSON Schema, as one numbered
    version with an audit entry; `rollback(version)` restores what that version replaced,
    exactly (an element it created is removed again). `validate` and `render` take new
    elements too (`new`: id -> kind). Failures raise FrontdeskErrors with stable codes:
    element_not_found, element_exists, element_changed, config_invalid, version_not_found,
    target_unavailable."""

    name: str

    async def kinds(self) -> list[str]: ...

    async def elements(self, kind: str | None = None) -> list[TargetElement]: ...

    async def element(self, element_id: str) -> TargetElement: ...

    async def schema(self, kind: str) -> dict[str, Any]: ...

    async def validate(
        self, configs: dict[str, dict[str, Any]], *, new: Mapping[str, str] | None = None
    ) -> dict[str, list[str]]: ...

    async def render(self, element: TargetElement, config: dict[str, Any]) -> str: ...

    async def version(self) -> int: ...

    async def apply(
        self, changes: Sequence[ElementChange], *, actor: str, message: str
    ) -> AppliedVersion: ...

    async def rollback(self, version: int, *, actor: str, message: str) -> AppliedVersion: ...

    async def events(
        self,
        start: datetime,
        end: datetime,
        *,
        elements: Sequence[str] | None = None,
        min_severity: Severity = "debug",
    ) -> list[TargetEvent]: ...

    async def metrics(
        self, start: datetime, end: datetime, *, elements: Sequence[str] | None = None
    ) -> list[MetricPoint]: ...
