"""Messages the desk replays to the console's live stream after a hand-off action (those
stored since the action read the conversation's last message: a turn that committed
meanwhile) show a greeting's name reference as the transcript does, from the customer's
profile, not as nothing ("Hi! ..." for "Hi Maria! ...")."""

from __future__ import annotations

import pytest

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.text import NAME_MARK
from frontdesk.types import InboundMessage


async def _conversation(rt: Runtime, ref: str, *texts: str) -> tuple[str, str | None]:
    async with rt.db.session(rt.tenant.id) as session:
        conversation = await create_conversation(session, channel="api", customer_ref=ref)
        await session.commit()
    ticket = None
    for text in texts:
        reply = await rt.assistant.handle(
            InboundMessage(tenant_id=rt.tenant.id, conversation_id=conversation.id, text=text)
        )
        ticket = reply.ticket_id or ticket
    return conversation.id, ticket


async def test_replayed_messages_show_the_customer_s_name(
    sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = sqlite_runtime
    desk = rt.desk
    assert desk is not None
    await _conversation(rt, "cust-88", "Hi, my name is Maria and my parcel KP-20481736 is late")
    conversation_id, ticket_id = await _conversation(
        rt, "cust-88", "I need a refund for KP-20481736", "I want to speak to a real person"
    )
    assert ticket_id is not None

    async def from_the_start(*_: object) -> int:  # as if every message came in meanwhile
        return 0

    monkeypatch.setattr(desk, "_last_seq", from_the_start)
    async with desk.hub.subscribe(rt.tenant.id) as events:
        await desk.take_over(rt.tenant.id, ticket_id, agent="ana@kestrel.test")
        sent = [events.get_nowait() for _ in range(events.qsize())]
    replayed = [e for e in sent if e["type"] == "message" and e["role"] == "assistant"]
    assert replayed
    assert all(NAME_MARK not in e["text"] for e in replayed)
    greeting = replayed[0]["text"]
    assert greeting.startswith(("Hi Maria", "Hello Maria")), greeting
    assert all(e["conversation_id"] == conversation_id for e in replayed)
