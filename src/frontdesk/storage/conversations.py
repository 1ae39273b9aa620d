"""Conversations, their messages and turns. Callers pass a tenant-scoped session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Conversation, CustomerProfile, Message, Turn, utcnow

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
    last = await session.scalar(
        select(func.max(Message.seq)).where(Message.conversation_id == conversation.id)
    )
    message = Message(
        conversation_id=conversation.id, seq=(last or 0) + 1, role=role, text=text, turn_id=turn_id
    )
    session.add(message)
    conversation.updated_at = utcnow()
    await session.flush()
    return message


async def add_turn(session: AsyncSession, **fields: Any) -> Turn:
    turn = Turn(**fields)
    session.add(turn)
    await session.flush()
    return turn


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
