"""Conversations, their messages and turns. Callers pass a tenant-scoped session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Text,
    and_,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Conversation, CustomerProfile, Message, Turn, new_id, utcnow

VISITOR_TOKEN_PREFIX = "fdc"


def new_visitor_token() -> str:
    """A conversation's secret for its visitor: 256 random bits, shown once, stored hashed."""
    return f"{VISITOR_TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"


def _token_hash(token: str) -> str:
    # Random 256-bit secrets: a fast hash is enough (as for API keys).
    return hashlib.sha256(token.encode()).hexdigest()


def holds_visitor_token(conversation: Conversation, token: str | None) -> bool:
    """Whether `token` is the secret this conversation's visitor got. A conversation started
    without one (by a channel, or before tokens existed) matches none."""
    if not token or conversation.visitor_token_hash is None:
        return False
    return hmac.compare_digest(conversation.visitor_token_hash, _token_hash(token))


async def rotate_visitor_token(
    session: AsyncSession, conversation: Conversation, *, held: str | None = None
) -> str | None:
    """A new secret for the conversation's visitor, the old one refused from now on; None
    when the stored secret is no longer the one the caller saw (`conversation`'s, or the
    token `held`): another rotation won, and the caller's new token would be dead on
    arrival. Compare-and-set in one UPDATE, so of two rotations at once exactly one wins."""
    seen = _token_hash(held) if held is not None else conversation.visitor_token_hash
    if seen is None:
        return None
    token = new_visitor_token()
    changed = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.visitor_token_hash == seen)
        .values(visitor_token_hash=_token_hash(token))
        .execution_options(synchronize_session=False)
    )
    return token if getattr(changed, "rowcount", 0) == 1 else None


async def create_conversation(
    session: AsyncSession,
    *,
    channel: str,
    customer_ref: str | None = None,
    visitor_token: str | None = None,
) -> Conversation:
    conversation = Conversation(
        channel=channel,
        customer_ref=customer_ref,
        visitor_token_hash=_token_hash(visitor_token) if visitor_token else None,
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def get_conversation(session: AsyncSession, conversation_id: str) -> Conversation | None:
    return await session.get(Conversation, conversation_id)


async def conversation_and_profile(
    session: AsyncSession, conversation_id: str
) -> tuple[Conversation, CustomerProfile | None] | None:
    """The conversation and its customer's profile (by customer_ref) in one query: a turn's
    first read, so the memory costs no query of its own."""
    row = (
        await session.execute(
            select(Conversation, CustomerProfile)
            .outerjoin(
                CustomerProfile,
                and_(
                    CustomerProfile.tenant_id == Conversation.tenant_id,
                    CustomerProfile.customer_ref == Conversation.customer_ref,
                ),
            )
            .where(Conversation.id == conversation_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def recent_messages(session: AsyncSession, conversation_id: str, limit: int) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.seq.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def all_messages(session: AsyncSession, conversation_id: str) -> list[Message]:
    rows = await session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
    )
    return list(rows)


async def add_message(
    session: AsyncSession, conversation: Conversation, *, role: str, text: str, turn_id: str | None
) -> Message:
    (message,) = await add_messages(session, conversation, [(role, text)], turn_id=turn_id)
    await session.flush()
    return message


async def add_messages(
    session: AsyncSession,
    conversation: Conversation,
    messages: Sequence[tuple[str, str]],
    *,
    turn_id: str | None,
) -> list[Message]:
    """Append (role, text) messages in order, numbered after the conversation's last one: one
    max(seq) read for them all, and no flush of their own (the session writes them with the
    conversation's other changes at its next flush, a turn's at its commit). The read does
    not flush what the session holds either: nothing it holds adds messages."""
    with session.no_autoflush:
        last = await session.scalar(
            select(func.max(Message.seq)).where(Message.conversation_id == conversation.id)
        )
    added = [
        Message(
            conversation_id=conversation.id, seq=(last or 0) + n, role=role, text=text,
            turn_id=turn_id,
        )
        for n, (role, text) in enumerate(messages, start=1)
    ]  # fmt: skip
    session.add_all(added)
    conversation.updated_at = utcnow()
    return added


async def add_turn(session: AsyncSession, *, flush: bool = True, **fields: Any) -> Turn:
    """A turn's record; its id is set at once (`flush=False`: written at the next flush)."""
    turn = Turn(**fields)
    if turn.id is None:
        turn.id = new_id()
    session.add(turn)
    if flush:
        await session.flush()
    return turn


@dataclass(frozen=True)
class WindowMessage:
    seq: int
    role: str
    text: str


@dataclass(frozen=True)
class RecentWindow:
    """A conversation's last messages and its last turns' routing decisions, oldest first."""

    messages: list[WindowMessage]
    decisions: list[dict[str, Any] | None]


async def recent_window(
    session: AsyncSession, conversation_id: str, *, messages: int, turns: int
) -> RecentWindow:
    """`recent_messages` (seq, role and text only) and the `turns` newest turns' decisions
    (by created_at), in one statement: a turn's history and its escalation triggers' prior
    turns, read at its start."""
    decisions = (
        select(
            literal_column("'t'", String).label("kind"),
            cast(null(), Integer).label("seq"),
            cast(null(), String).label("role"),
            cast(null(), Text).label("text"),
            Turn.decision.label("decision"),
            Turn.created_at.label("at"),
        )
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.created_at.desc())
        .limit(turns)
        .subquery()
    )
    parts = [select(decisions)]
    if messages > 0:
        recent = (
            select(
                literal_column("'m'", String).label("kind"),
                Message.seq.label("seq"),
                Message.role.label("role"),
                Message.text.label("text"),
                cast(null(), JSON).label("decision"),
                Message.created_at.label("at"),
            )
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq.desc())
            .limit(messages)
            .subquery()
        )
        parts.append(select(recent))
    rows = (await session.execute(union_all(*parts) if len(parts) > 1 else parts[0])).all()
    found = [WindowMessage(seq, role, text) for kind, seq, role, text, _, _ in rows if kind == "m"]
    made = [(at, decision) for kind, _, _, _, decision, at in rows if kind == "t"]
    return RecentWindow(
        messages=sorted(found, key=lambda m: m.seq),
        decisions=[decision for _, decision in sorted(made, key=lambda row: row[0])],
    )


async def turns_of(session: AsyncSession, conversation_id: str) -> list[Turn]:
    rows = await session.scalars(
        select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.created_at)
    )
    return list(rows)


async def count_messages(session: AsyncSession, conversation_id: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
    )
    return int(total or 0)
