"""Tables. Every row of customer data carries its tenant (see `scoping` for the enforcement)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TenantScoped:
    """Marker mixin: rows of these tables are only ever read or written inside one tenant."""

    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class ApiKey(TenantScoped, Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The revoked key this one was issued to replace (the chat page's widget key): unique,
    # so two processes replacing it at once make one key between them.
    replaces_id: Mapped[str | None] = mapped_column(String(32), unique=True)


class Conversation(TenantScoped, Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    customer_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    # SHA-256 of the secret its visitor got when it was started through the API: a widget
    # key reaches the conversation only with that secret (storage/conversations.py).
    visitor_token_hash: Mapped[str | None] = mapped_column(String(64))
    # Where the dialogue stands (active task, filled slots, pending question, paused tasks):
    # read at the start of a turn and written by it, so it survives a restart.
    dialogue_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[str | None] = mapped_column(Text)  # the running summary, within a budget
    language: Mapped[str | None] = mapped_column(String(16))  # of the last customer message
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(TenantScoped, Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_seq", "conversation_id", "seq"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # customer | assistant | agent | system
    text: Mapped[str] = mapped_column(Text)
    turn_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Turn(TenantScoped, Base):
    """One pass of the pipeline: what each stage found and how long it took."""

    __tablename__ = "turns"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    stage_ms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total_ms: Mapped[float] = mapped_column(Float, default=0.0)
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    urgency: Mapped[str | None] = mapped_column(String(16))
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    screening: Mapped[dict[str, Any]] = mapped_column(default=dict)
    citations: Mapped[list[Any]] = mapped_column(default=list)
    passages: Mapped[list[Any]] = mapped_column(default=list)
    model: Mapped[str | None] = mapped_column(String(100))
    # The NLU model version that read the message (intent, entities): which training answered.
    nlu_model: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    fallback: Mapped[bool] = mapped_column(default=False)
    error_stage: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # The routing decision: facts looked at, triggers fired, rule and why, tool outcomes.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dialogue_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # after this turn
    language: Mapped[str | None] = mapped_column(String(16))  # detected in the message
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomerProfile(TenantScoped, Base):
    """What is known of one customer across conversations (`customer_ref`): name given,
    preferred language, last channel, facts given (e.g. order ids), agents' notes. Exported,
    erased and retention-purged with the customer's other data."""

    __tablename__ = "customer_profiles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_ref", name="uq_customer_profiles_ref"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_ref: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    last_channel: Mapped[str | None] = mapped_column(String(32))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[list[Any]] = mapped_column(default=list)
    contacts: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ticket(TenantScoped, Base):
    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    team: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    subject: Mapped[str] = mapped_column(String(300))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee: Mapped[str | None] = mapped_column(String(200))  # the agent who took it over
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    external_id: Mapped[str | None] = mapped_column(String(100))  # the mirrored help-desk ticket
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(TenantScoped, Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "source", name="uq_documents_tenant_source"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(300))
    doc_type: Mapped[str] = mapped_column(String(32), default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[str] = mapped_column(String(32), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chunk(TenantScoped, Base):
    # An integer key: SQLite FTS5 indexes rows by integer rowid.
    __tablename__ = "chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # section | faq
    title: Mapped[str] = mapped_column(String(300))
    heading: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    # float32 vector bytes from the model named in knowledge_index (None: not embedded).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # The knowledge screen's findings (knowledge/screening.py): None when the chunk is clean.
    # A quarantined chunk is kept for the operator, never retrieved, embedded or quoted.
    quarantine: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # The screen's version that last read the chunk: older chunks are screened again.
    screened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class KnowledgeIndex(TenantScoped, Base):
    """One row per tenant: which embedding model its vectors come from, and a version
    bumped on every change so in-process vector caches know when to reload."""

    __tablename__ = "knowledge_index"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_knowledge_index_tenant_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    embedding_model: Mapped[str] = mapped_column(String(100), default="")
    dimension: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(TenantScoped, Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Refreshed by the process that holds the job; stale means that process is gone.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(TenantScoped, Base):
    __tablename__ = "audit_log"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
