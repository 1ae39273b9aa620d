"""A turn's reads and writes of its conversation (issue 21 point 1, CPU per message), on both
databases: the history and the prior turns' decisions come from one statement
(`recent_window`) and equal what the separate reads gave; a turn's messages are numbered
after one read of the last seq and written with the turn in one flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from frontdesk.memory.history import history_of, load_history
from frontdesk.storage import migrate
from frontdesk.storage.conversations import (
    add_message,
    add_messages,
    add_turn,
    all_messages,
    create_conversation,
    recent_messages,
    recent_window,
)
from frontdesk.storage.db import Database
from frontdesk.storage.models import Turn
from frontdesk.storage.tenants import ensure_tenant

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


async def _conversation_with(
    db: Database, tenant_id: str, turns: int, notes: tuple[int, ...]
) -> str:
    """A conversation of `turns` turns (customer + assistant message each, a decision per
    turn, created a minute apart, inserted out of order) and agent notes before the turns
    numbered in `notes`."""
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="api")
        for n in range(turns):
            if n in notes:
                await add_message(session, conversation, role="note", text=f"note {n}",
                                  turn_id=None)  # fmt: skip
            said = [("customer", f"question {n}"), ("assistant", f"answer {n}")]
            await add_messages(session, conversation, said, turn_id=f"turn{n:028d}")
            await session.flush()
        for n in sorted(range(turns), key=lambda k: (k * 7) % turns):  # not in time order
            decision = {"facts": {"intent": f"intent_{n}", "confidence": 0.5}}
            await add_turn(session, id=f"turn{n:028d}", conversation_id=conversation.id,
                           channel="api", created_at=T0 + timedelta(minutes=n),
                           decision=decision)  # fmt: skip
        await session.commit()
        return conversation.id


@pytest.mark.parametrize("turns", [0, 3, 14])
async def test_the_window_is_the_history_and_the_prior_turns_of_separate_reads(
    db: Database, turns: int
) -> None:
    tenant_id = (await ensure_tenant(db, "acme")).id
    conversation_id = await _conversation_with(db, tenant_id, turns, notes=(0, 2, 11))
    async with db.session(tenant_id) as session:
        window = await recent_window(session, conversation_id, messages=10, turns=10)
        recent = await recent_messages(session, conversation_id, limit=10)
        assert [(m.seq, m.role, m.text) for m in window.messages] == [
            (m.seq, m.role, m.text) for m in recent
        ]
        decisions = await session.scalars(
            select(Turn.decision)
            .where(Turn.conversation_id == conversation_id)
            .order_by(Turn.created_at.desc())
            .limit(10)
        )
        assert window.decisions == list(reversed(list(decisions)))
        for history_turns in (1, 5, 20):
            messages = await recent_window(
                session, conversation_id, messages=history_turns * 2, turns=10
            )
            assert await history_of(
                session, conversation_id, messages.messages, turns=history_turns
            ) == await load_history(session, conversation_id, turns=history_turns)
        no_messages = await recent_window(session, conversation_id, messages=0, turns=10)
    assert no_messages.messages == []
    assert no_messages.decisions == window.decisions
    if turns == 14:  # the notes older than a full window come back in front of it
        async with db.session(tenant_id) as session:
            history = await load_history(session, conversation_id, turns=5)
        assert [h.text for h in history[:3]] == ["note 0", "note 2", "answer 9"]
        assert [h.text for h in history].count("note 11") == 1  # in the window itself
        assert [(d or {})["facts"]["intent"] for d in window.decisions] == [
            f"intent_{n}" for n in range(4, 14)
        ]


async def test_messages_are_numbered_in_order_after_one_read(db: Database) -> None:
    tenant_id = (await ensure_tenant(db, "acme")).id
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="api")
        await add_message(session, conversation, role="system", text="hello", turn_id=None)
        first = await add_messages(
            session, conversation, [("customer", "a"), ("assistant", "b")], turn_id="t1"
        )
        turn = await add_turn(
            session, flush=False, id="t" * 32, conversation_id=conversation.id, channel="api"
        )
        assert turn.id == "t" * 32
        assert [m.seq for m in first] == [2, 3]
        await session.commit()
        second = await add_messages(session, conversation, [("customer", "c")], turn_id="t2")
        await session.commit()
        stored = await all_messages(session, conversation.id)
        recorded = await session.get(Turn, "t" * 32)
    assert second[0].seq == 4
    assert [(m.seq, m.role, m.text) for m in stored] == [
        (1, "system", "hello"), (2, "customer", "a"), (3, "assistant", "b"), (4, "customer", "c")
    ]  # fmt: skip
    assert recorded is not None
