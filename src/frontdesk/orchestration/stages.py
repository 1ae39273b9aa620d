"""The pipeline's stages, in order. Each is `async def stage(turn, deps) -> None`.

A stage reads what earlier stages put on the Turn and adds its own findings. `record` is
not in this list: the Assistant runs it after the others, whether or not they succeeded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Literal

from frontdesk.dialogue import DialogueState, Understood, reject
from frontdesk.dialogue import track as track_dialogue
from frontdesk.guard.input_screen import INJECTION, stored_entities
from frontdesk.handoff.tickets import BOT_SILENT
from frontdesk.interfaces import ChatMessage
from frontdesk.knowledge.answerability import AnswerabilityModel, assess
from frontdesk.knowledge.context import assemble_context
from frontdesk.knowledge.vectors import index_record
from frontdesk.llm.quotable import is_staff_only
from frontdesk.memory.history import history_of
from frontdesk.nlu.message import understand_message
from frontdesk.nlu.sentiment import default_sentiment
from frontdesk.nlu.urgency import UrgencyCues, assess_urgency
from frontdesk.orchestration import routing
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.remembering import load_memory, no_answer_reply, remember
from frontdesk.orchestration.screened_stream import ScreenedStream
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import recent_window
from frontdesk.text import content_words
from frontdesk.types import (
    Action,
    Answerability,
    Citation,
    IntentPrediction,
    Passage,
    Route,
    Urgency,
    Usage,
)

_CITE = re.compile(r"\s?\[(\d+)\]")


async def load_context(turn: Turn, deps: Deps) -> None:
    # The history and the prior turns' decisions (for `decide`'s triggers) in one read.
    turns = deps.settings.assistant.history_turns
    window = await recent_window(
        turn.session, turn.conversation.id, messages=turns * 2,
        turns=routing.HISTORY_FOR_TRIGGERS,
    )  # fmt: skip
    turn.prior_decisions = window.decisions
    turn.history = await history_of(turn.session, turn.conversation.id, window.messages,
                                    turns=turns)  # fmt: skip
    turn.dialogue_state = DialogueState.from_json(turn.conversation.dialogue_state)
    await load_memory(turn, deps)  # the message's language, the customer profile


async def screen_input(turn: Turn, deps: Deps) -> None:
    """Redact personal data (the tenant's policy) from what is stored or sent to a model (the
    original stays in memory, for `understand`); score injection. A doubt is a finding and a
    trigger for the rules (`injection_suspected`), not a refusal: only a tenant's `block`
    refuses, at high confidence; `handoff` passes the message to a team."""
    policy = await deps.input_guard.policy_for(turn.session, turn.message.tenant_id)
    screening = deps.input_guard.screen(turn.message.text, policy)
    turn.screening = screening
    turn.text = screening.text
    if screening.blocked:
        turn.reply_text = f"Sorry, I can't take that message: {screening.reason}."
        turn.finished = True
    elif "prompt_injection" in screening.findings and policy.injection_action == "handoff":
        turn.route = Route(
            action=Action.HANDOFF,
            team=deps.input_guard.handoff_team(policy, list(deps.rules.teams)),
            priority=Urgency.HIGH,
            rule="guard: prompt injection",
            reason=f"injection score {screening.injection_score:.2f}",
        )


async def understand(turn: Turn, deps: Deps) -> None:
    """Intent (with out-of-scope flag), entities, sentiment, then urgency from all three.

    Read from the customer's words as written (`turn.message.text`, held in memory only), so
    that redaction hides no phone number from the entities; the entities kept on the turn
    agree with the stored, redacted text (`stored_entities`: "[PHONE]" for a redacted one)."""
    screening = turn.screening
    text = turn.message.text if screening is not None else turn.text
    if deps.batching is not None:  # with other turns' messages, on the models' thread
        batched = await deps.batching.understand(
            [(text, turn.now, deps.classifier, deps.extractor)]
        )
        understood = batched[0]
    else:
        understood = await understand_message(
            text,
            now=turn.now,
            classifier=deps.classifier,
            extractor=deps.extractor,
            sentiment=default_sentiment(),
        )
    turn.intent, turn.sentiment = understood.intent, understood.sentiment
    entities = understood.entities
    priority = (
        None if turn.intent.out_of_scope else deps.rules.intent_priority.get(turn.intent.name)
    )
    turn.urgency = assess_urgency(
        text,
        priority,
        sentiment=turn.sentiment,
        entities=entities,
        now=turn.now,
        cues=UrgencyCues.from_config(deps.rules.urgency_cues),
    )
    turn.entities = entities if screening is None else stored_entities(entities, screening)


async def track(turn: Turn, deps: Deps) -> None:
    """The dialogue state (forms.yml): a short answer to the pending question fills the slot
    it asked for and continues that task, whatever the classifier made of the words alone
    (the classifier's reading is kept in the decision); a confident new intent pauses the
    task; "no, it's ..." corrects a slot."""
    if deps.forms is None or turn.intent is None:
        return
    intent = turn.intent
    tracked = track_dialogue(
        turn.dialogue_state,
        Understood(
            text=turn.text,
            intent=intent.name,
            confidence=intent.confidence,
            out_of_scope=intent.out_of_scope,
            entities=turn.entities,
            turn_id=turn.id,
        ),
        deps.forms,
    )
    for name, value in tracked.filled.items():  # a value a lookup must find (validation.tool)
        rule = deps.forms.slots[name].validation if name in deps.forms.slots else None
        if (
            rule is not None
            and rule.tool is not None
            and not await routing.looked_up(turn, deps, rule.tool, {name: value})
        ):
            tracked = reject(turn.dialogue_state, tracked, name, rule.message)
    turn.tracked = tracked
    if tracked.intent is not None and tracked.intent != intent.name:
        turn.classified = {"intent": intent.name, "confidence": round(intent.confidence, 4),
                           "out_of_scope": intent.out_of_scope}  # fmt: skip
    if tracked.intent is not None:
        # The task is known from the conversation, not guessed from these words.
        turn.intent = IntentPrediction(name=tracked.intent, confidence=1.0,
                                       ranking=[(tracked.intent, 1.0)])  # fmt: skip


async def decide(turn: Turn, deps: Deps) -> None:
    """The routing rules pick the action; escalation triggers are facts they can test.
    While an agent owns the conversation the bot stays silent."""
    if turn.conversation.status in BOT_SILENT:
        turn.silent = turn.finished = True
        return
    if turn.route is not None:  # screen_input handed off already
        turn.decision = {"route": turn.route.model_dump(mode="json"), "facts": {}}
        return
    await routing.decide_route(turn, deps)  # its facts record the turn's answerability


async def retrieve(turn: Turn, deps: Deps) -> None:
    """Search the knowledge base before deciding: whether it answers the question is a fact
    the rules need ("the knowledge base cannot answer this: hand off to the owning team")."""
    if turn.conversation.status in BOT_SILENT or turn.route is not None:
        return  # an agent owns the conversation, or the input screen handed off already
    knowledge = deps.settings.knowledge
    passages = await deps.retriever.search(  # on the turn's connection: never a second one
        turn.message.tenant_id,
        retrieval_query(turn),
        limit=knowledge.top_k * 2,
        session=turn.session,
    )
    relevant = [p for p in passages if p.score >= knowledge.min_score]
    # Indirect injection: passages carrying instructions never reach the model.
    policy = await deps.input_guard.policy_for(turn.session, turn.message.tenant_id)
    relevant, dropped = deps.input_guard.filter_passages(relevant, policy)
    if dropped and turn.screening is not None:
        turn.screening.findings.append(f"passages_dropped:{len(dropped)}")
    turn.passages = assemble_context(
        relevant, budget_tokens=knowledge.context_tokens, max_passages=knowledge.top_k
    )
    if deps.answerability is not None:
        began = time.perf_counter()
        turn.answerability = judge_answerability(turn, deps, deps.answerability, relevant)
        turn.answerability.ms = round((time.perf_counter() - began) * 1000, 3)


def judge_answerability(
    turn: Turn, deps: Deps, model: AnswerabilityModel, passages: list[Passage]
) -> Answerability:
    """Does the knowledge base answer the question: the customer's words without identifiers,
    against the passages search found (the fact `answerable` of the rules)."""
    question = _without_identifiers(turn)
    words = sorted(content_words(question))
    counter = getattr(deps.retriever, "document_counts", None)
    counts = counter(turn.message.tenant_id, words) if counter is not None else None
    return assess(question, passages, counts=counts, words=words, model=model)


def retrieval_query(turn: Turn) -> str:
    """The customer's words without identifiers (an order id matches example ids in articles,
    not answers), plus the intent's name when the classifier is sure of it and the message
    is in scope (an off-topic message must not read as close to a topic it borrowed)."""
    text = _without_identifiers(turn)
    if turn.intent and turn.intent.confidence >= 0.5 and not turn.intent.out_of_scope:
        text = f"{text} {turn.intent.name.replace('_', ' ')}"
    return text


def _without_identifiers(turn: Turn) -> str:
    text = turn.text
    for entity in sorted(turn.entities, key=lambda e: e.start, reverse=True):
        if entity.type in _IDENTIFIERS:
            text = text[: entity.start] + " " + text[entity.end :]
    return text


_IDENTIFIERS = {"order_id", "customer_id", "email", "amount", "date"}


async def respond(turn: Turn, deps: Deps) -> None:
    await _respond(turn, deps)
    routing.settle_dialogue(turn, deps)  # the state after the reply (and a task resuming)


async def _respond(turn: Turn, deps: Deps) -> None:
    route = turn.route
    assert route is not None
    if route.action is Action.CLARIFY or (route.action is Action.ANSWER and route.ask):
        # A clarifying question, or a fixed reply the rules give (greetings, thanks).
        turn.reply_text = route.ask or "Could you tell me a little more?"
        return
    if route.action is Action.HANDOFF:
        await routing.hand_off(turn, deps)
        return
    if route.action is Action.TOOL:
        await routing.call_tool(turn, deps)
        return
    await _answer(turn, deps)
    if route.action is Action.ANSWER_THEN_HANDOFF:
        # The answer stays; the hand-off message follows it, and a ticket is opened.
        await routing.hand_off(turn, deps, after_answer=True)
    elif not turn.citations and turn.answerability and turn.answerability.answerable:
        # Judged answerable, yet nothing answered once quoted (or the model found no answer
        # in the passages): the rules decide again knowing that, and by default the turn is
        # handed off like any other the knowledge base does not answer.
        turn.answerability = routing.nothing_answered(turn.answerability)
        await routing.decide_route(turn, deps)
        again = turn.route
        assert again is not None
        if again.action is Action.ANSWER_THEN_HANDOFF:  # answered already: nothing to quote
            await routing.hand_off(turn, deps, after_answer=True)
        elif again.action is not Action.ANSWER or again.ask:
            await _respond(turn, deps)


async def _answer(turn: Turn, deps: Deps) -> None:
    """Answer from the knowledge base, with citations (or the no-answer reply)."""
    # Agents' notes from a hand-back are context for the model; console events are not.
    history = [
        ChatMessage(role=_MEMORY_ROLES.get(item.role, "assistant"), content=item.text)
        for item in turn.history
        if item.role != "system"
    ]
    index = await index_record(turn.session)
    if turn.sink is not None:
        turn.stream = ScreenedStream(turn.sink, await _output_screen(turn, deps))
    # Staff-only sections and atoms decide answerability and routing; no model sees them.
    quotable = [p for p in turn.passages if not is_staff_only(p)]
    answer = await deps.llm.answer(
        turn.text,
        quotable,
        history=history,
        tenant_id=turn.message.tenant_id,
        kb_version=index.version if index else 0,
        sink=turn.stream,
        # A doubted message is answered, but as data: fenced in the prompt, never obeyed.
        untrusted=turn.screening is not None and INJECTION in turn.screening.findings,
    )
    turn.system_prompt = answer.system_prompt
    turn.passages = answer.passages  # a cached answer cites the passages it was written from
    result = answer.result
    # The turn records what all of its model calls cost, under the model that answered.
    ledger = answer.ledger
    result.usage = Usage(
        prompt_tokens=ledger.prompt_tokens,
        completion_tokens=ledger.completion_tokens,
        cost=ledger.cost,
        model=answer.model,
    )
    turn.result = result
    if answer.fallback_reason and turn.error is None:
        turn.error = f"model fallback: {answer.fallback_reason}"[:2000]
    if not result.grounded or not result.cited:
        turn.reply_text = no_answer_reply(turn, deps)  # in the customer's language
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
    check = deps.output_guard.check(turn.reply_text, **await _screen_context(turn, deps))
    if turn.stream is not None:  # the client has seen only screened words; now the rest
        await turn.stream.finish(check.text)
    turn.reply_text = check.text
    if check.findings and turn.screening is not None:
        turn.screening.findings.extend(f"reply:{finding}" for finding in check.findings)


async def _screen_context(turn: Turn, deps: Deps) -> dict[str, Any]:
    """What the output screen judges a reply against in this turn."""
    # Allowed: what the customer wrote, and the operator's own articles (support addresses).
    given = [turn.message.text] + [h.text for h in turn.history if h.role == "customer"]
    policy = await deps.input_guard.policy_for(turn.session, turn.message.tenant_id)
    return {
        "given": given,
        "passages": [p.text for p in turn.passages],
        "policy": policy,
        "protected": [turn.system_prompt or deps.llm.system_prompt()],
        "granted_tools": _granted_tools(turn),
    }


async def _output_screen(turn: Turn, deps: Deps) -> Callable[[str], str]:
    """The output screen as a function of the text, for screening a reply as it streams."""
    context = await _screen_context(turn, deps)
    return lambda text: deps.output_guard.check(text, **context).text


def _granted_tools(turn: Turn) -> list[str]:
    """Tools that ran successfully this turn: the only grounds for a promise in the reply."""
    granted = [t["tool"] for t in turn.decision.get("tools", []) if t.get("status") == "ok"]
    return granted + ([call.name for call in turn.result.tool_calls] if turn.result else [])


_MEMORY_ROLES: dict[str, Literal["user", "assistant", "system"]] = {
    "customer": "user",
    "note": "system",
}


PIPELINE = (
    load_context, screen_input, understand, track, retrieve, decide, respond, screen_output,
    remember,  # the running summary, the customer profile, the language (memory)
)  # fmt: skip
