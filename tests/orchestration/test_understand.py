"""The understand stage over the demo workspace: intent with out-of-scope flag, entities,
sentiment and urgency reach routing and the turn record."""

from __future__ import annotations

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import Action, InboundMessage, Reply, Urgency


async def _say(rt: Runtime, text: str) -> Reply:
    async with rt.db.session(rt.tenant.id) as session:
        conversation = await create_conversation(session, channel="api")
        await session.commit()
    message = InboundMessage(tenant_id=rt.tenant.id, conversation_id=conversation.id, text=text)
    return await rt.assistant.handle(message)


async def _facts(rt: Runtime, reply: Reply) -> dict[str, object]:
    async with rt.db.session(rt.tenant.id) as session:
        row = await session.get(TurnRow, reply.turn_id)
    assert row is not None
    assert row.decision is not None
    return dict(row.decision["facts"])


async def test_angry_message_with_a_deadline(runtime: Runtime) -> None:
    reply = await _say(
        runtime,
        "This is unacceptable, order KP-20481736 still hasn't arrived and I need it by tomorrow",
    )
    assert reply.intent in {"late_delivery", "lost_parcel", "track_parcel"}
    kinds = {e.type: e for e in reply.entities}
    assert kinds["order_id"].value == "KP-20481736"
    assert kinds["deadline"].extractor == "date"
    assert reply.urgency is Urgency.HIGH
    facts = await _facts(runtime, reply)
    assert facts["sentiment_label"] == "negative"
    assert isinstance(facts["sentiment"], float)
    assert facts["sentiment"] < -0.25
    assert facts["out_of_scope"] is False


async def test_out_of_scope_is_not_answered_as_an_intent(runtime: Runtime) -> None:
    reply = await _say(runtime, "what is the capital of peru")
    facts = await _facts(runtime, reply)
    assert facts["out_of_scope"] is True
    assert reply.route is not None
    # The demo's rules ask again first, then hand off to review.
    assert reply.route.action in {Action.CLARIFY, Action.HANDOFF}
    assert "out of scope" in reply.route.rule


async def test_redacted_personal_data_is_still_understood(sqlite_runtime: Runtime) -> None:
    """Entities come from the customer's words as written; the turn keeps, stores and returns
    them as the redacted text has them: the phone is found, its number is not kept."""
    from sqlalchemy import select

    from frontdesk.storage.models import Message

    rt = sqlite_runtime
    reply = await _say(rt, "Please call me back on 020 7946 0958 about order KP-20481736")
    kinds = {e.type: e for e in reply.entities}
    assert (kinds["phone"].text, kinds["phone"].value) == ("[PHONE]", "[PHONE]")
    assert kinds["order_id"].value == "KP-20481736"
    async with rt.db.session(rt.tenant.id) as session:
        row = await session.get(TurnRow, reply.turn_id)
        stored = await session.scalar(
            select(Message.text).where(Message.turn_id == reply.turn_id, Message.role == "customer")
        )
    assert row is not None
    assert stored == "Please call me back on [PHONE] about order KP-20481736"
    assert "7946" not in str(row.entities) + str(row.decision) + str(row.screening)
    assert all(stored[e["start"] : e["end"]] == e["text"] for e in row.entities)
    assert "phone" in row.decision["facts"]["entities"]  # the rules can test has_entity: phone


async def test_a_phone_the_policy_does_not_redact_keeps_its_value(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    rt.settings.guard.redact = ["email", "card_number"]  # the input screen's policy
    reply = await _say(rt, "Please call me back on 020 7946 0958")
    [phone] = [e for e in reply.entities if e.type == "phone"]
    assert (phone.text, phone.value) == ("020 7946 0958", "02079460958")
