"""Tickets created by hand-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Ticket


async def open_ticket_for(session: AsyncSession, conversation_id: str) -> Ticket | None:
    return await session.scalar(
        select(Ticket).where(Ticket.conversation_id == conversation_id, Ticket.status == "open")
    )


async def create_ticket(
    session: AsyncSession,
    *,
    conversation_id: str,
    team: str,
    priority: str,
    subject: str,
    summary: dict[str, Any],
    due_at: datetime | None,
) -> Ticket:
    ticket = Ticket(
        conversation_id=conversation_id,
        team=team,
        priority=priority,
        subject=subject,
        summary=summary,
        due_at=due_at,
    )
    session.add(ticket)
    await session.flush()
    return ticket


async def list_tickets(session: AsyncSession, *, status: str | None = None) -> list[Ticket]:
    query = select(Ticket).order_by(Ticket.created_at)
    if status is not None:
        query = query.where(Ticket.status == status)
    return list(await session.scalars(query))
