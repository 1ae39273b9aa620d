"""The decision table: the first rule whose conditions all hold picks the action."""

from __future__ import annotations

from dataclasses import dataclass, field

from frontdesk.config.rules import RuleCondition, RulesConfig
from frontdesk.types import Entity, IntentPrediction, Route, Urgency


@dataclass(frozen=True)
class Facts:
    """What the rules may look at."""

    intent: IntentPrediction | None
    urgency: Urgency
    channel: str
    entities: list[Entity] = field(default_factory=list)


class RuleRouter:
    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules

    def decide(self, facts: Facts) -> Route:
        for rule in self.rules.rules:
            reasons = _matches(rule.when, facts)
            if reasons is None:
                continue
            then = rule.then
            return Route(
                action=then.action,
                team=then.team,
                priority=max(then.priority, facts.urgency, key=_URGENCY_ORDER.index),
                rule=rule.name,
                reason="; ".join(reasons) or "default rule",
                ask=then.ask or then.message,
            )
        raise LookupError("no routing rule matched; end rules.yaml with a rule with no 'when'")


_URGENCY_ORDER = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]


def _matches(when: RuleCondition, facts: Facts) -> list[str] | None:
    """The reasons the condition holds, or None when it does not."""
    reasons: list[str] = []
    intent = facts.intent
    confidence = intent.confidence if intent else 0.0
    if when.intent is not None:
        if intent is None or intent.name not in when.intent:
            return None
        reasons.append(f"intent={intent.name}")
    if when.confidence_below is not None:
        if confidence >= when.confidence_below:
            return None
        reasons.append(f"confidence {confidence:.2f} < {when.confidence_below}")
    if when.confidence_at_least is not None:
        if confidence < when.confidence_at_least:
            return None
        reasons.append(f"confidence {confidence:.2f} >= {when.confidence_at_least}")
    if when.urgency is not None:
        if facts.urgency not in when.urgency:
            return None
        reasons.append(f"urgency={facts.urgency}")
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
    return reasons
