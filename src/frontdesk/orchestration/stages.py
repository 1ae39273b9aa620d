"""The pipeline's stages, in order. Each is `async def stage(turn, deps) -> None`.

A stage reads what earlier stages put on the Turn and adds its own findings. `record` is
not in this list: the Assistant runs it after the others, whether or not they succeeded.
"""

from __future__ import annotations

import re

from frontdesk.handoff.tickets import hand_off
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.knowledge.context import assemble_context
from frontdesk.memory.history import load_history
from frontdesk.nlu.urgency import assess_urgency
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.turn import Turn
from frontdesk.policy.rules_router import Facts
from frontdesk.types import Action, Citation

_CITE = re.compile(r"\s?\[(\d+)\]")


async def load_context(turn: Turn, deps: Deps) -> None:
    turn.history = await load_history(
        turn.session, turn.conversation.id, turns=deps.settings.assistant.history_turns
    )


async def screen_input(turn: Turn, deps: Deps) -> None:
    screening = deps.input_guard.screen(turn.message.text)
    turn.screening = screening
    turn.text = screening.text
    if screening.blocked:
        turn.reply_text = f"Sorry, I can't take that message: {screening.reason}."
        turn.finished = True


async def understand(turn: Turn, deps: Deps) -> None:
    turn.intent = deps.classifier.predict(turn.text)
    turn.entities = deps.extractor.extract(turn.text, now=turn.now)
    priority = deps.rules.intent_priority.get(turn.intent.name)
    turn.urgency = assess_urgency(turn.text, priority)


async def decide(turn: Turn, deps: Deps) -> None:
    assert turn.urgency is not None
    facts = Facts(
        intent=turn.intent,
        urgency=turn.urgency,
        channel=turn.message.channel.value,
        entities=turn.entities,
    )
    turn.route = deps.router.decide(facts)


async def retrieve(turn: Turn, deps: Deps) -> None:
    assert turn.route is not None
    if turn.route.action is Action.CLARIFY or turn.route.ask:
        return
    knowledge = deps.settings.knowledge
    passages = await deps.retriever.search(
        turn.message.tenant_id, retrieval_query(turn), limit=knowledge.top_k * 2
    )
    relevant = [p for p in passages if p.score >= knowledge.min_score]
    turn.passages = assemble_context(
        relevant, budget_tokens=knowledge.context_tokens, max_passages=knowledge.top_k
    )


def retrieval_query(turn: Turn) -> str:
    """The customer's words without identifiers (an order id matches example ids in articles,
    not answers), plus the intent's name when the classifier is sure of it."""
    text = turn.text
    for entity in sorted(turn.entities, key=lambda e: e.start, reverse=True):
        if entity.type in _IDENTIFIERS:
            text = text[: entity.start] + " " + text[entity.end :]
    if turn.intent and turn.intent.confidence >= 0.5:
        text = f"{text} {turn.intent.name.replace('_', ' ')}"
    return text


_IDENTIFIERS = {"order_id", "customer_id", "email", "amount", "date"}


async def respond(turn: Turn, deps: Deps) -> None:
    route = turn.route
    assert route is not None
    if route.action is Action.CLARIFY or (route.action is Action.ANSWER and route.ask):
        # A clarifying question, or a fixed reply the rules give (greetings, thanks).
        turn.reply_text = route.ask or "Could you tell me a little more?"
        return
    if route.action is Action.HANDOFF:
        assert route.team is not None
        team = deps.rules.teams[route.team]
        ticket = await hand_off(
            turn.session,
            turn.conversation,
            team=route.team,
            priority=route.priority.value,
            subject=turn.text[:120],
            summary=_handoff_summary(turn),
            now=turn.now,
            sla_minutes=team.sla_minutes,
        )
        turn.ticket_id = ticket.id
        turn.reply_text = route.ask or (
            f"I've passed your conversation to our {route.team} team "
            f"(reference {ticket.id[:8].upper()}). A member of the team will reply here."
        )
        return
    history = [
        ChatMessage(role="assistant" if item.role != "customer" else "user", content=item.text)
        for item in turn.history
    ]
    request = ChatRequest(
        messages=[*history, ChatMessage(role="user", content=turn.text)], passages=turn.passages
    )
    result = await deps.chat_model.complete(request)
    turn.result = result
    if not result.grounded or not result.cited:
        turn.reply_text = deps.settings.assistant.no_answer_reply
        return
    turn.reply_text = result.text
    turn.citations = [
        Citation(
            n=n,
            title=turn.passages[n - 1].title,
            source=turn.passages[n - 1].source,
            chunk_id=turn.passages[n - 1].chunk_id,
            heading=turn.passages[n - 1].heading,
        )
        for n in result.cited
        if 1 <= n <= len(turn.passages)
    ]


async def screen_output(turn: Turn, deps: Deps) -> None:
    """Every [n] in the reply must name a citation we return; strip the ones that do not.
    Personal data the customer did not give in this conversation is redacted."""
    known = {citation.n for citation in turn.citations}
    turn.reply_text = _CITE.sub(
        lambda m: m.group(0) if int(m.group(1)) in known else "", turn.reply_text
    )
    # Allowed: what the customer wrote, and the operator's own articles (support addresses).
    given = [turn.message.text] + [h.text for h in turn.history if h.role == "customer"]
    given += [p.text for p in turn.passages]
    turn.reply_text = deps.output_guard.screen_reply(turn.reply_text, given)


def _handoff_summary(turn: Turn) -> dict[str, object]:
    return {
        "intent": turn.intent.name if turn.intent else None,
        "confidence": round(turn.intent.confidence, 3) if turn.intent else None,
        "urgency": turn.urgency.value if turn.urgency else None,
        "entities": [e.model_dump(mode="json") for e in turn.entities],
        "rule": turn.route.rule if turn.route else None,
        "reason": turn.route.reason if turn.route else None,
        "last_message": turn.text,
        "history": [{"role": h.role, "text": h.text} for h in turn.history],
    }


PIPELINE = (load_context, screen_input, understand, decide, retrieve, respond, screen_output)
