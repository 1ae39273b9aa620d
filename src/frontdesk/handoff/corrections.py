"""Agents' corrections: a turn relabelled with the right intent and entities, kept as a
training example for the next retraining."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import InvalidRequestError, NotFoundError
from frontdesk.storage.models import Message
from frontdesk.storage.models import Turn as TurnRecord
from frontdesk.storage.support_models import TrainingExample

_PAIR = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*=\s*(.+?)\s*$")


def parse_entities(text: str, message: str) -> list[dict[str, Any]]:
    """`order_id=KP-20481739; amount=80` -> spans found in the message (the value must
    appear in it, so the example teaches the extractor where it was)."""
    entities: list[dict[str, Any]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _PAIR.match(part)
        if match is None:
            raise InvalidRequestError(f"{part!r}: write entities as type=value; type=value")
        kind, value = match.groups()
        start = message.lower().find(value.lower())
        if start < 0:
            raise InvalidRequestError(f"{value!r} does not appear in the customer's message")
        end = start + len(value)
        span = {"type": kind, "value": value, "start": start, "end": end,
                "text": message[start:end]}  # fmt: skip
        entities.append(span)
    return entities


async def relabel(
    session: AsyncSession,
    turn_id: str,
    *,
    intent: str,
    entities_text: str,
    known_intents: list[str],
    agent: str,
) -> TrainingExample:
    if intent not in known_intents:
        raise InvalidRequestError(
            f"unknown intent {intent!r}; expected one of: {', '.join(known_intents)}"
        )
    turn = await session.get(TurnRecord, turn_id)
    if turn is None:
        raise NotFoundError(f"turn {turn_id} not found")
    text = await session.scalar(
        select(Message.text).where(Message.turn_id == turn_id, Message.role == "customer")
    )
    if not text:
        raise NotFoundError(f"turn {turn_id} has no customer message")
    example = TrainingExample(
        turn_id=turn_id, text=text, intent=intent,
        entities=parse_entities(entities_text, text), previous_intent=turn.intent,
        created_by=agent,
    )  # fmt: skip
    session.add(example)
    await session.flush()
    return example


async def corrections(session: AsyncSession) -> list[TrainingExample]:
    rows = await session.scalars(select(TrainingExample).order_by(TrainingExample.created_at))
    return list(rows)


async def corrections_by_turn(
    session: AsyncSession, turn_ids: list[str]
) -> dict[str, TrainingExample]:
    rows = await session.scalars(
        select(TrainingExample)
        .where(TrainingExample.turn_id.in_(turn_ids))
        .order_by(TrainingExample.created_at)
    )
    return {row.turn_id or "": row for row in rows}
