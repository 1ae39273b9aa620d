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
