"""Ticket life cycle: hand-off into a team queue, take over, reply, hand back, close.

Each step writes a `ticket_events` row and returns the outbound event it implies
(ticket.created / ticket.updated / ticket.closed); the caller commits, then publishes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import ConflictError, InvalidRequestError
from frontdesk.storage.conversations import add_message
from frontdesk.storage.models import Conversation, Message, Ticket, new_id
from frontdesk.storage.support_models import TicketEvent
from frontdesk.storage.tickets import create_ticket, open_ticket_for

# Conversation states: `open` (the bot answers), `handed_off` (waiting in a team queue; the
# bot still answers), `agent` (an agent owns it; the bot is silent), `closed`.
BOT_SILENT = frozenset({"agent"})
OPEN_TICKET = frozenset({"open", "assigned"})

Event = dict[str, Any]


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "team": ticket.team,
        "priority": ticket.priority,
        "status": ticket.status,
        "subject": ticket.subject,
        "assignee": ticket.assignee,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "external_id": ticket.external_id,
        "summary": ticket.summary,
    }


async def _event(
    session: AsyncSession,
    ticket: Ticket,
    *,
    kind: str,
    actor: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> Event:
    session.add(TicketEvent(ticket_id=ticket.id, kind=kind, actor=actor, detail=detail or {},
                            created_at=now))  # fmt: skip
    ticket.updated_at = now
    await session.flush()
    name = {"created": "ticket.created", "closed": "ticket.closed"}.get(kind, "ticket.updated")
    return {
        "id": new_id(),
        "type": name,
        "change": kind,
        "actor": actor,
        "created_at": now.isoformat(),
        "detail": detail or {},
        "ticket": ticket_payload(ticket),
    }


async def hand_off(
    session: AsyncSession,
    conversation: Conversation,
    *,
    team: str,
    priority: str,
    subject: str,
    summary: dict[str, Any],
    now: datetime,
    sla_minutes: int,
    due_at: datetime | None = None,  # when the SLA counts open hours only (policy.hours)
    actor: str = "assistant",
) -> tuple[Ticket, Event]:
    existing = await open_ticket_for(session, conversation.id)
    if existing is not None and existing.status in OPEN_TICKET:
        # One open ticket per conversation: later hand-offs refresh its summary.
        existing.summary = {**summary, "earlier": existing.summary.get("reason")}
        event = await _event(session, existing, kind="summary_updated", actor=actor, now=now)
        return existing, event
    if conversation.status != "agent":
        conversation.status = "handed_off"
    ticket = await create_ticket(
        session,
        conversation_id=conversation.id,
        team=team,
        priority=priority,
        subject=subject,
        summary=summary,
        due_at=due_at or now + timedelta(minutes=sla_minutes),
    )
    ticket.created_at = ticket.updated_at = now
    event = await _event(session, ticket, kind="created", actor=actor, now=now,
                         detail={"team": team, "priority": priority})  # fmt: skip
    return ticket, event


def _require_open(ticket: Ticket) -> None:
    if ticket.status not in OPEN_TICKET:
        raise ConflictError(f"ticket {ticket.id[:8]} is {ticket.status}; reopen it by handing off")


async def take_over(
    session: AsyncSession, ticket: Ticket, conversation: Conversation, *, agent: str, now: datetime
) -> Event:
    _require_open(ticket)
    if ticket.assignee and ticket.assignee != agent and conversation.status == "agent":
        raise ConflictError(f"{ticket.assignee} already owns this conversation")
    ticket.assignee = agent
    ticket.status = "assigned"
    conversation.status = "agent"
    await add_message(session, conversation, role="system",
                      text=f"{agent} joined the conversation.", turn_id=None)  # fmt: skip
    return await _event(session, ticket, kind="assigned", actor=agent, now=now)


async def agent_reply(
    session: AsyncSession,
    ticket: Ticket,
    conversation: Conversation,
    *,
    agent: str,
    text: str,
    now: datetime,
) -> tuple[Message, Event]:
    text = text.strip()
    if not text:
        raise InvalidRequestError("the reply is empty")
    _require_open(ticket)
    if conversation.status != "agent" or ticket.assignee != agent:
        raise ConflictError("take the conversation over before replying")
    message = await add_message(session, conversation, role="agent", text=text, turn_id=None)
    event = await _event(session, ticket, kind="reply", actor=agent, now=now,
                         detail={"text": text})  # fmt: skip
    return message, event


async def hand_back(
    session: AsyncSession,
    ticket: Ticket,
    conversation: Conversation,
    *,
    agent: str,
    notes: str,
    now: datetime,
) -> Event:
    """The bot resumes; the agent's notes go into the conversation's memory as a note."""
    _require_open(ticket)
    ticket.status = "handed_back"
    ticket.closed_at = now
    conversation.status = "open"
    if notes.strip():
        await add_message(session, conversation, role="note",
                          text=f"Agent note ({agent}): {notes.strip()}", turn_id=None)  # fmt: skip
    await add_message(session, conversation, role="system",
                      text="The assistant is back in this conversation.", turn_id=None)  # fmt: skip
    return await _event(session, ticket, kind="handed_back", actor=agent, now=now,
                        detail={"notes": notes.strip()})  # fmt: skip


async def close(
    session: AsyncSession,
    ticket: Ticket,
    conversation: Conversation,
    *,
    agent: str,
    now: datetime,
    note: str = "",
) -> Event:
    if ticket.status == "closed":
        raise ConflictError(f"ticket {ticket.id[:8]} is already closed")
    ticket.status = "closed"
    ticket.closed_at = now
    conversation.status = "closed"
    if note.strip():
        await add_message(session, conversation, role="note",
                          text=f"Agent note ({agent}): {note.strip()}", turn_id=None)  # fmt: skip
    return await _event(session, ticket, kind="closed", actor=agent, now=now,
                        detail={"note": note.strip()})  # fmt: skip


async def ticket_events(session: AsyncSession, ticket_id: str) -> list[TicketEvent]:
    rows = await session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(TicketEvent.created_at)
    )
    return list(rows)
