"""The decision table: the first rule whose conditions all hold picks the action.

Every decision says which rule fired and why (each condition that held, in words), and keeps
a snapshot of the facts it looked at, so a turn's trace can show it later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from frontdesk.config.rules import RuleCondition, RulesConfig, Trigger
from frontdesk.policy.hours import team_availability, within_business_hours
from frontdesk.types import Entity, IntentPrediction, Route, Urgency


@dataclass(frozen=True)
class Facts:
    """What the rules may look at."""

    intent: IntentPrediction | None
    urgency: Urgency
    channel: str
    entities: list[Entity] = field(default_factory=list)
    sentiment: float | None = None  # -1 (very negative) .. 1 (very positive)
    sentiment_label: str | None = None
    now: datetime | None = None  # None: the current time
    triggers: dict[Trigger, str] = field(default_factory=dict)

    def snapshot(self, rules: RulesConfig) -> dict[str, Any]:
        now = self.now or datetime.now(UTC)
        return {
            "intent": self.intent.name if self.intent else None,
            "confidence": round(self.intent.confidence, 4) if self.intent else None,
            "out_of_scope": bool(self.intent and self.intent.out_of_scope),
            "urgency": self.urgency.value,
            "sentiment": None if self.sentiment is None else round(self.sentiment, 3),
            "sentiment_label": self.sentiment_label,
            "entities": sorted({e.type for e in self.entities}),
            "channel": self.channel,
            "business_hours": within_business_hours(rules.business_hours, now),
            "teams_available": team_availability(rules, now),
            "triggers": {t.value: why for t, why in self.triggers.items()},
        }


@dataclass(frozen=True)
class Decision:
    route: Route
    facts: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """What a turn stores about its decision (`turns.decision`)."""
        return {"route": self.route.model_dump(mode="json"), "facts": self.facts}


class RuleRouter:
    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules

    def decide(self, facts: Facts) -> Route:
        return self.explain(facts).route

    def explain(self, facts: Facts) -> Decision:
        now = facts.now or datetime.now(UTC)
        context = _Context(
            business_hours=within_business_hours(self.rules.business_hours, now),
            available=team_availability(self.rules, now),
        )
        for rule in self.rules.rules:
            reasons = _matches(rule.when, facts, context)
            if reasons is None:
                continue
            then = rule.then
            route = Route(
                action=then.action,
                team=then.team,
                priority=max(then.priority, facts.urgency, key=_URGENCY_ORDER.index),
                rule=rule.name,
                reason="; ".join(reasons) or "default rule",
                ask=then.ask or then.message,
                tool=then.tool,
            )
            return Decision(route=route, facts=facts.snapshot(self.rules))
        raise LookupError("no routing rule matched; end rules.yaml with a rule with no 'when'")


_URGENCY_ORDER = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]


@dataclass(frozen=True)
class _Context:
    business_hours: bool
    available: dict[str, bool]


def _matches(when: RuleCondition, facts: Facts, context: _Context) -> list[str] | None:
    """The reasons the condition holds, or None when it does not."""
    reasons: list[str] = []
    intent = facts.intent
    confidence = intent.confidence if intent else 0.0
    if when.trigger is not None:
        fired = [t for t in when.trigger if t in facts.triggers]
        if not fired:
            return None
        reasons.extend(f"{t.value}: {facts.triggers[t]}" for t in fired)
    if when.intent is not None:
        if intent is None or intent.out_of_scope or intent.name not in when.intent:
            return None
        reasons.append(f"intent={intent.name}")
    if when.not_intent is not None:
        if intent is not None and intent.name in when.not_intent:
            return None
        reasons.append(f"intent not in {', '.join(when.not_intent)}")
    if when.confidence_below is not None:
        if confidence >= when.confidence_below:
            return None
        reasons.append(f"confidence {confidence:.2f} < {when.confidence_below}")
    if when.confidence_at_least is not None:
        if confidence < when.confidence_at_least:
            return None
        reasons.append(f"confidence {confidence:.2f} >= {when.confidence_at_least}")
    if when.out_of_scope is not None:
        oos = bool(intent is None or intent.out_of_scope)
        if oos != when.out_of_scope:
            return None
        reasons.append("out of scope" if oos else "in scope")
    if when.urgency is not None:
        if facts.urgency not in when.urgency:
            return None
        reasons.append(f"urgency={facts.urgency}")
    if when.sentiment is not None:
        if facts.sentiment_label not in when.sentiment:
            return None
        reasons.append(f"sentiment={facts.sentiment_label}")
    if when.sentiment_below is not None:
        if facts.sentiment is None or facts.sentiment >= when.sentiment_below:
            return None
        reasons.append(f"sentiment {facts.sentiment:+.2f} < {when.sentiment_below:+.2f}")
    present = {entity.type for entity in facts.entities}
    if when.has_entity is not None:
        if not set(when.has_entity) <= present:
            return None
        reasons.append(f"has {', '.join(when.has_entity)}")
    if when.missing_entity is not None:
        missing = [name for name in when.missing_entity if name not in present]
        if not missing:
            return None
        reasons.append(f"missing {', '.join(missing)}")
    if when.channel is not None:
        if facts.channel not in when.channel:
            return None
        reasons.append(f"channel={facts.channel}")
    if when.business_hours is not None:
        if context.business_hours != when.business_hours:
            return None
        reasons.append("within business hours" if when.business_hours else "outside business hours")
    if when.team_available is not None:
        for team, wanted in when.team_available.items():
            if context.available.get(team, False) != wanted:
                return None
            reasons.append(f"team {team} {'available' if wanted else 'unavailable'}")
    return reasons
