from __future__ import annotations

import pytest

from frontdesk.config.rules import RulesConfig
from frontdesk.policy.rules_router import Facts, RuleRouter
from frontdesk.types import Action, Entity, IntentPrediction, Urgency

RULES = RulesConfig.model_validate(
    {
        "teams": {"billing": {}, "review": {}, "support": {}},
        "rules": [
            {"name": "unsure", "when": {"confidence_below": 0.4},
             "then": {"action": "handoff", "team": "review"}},
            {"name": "refund needs order", "when": {"intent": ["refund"],
             "missing_entity": ["order_id"]}, "then": {"action": "clarify", "ask": "Order?"}},
            {"name": "refund", "when": {"intent": ["refund"], "has_entity": ["order_id"]},
             "then": {"action": "answer", "team": "billing"}},
            {"name": "urgent", "when": {"urgency": ["critical"]},
             "then": {"action": "handoff", "team": "support", "priority": "high"}},
            {"name": "default", "then": {"action": "answer", "team": "support"}},
        ],
    }
)  # fmt: skip

ORDER = Entity(type="order_id", text="KP-1", value="KP-1", start=0, end=4, extractor="regex")


def _facts(intent: str, confidence: float, *entities: Entity, urgency: Urgency = Urgency.NORMAL
           ) -> Facts:  # fmt: skip
    return Facts(
        IntentPrediction(name=intent, confidence=confidence), urgency, "api", list(entities)
    )


@pytest.mark.parametrize(
    ("facts", "rule", "action"),
    [
        (_facts("refund", 0.2, ORDER), "unsure", Action.HANDOFF),
        (_facts("refund", 0.9), "refund needs order", Action.CLARIFY),
        (_facts("refund", 0.9, ORDER), "refund", Action.ANSWER),
        (_facts("greet", 0.9, urgency=Urgency.CRITICAL), "urgent", Action.HANDOFF),
        (_facts("greet", 0.9), "default", Action.ANSWER),
    ],
)
def test_first_matching_rule_decides(facts: Facts, rule: str, action: Action) -> None:
    route = RuleRouter(RULES).decide(facts)
    assert (route.rule, route.action) == (rule, action)
    assert route.reason


def test_route_explains_itself_and_keeps_the_higher_priority() -> None:
    route = RuleRouter(RULES).decide(_facts("refund", 0.9, ORDER, urgency=Urgency.HIGH))
    assert route.reason == "intent=refund; has order_id"
    assert route.team == "billing"
    assert route.priority is Urgency.HIGH
    critical = RuleRouter(RULES).decide(_facts("x", 0.9, urgency=Urgency.CRITICAL))
    assert critical.priority is Urgency.CRITICAL
