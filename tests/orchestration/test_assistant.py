"""The whole pipeline over the demo workspace, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from frontdesk.errors import NotFoundError
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.runtime import Runtime
from frontdesk.orchestration.stages import PIPELINE
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import Message, Ticket
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import Action, InboundMessage, Reply

STAGES = ["load_context", "screen_input", "understand", "track", "retrieve", "decide",
          "respond", "screen_output", "remember", "record"]  # fmt: skip


async def _conversation(rt: Runtime) -> str:
    async with rt.db.session(rt.tenant.id) as session:
        conversation = await create_conversation(session, channel="api")
        await session.commit()
        return conversation.id


async def _say(rt: Runtime, conversation_id: str, text: str, assistant: Assistant | None = None
               ) -> Reply:  # fmt: skip
    message = InboundMessage(tenant_id=rt.tenant.id, conversation_id=conversation_id, text=text)
    return await (assistant or rt.assistant).handle(message)


async def test_refund_question_is_answered_with_a_citation_and_recorded(runtime: Runtime) -> None:
    conversation_id = await _conversation(runtime)
    reply = await _say(runtime, conversation_id, "I want a refund for order KP-20481736")

    assert reply.intent == "request_refund"
    assert reply.confidence is not None
    assert reply.confidence > 0.5
    assert reply.route is not None
    assert (reply.route.action, reply.route.team) == (Action.ANSWER, "billing")
    assert reply.citations, reply.text
    assert reply.citations[0].source.endswith(".md")
    assert f"[{reply.citations[0].n}]" in reply.text
    assert [e.value for e in reply.entities if e.type == "order_id"] == ["KP-20481736"]
    assert not reply.fallback

    async with runtime.db.session(runtime.tenant.id) as session:
        row = await session.get(TurnRow, reply.turn_id)
        messages = list(await session.scalars(select(Message).order_by(Message.seq)))
    assert row is not None
    assert list(row.stage_ms) == STAGES  # every stage ran, in order, and was timed
    assert row.intent == "request_refund"
    assert row.route is not None
    assert row.route["rule"] == "billing questions"
    assert row.citations
    assert row.passages
    assert row.model == "extractive"
    assert row.prompt_tokens > 0
    assert row.error is None
    assert [(m.seq, m.role) for m in messages] == [(1, "customer"), (2, "assistant")]
    assert messages[1].text == reply.text


async def test_missing_order_id_asks_for_it(runtime: Runtime) -> None:
    reply = await _say(runtime, await _conversation(runtime), "I want a refund please")
    assert reply.route is not None
    assert reply.route.action is Action.CLARIFY
    assert "order number" in reply.text
    assert reply.citations == []


async def test_handoff_opens_one_ticket_for_the_team(runtime: Runtime) -> None:
    conversation_id = await _conversation(runtime)
    first = await _say(runtime, conversation_id, "can I talk to a real person please")
    second = await _say(runtime, conversation_id, "hello? I need a human agent")
    assert first.route is not None
    assert first.route.action is Action.HANDOFF
    assert first.ticket_id is not None
    assert second.ticket_id == first.ticket_id
    async with runtime.db.session(runtime.tenant.id) as session:
        tickets = list(await session.scalars(select(Ticket)))
    assert len(tickets) == 1
    assert tickets[0].team == "support"
    assert tickets[0].summary["intent"] == "human_agent"
    assert tickets[0].due_at is not None


async def test_history_is_loaded_for_later_turns(runtime: Runtime) -> None:
    conversation_id = await _conversation(runtime)
    seen: list[int] = []

    async def spy(turn: Turn, deps: Deps) -> None:
        seen.append(len(turn.history))

    assistant = Assistant(runtime.assistant.deps, (*PIPELINE[:1], spy, *PIPELINE[1:]))
    await _say(runtime, conversation_id, "hi", assistant)
    await _say(runtime, conversation_id, "where is my parcel KP-12345678", assistant)
    assert seen == [0, 2]


async def test_personal_data_never_reaches_storage(runtime: Runtime) -> None:
    conversation_id = await _conversation(runtime)
    await _say(runtime, conversation_id,
               "charged twice on card 4111 1111 1111 1111, write to jo@example.com")  # fmt: skip
    async with runtime.db.session(runtime.tenant.id) as session:
        stored = [m.text for m in await session.scalars(select(Message))]
        turns = (await session.execute(text("SELECT * FROM turns"))).all()
    dump = " ".join(stored) + repr(turns)
    assert "4111" not in dump
    assert "jo@example.com" not in dump
    assert "[CARD]" in stored[0]
    assert "[EMAIL]" in stored[0]


async def test_failing_stage_is_recorded_with_a_fallback_reply(runtime: Runtime) -> None:
    class Broken:
        intents = ("x",)

        def predict(self, text: str) -> object:
            raise RuntimeError("model file is corrupt")

    deps = runtime.assistant.deps
    broken = Assistant(Deps(**{**deps.__dict__, "classifier": Broken()}))
    conversation_id = await _conversation(runtime)
    reply = await _say(runtime, conversation_id, "where is my parcel?", broken)

    assert reply.fallback
    assert reply.text == runtime.settings.assistant.fallback_reply
    assert "Traceback" not in reply.text
    assert "corrupt" not in reply.text
    async with runtime.db.session(runtime.tenant.id) as session:
        row = await session.get(TurnRow, reply.turn_id)
        messages = list(await session.scalars(select(Message).order_by(Message.seq)))
    assert row is not None
    assert row.fallback
    assert row.error_stage == "understand"
    assert row.error == "RuntimeError: model file is corrupt"
    assert list(row.stage_ms) == ["load_context", "screen_input", "understand", "record"]
    assert [m.text for m in messages] == ["where is my parcel?", reply.text]


async def test_failure_after_a_write_rolls_it_back_but_keeps_the_turn(runtime: Runtime) -> None:
    async def explode(turn: Turn, deps: Deps) -> None:
        raise ValueError("boom")

    assistant = Assistant(runtime.assistant.deps, (*PIPELINE[:-1], explode))
    conversation_id = await _conversation(runtime)
    reply = await _say(runtime, conversation_id, "I need to speak to a human", assistant)
    assert reply.fallback
    async with runtime.db.session(runtime.tenant.id) as session:
        assert list(await session.scalars(select(Ticket))) == []  # the hand-off was undone
        row = await session.get(TurnRow, reply.turn_id)
    assert row is not None
    assert row.error_stage == "explode"


async def test_unknown_conversation(runtime: Runtime) -> None:
    with pytest.raises(NotFoundError):
        await _say(runtime, "0" * 32, "hello")
