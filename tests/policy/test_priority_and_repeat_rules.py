"""Two gaps of the rule language closed: a rule can set a priority below the message's
urgency (`priority: {set: low}`), and `repeat_contact: {conversations: N, days: D}` counts a
customer's earlier conversations per rule, so "second contact" and "third contact" rules
stand side by side. Mistakes in either name their rules.yaml line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from frontdesk.config.rules import RulesConfig
from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.errors import ConfigError
from frontdesk.policy.escalation import PriorContact
from frontdesk.policy.rules_router import Facts, RuleRouter
from frontdesk.types import Action, IntentPrediction, Urgency

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BILLING = IntentPrediction(name="billing", confidence=0.8, ranking=[("billing", 0.8)])


def _facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {"intent": BILLING, "urgency": Urgency.NORMAL, "channel": "web",
                            "now": NOW, "text": "hello"}  # fmt: skip
    return Facts(**{**base, **overrides})


def _contact(conversation: str, days: float, intent: str = "billing") -> PriorContact:
    return PriorContact(conversation_id=conversation, intent=intent, confidence=0.9,
                        at=NOW - timedelta(days=days))  # fmt: skip


PRIORITIES = RulesConfig.model_validate({
    "teams": {"billing": {}},
    "rules": [
        {"name": "paper bills", "when": {"text_matches": ["paper bill"]},
         "then": {"action": "handoff", "team": "billing", "priority": {"set": "low"}}},
        {"name": "floor", "when": {"text_matches": ["floor"]},
         "then": {"action": "handoff", "team": "billing", "priority": "low"}},
        {"name": "rest", "then": {"action": "answer", "team": "billing"}},
    ],
})  # fmt: skip


@pytest.mark.parametrize("urgency", [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH])
def test_priority_set_is_exact_even_below_the_urgency(urgency: Urgency) -> None:
    router = RuleRouter(PRIORITIES)
    route = router.decide(_facts(text="can I have a paper bill please, urgent", urgency=urgency))
    assert (route.rule, route.priority) == ("paper bills", Urgency.LOW)
    # A bare priority stays a floor: never below the message's urgency.
    floor = router.decide(_facts(text="floor", urgency=urgency))
    assert floor.priority == urgency


def test_a_priority_set_for_the_unanswerable_default_too() -> None:
    rules = RulesConfig.model_validate({
        "teams": {"billing": {}},
        "rules": [{"name": "rest", "then": {"action": "answer", "team": "billing",
                                            "priority": {"set": "low"}}}],
    })  # fmt: skip
    from frontdesk.types import Answerability

    no = Answerability(answerable=False, score=0.1, reason="no passage")
    route = RuleRouter(rules).decide(_facts(urgency=Urgency.HIGH, answerability=no))
    assert (route.action, route.priority) == (Action.HANDOFF, Urgency.LOW)


CONTACTS = RulesConfig.model_validate({
    "teams": {"billing": {}, "complaints": {}},
    "escalation": {"repeat_contact_days": 3},
    "rules": [
        {"name": "third contact", "when": {"repeat_contact": {"conversations": 2, "days": 14}},
         "then": {"action": "handoff", "team": "complaints", "priority": "high"}},
        {"name": "second contact", "when": {"repeat_contact": {}},
         "then": {"action": "handoff", "team": "billing", "priority": "high"}},
        {"name": "rest", "then": {"action": "answer", "team": "billing"}},
    ],
})  # fmt: skip


def test_second_and_third_contact_rules_coexist() -> None:
    router = RuleRouter(CONTACTS)
    assert router.uses_repeat_contact
    assert CONTACTS.repeat_contact_days() == 14  # the longest look-back is read

    def rule(*earlier: PriorContact) -> str:
        return router.decide(_facts(earlier_contacts=earlier)).rule

    assert rule() == "rest"
    assert rule(_contact("a", 2)) == "second contact"
    # Two turns of one conversation are one contact.
    assert rule(_contact("a", 2), _contact("a", 1)) == "second contact"
    third = router.explain(_facts(earlier_contacts=(_contact("a", 2), _contact("b", 10))))
    assert third.route.rule == "third contact"
    assert third.route.reason == (
        "repeat contact: the customer asked about billing in 2 earlier conversations, the "
        "last 2 days ago (within 14 days)"
    )
    # The second rule's own window (7 days by default) is not the escalation's (3 days).
    assert rule(_contact("b", 10)) == "rest"
    assert rule(_contact("b", 5)) == "second contact"
    # Another topic, or an unsure classification of this message, is no repeat.
    assert rule(_contact("a", 1, intent="outage")) == "rest"
    unsure = IntentPrediction(name="billing", confidence=0.1, ranking=[("billing", 0.1)])
    assert router.decide(_facts(intent=unsure, earlier_contacts=(_contact("a", 1),))).rule == (
        "rest"
    )


def test_no_rule_counting_contacts_reads_none() -> None:
    plain = RulesConfig.model_validate(
        {"teams": {"billing": {}}, "rules": [{"name": "rest", "then": {"action": "answer"}}]}
    )
    assert not RuleRouter(plain).uses_repeat_contact
    assert plain.repeat_contact_days() == 0


HEAD = """\
teams:
  billing: {}
rules:
"""


def _error(tmp_path: Path, rules: str) -> str:
    (tmp_path / "frontdesk.yaml").write_text("tenant: default\n")
    (tmp_path / "rules.yaml").write_text(HEAD + rules)
    with pytest.raises(ConfigError) as info:
        load_rules(Workspace.at(tmp_path))
    return info.value.message


@pytest.mark.parametrize(
    ("rule", "line", "expected"),
    [
        ("  - name: a\n    then: {action: handoff, team: billing, priority: {set: urgent}}\n",
         5, "set"),
        ("  - name: a\n    then: {action: handoff, team: billing, priority: {sett: low}}\n",
         5, "sett"),
        ("  - name: a\n    when: {repeat_contact: {conversations: 0}}\n"
         "    then: {action: answer}\n",
         5, "conversations"),
        ("  - name: a\n    when:\n      any:\n        - repeat_contact: {weeks: 2}\n"
         "    then: {action: answer}\n", 7, "weeks"),
    ],
)  # fmt: skip
def test_mistakes_name_their_line(tmp_path: Path, rule: str, line: int, expected: str) -> None:
    message = _error(tmp_path, rule)
    assert f"rules.yaml:{line}" in message
    assert expected in message
