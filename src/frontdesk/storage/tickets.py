"""Tickets created by hand-offs, and the queues agents work from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Ticket

ACTIVE = ("open", "assigned")


async def open_ticket_for(session: AsyncSession, conversation_id: str) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.status.in_(ACTIVE))
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )


async def latest_ticket_for(session: AsyncSession, conversation_id: str) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id)
        .order_by(Ticket.created_at.desc())
        .limit(1)
    )


async def get_ticket(session: AsyncSession, ticket_id: str) -> Ticket | None:
    return await session.get(Ticket, ticket_id)


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


async def list_tickets(
    session: AsyncSession, *, status: str | None = None, team: str | None = None
) -> list[Ticket]:
    query = select(Ticket).order_by(Ticket.created_at)
    if status is not None:
        query = query.where(Ticket.status == status)
    if team is not None:
        query = query.where(Ticket.team == team)
    return list(await session.scalars(query))


async def active_tickets(session: AsyncSession) -> list[Ticket]:
    """Open and assigned tickets, soonest SLA first: what the queues show."""
    rows = await session.scalars(
        select(Ticket).where(Ticket.status.in_(ACTIVE)).order_by(Ticket.due_at, Ticket.created_at)
    )
    return list(rows)
