"""What the customer profile costs a turn in SQL (issue 19's latency target): the profile is
read with the conversation, in the turn's first query, and written only when the turn taught
something new about the customer. Counted with the engine's own events on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import CustomerProfile
from frontdesk.types import InboundMessage


@contextmanager
def profile_statements(runtime: Runtime) -> Iterator[list[str]]:
    """The statements of the block that touch customer_profiles, the verb first; the
    conversation's read (which joins the profile) as 'READ'."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SELECT conversations.id") and "customer_profiles" in statement:
            seen.append("READ")
        elif "customer_profiles" in statement:
            seen.append(statement.split()[0].upper())

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _say(runtime: Runtime, conversation: str, text: str) -> None:
    await runtime.assistant.handle(
        InboundMessage(tenant_id=runtime.tenant.id, conversation_id=conversation, text=text)
    )


async def _conversation(runtime: Runtime, ref: str) -> str:
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await create_conversation(session, channel="api", customer_ref=ref)
        await session.commit()
        return conversation.id


async def test_the_profile_is_read_with_the_conversation_and_written_when_it_changes(
    sqlite_runtime: Runtime,
) -> None:
    runtime = sqlite_runtime
    first = await _conversation(runtime, "cust-sql-1")
    with profile_statements(runtime) as seen:
        await _say(runtime, first, "Hi, my name is Maria and my parcel KP-20481736 is late")
    assert seen == ["READ", "INSERT"]  # a new customer: one insert, no query of its own
    with profile_statements(runtime) as seen:
        await _say(runtime, first, "How long does a refund take to reach my card?")
    assert seen == ["READ"]  # nothing new about the customer: no write
    with profile_statements(runtime) as seen:
        await _say(runtime, first, "and my other parcel KP-20481799 is late too")
    assert seen == ["READ", "UPDATE"]  # a new fact
    second = await _conversation(runtime, "cust-sql-1")
    with profile_statements(runtime) as seen:
        await _say(runtime, second, "thanks")
    assert seen == ["READ", "UPDATE"]  # one more conversation
    async with runtime.db.session(runtime.tenant.id) as session:
        profile = await session.scalar(
            select(CustomerProfile).where(CustomerProfile.customer_ref == "cust-sql-1")
        )
    assert profile is not None
    assert profile.contacts == 2
    assert profile.facts["order_id"] == "KP-20481799"
    assert profile.display_name == "Maria"
    assert profile.last_contact_at is not None


async def test_a_conversation_without_a_profile_is_still_found(sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    async with runtime.db.session(runtime.tenant.id) as session:
        anonymous = (await create_conversation(session, channel="api")).id
        await session.commit()
    with profile_statements(runtime) as seen:
        await _say(runtime, anonymous, "How long does a refund take to reach my card?")
    assert seen == ["READ"]
