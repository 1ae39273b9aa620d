"""Tables for hand-off work: ticket events, tool calls (idempotency and approvals),
corrections that become training examples, and outbound webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.storage.models import Base, TenantScoped, new_id, utcnow


class TicketEvent(TenantScoped, Base):
    """What happened to a ticket: created, assigned, reply, handed_back, closed, relabelled."""

    __tablename__ = "ticket_events"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ToolCallRecord(TenantScoped, Base):
    """One tool call: its idempotency key, state (done, failed, pending_approval, approved,
    rejected), and its result, so a repeated key returns the first result."""

    __tablename__ = "tool_calls"
    __table_args__ = (
        UniqueConstraint("tenant_id", "tool", "idempotency_key", name="uq_tool_calls_key"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(32))
    tool: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    approval_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrainingExample(TenantScoped, Base):
    """A turn an agent relabelled: the text with the right intent and entities."""

    __tablename__ = "training_examples"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    turn_id: Mapped[str | None] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(100))
    entities: Mapped[list[Any]] = mapped_column(default=list)
    previous_intent: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)  # the agent's why
    # A disabled correction stays for review but no training uses it.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_by: Mapped[str | None] = mapped_column(String(200))


class WebhookDelivery(TenantScoped, Base):
    """One event for one endpoint: pending until delivered, `dead` after the last retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    endpoint: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageDelivery(TenantScoped, Base):
    """A customer message delivered with an idempotency key: claimed before its turn runs,
    then holding the reply, so a repeated delivery gets that reply instead of a second turn."""

    __tablename__ = "message_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "namespace", "key", name="uq_message_deliveries_key"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # "channel" for a channel's own message ids, else the caller's actor (storage/deliveries)
    namespace: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))  # what the key was sent with
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))  # processing | done
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelThread(TenantScoped, Base):
    """Where a push channel's thread continues: a Slack thread (`C123:1700000000.000100`) or a
    WhatsApp sender (`<phone number id>:<wa_id>`) mapped to its frontdesk conversation."""

    __tablename__ = "channel_threads"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "thread_key", name="uq_channel_threads_key"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    thread_key: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
