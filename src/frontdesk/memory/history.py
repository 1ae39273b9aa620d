"""Recent history of a conversation, oldest first, as the pipeline sees it.

Agents' notes from a hand-back (role `note`) stay in memory after they scroll out of the
window of recent messages: the last few are put back in front of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.conversations import WindowMessage, recent_messages
from frontdesk.storage.models import Message
from frontdesk.text import render_name

NOTE_ROLE = "note"


@dataclass(frozen=True)
class HistoryItem:
    role: str
    text: str


async def load_history(
    session: AsyncSession, conversation_id: str, *, turns: int, notes: int = 3
) -> list[HistoryItem]:
    if turns <= 0:
        return []
    messages = await recent_messages(session, conversation_id, limit=turns * 2)
    window = [WindowMessage(m.seq, m.role, m.text) for m in messages]
    return await history_of(session, conversation_id, window, turns=turns, notes=notes)


async def history_of(
    session: AsyncSession,
    conversation_id: str,
    window: Sequence[WindowMessage],
    *,
    turns: int,
    notes: int = 3,
) -> list[HistoryItem]:
    """The history from the conversation's last `turns * 2` messages as read (`window`,
    oldest first), with the last `notes` notes older than them: read only when the window is
    full, since a shorter one holds every message of the conversation."""
    if turns <= 0:
        return []
    messages: list[WindowMessage] = list(window)
    if notes > 0 and messages and len(messages) >= turns * 2:
        older = await session.execute(
            select(Message.seq, Message.role, Message.text)
            .where(
                Message.conversation_id == conversation_id,
                Message.role == NOTE_ROLE,
                Message.seq < messages[0].seq,
            )
            .order_by(Message.seq.desc())
            .limit(notes)
        )
        messages = [*(WindowMessage(*row) for row in reversed(older.all())), *messages]
    # A model is not told the customer's name (as with redaction): the greeting's reference
    # renders as nothing.
    return [HistoryItem(m.role, render_name(m.text, None)) for m in messages]
