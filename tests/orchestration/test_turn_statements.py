"""What a turn asks of the database (issue 21 point 1, CPU per message; issue 19's +3 ms for
state and memory): the history and the prior turns' decisions in one read, one read of the
last seq for both messages, and one UPDATE of the conversation carrying everything the turn
changed on it (its summary, language and dialogue state with updated_at), also on a new
customer's first turn. Counted with the engine's events on SQLite."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import all_messages, create_conversation, turns_of
from frontdesk.types import InboundMessage


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _kinds(seen: list[str]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for statement in seen:
        if statement.startswith("SELECT max(messages.seq)"):
            kinds["max_seq"] += 1
        elif statement.startswith("UPDATE conversations"):
            kinds["update_conversation"] += 1
        elif statement.startswith("SELECT turns.decision"):
            kinds["prior_turns"] += 1
        elif statement.startswith("SELECT messages."):
            kinds["messages_read"] += 1
        elif statement.startswith("INSERT INTO messages"):
            kinds["insert_messages"] += 1
    return kinds


async def test_a_turn_reads_its_window_once_and_writes_the_conversation_once(
    sqlite_runtime: Runtime,
) -> None:
    runtime = sqlite_runtime
    tenant = runtime.tenant.id
    async with runtime.db.session(tenant) as session:
        conversation = await create_conversation(session, channel="api", customer_ref="c-41")
        await session.commit()
    said = [
        "Hi, my name is Maria and my parcel KP-20481736 is late",  # a new customer, a tool
        "How long does a refund take to reach my card?",
        "thanks",
    ]
    for text in said:
        with statements(runtime) as seen:
            await runtime.assistant.handle(
                InboundMessage(tenant_id=tenant, conversation_id=conversation.id, text=text)
            )
        kinds = _kinds(seen)
        assert kinds["max_seq"] == 1, seen
        assert kinds["update_conversation"] == 1, seen  # summary, language, state: one UPDATE
        assert kinds["prior_turns"] == 0, seen  # read with the history
        assert kinds["messages_read"] == 0, seen  # the window is one statement, notes unread
    async with runtime.db.session(tenant) as session:
        messages = await all_messages(session, conversation.id)
        recorded = await turns_of(session, conversation.id)
    assert [(m.seq, m.role) for m in messages] == [
        (n + 1, "customer" if n % 2 == 0 else "assistant") for n in range(6)
    ]
    assert [m.turn_id for m in messages] == [t.id for t in recorded for _ in range(2)]
    assert [m.text for m in messages[2::2]] == said[1:]  # in order, each after its turn's
