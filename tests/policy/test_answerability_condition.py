"""`answerability_below`: off-topic (nothing near) apart from near misses (`answerable`)."""

from __future__ import annotations

from frontdesk.config.rules import RulesConfig
from frontdesk.policy.rules_router import Facts, RuleRouter
from frontdesk.types import Answerability, IntentPrediction, Urgency

RULES = RulesConfig.model_validate({
    "teams": {"support": {}},
    "rules": [
        {"name": "off topic", "when": {"out_of_scope": True, "answerability_below": 0.3},
         "then": {"action": "clarify", "ask": "What can I help with?"}},
        {"name": "everything else", "then": {"action": "answer", "team": "support"}},
    ],
})  # fmt: skip


def facts(score: float | None) -> Facts:
    judged = None
    if score is not None:
        judged = Answerability(answerable=score >= 0.5, score=score, reason="test")
    intent = IntentPrediction(name="greet", confidence=0.9, out_of_scope=True)
    return Facts(intent=intent, urgency=Urgency.NORMAL, channel="api", answerability=judged)


def test_below_the_level_matches_with_its_reason() -> None:
    decision = RuleRouter(RULES).explain(facts(0.12))
    assert decision.route.rule == "off topic"
    assert "answerability 0.12 < 0.3" in decision.route.reason


def test_a_near_miss_or_an_unknown_score_does_not() -> None:
    assert RuleRouter(RULES).explain(facts(0.42)).route.rule != "off topic"
    assert RuleRouter(RULES).explain(facts(None)).route.rule == "everything else"
