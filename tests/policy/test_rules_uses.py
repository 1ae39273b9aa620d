"""What the rules read decides what a turn computes: earlier conversations are queried only
when some rule, however nested, tests the repeat_contact trigger."""

from __future__ import annotations

from frontdesk.config.rules import RulesConfig, Trigger
from frontdesk.policy.rules_router import RuleRouter


def rules(when: dict[str, object]) -> RulesConfig:
    return RulesConfig.model_validate({
        "teams": {"support": {}},
        "rules": [
            {"name": "x", "when": when, "then": {"action": "handoff", "team": "support"}},
            {"name": "rest", "then": {"action": "answer", "team": "support"}},
        ],
    })  # fmt: skip


def test_a_nested_repeat_contact_rule_is_seen() -> None:
    nested = rules({"any": [{"intent_margin_below": 0.1},
                            {"not": {"trigger": ["repeat_contact"]}}]})  # fmt: skip
    assert nested.uses_trigger(Trigger.REPEAT_CONTACT)
    assert RuleRouter(nested).uses_repeat_contact


def test_rules_without_it_read_no_earlier_conversation() -> None:
    other = rules({"trigger": ["human_requested"]})
    assert not other.uses_trigger(Trigger.REPEAT_CONTACT)
    assert not RuleRouter(other).uses_repeat_contact
