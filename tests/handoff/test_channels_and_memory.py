"""Agents' replies reach the customer on their channel; after a hand-back the assistant
resumes with the agent's notes in its memory (and hands them to the model)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.handoff.desk import Desk
from frontdesk.interfaces import Channel, ChatMessage
from frontdesk.memory.history import load_history
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import add_message, all_messages, create_conversation
from frontdesk.storage.db import Database
from frontdesk.types import Action, InboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Outbox:
    """A push channel (e-mail, Slack...) that records what it was asked to send."""

    def __init__(self, *, broken: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.broken = broken

    async def send_text(self, conversation_id: str, text: str) -> None:
        if self.broken:
            raise ConnectionError("SMTP server refused the connection")
        self.sent.append((conversation_id, text))


async def _owned(db: Database, tenant_id: str, desk: Desk, channel: str) -> tuple[str, str]:
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel=channel)
        await add_message(session, conversation, role="customer", text="where is my parcel?",
                          turn_id=None)  # fmt: skip
        ticket = await desk.hand_off(session, conversation, team="support", priority="normal",
                                     subject="Lost parcel", summary={}, now=NOW,
                                     sla_minutes=240)  # fmt: skip
        await session.commit()
    await desk.take_over(tenant_id, ticket.id, agent="ana")
    return conversation.id, ticket.id


async def test_agent_replies_are_pushed_on_the_customers_channel(
    db: Database, tenant_id: str
) -> None:
    email = Outbox()
    assert isinstance(email, Channel)
    desk = Desk(db, clock=lambda: NOW, channels={"email": email})
    conversation_id, ticket_id = await _owned(db, tenant_id, desk, "email")
    await desk.reply(tenant_id, ticket_id, agent="ana", text="Found it: it is at the depot.")
    assert email.sent == [(conversation_id, "Found it: it is at the depot.")]

    # A web conversation is a pull channel: the widget reads the reply from /updates.
    web_conversation, web_ticket = await _owned(db, tenant_id, desk, "web")
    await desk.reply(tenant_id, web_ticket, agent="ana", text="Hello from the desk")
    assert len(email.sent) == 1
    async with db.session(tenant_id) as session:
        roles = [m.role for m in await all_messages(session, web_conversation)]
    assert roles[-1] == "agent"


async def test_a_failed_push_is_reported_and_the_reply_is_kept(
    db: Database, tenant_id: str
) -> None:
    desk = Desk(db, clock=lambda: NOW, channels={"email": Outbox(broken=True)})
    conversation_id, ticket_id = await _owned(db, tenant_id, desk, "email")
    with pytest.raises(FrontdeskError, match="not delivered on email") as caught:
        await desk.reply(tenant_id, ticket_id, agent="ana", text="Are you there?")
    assert caught.value.code == "channel_unavailable"
    async with db.session(tenant_id) as session:
        texts = [m.text for m in await all_messages(session, conversation_id)]
    assert texts[-1] == "Are you there?"  # stored: the console shows it, a retry can follow


async def test_agent_notes_stay_in_memory_after_they_scroll_out_of_the_window(
    db: Database, tenant_id: str
) -> None:
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="web")
        note = "Agent note (ana): refund approved by phone"
        await add_message(session, conversation, role="note", text=note, turn_id=None)
        for n in range(12):
            await add_message(session, conversation, role="customer", text=f"question {n}",
                              turn_id=None)  # fmt: skip
            await add_message(session, conversation, role="assistant", text=f"answer {n}",
                              turn_id=None)  # fmt: skip
        await session.commit()
        history = await load_history(session, conversation.id, turns=2)
        without = await load_history(session, conversation.id, turns=2, notes=0)
    assert [h.role for h in history] == ["note", "customer", "assistant", "customer", "assistant"]
    assert "refund approved by phone" in history[0].text
    assert [h.text for h in history[1:]] == [h.text for h in without]


async def test_after_hand_back_the_model_reads_the_agents_note(
    sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = sqlite_runtime
    assert rt.desk is not None
    seen: list[list[ChatMessage]] = []
    answer = rt.assistant.deps.llm.answer

    async def recording(question: str, passages: Any, **kwargs: Any) -> Any:
        seen.append(list(kwargs.get("history", [])))
        return await answer(question, passages, **kwargs)

    monkeypatch.setattr(rt.assistant.deps.llm, "answer", recording)

    async def say(conversation: str, text: str) -> Any:
        message = InboundMessage(tenant_id=rt.tenant.id, conversation_id=conversation,
                                 text=text, received_at=NOW)  # fmt: skip
        return await rt.assistant.handle(message)

    async with rt.db.session(rt.tenant.id) as session:
        conversation = (await create_conversation(session, channel="web")).id
        await session.commit()
    handed = await say(conversation, "I want to speak to a real person")
    assert handed.ticket_id is not None
    await rt.desk.take_over(rt.tenant.id, handed.ticket_id, agent="ana@kestrel.test")
    silent = await say(conversation, "hello?")
    assert silent.text == ""  # an agent owns it: the bot stays silent
    await rt.desk.hand_back(rt.tenant.id, handed.ticket_id, agent="ana@kestrel.test",
                            notes="Refund for KP-20481736 already approved by phone")  # fmt: skip
    resumed = await say(conversation, "I want a refund for order KP-20481736")
    assert resumed.route is not None
    assert resumed.route.action is Action.ANSWER
    assert resumed.text
    notes = [m for m in seen[-1] if m.role == "system"]
    assert [m.content for m in notes] == [
        "Agent note (ana@kestrel.test): Refund for KP-20481736 already approved by phone"
    ]
