"""Settings from `frontdesk.yaml`, overridden by `FRONTDESK_*` environment variables.

Nested fields use a double underscore: FRONTDESK_SERVER__PORT=9000.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class AssistantSettings(BaseModel):
    name: str = "frontdesk"
    company: str = "our company"
    greeting: str = "Hi! How can I help you today?"
    fallback_reply: str = (
        "Sorry, something went wrong on our side while handling your message. "
        "A member of our team has been notified; please try again in a moment."
    )
    no_answer_reply: str = (
        "I could not find an answer to that in our help articles. "
        "I can pass your question to a member of our team."
    )
    max_message_chars: int = Field(default=4000, ge=1)
    history_turns: int = Field(default=10, ge=0)


class KnowledgeSettings(BaseModel):
    retriever: Literal["hybrid", "fulltext"] = "hybrid"
    embedder: str = "minilm"
    candidates: int = Field(default=100, ge=1, le=1000)
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0.0)
    context_tokens: int = Field(default=1200, ge=100)
    top_k: int = Field(default=5, ge=1, le=50)
    min_score: float = Field(default=0.0, ge=0.0)
    chunk_words: int = Field(default=350, ge=50)
    overlap_words: int = Field(default=40, ge=0)


class NluSettings(BaseModel):
    classifier: str = "tfidf"
    entity_patterns: dict[str, str] = Field(
        default_factory=lambda: {"order_id": r"\bKP-\d{8}\b", "customer_id": r"\bCU-\d{6}\b"}
    )

    @field_validator("entity_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern for {name!r} is not a valid regex: {exc}") from exc
        return value


class LlmSettings(BaseModel):
    answer_model: str = "extractive"


class WebSettings(BaseModel):
    enabled: bool = True


class Settings(BaseSettings):
    """Everything `frontdesk.yaml` may set. Unknown keys are errors, so typos surface."""

    model_config = SettingsConfigDict(
        env_prefix="FRONTDESK_", env_nested_delimiter="__", extra="forbid"
    )

    tenant: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    database_url: str | None = None
    auto_migrate: bool = True
    server: ServerSettings = Field(default_factory=ServerSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    nlu: NluSettings = Field(default_factory=NluSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file; `load_settings` passes the file's values as init
        # kwargs, so they come last.
        return (env_settings, init_settings)

    def resolved_database_url(self, workspace_dir: Path) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(workspace_dir / '.frontdesk' / 'frontdesk.db').resolve()}"
