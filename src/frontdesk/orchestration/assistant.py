"""`Assistant.handle(message) -> Reply`: the fixed pipeline over one Turn, always recorded."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FrontdeskError, NotFoundError, StorageUnavailableError
from frontdesk.handoff.desk import message_event
from frontdesk.llm.service import StreamSink
from frontdesk.observability.logs import fingerprint
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.stages import PIPELINE
from frontdesk.orchestration.turn import Turn
from frontdesk.storage import deliveries
from frontdesk.storage.conversations import add_messages, add_turn, conversation_and_profile
from frontdesk.types import InboundMessage, Reply

log = logging.getLogger(__name__)

Stage = Callable[[Turn, Deps], Awaitable[None]]


class Assistant:
    def __init__(self, deps: Deps, stages: Sequence[Stage] = PIPELINE) -> None:
        self.deps = deps
        self.stages = tuple(stages)

    async def handle(self, message: InboundMessage, *, sink: StreamSink | None = None) -> Reply:
        started = time.perf_counter()
        async with self.deps.db.session(message.tenant_id) as session:
            # The customer's profile comes with the conversation: one query for both.
            found = await conversation_and_profile(session, message.conversation_id)
            if found is None:
                raise NotFoundError(f"conversation {message.conversation_id} not found")
            conversation, profile = found
            turn = Turn(
                message=message,
                now=message.received_at or self.deps.clock(),
                session=session,
                conversation=conversation,
                sink=sink,
                profile_row=profile,
                profile_read=True,
            )
            await self._run_stages(turn)
            if turn.intent is not None:  # a hot-swapped classifier says which version it is
                turn.nlu_model = getattr(self.deps.classifier, "version", None)
            await self._record(turn, session, started)
        return _reply(turn)

    async def _run_stages(self, turn: Turn) -> None:
        for stage in self.stages:
            if turn.finished:
                break
            name = stage.__name__
            began = time.perf_counter()
            try:
                await stage(turn, self.deps)
            except Exception as exc:  # any stage failure ends in a recorded fallback reply
                if self.deps.db.outage.failed(exc):  # ...unless nothing can be recorded
                    raise StorageUnavailableError(
                        "the database is unavailable; please retry in a moment"
                    ) from exc
                turn.error_stage = name
                turn.error = f"{type(exc).__name__}: {exc}"
                turn.fallback = True
                turn.finished = True
                turn.reply_text = self.deps.settings.assistant.fallback_reply
                turn.stored_reply = None
                turn.citations = []
                log.exception(
                    "stage %s failed (turn %s, text %s)", name, turn.id, fingerprint(turn.text)
                )
            finally:
                elapsed = time.perf_counter() - began
                turn.stage_ms[name] = round(elapsed * 1000, 3)
                self.deps.metrics.stage_seconds.labels(name).observe(elapsed)

    async def _record(self, turn: Turn, session: AsyncSession, started: float) -> None:
        """Store the customer message, the reply and the turn. Runs after every pipeline."""
        began = time.perf_counter()
        if turn.fallback:
            # Undo a failed stage's half-done writes; the turn itself is still stored.
            await session.rollback()
            await session.refresh(turn.conversation)
            if self.deps.desk is not None:
                self.deps.desk.discard(session)
        try:
            customer_text = turn.text or _redacted(turn, self.deps)
            said = [("customer", customer_text)]
            if not turn.silent:  # while an agent owns the conversation, only they reply
                said.append(("assistant", turn.stored_reply or turn.reply_text))
            # Both messages after one read of the last seq; they, the turn and the
            # conversation's changes (summary, state, language) are written in one flush.
            stored = await add_messages(session, turn.conversation, said, turn_id=turn.id)
            usage = turn.result.usage if turn.result else None
            turn.stage_ms["record"] = round((time.perf_counter() - began) * 1000, 3)
            await add_turn(
                session,
                flush=False,
                id=turn.id,
                conversation_id=turn.conversation.id,
                channel=turn.message.channel.value,
                stage_ms=turn.stage_ms,
                total_ms=round((time.perf_counter() - started) * 1000, 3),
                intent=turn.intent.name if turn.intent else None,
                confidence=turn.intent.confidence if turn.intent else None,
                nlu_model=turn.nlu_model,
                entities=[e.model_dump(mode="json") for e in turn.entities],
                urgency=turn.urgency.value if turn.urgency else None,
                route=turn.route.model_dump(mode="json") if turn.route else None,
                screening=turn.screening.model_dump(mode="json") if turn.screening else {},
                citations=[c.model_dump(mode="json") for c in turn.citations],
                passages=[
                    {"chunk_id": p.chunk_id, "title": p.title, "score": round(p.score, 4)}
                    for p in turn.passages
                ],
                model=usage.model if usage else None,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                cost=usage.cost if usage else 0.0,
                fallback=turn.fallback,
                error_stage=turn.error_stage,
                error=turn.error,
                decision=turn.decision or None,
                language=turn.language,
                dialogue_state=turn.dialogue_state.to_json(),
            )
            turn.conversation.dialogue_state = turn.dialogue_state.to_json()
            if self.deps.desk is not None:
                for message in stored:  # the console shows new messages live, as shown
                    shown = turn.reply_text if message.role == "assistant" else None
                    await self.deps.desk.record(session, message_event(message, shown))
            # A keyed delivery is marked answered in this same transaction: exactly once.
            # Its reply is stored like the message: the customer's name as a reference.
            await deliveries.record_turn(
                session, turn.conversation.id,
                lambda: _reply(turn, stored=True).model_dump(mode="json"),
                name=_greeted(turn),
            )  # fmt: skip
            await session.commit()
            if self.deps.desk is not None:
                await self.deps.desk.flush(turn.message.tenant_id, session)
        except FrontdeskError:
            raise
        except Exception as exc:
            if not self.deps.db.outage.failed(exc):  # an outage is logged once, not per turn
                log.exception("could not record turn %s", turn.id)
            raise StorageUnavailableError(
                "the message could not be stored; please retry in a moment"
            ) from exc
        finally:
            elapsed = time.perf_counter() - began
            self.deps.metrics.stage_seconds.labels("record").observe(elapsed)
        action = turn.route.action.value if turn.route else "none"
        self.deps.metrics.turns.labels(action, "fallback" if turn.fallback else "ok").inc()
        if usage:
            self.deps.metrics.tokens.labels("prompt").inc(usage.prompt_tokens)
            self.deps.metrics.tokens.labels("completion").inc(usage.completion_tokens)


def _redacted(turn: Turn, deps: Deps) -> str:
    """The customer's text as it may be stored, even when screening itself failed."""
    try:
        return deps.input_guard.screen(turn.message.text).text
    except Exception:
        return "[message withheld: screening failed]"


def _greeted(turn: Turn) -> str | None:
    """The name the reply greets the customer by (stored as a reference), if any."""
    if turn.stored_reply is None or turn.profile is None:
        return None
    return turn.profile.display_name


def _reply(turn: Turn, *, stored: bool = False) -> Reply:
    return Reply(
        conversation_id=turn.conversation.id,
        turn_id=turn.id,
        text=(turn.stored_reply or turn.reply_text) if stored else turn.reply_text,
        intent=turn.intent.name if turn.intent else None,
        confidence=round(turn.intent.confidence, 4) if turn.intent else None,
        nlu_model=turn.nlu_model,
        route=turn.route,
        citations=turn.citations,
        entities=turn.entities,
        urgency=turn.urgency,
        fallback=turn.fallback,
        ticket_id=turn.ticket_id,
        dialogue_state=turn.dialogue_state.to_json(),
        language=turn.language,
    )
