"""Agents' corrections: a turn relabelled with the right intent and entities, kept as a
training example with who, when and why. Every training of the workspace's model uses the
enabled ones; a bad one can be disabled (kept for review) or deleted, each change audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import InvalidRequestError, NotFoundError
from frontdesk.storage.audit import audit
from frontdesk.storage.models import Message, utcnow
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
    note: str = "",
    via: str = "console",
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
        created_by=agent, note=note.strip()[:2000] or None,
    )  # fmt: skip
    session.add(example)
    await session.flush()
    audit(session, actor=agent, action="correction.create", target=example.id,
          detail={"via": via, "turn": turn_id, "intent": intent,
                  "previous_intent": turn.intent})  # fmt: skip
    return example


async def find_correction(session: AsyncSession, ref: str) -> TrainingExample:
    """A correction by id, or by a unique start of it (as `corrections list` shows them)."""
    ref = ref.strip()
    if len(ref) < 4:
        raise InvalidRequestError("give at least 4 characters of the correction's id",
                                  code="invalid_correction_id")  # fmt: skip
    exact = await session.get(TrainingExample, ref)
    if exact is not None:
        return exact
    rows = list(await session.scalars(
        select(TrainingExample).where(TrainingExample.id.startswith(ref, autoescape=True))
    ))  # fmt: skip
    if not rows:
        raise NotFoundError(f"no correction {ref}; see `frontdesk corrections list --all`",
                            code="correction_not_found")  # fmt: skip
    if len(rows) > 1:
        raise InvalidRequestError(f"{ref} starts {len(rows)} corrections' ids: give more of it",
                                  code="ambiguous_correction_id")  # fmt: skip
    return rows[0]


async def change_correction(
    session: AsyncSession, ref: str, how: str, *, actor: str, via: str
) -> TrainingExample:
    """disable | enable | delete one correction, audited with what it said."""
    row = await find_correction(session, ref)
    if how == "disable":
        row.disabled_at, row.disabled_by = utcnow(), actor
    elif how == "enable":
        row.disabled_at, row.disabled_by = None, None
    elif how == "delete":
        await session.delete(row)
    else:
        raise InvalidRequestError(f"unknown change {how!r}: disable, enable or delete")
    audit(session, actor=actor, action=f"correction.{how}", target=row.id,
          detail={"via": via, "text": row.text, "intent": row.intent,
                  "created_by": row.created_by})  # fmt: skip
    await session.flush()
    return row


def corrections_yaml(rows: list[TrainingExample]) -> str:
    """Rasa-style NLU YAML, grouped by intent, entities written inline as [text](type); each
    example's source in a comment (who, when, why)."""
    lines = ['version: "3.1"', "# Agents' corrections exported by frontdesk.", "nlu:"]
    by_intent: dict[str, list[TrainingExample]] = {}
    for row in rows:
        by_intent.setdefault(row.intent, []).append(row)
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        for row in by_intent[intent]:
            why = f": {row.note}" if row.note else ""
            state = " (disabled)" if row.disabled_at is not None else ""
            source = f"{row.id} by {row.created_by} at {row.created_at:%Y-%m-%d %H:%M}"
            lines.append(f"    # {source}{state}{why}".replace("\n", " "))
            lines.append(f"    - {_annotated(row)}")
    return "\n".join(lines) + "\n"


def _annotated(row: TrainingExample) -> str:
    text, out, at = " ".join(row.text.split("\n")), [], 0
    for span in sorted(row.entities, key=lambda e: int(e["start"])):
        start, end = int(span["start"]), int(span["end"])
        if start < at or end > len(text):
            continue
        out += [text[at:start], f"[{text[start:end]}]({span['type']})"]
        at = end
    out.append(text[at:])
    return "".join(out)


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
