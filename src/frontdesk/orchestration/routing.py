"""Decide, call tools and hand off: the policy, tools and hand-off capabilities meeting.

The `decide` and `respond` stages call these; they live here so `stages.py` stays one
screen of readable steps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from frontdesk.config.rule_text import render_template
from frontdesk.config.rules import HANDOFF_ACTIONS, OWNER, RuleConfig, Trigger
from frontdesk.config.settings import GuardSettings
from frontdesk.dialogue import form_step, from_profile, settle
from frontdesk.guard.input_screen import INJECTION
from frontdesk.handoff.summary import CurrentTurn, build_summary
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.remembering import customer_facts, handoff_memory, localised_when
from frontdesk.orchestration.turn import Turn
from frontdesk.policy.escalation import PriorContact, PriorTurn, detect_triggers
from frontdesk.policy.hours import next_opening, reply_due, team_available, team_hours
from frontdesk.policy.rules_router import UNANSWERABLE_MESSAGE, Facts
from frontdesk.storage.conversations import all_messages, turns_of
from frontdesk.storage.models import Conversation
from frontdesk.storage.models import Turn as TurnRecord
from frontdesk.tools.base import ToolContext, ToolOutcome
from frontdesk.tools.replies import UNSHOWN_RESULT, customer_text
from frontdesk.types import Action, Answerability, Entity, Route, Urgency

HISTORY_FOR_TRIGGERS = 10
EARLIER_CONTACTS = 50  # turns of the customer's other conversations the trigger looks at
DEFAULT_HANDOFF_MESSAGE = (
    "I'm passing this to our {team} team with a summary of what you've told me, so you "
    "won't need to repeat yourself. Your reference is {reference}. A member of the team "
    "will reply here {when}."
)


def sentiment_of(turn: Turn) -> tuple[float | None, str | None]:
    """The understanding stage's sentiment, when it gives one."""
    sentiment = getattr(turn, "sentiment", None)
    if sentiment is None:
        return None, None
    label = getattr(sentiment, "label", None)
    return float(sentiment.score), (None if label is None else str(getattr(label, "value", label)))


async def prior_turns(turn: Turn) -> list[PriorTurn]:
    """The conversation's last turns before this one, oldest first: as `load_context` read
    them (with the history), else read now."""
    if turn.prior_decisions is not None:
        return [PriorTurn.from_decision(d) for d in turn.prior_decisions]
    rows = await turn.session.scalars(
        select(TurnRecord.decision)
        .where(TurnRecord.conversation_id == turn.conversation.id)
        .order_by(TurnRecord.created_at.desc())
        .limit(HISTORY_FOR_TRIGGERS)
    )
    return [PriorTurn.from_decision(d) for d in reversed(list(rows))]


async def earlier_contacts(turn: Turn, deps: Deps) -> list[PriorContact]:
    """Turns of the same customer's other conversations, about this turn's intent, within
    the longest look-back of the repeat_contact trigger and `repeat_contact:` conditions."""
    days = deps.rules.repeat_contact_days()
    ref = turn.conversation.customer_ref
    if not ref or not days or turn.intent is None or not deps.router.uses_repeat_contact:
        return []
    rows = await turn.session.execute(
        select(TurnRecord.intent, TurnRecord.confidence, TurnRecord.created_at,
               TurnRecord.decision, TurnRecord.conversation_id)
        .join(Conversation, Conversation.id == TurnRecord.conversation_id)
        .where(Conversation.customer_ref == ref, Conversation.id != turn.conversation.id,
               TurnRecord.intent == turn.intent.name,
               TurnRecord.created_at >= turn.now - timedelta(days=days))
        .order_by(TurnRecord.created_at.desc())
        .limit(EARLIER_CONTACTS)
    )  # fmt: skip
    return [
        PriorContact(
            intent=intent,
            confidence=confidence,
            at=at,
            out_of_scope=PriorTurn.from_decision(decision).out_of_scope,
            conversation_id=conversation_id,
        )
        for intent, confidence, at, decision, conversation_id in rows
    ]


def nothing_answered(judged: Answerability) -> Answerability:
    """Retrieval's judgement corrected by the answer: no passage answered the question."""
    return judged.model_copy(
        update={
            "answerable": False,
            "reason": f"no sentence of the closest articles answers it (search: {judged.reason})",
        }
    )


async def decide_route(turn: Turn, deps: Deps, *, tool_failures: int = 0) -> None:
    assert turn.urgency is not None
    score, label = sentiment_of(turn)
    history = await prior_turns(turn)
    contacts = await earlier_contacts(turn, deps)
    triggers = detect_triggers(
        deps.rules.escalation,
        text=turn.text,
        intent=turn.intent,
        sentiment=score,
        history=history,
        tool_failures=tool_failures,
        earlier_contacts=contacts,
        now=turn.now,
    )
    screening = turn.screening
    if screening is not None and INJECTION in screening.findings:  # a doubt, for the rules
        families = [f.removeprefix("rule:") for f in screening.findings if f.startswith("rule:")]
        why = ", ".join([f"score {screening.injection_score:.2f}", *families])
        triggers[Trigger.INJECTION_SUSPECTED] = f"injection {why}"
    facts = Facts(
        intent=turn.intent,
        urgency=turn.urgency,
        channel=turn.message.channel.value,
        entities=turn.entities + _slot_entities(turn),
        sentiment=score,
        sentiment_label=label,
        now=turn.now,
        triggers=triggers,
        text=turn.text,
        language=turn.language,  # detected by load_context (memory)
        customer=customer_facts(turn),
        answerability=turn.answerability,
        earlier_intents=tuple(
            t.intent for t in reversed(history) if t.intent is not None and not t.out_of_scope
        ),
        form=_continued_form(turn),
        earlier_contacts=tuple(contacts),
    )
    decision = deps.router.explain(facts)
    turn.route = decision.route
    kept = {k: v for k, v in turn.decision.items() if k in ("tools", "tool_failures")}
    turn.decision = {**decision.record(), "tools": [], **kept}
    if turn.tracked is not None:
        tracked = turn.tracked
        turn.decision["dialogue"] = {
            "event": tracked.event, "why": tracked.why, "filled": tracked.filled,
            "classified": turn.classified,
        }  # fmt: skip
    _run_form(turn, deps, facts)


def _slot_entities(turn: Turn) -> list[Entity]:
    """The slots of the task this message continues, as entities for `has_entity` and
    `missing_entity` ("KP-20481736" alone answers a question about a lost parcel)."""
    if turn.tracked is None:
        return []
    present = {entity.type for entity in turn.entities}
    return [
        Entity(type=name, text=value, value=value, start=0, end=0, extractor="dialogue")
        for name, value in turn.tracked.task_slots.items()
        if name not in present
    ]


def _continued_form(turn: Turn) -> str | None:
    """The form of the task this message continues (the rules' `form` condition)."""
    tracked = turn.tracked
    if tracked is None or tracked.intent is None or tracked.state.active is None:
        return None
    return tracked.state.active.form


def _rule_named(deps: Deps, name: str) -> RuleConfig | None:
    return next((rule for rule in deps.rules.rules if rule.name == name), None)


def _run_form(turn: Turn, deps: Deps, facts: Facts) -> None:
    """A rule that runs a form (`then.form`) acts only once the form's slots are filled:
    until then the turn asks for the next one, and after `max_attempts` failed answers to
    one question it hands off to the form's team. The rules chose the rule; the form only
    says whether its slots are there yet."""
    route = turn.route
    assert route is not None
    rule = _rule_named(deps, route.rule)
    name = rule.then.form if rule is not None else None
    if name is None or deps.forms is None or name not in deps.forms.forms:
        return
    forms = deps.forms
    state = turn.tracked.state if turn.tracked is not None else turn.dialogue_state
    active = state.active if state.active is not None and state.active.form == name else None
    slots = {**state.values(), **(active.values() if active else {})}
    slots = {k: v for k, v in slots.items() if k in forms.forms[name].required_slots}
    known = _from_profile(turn, deps, name, slots)  # not asked again: the reply says so
    slots.update(known)
    step, slot = form_step(forms, name, slots, active.attempts if active else 0)
    turn.decision["form"] = {"form": name, "step": step, "slot": slot, "slots": slots}
    if known:
        turn.decision["form"]["from_profile"] = known
    if step == "complete":
        turn.form_slots = slots
        if route.action is Action.CLARIFY:  # a form that only asks: now answer
            turn.route = route.model_copy(update={"action": Action.ANSWER, "ask": None})
        return
    assert slot is not None
    if step == "give_up":
        config = forms.forms[name]
        team, why = config.team or OWNER, ""
        if team == OWNER:
            team, why = deps.router.owner_of(facts)
        attempts = active.attempts if active else 0
        turn.route = Route(
            action=Action.HANDOFF,
            team=team,
            priority=route.priority,
            rule=route.rule,
            reason=f"{route.reason}; form {name}: no valid {slot} after {attempts} answers"
            + (f"; {why}" if why else ""),
        )
        return
    refused = turn.tracked.refused.get(slot) if turn.tracked is not None else None
    said = [refused, profile_line(known, done=False) if known else None, forms.ask(name, slot)]
    turn.route = Route(
        action=Action.CLARIFY,
        team=route.team,
        priority=route.priority,
        rule=route.rule,
        reason=f"{route.reason}; form {name} asks for {slot}",
        ask=" ".join(part for part in said if part),
    )


def _from_profile(turn: Turn, deps: Deps, form: str, have: dict[str, str]) -> dict[str, str]:
    """The form's missing slots the customer's profile knows (memory.prefill_forms)."""
    profile = turn.profile
    if deps.forms is None or profile is None or not profile.facts:
        return {}
    if not deps.settings.memory.prefill_forms:
        return {}
    return from_profile(deps.forms, form, profile.facts, have)


def profile_line(known: dict[str, str], *, done: bool) -> str:
    """What the reply says about values taken from the profile instead of asking for them:
    "I'll use order KP-20481736 from earlier; say if it's another one." """
    values = " and ".join(
        f"{name.removesuffix('_id').replace('_', ' ')} {value}" for name, value in known.items()
    )
    verb = "I used" if done else "I'll use"
    other = "another one" if len(known) == 1 else "other ones"
    return f"{verb} {values} from earlier; say if it's {other}."


async def looked_up(turn: Turn, deps: Deps, tool: str, arguments: dict[str, Any]) -> bool:
    """Whether a slot's lookup tool finds the value (a form's `validation.tool`)."""
    if deps.tools is None:
        return True  # checked at start-up: a workspace naming a lookup has tools
    context = ToolContext(
        tenant_id=turn.message.tenant_id, conversation_id=turn.conversation.id, turn_id=turn.id
    )
    outcome = await deps.tools.call(tool, arguments, context)
    return outcome.ok


def settle_dialogue(turn: Turn, deps: Deps) -> None:
    """After the reply: the state to store (the form's next question, a finished task, a
    paused one resuming, which the reply then says)."""
    if deps.forms is None or turn.tracked is None or turn.route is None:
        return
    form = turn.decision.get("form") or {}
    action = turn.route.action
    settled = settle(
        turn.tracked.state,
        deps.forms,
        intent=turn.intent.name if turn.intent and not turn.intent.out_of_scope else None,
        form=form.get("form"),
        asked=form.get("slot") if form.get("step") == "ask" else None,
        handoff=action in HANDOFF_ACTIONS or turn.ticket_id is not None,
        answered=action in (Action.ANSWER, Action.TOOL),
        prefill=form.get("from_profile"),
    )
    turn.dialogue_state = settled.state
    known = form.get("from_profile")
    if known and form.get("step") == "complete" and settled.done is not None:
        turn.reply_text = f"{turn.reply_text}\n\n{profile_line(known, done=True)}"
    resumed = settled.resumed
    if resumed is not None and resumed.form and resumed.requested_slot:
        question = deps.forms.ask(resumed.form, resumed.requested_slot)
        turn.reply_text = f"{turn.reply_text}\n\nNow, back to your earlier request: {question}"


def tool_arguments(turn: Turn, parameters: dict[str, Any]) -> dict[str, Any]:
    """Fill a tool's parameters from the form's slots, else the entities, of the same name
    (order_id, amount...)."""
    properties = parameters.get("properties", {})
    found: dict[str, Any] = {k: v for k, v in turn.form_slots.items() if k in properties}
    for entity in turn.entities:
        if entity.type in parameters.get("properties", {}) and entity.type not in found:
            value = entity.value
            if isinstance(value, dict) and "amount" in value:
                value = value["amount"]
            found[entity.type] = value
    return found


def flagged_hold(turn: Turn, deps: Deps, policy: GuardSettings) -> str | None:
    """Why a tool call of this turn must wait for an agent's approval, if it must: the
    injection screen doubted the message its arguments come from, and a model reads this
    turn. The message is still answered; only the action waits for a person
    (`guard.confirm_flagged_tools`). Without a model nothing takes the message as
    instructions (the rules chose the tool, its arguments are typed entities), so holding
    would only keep the one customer in seven whose wording looks odd waiting."""
    screening = turn.screening
    if not policy.confirm_flagged_tools or screening is None:
        return None
    if not deps.llm.router.chain("answer"):
        return None
    if INJECTION not in screening.findings:
        return None
    return (
        "the customer's message may be a prompt injection "
        f"(score {screening.injection_score:.2f}); check it before the tool runs"
    )


async def call_tool(turn: Turn, deps: Deps) -> None:
    """Run the route's tool; on failure, decide again with the failure counted (the rules
    may now hand off on `tool_failures`)."""
    route = turn.route
    assert route is not None
    assert route.tool is not None
    if deps.tools is None or deps.tools.get(route.tool) is None:
        raise LookupError(f"the rules name tool {route.tool!r}, which is not registered")
    tool = deps.tools.get(route.tool)
    assert tool is not None
    policy = await deps.input_guard.policy_for(turn.session, turn.message.tenant_id)
    outcome = await deps.tools.call(
        route.tool,
        tool_arguments(turn, tool.parameters),
        ToolContext(
            tenant_id=turn.message.tenant_id, conversation_id=turn.conversation.id, turn_id=turn.id
        ),
        hold=flagged_hold(turn, deps, policy),
    )
    shown = customer_text(tool, outcome)
    _remember(turn, outcome, shown)
    if outcome.ok:
        # Never the raw result: a backend's JSON is not written for customers.
        turn.reply_text = shown or UNSHOWN_RESULT
        if route.ask:
            turn.reply_text += " " + route.ask
        return
    if outcome.status == "pending_approval":
        turn.reply_text = (
            "I've asked a colleague to approve this request; you'll get an answer in this "
            "conversation."
        )
        return
    if outcome.status == "invalid_arguments":
        turn.reply_text = "I need a little more detail for that: " + (outcome.error or "")
        return
    failures = sum(1 for t in turn.decision.get("tools", []) if t["status"] in _FAILED)
    await decide_route(turn, deps, tool_failures=failures)
    if turn.route is not None and turn.route.action in (
        Action.HANDOFF,
        Action.ANSWER_THEN_HANDOFF,
    ):
        await hand_off(turn, deps)
    else:
        turn.reply_text = (
            "Sorry, I couldn't check that just now. Please try again in a few minutes, or ask "
            "for a person and I'll pass you to the team."
        )


_FAILED = {"error", "timeout", "circuit_open"}


def _remember(turn: Turn, outcome: ToolOutcome, summary: str | None) -> None:
    turn.decision.setdefault("tools", []).append(
        {"tool": outcome.tool, "status": outcome.status, "call_id": outcome.call_id,
         "error": outcome.error, "summary": summary, "attempts": outcome.attempts}
    )  # fmt: skip
    turn.decision["tool_failures"] = sum(
        1 for t in turn.decision["tools"] if t["status"] in _FAILED
    )


async def hand_off(turn: Turn, deps: Deps, *, after_answer: bool = False) -> None:
    """Open (or update) the conversation's ticket for the route's team and tell the customer
    who, the reference and when. `after_answer`: the reply so far is an answer from the
    knowledge base (answer_then_handoff); the hand-off message follows it."""
    route = turn.route
    assert route is not None
    assert route.team is not None
    if deps.desk is None:
        raise LookupError("hand-off needs the help desk (runtime.desk)")
    team = deps.rules.teams[route.team]
    records = await turns_of(turn.session, turn.conversation.id)
    messages = await all_messages(turn.session, turn.conversation.id)
    score, _ = sentiment_of(turn)
    current = CurrentTurn(
        text=turn.text,
        intent=turn.intent.name if turn.intent else None,
        confidence=turn.intent.confidence if turn.intent else None,
        urgency=(turn.urgency or Urgency.NORMAL).value,
        sentiment=score,
        entities=[e.model_dump(mode="json") for e in turn.entities],
        rule=route.rule,
        reason=route.reason,
        triggers=(turn.decision.get("facts") or {}).get("triggers", {}),
        tools=turn.decision.get("tools", []),
        citations=[c.model_dump(mode="json") for c in turn.citations],
    )
    summary = build_summary(current, records, messages, memory=handoff_memory(turn, deps))
    ticket = await deps.desk.hand_off(
        turn.session,
        turn.conversation,
        team=route.team,
        priority=route.priority.value,
        subject=_subject(turn, summary),
        summary=summary,
        now=turn.now,
        sla_minutes=team.sla_for(route.priority),
        due_at=reply_due(deps.rules, route.team, route.priority, turn.now),
    )
    turn.ticket_id = ticket.id
    if not after_answer:
        turn.reply_text = what_happens_next(turn, deps, route, ticket.id)
    elif turn.citations:  # answered: the answer, then what happens next
        turn.reply_text = f"{turn.reply_text}\n\n{what_happens_next(turn, deps, route, ticket.id)}"
    else:  # the knowledge base had nothing to say after all: say so, and hand off
        unanswerable = deps.rules.unanswerable.message or UNANSWERABLE_MESSAGE
        turn.reply_text = what_happens_next(turn, deps, route, ticket.id, unanswerable)


def _subject(turn: Turn, summary: dict[str, Any]) -> str:
    """Intent, the order number (from any turn so far) and the customer's last words."""
    intent = (
        turn.intent.name.replace("_", " ") if turn.intent and not turn.intent.out_of_scope else ""
    )
    order = str((summary.get("entities") or {}).get("order_id") or "")
    head = " · ".join(p for p in (intent.capitalize(), order) if p)
    return (f"{head}: {turn.text}" if head else turn.text)[:300]


def what_happens_next(
    turn: Turn, deps: Deps, route: Route, ticket_id: str, template: str | None = None
) -> str:
    """The hand-off message: the rule's `message`, else the team's `handoff_message`, else
    the file's, else the default; with {team} (its customer-facing name), {reference} and
    {when} filled in."""
    assert route.team is not None
    config = deps.rules.teams[route.team]
    chosen = (
        template
        or route.ask
        or config.handoff_message
        or deps.rules.handoff_message
        or DEFAULT_HANDOFF_MESSAGE
    )
    values = {
        "team": deps.rules.team_name(route.team),
        "reference": ticket_id[:8].upper(),
        "when": localised_when(turn, deps, chosen, reply_time(turn, deps, route)),
    }
    return render_template(chosen, values)


def reply_time(turn: Turn, deps: Deps, route: Route) -> str:
    """When the customer hears back: within the SLA for the priority, or when the team's
    hours open again."""
    assert route.team is not None
    config = deps.rules.teams[route.team]
    if team_available(deps.rules, route.team, turn.now):
        due = reply_due(deps.rules, route.team, route.priority, turn.now)
        minutes_due = config.sla_for(route.priority)
        if due - turn.now > timedelta(minutes=minutes_due):  # the SLA waits out a closing
            staffed = team_hours(deps.rules, route.team) or deps.rules.business_hours
            local = due.astimezone(ZoneInfo(staffed.timezone))
            return f"by {local:%A %H:%M} {staffed.timezone}"
        hours, minutes = divmod(minutes_due, 60)
        if hours and minutes:
            wait = f"{hours} hour{'s' if hours != 1 else ''} {minutes} minutes"
        elif hours:
            wait = f"{hours} hour{'s' if hours != 1 else ''}"
        else:
            wait = f"{minutes} minutes"
        return f"within {wait}"
    staffed = team_hours(deps.rules, route.team) or deps.rules.business_hours
    opening = next_opening(staffed, turn.now)
    return f"when the team is back ({opening:%A %H:%M} {staffed.timezone})"
