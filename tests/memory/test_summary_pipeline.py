"""The summarise model in the pipeline: with `llm.models.summarise` configured, each turn's
running summary is the model's (the turn's decision names it), and the hand-off ticket
carries it; when the model fails, the turn still answers and the summary is extractive."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import Conversation, Ticket, Turn
from frontdesk.types import InboundMessage
from tests.memory.test_summary import FakeSummariser


async def _conversation(runtime: Runtime) -> str:
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await create_conversation(session, channel="api", customer_ref="c-9")
        await session.commit()
        return conversation.id


async def test_the_summarise_model_writes_the_running_summary(sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    llm = runtime.assistant.deps.llm
    model = FakeSummariser("Wants parcel KP-20481736 tracked; it is in transit.")
    llm.router.models["fake:sum"] = model
    llm.router.settings.models["summarise"] = ["fake:sum"]
    conversation = await _conversation(runtime)
    reply = await runtime.assistant.handle(InboundMessage(
        tenant_id=runtime.tenant.id, conversation_id=conversation,
        text="Where is my parcel KP-20481736?"))  # fmt: skip
    assert reply.text
    async with runtime.db.session(runtime.tenant.id) as session:
        stored = await session.get(Conversation, conversation)
        assert stored is not None
        assert stored.summary == "Wants parcel KP-20481736 tracked; it is in transit."
        turn = await session.get(Turn, reply.turn_id)
        assert turn is not None
        assert (turn.decision or {}).get("summary_model") == "fake:sum"
    assert model.requests[0].purpose == "summarise"

    model.text = None  # the provider fails: the turn answers, the summary is extractive
    await runtime.assistant.handle(InboundMessage(
        tenant_id=runtime.tenant.id, conversation_id=conversation,
        text="I want to speak to a real person"))  # fmt: skip
    async with runtime.db.session(runtime.tenant.id) as session:
        stored = await session.get(Conversation, conversation)
        assert stored is not None
        assert stored.summary is not None
        assert "handed off to support" in stored.summary
        ticket = await session.scalar(select(Ticket).where(Ticket.conversation_id == conversation))
        assert ticket is not None
        assert "in transit" in ticket.summary["conversation_summary"]
