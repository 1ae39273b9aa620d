"""Hand-off through the whole pipeline on the demo workspace: a tool call, escalation by
sentiment with the summary, repeated tool failure, and the decision each turn records."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.runtime import Runtime
from frontdesk.orchestration.stages import PIPELINE, decide
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import Ticket
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.tools import FunctionTool, ToolRegistry
from frontdesk.types import Action, InboundMessage, Reply, Sentiment, SentimentLabel

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _angry(score: float) -> object:
    async def feel(turn: Turn, deps: Deps) -> None:
        # Pin the sentiment so the test is about routing, not the sentiment model.
        turn.sentiment = Sentiment(label=SentimentLabel.NEGATIVE, score=score)  # type: ignore[attr-defined]

    return feel


def _assistant(rt: Runtime, score: float, deps: Deps | None = None) -> Assistant:
    stages = list(PIPELINE)
    stages.insert(stages.index(decide), _angry(score))  # type: ignore[arg-type]
    return Assistant(deps or rt.assistant.deps, stages)  # type: ignore[arg-type]


async def _conversation(rt: Runtime) -> str:
    async with rt.db.session(rt.tenant.id) as session:
        conversation = await create_conversation(session, channel="web")
        await session.commit()
        return conversation.id


async def _say(rt: Runtime, assistant: Assistant, conversation: str, text: str) -> Reply:
    return await assistant.handle(InboundMessage(tenant_id=rt.tenant.id,
                                                 conversation_id=conversation, text=text,
                                                 received_at=MONDAY_NOON))  # fmt: skip


async def test_angry_customer_with_a_lost_parcel_reaches_support_with_a_summary(
    sqlite_runtime: Runtime,
) -> None:
    rt = sqlite_runtime
    assistant = _assistant(rt, -0.8)
    conversation = await _conversation(rt)
    first = await _say(rt, assistant, conversation, "My parcel never arrived, I'm furious")
    assert first.route is not None
    assert first.route.action is Action.CLARIFY
    second = await _say(rt, assistant, conversation,
                        "It's KP-20481739, where is my parcel? useless")  # fmt: skip
    assert second.route is not None
    assert (second.route.action, second.route.tool) == (Action.TOOL, "parcel_status")
    assert "being traced as lost" in second.text
    third = await _say(rt, assistant, conversation, "This is ridiculous, I'm getting nowhere")
    assert third.route is not None
    assert (third.route.action, third.route.team) == (Action.HANDOFF, "support")
    assert third.route.rule == "unhappy customer making no progress"
    assert "negative_no_progress" in third.route.reason
    assert "Customer Support team" in third.text
    assert "within 4 hours" in third.text  # Monday noon: the team is in
    assert third.ticket_id is not None
    assert third.ticket_id[:8].upper() in third.text

    async with rt.db.session(rt.tenant.id) as session:
        ticket = await session.get(Ticket, third.ticket_id)
        rows = list(await session.scalars(select(TurnRow).order_by(TurnRow.created_at)))
    assert ticket is not None
    assert (ticket.team, ticket.priority) == ("support", "high")
    assert "KP-20481739" in ticket.subject  # the order number from an earlier turn
    assert ticket.due_at is not None
    assert ticket.due_at.replace(tzinfo=UTC) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    summary = ticket.summary
    assert summary["entities"]["order_id"] == "KP-20481739"
    assert summary["sentiment"]["trend"] == [-0.8, -0.8, -0.8]
    assert summary["bot_tried"][0].startswith("asked for more detail")
    assert summary["bot_tried"][1].startswith("called parcel_status: ok (Parcel KP-20481739")
    assert [m["role"] for m in summary["transcript"]] == ["customer", "assistant"] * 2 + [
        "customer"
    ]
    assert summary["triggers"] == {"negative_no_progress": third.route.reason.split(": ", 1)[1]}
    # Every turn records which rule fired, why, and the facts it looked at.
    decisions = [row.decision for row in rows]
    assert [d["route"]["rule"] for d in decisions if d] == [
        "lost parcels need an order id", "look up parcels with an order id",
        "unhappy customer making no progress",
    ]  # fmt: skip
    assert decisions[1] is not None
    assert decisions[1]["tools"][0]["status"] == "ok"
    assert decisions[2] is not None
    assert decisions[2]["facts"]["sentiment"] == -0.8
    assert decisions[2]["facts"]["business_hours"] is True


async def test_repeated_tool_failure_hands_off(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime

    async def parcel_status(order_id: str) -> dict[str, str]:
        raise ConnectionError("carrier API down")

    registry = ToolRegistry(rt.db, backoff_s=0)
    registry.register(FunctionTool(parcel_status, idempotent=True, retries=0))
    deps = Deps(**{**rt.assistant.deps.__dict__, "tools": registry})
    assistant = _assistant(rt, 0.0, deps)
    conversation = await _conversation(rt)
    failed = await _say(rt, assistant, conversation, "where is my parcel KP-12345671")
    assert failed.route is not None
    assert failed.route.action is Action.TOOL
    assert "couldn't check that just now" in failed.text
    again = await _say(rt, assistant, conversation, "where is my parcel KP-12345672 please")
    assert again.route is not None
    assert (again.route.action, again.route.rule) == (Action.HANDOFF, "tools keep failing")
    assert again.ticket_id is not None


async def test_outside_business_hours_the_customer_hears_when_the_team_is_back(
    sqlite_runtime: Runtime,
) -> None:
    rt = sqlite_runtime
    conversation = await _conversation(rt)
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    reply = await rt.assistant.handle(InboundMessage(
        tenant_id=rt.tenant.id, conversation_id=conversation,
        text="I want to speak to a real person", received_at=sunday))  # fmt: skip
    assert reply.route is not None
    assert reply.route.team == "support"
    assert "when the team is back (Monday 08:00 Europe/London)" in reply.text
