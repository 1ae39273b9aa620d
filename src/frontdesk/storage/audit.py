"""The audit log: who did what to which object, written in the same transaction as the act."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import AuditLog


def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(AuditLog(actor=actor, action=action, target=target, detail=detail or {}))


async def audit_entries(session: AsyncSession, *, limit: int = 100) -> list[AuditLog]:
    rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at.desc()).limit(limit))
    return list(rows)
