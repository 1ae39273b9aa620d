"""Ticket life cycle through the desk: hand-off with SLA, take over, reply, hand back, close,
with live events for the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.errors import ConflictError, InvalidRequestError
from frontdesk.handoff.desk import Desk
from frontdesk.handoff.summary import CurrentTurn, build_summary
from frontdesk.handoff.tickets import ticket_events
from frontdesk.storage.conversations import add_message, all_messages, create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Conversation, Ticket
from frontdesk.storage.models import Turn as TurnRecord

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _handed_off(db: Database, tenant_id: str, desk: Desk) -> tuple[str, str]:
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="web")
        await add_message(session, conversation, role="customer", text="where is it", turn_id=None)
        ticket = await desk.hand_off(
            session, conversation, team="support", priority="high", subject="Lost parcel",
            summary={"intent": "lost_parcel"}, now=NOW, sla_minutes=240,
        )  # fmt: skip
        await session.commit()
        await desk.flush(tenant_id, session)
        return conversation.id, ticket.id


async def test_full_life_cycle(db: Database, tenant_id: str) -> None:
    desk = Desk(db, clock=lambda: NOW)
    async with desk.hub.subscribe(tenant_id) as events:
        conversation_id, ticket_id = await _handed_off(db, tenant_id, desk)
        created = events.get_nowait()
        assert created["type"] == "ticket.created"
        assert created["ticket"]["due_at"] == (NOW + timedelta(minutes=240)).isoformat()

        with pytest.raises(ConflictError, match="take the conversation over"):
            await desk.reply(tenant_id, ticket_id, agent="ana", text="hello")
        await desk.take_over(tenant_id, ticket_id, agent="ana")
        with pytest.raises(ConflictError, match="ana already owns"):
            await desk.take_over(tenant_id, ticket_id, agent="bo")
        with pytest.raises(InvalidRequestError):
            await desk.reply(tenant_id, ticket_id, agent="ana", text="   ")
        message = await desk.reply(tenant_id, ticket_id, agent="ana", text="I'm on it")
        assert message.role == "agent"
        await desk.hand_back(tenant_id, ticket_id, agent="ana",
                             notes="Parcel found at depot, redelivery tomorrow")  # fmt: skip
        kinds = [events.get_nowait() for _ in range(events.qsize())]
    assert [(e["type"], e.get("change") or e.get("role")) for e in kinds] == [
        ("ticket.updated", "assigned"),
        ("message", "system"),
        ("ticket.updated", "reply"),
        ("message", "agent"),
        ("ticket.updated", "handed_back"),
        ("message", "note"),
        ("message", "system"),
    ]
    async with db.session(tenant_id) as session:
        ticket = await session.get(Ticket, ticket_id)
        conversation = await session.get(Conversation, conversation_id)
        messages = await all_messages(session, conversation_id)
        history = [e.kind for e in await ticket_events(session, ticket_id)]
    assert ticket is not None
    assert conversation is not None
    assert (ticket.status, ticket.assignee) == ("handed_back", "ana")
    assert conversation.status == "open"  # the bot answers again
    assert [m.role for m in messages] == ["customer", "system", "agent", "note", "system"]
    assert "redelivery tomorrow" in messages[3].text
    assert history == ["created", "assigned", "reply", "handed_back"]
    with pytest.raises(ConflictError):
        await desk.reply(tenant_id, ticket_id, agent="ana", text="late")


async def test_second_hand_off_updates_the_open_ticket_and_close(
    db: Database, tenant_id: str
) -> None:
    desk = Desk(db, clock=lambda: NOW)
    conversation_id, ticket_id = await _handed_off(db, tenant_id, desk)
    async with db.session(tenant_id) as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        again = await desk.hand_off(session, conversation, team="billing", priority="low",
                                    subject="x", summary={"reason": "again"}, now=NOW,
                                    sla_minutes=5)  # fmt: skip
        await session.commit()
    assert again.id == ticket_id
    assert again.summary["reason"] == "again"
    await desk.close(tenant_id, ticket_id, agent="ana", note="resolved by phone")
    with pytest.raises(ConflictError, match="already closed"):
        await desk.close(tenant_id, ticket_id, agent="ana")
    async with db.session(tenant_id) as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.status == "closed"


def test_summary_has_everything_an_agent_needs() -> None:
    earlier = TurnRecord(
        intent="lost_parcel", confidence=0.8, entities=[], citations=[],
        route={"action": "clarify", "rule": "lost parcels need an order id"},
        decision={"facts": {"sentiment": -0.4}},
    )  # fmt: skip
    looked_up = TurnRecord(
        intent="lost_parcel", confidence=0.9,
        entities=[{"type": "order_id", "text": "KP-20481739", "value": "KP-20481739"}],
        citations=[{"title": "Reporting a lost parcel", "source": "knowledge/x.md"}],
        route={"action": "tool", "rule": "look up"},
        decision={"facts": {"sentiment": -0.5},
                  "tools": [{"tool": "parcel_status", "status": "ok"}]},
    )  # fmt: skip
    from frontdesk.storage.models import Message

    messages = [Message(role="customer", text="my parcel never came", seq=1),
                Message(role="assistant", text="order number?", seq=2)]  # fmt: skip
    current = CurrentTurn(text="this is useless", intent="lost_parcel", confidence=0.7,
                          urgency="high", sentiment=-0.8, entities=[], rule="unhappy",
                          reason="negative_no_progress: ...",
                          triggers={"negative_no_progress": "..."})  # fmt: skip
    summary = build_summary(current, [earlier, looked_up], messages)
    assert summary["intent"] == "lost_parcel"
    assert summary["entities"] == {"order_id": "KP-20481739"}
    assert summary["sentiment"] == {"trend": [-0.4, -0.5, -0.8], "direction": "worsening"}
    assert summary["bot_tried"] == [
        "asked for more detail (lost parcels need an order id)",
        "called parcel_status: ok",
    ]
    assert summary["citations"] == [{"title": "Reporting a lost parcel",
                                     "source": "knowledge/x.md"}]  # fmt: skip
    assert summary["transcript"][-1] == {"role": "customer", "text": "this is useless"}
    assert (summary["urgency"], summary["confidence"]) == ("high", 0.7)
