"""Privacy operations: export and erase one customer's data, and the retention purge.

A customer is known by the `customer_ref` their conversations carry (the channel's user id,
an e-mail hash, a CRM id). Erasure deletes the conversations and every row of any tenant
table that points at them by `conversation_id` (messages, turns, tickets, tool calls and
whatever later features add), so new tables are covered without changes here. Two kinds of
row hold a conversation's words without that column and are deleted with it too: training
examples agents made from its turns (`turn_id`), and webhook deliveries whose payload names
the conversation (message and ticket events carry its text and summary). The customer
profile (customer_profiles, by customer_ref: the name they gave, facts, agents' notes) is
exported and erased with the customer, and purged when untouched for the retention period.

The audit trail keeps what was done and when, but after erasure (and the retention purge) no
longer who to: a row whose target is the customer ref or one of the deleted conversations
(`conversation.read`, `privacy.export`, the erasure's own row) gets `erased:<hash>` instead,
and those identifiers are replaced the same way in the row's details. The hash lets an
operator who is given the ref again confirm it was erased; it cannot be read back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Text, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.audit import audit
from frontdesk.storage.models import (
    AuditLog,
    Base,
    Conversation,
    CustomerProfile,
    Message,
    Ticket,
    Turn,
    utcnow,
)
from frontdesk.storage.support_models import TrainingExample, WebhookDelivery


def conversation_tables() -> list[Table]:
    """Tenant tables with a conversation_id column, children before parents."""
    tables = [
        table
        for table in Base.metadata.sorted_tables
        if "conversation_id" in table.c and "tenant_id" in table.c
    ]
    return list(reversed(tables))


async def customer_conversations(session: AsyncSession, customer_ref: str) -> list[Conversation]:
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.customer_ref == customer_ref)
        .order_by(Conversation.created_at)
    )
    return list(rows)


async def customer_profile(session: AsyncSession, customer_ref: str) -> CustomerProfile | None:
    found: CustomerProfile | None = await session.scalar(
        select(CustomerProfile).where(CustomerProfile.customer_ref == customer_ref)
    )
    return found


def _profile_export(profile: CustomerProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    last = profile.last_contact_at
    return {
        "display_name": profile.display_name,
        "language": profile.language,
        "last_channel": profile.last_channel,
        "facts": profile.facts,
        "notes": profile.notes,
        "contacts": profile.contacts,
        "last_contact_at": last.isoformat() if last else None,
        "created_at": profile.created_at.isoformat(),
    }


async def export_customer(
    session: AsyncSession, customer_ref: str, *, actor: str
) -> dict[str, Any] | None:
    conversations = await customer_conversations(session, customer_ref)
    profile = await customer_profile(session, customer_ref)
    if not conversations and profile is None:
        return None
    out = []
    for conversation in conversations:
        messages = await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.seq)
        )
        turns = await session.scalars(
            select(Turn).where(Turn.conversation_id == conversation.id).order_by(Turn.created_at)
        )
        tickets = await session.scalars(
            select(Ticket).where(Ticket.conversation_id == conversation.id)
        )
        out.append(
            {
                "id": conversation.id,
                "channel": conversation.channel,
                "status": conversation.status,
                "created_at": conversation.created_at.isoformat(),
                "messages": [
                    {
                        "seq": m.seq,
                        "role": m.role,
                        "text": m.text,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in messages
                ],
                "turns": [
                    {
                        "id": t.id,
                        "intent": t.intent,
                        "route": t.route,
                        "created_at": t.created_at.isoformat(),
                    }
                    for t in turns
                ],
                "tickets": [
                    {
                        "id": t.id,
                        "team": t.team,
                        "status": t.status,
                        "subject": t.subject,
                        "created_at": t.created_at.isoformat(),
                    }
                    for t in tickets
                ],
            }
        )
    audit(session, actor=actor, action="privacy.export", target=customer_ref,
          detail={"conversations": len(out)})  # fmt: skip
    return {"customer_ref": customer_ref, "profile": _profile_export(profile),
            "conversations": out}  # fmt: skip


async def delete_conversations(session: AsyncSession, ids: list[str]) -> int:
    """Delete conversations and every row pointing at them; returns rows deleted."""
    if not ids:
        return 0
    tenant = session.info.get("tenant_id")
    total = await _delete_derived(session, set(ids))
    for table in conversation_tables():
        statement = delete(table).where(table.c.conversation_id.in_(ids))
        if tenant is not None:  # Core statements are not scoped by the ORM hook
            statement = statement.where(table.c.tenant_id == tenant)
        result = await session.execute(statement)
        total += int(getattr(result, "rowcount", 0) or 0)
    result = await session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    await scrub_audit(session, ids)
    return total + int(getattr(result, "rowcount", 0) or 0)


def erased(identifier: str) -> str:
    """What the audit trail says instead of an erased customer ref or conversation id."""
    return "erased:" + hashlib.sha256(identifier.encode()).hexdigest()[:16]


async def scrub_audit(session: AsyncSession, identifiers: Collection[str]) -> int:
    """Replace `identifiers` in the audit trail's targets and details; returns rows changed.
    Rows are found in SQL (a detail by its JSON text), then rewritten here."""
    wanted = set(identifiers)
    changed = 0
    ordered = sorted(wanted)
    for begin in range(0, len(ordered), 200):
        chunk = ordered[begin : begin + 200]
        detail_text = cast(AuditLog.detail, Text)
        rows = await session.scalars(
            select(AuditLog).where(
                or_(AuditLog.target.in_(chunk), *(detail_text.contains(i) for i in chunk))
            )
        )
        for row in rows:
            detail = _replaced(row.detail, wanted)
            if row.target not in wanted and detail == row.detail:
                continue
            if row.target in wanted:
                row.target = erased(row.target)
            row.detail = detail
            changed += 1
    await session.flush()
    return changed


def _replaced(value: Any, identifiers: set[str]) -> Any:
    if isinstance(value, str):
        return erased(value) if value in identifiers else value
    if isinstance(value, dict):
        return {k: _replaced(v, identifiers) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, identifiers) for v in value]
    return value


async def _delete_derived(session: AsyncSession, ids: set[str]) -> int:
    """Training examples from these conversations' turns, and webhook deliveries about them."""
    turn_ids = list(await session.scalars(select(Turn.id).where(Turn.conversation_id.in_(ids))))
    examples = list(
        await session.scalars(select(TrainingExample).where(TrainingExample.turn_id.in_(turn_ids)))
    ) if turn_ids else []  # fmt: skip
    deliveries = [
        d for d in await session.scalars(select(WebhookDelivery)) if _mentions(d.payload, ids)
    ]
    for row in [*examples, *deliveries]:
        await session.delete(row)
    await session.flush()
    return len(examples) + len(deliveries)


def _mentions(value: Any, ids: set[str]) -> bool:
    if isinstance(value, str):
        return value in ids
    if isinstance(value, dict):
        return any(_mentions(v, ids) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, ids) for v in value)
    return False


async def delete_customer(session: AsyncSession, customer_ref: str, *, actor: str) -> int | None:
    conversations = await customer_conversations(session, customer_ref)
    profile = await customer_profile(session, customer_ref)
    if not conversations and profile is None:
        return None
    deleted = await delete_conversations(session, [c.id for c in conversations])
    if profile is not None:
        await session.delete(profile)
        deleted += 1
    await scrub_audit(session, [customer_ref])  # earlier exports of this customer
    audit(session, actor=actor, action="privacy.delete", target=erased(customer_ref),
          detail={"conversations": len(conversations), "rows": deleted})  # fmt: skip
    return len(conversations)


async def purge_expired(
    session: AsyncSession, retention_days: int, *, now: datetime | None = None
) -> int:
    """Delete conversations untouched for longer than the retention period, and customer
    profiles untouched as long (no contact, no agent's note) whose customer has no
    conversation left. Returns the conversations deleted."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    ids = list(
        await session.scalars(select(Conversation.id).where(Conversation.updated_at < cutoff))
    )
    if ids:
        await delete_conversations(session, ids)
    remaining = select(Conversation.customer_ref).where(Conversation.customer_ref.is_not(None))
    profiles = list(
        await session.scalars(
            select(CustomerProfile).where(
                CustomerProfile.updated_at < cutoff,
                CustomerProfile.customer_ref.not_in(remaining),
            )
        )
    )
    for profile in profiles:
        await session.delete(profile)
    await session.flush()
    audit(session, actor="system:retention", action="privacy.purge",
          detail={"conversations": len(ids), "profiles": len(profiles),
                  "retention_days": retention_days})  # fmt: skip
    return len(ids)
