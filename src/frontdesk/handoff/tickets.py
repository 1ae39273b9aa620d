"""Open (or reuse) a ticket for a conversation being handed to a team."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Conversation, Ticket
from frontdesk.storage.tickets import create_ticket, open_ticket_for


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
) -> Ticket:
    existing = await open_ticket_for(session, conversation.id)
    if existing is not None:
        # One open ticket per conversation: later turns add to it rather than duplicate it.
        existing.summary = {**existing.summary, "latest": summary}
        return existing
    conversation.status = "handed_off"
    return await create_ticket(
        session,
        conversation_id=conversation.id,
        team=team,
        priority=priority,
        subject=subject,
        summary=summary,
        due_at=now + timedelta(minutes=sla_minutes),
    )
