"""Decide, call tools and hand off: the policy, tools and hand-off capabilities meeting.

The `decide` and `respond` stages call these; they live here so `stages.py` stays one
screen of readable steps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.config.rules import Trigger
from frontdesk.guard.input_screen import INJECTION
from frontdesk.handoff.summary import CurrentTurn, build_summary
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.turn import Turn
from frontdesk.policy.escalation import PriorTurn, detect_triggers
from frontdesk.policy.hours import next_opening, team_available
from frontdesk.policy.rules_router import Facts
from frontdesk.storage.conversations import all_messages, turns_of
from frontdesk.storage.models import Turn as TurnRecord
from frontdesk.tools.base import ToolContext, ToolOutcome
from frontdesk.types import Action, Route, Urgency

HISTORY_FOR_TRIGGERS = 10


def sentiment_of(turn: Turn) -> tuple[float | None, str | None]:
    """The understanding stage's sentiment, when it gives one."""
    sentiment = getattr(turn, "sentiment", None)
    if sentiment is None:
        return None, None
    label = getattr(sentiment, "label", None)
    return float(sentiment.score), (None if label is None else str(getattr(label, "value", label)))


async def prior_turns(turn: Turn) -> list[PriorTurn]:
    rows = await turn.session.scalars(
        select(TurnRecord.decision)
        .where(TurnRecord.conversation_id == turn.conversation.id)
        .order_by(TurnRecord.created_at.desc())
        .limit(HISTORY_FOR_TRIGGERS)
    )
    return [PriorTurn.from_decision(d) for d in reversed(list(rows))]


async def decide_route(turn: Turn, deps: Deps, *, tool_failures: int = 0) -> None:
    assert turn.urgency is not None
    score, label = sentiment_of(turn)
    history = await prior_turns(turn)
    triggers = detect_triggers(
        deps.rules.escalation,
        text=turn.text,
        intent=turn.intent,
        sentiment=score,
        history=history,
        tool_failures=tool_failures,
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
        entities=turn.entities,
        sentiment=score,
        sentiment_label=label,
        now=turn.now,
        triggers=triggers,
    )
    decision = deps.router.explain(facts)
    turn.route = decision.route
    kept = {k: v for k, v in turn.decision.items() if k in ("tools", "tool_failures")}
    turn.decision = {**decision.record(), "tools": [], **kept}


def tool_arguments(turn: Turn, parameters: dict[str, Any]) -> dict[str, Any]:
    """Fill a tool's parameters from the entities of the same name (order_id, amount...)."""
    found: dict[str, Any] = {}
    for entity in turn.entities:
        if entity.type in parameters.get("properties", {}) and entity.type not in found:
            value = entity.value
            if isinstance(value, dict) and "amount" in value:
                value = value["amount"]
            found[entity.type] = value
    return found


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
    outcome = await deps.tools.call(
        route.tool,
        tool_arguments(turn, tool.parameters),
        ToolContext(
            tenant_id=turn.message.tenant_id, conversation_id=turn.conversation.id, turn_id=turn.id
        ),
    )
    _remember(turn, outcome, tool.describe)
    if outcome.ok:
        turn.reply_text = tool.describe(outcome.result) if tool.describe else outcome.as_text()
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
    if turn.route is not None and turn.route.action is Action.HANDOFF:
        await hand_off(turn, deps)
    else:
        turn.reply_text = (
            "Sorry, I couldn't check that just now. Please try again in a few minutes, or ask "
            "for a person and I'll pass you to the team."
        )


_FAILED = {"error", "timeout", "circuit_open"}


def _remember(turn: Turn, outcome: ToolOutcome, describe: Any) -> None:
    summary = None
    if outcome.ok and describe is not None:
        summary = describe(outcome.result)
    turn.decision.setdefault("tools", []).append(
        {"tool": outcome.tool, "status": outcome.status, "call_id": outcome.call_id,
         "error": outcome.error, "summary": summary, "attempts": outcome.attempts}
    )  # fmt: skip
    turn.decision["tool_failures"] = sum(
        1 for t in turn.decision["tools"] if t["status"] in _FAILED
    )


async def hand_off(turn: Turn, deps: Deps) -> None:
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
    )
    summary = build_summary(current, records, messages)
    ticket = await deps.desk.hand_off(
        turn.session,
        turn.conversation,
        team=route.team,
        priority=route.priority.value,
        subject=_subject(turn, summary),
        summary=summary,
        now=turn.now,
        sla_minutes=team.sla_minutes,
    )
    turn.ticket_id = ticket.id
    turn.reply_text = route.ask or what_happens_next(turn, deps, route, ticket.id)


def _subject(turn: Turn, summary: dict[str, Any]) -> str:
    """Intent, the order number (from any turn so far) and the customer's last words."""
    intent = (
        turn.intent.name.replace("_", " ") if turn.intent and not turn.intent.out_of_scope else ""
    )
    order = str((summary.get("entities") or {}).get("order_id") or "")
    head = " · ".join(p for p in (intent.capitalize(), order) if p)
    return (f"{head}: {turn.text}" if head else turn.text)[:300]


def what_happens_next(turn: Turn, deps: Deps, route: Route, ticket_id: str) -> str:
    assert route.team is not None
    config = deps.rules.teams[route.team]
    reference = ticket_id[:8].upper()
    if team_available(deps.rules, route.team, turn.now):
        hours, minutes = divmod(config.sla_minutes, 60)
        wait = f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{minutes} minutes"
        when = f"within {wait}"
    else:
        opening = next_opening(deps.rules.business_hours, turn.now)
        when = f"when the team is back ({opening:%A %H:%M} {deps.rules.business_hours.timezone})"
    return (
        f"I'm passing this to our {route.team} team with a summary of what you've told me, "
        f"so you won't need to repeat yourself. Your reference is {reference}. A member of "
        f"the team will reply here {when}."
    )
