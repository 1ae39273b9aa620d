"""Each condition of the decision table, each escalation trigger, business hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.config.rules import EscalationConfig, RulesConfig, Trigger
from frontdesk.policy.escalation import PriorTurn, detect_triggers
from frontdesk.policy.hours import next_opening, team_available, within_business_hours
from frontdesk.policy.rules_router import Facts, RuleRouter
from frontdesk.types import Entity, IntentPrediction, Urgency

# Monday 2026-11-23 10:00 UTC = 10:00 London (open); Sunday 2026-11-22 is closed.
OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CLOSED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ORDER = Entity(type="order_id", text="KP-12345678", value="KP-12345678", start=0, end=11,
               extractor="regex")  # fmt: skip


def _rules(when: dict[str, Any]) -> RulesConfig:
    return RulesConfig.model_validate(
        {
            "teams": {"billing": {"hours": "business"}, "priority": {"hours": "always"},
                      "closed": {"available": False}},
            "business_hours": {"timezone": "Europe/London", "days": ["mon", "tue"],
                               "open": "08:00", "close": "18:00"},
            "rules": [
                {"name": "target", "when": when,
                 "then": {"action": "handoff", "team": "billing", "priority": "low"}},
                {"name": "default", "then": {"action": "answer"}},
            ],
        }
    )  # fmt: skip


def _facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {
        "intent": IntentPrediction(name="refund", confidence=0.8),
        "urgency": Urgency.NORMAL,
        "channel": "web",
        "entities": [ORDER],
        "sentiment": -0.6,
        "sentiment_label": "negative",
        "now": OPEN,
        "triggers": {},
    }
    base.update(overrides)
    return Facts(**base)


CASES: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({"intent": ["refund"]}, {"intent": IntentPrediction(name="greet", confidence=0.9)},
     "intent=refund"),
    ({"not_intent": ["greet"]}, {"intent": IntentPrediction(name="greet", confidence=0.9)},
     "intent not in greet"),
    ({"confidence_below": 0.9}, {"intent": IntentPrediction(name="refund", confidence=0.95)},
     "confidence 0.80 < 0.9"),
    ({"confidence_at_least": 0.5}, {"intent": IntentPrediction(name="refund", confidence=0.2)},
     "confidence 0.80 >= 0.5"),
    ({"out_of_scope": False},
     {"intent": IntentPrediction(name="refund", confidence=0.2, out_of_scope=True)}, "in scope"),
    ({"urgency": ["normal"]}, {"urgency": Urgency.HIGH}, "urgency=normal"),
    ({"sentiment": ["negative"]}, {"sentiment_label": "neutral"}, "sentiment=negative"),
    ({"sentiment_below": -0.5}, {"sentiment": 0.1}, "sentiment -0.60 < -0.50"),
    ({"has_entity": ["order_id"]}, {"entities": []}, "has order_id"),
    ({"missing_entity": ["email"]}, {"entities": [ORDER.model_copy(update={"type": "email"})]},
     "missing email"),
    ({"channel": ["web"]}, {"channel": "email"}, "channel=web"),
    ({"business_hours": True}, {"now": CLOSED}, "within business hours"),
    ({"business_hours": False, "_holds": {"now": CLOSED}}, {"now": OPEN},
     "outside business hours"),
    ({"team_available": {"billing": True}}, {"now": CLOSED}, "team billing available"),
    ({"team_available": {"closed": False, "billing": True}}, {"now": CLOSED},
     "team closed unavailable"),
    ({"trigger": ["negative_no_progress"],
      "_holds": {"triggers": {Trigger.NEGATIVE_NO_PROGRESS: "stuck"}}},
     {"triggers": {Trigger.HUMAN_REQUESTED: "asked"}}, "negative_no_progress: stuck"),
]  # fmt: skip


@pytest.mark.parametrize(("when", "breaks", "reason"), CASES, ids=[next(iter(c[0])) for c in CASES])
def test_each_condition_matches_and_says_why(
    when: dict[str, Any], breaks: dict[str, Any], reason: str
) -> None:
    when = dict(when)
    holds_with = when.pop("_holds", {})
    router = RuleRouter(_rules(when))
    holds = router.explain(_facts(**holds_with))
    assert holds.route.rule == "target"
    assert reason in holds.route.reason
    assert router.decide(_facts(**breaks)).rule == "default"


def test_out_of_scope_never_matches_an_intent_list() -> None:
    router = RuleRouter(_rules({"intent": ["refund"]}))
    oos = IntentPrediction(name="refund", confidence=0.9, out_of_scope=True)
    assert router.decide(_facts(intent=oos)).rule == "default"


def test_priority_is_raised_to_urgency_and_facts_are_recorded() -> None:
    router = RuleRouter(_rules({"intent": ["refund"]}))
    decision = router.explain(_facts(urgency=Urgency.CRITICAL))
    assert decision.route.priority is Urgency.CRITICAL
    record = decision.record()
    assert record["route"]["rule"] == "target"
    facts = record["facts"]
    assert facts["intent"] == "refund"
    assert facts["entities"] == ["order_id"]
    assert facts["business_hours"] is True
    assert facts["teams_available"] == {"billing": True, "priority": True, "closed": False}


def test_business_hours_and_next_opening() -> None:
    rules = _rules({})
    hours = rules.business_hours
    assert within_business_hours(hours, OPEN)
    assert not within_business_hours(hours, CLOSED)
    assert not within_business_hours(hours, datetime(2026, 11, 23, 18, 30, tzinfo=UTC))
    opening = next_opening(hours, CLOSED)
    assert (opening.weekday(), opening.hour) == (0, 8)
    assert team_available(rules, "priority", CLOSED)
    assert not team_available(rules, "billing", CLOSED)
    assert not team_available(rules, "closed", OPEN)
    holiday = hours.model_copy(update={"holidays": [OPEN.date()]})
    assert not within_business_hours(holiday, OPEN)


# -- escalation triggers -------------------------------------------------------------------

CONFIG = EscalationConfig(sensitive_intents=["account_security"], tool_failures=2)
SURE = IntentPrediction(name="track", confidence=0.9)
UNSURE = IntentPrediction(name="track", confidence=0.1)


def _detect(text: str = "hello", intent: IntentPrediction | None = SURE,
            sentiment: float | None = 0.0, history: list[PriorTurn] | None = None,
            tool_failures: int = 0) -> dict[Trigger, str]:  # fmt: skip
    return detect_triggers(CONFIG, text=text, intent=intent, sentiment=sentiment,
                           history=history or [], tool_failures=tool_failures)  # fmt: skip


@pytest.mark.parametrize(
    "text", ["can I speak to a human", "get me a manager", "I want a real person", "HUMAN AGENT"]
)
def test_customer_asking_for_a_person(text: str) -> None:
    assert Trigger.HUMAN_REQUESTED in _detect(text)


def test_human_intent_fires_and_ordinary_text_does_not() -> None:
    assert Trigger.HUMAN_REQUESTED in _detect(intent=IntentPrediction(name="human_agent",
                                                                      confidence=0.8))  # fmt: skip
    assert _detect("where is my human-sized parcel") == {}


def test_low_confidence_or_out_of_scope_twice_in_a_row() -> None:
    assert _detect(intent=UNSURE) == {}  # once is not enough
    low = PriorTurn(intent="track", confidence=0.1)
    oos = PriorTurn(intent="x", confidence=0.9, out_of_scope=True)
    assert Trigger.REPEATED_LOW_CONFIDENCE in _detect(intent=UNSURE, history=[low])
    oos_now = IntentPrediction(name="x", confidence=0.9, out_of_scope=True)
    assert Trigger.REPEATED_LOW_CONFIDENCE in _detect(intent=oos_now, history=[oos])
    sure = PriorTurn(intent="track", confidence=0.9)
    assert Trigger.REPEATED_LOW_CONFIDENCE not in _detect(intent=UNSURE, history=[low, sure])


def test_negative_sentiment_with_no_progress() -> None:
    angry = PriorTurn(sentiment=-0.5)
    assert Trigger.NEGATIVE_NO_PROGRESS not in _detect(sentiment=-0.6)  # first time
    assert Trigger.NEGATIVE_NO_PROGRESS in _detect(sentiment=-0.6, history=[angry])
    # Still negative but clearly better than where it started: progress.
    furious = PriorTurn(sentiment=-0.9)
    assert Trigger.NEGATIVE_NO_PROGRESS not in _detect(sentiment=-0.4, history=[furious])
    assert Trigger.NEGATIVE_NO_PROGRESS not in _detect(sentiment=0.2, history=[angry])


def test_sensitive_intent() -> None:
    fired = _detect(intent=IntentPrediction(name="account_security", confidence=0.7))
    assert fired[Trigger.SENSITIVE_INTENT] == "sensitive intent account_security"


def test_repeated_tool_failure_counts_history_and_this_turn() -> None:
    assert Trigger.TOOL_FAILURES not in _detect(tool_failures=1)
    failed = PriorTurn(tool_failures=1)
    assert Trigger.TOOL_FAILURES in _detect(history=[failed], tool_failures=1)


def test_prior_turn_from_a_stored_decision() -> None:
    prior = PriorTurn.from_decision(
        {"facts": {"intent": "x", "confidence": 0.2, "out_of_scope": True, "sentiment": -0.4},
         "route": {"action": "clarify"}, "tool_failures": 2}
    )  # fmt: skip
    assert prior == PriorTurn(intent="x", confidence=0.2, out_of_scope=True, sentiment=-0.4,
                              tool_failures=2, action="clarify")  # fmt: skip
    assert PriorTurn.from_decision(None) == PriorTurn()
