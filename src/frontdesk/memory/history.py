"""Recent history of a conversation, oldest first, as the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.conversations import recent_messages


@dataclass(frozen=True)
class HistoryItem:
    role: str
    text: str


async def load_history(
    session: AsyncSession, conversation_id: str, *, turns: int
) -> list[HistoryItem]:
    if turns <= 0:
        return []
    messages = await recent_messages(session, conversation_id, limit=turns * 2)
    return [HistoryItem(m.role, m.text) for m in messages]
