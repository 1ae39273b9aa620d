"""The rule language beyond single conditions: what the message says, combinators, the intent
margin, language, answerability, the built-in abstain default, `team: owner`, and the
repeat_contact trigger. Each match says why in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from frontdesk.config.rule_text import find_phrase, render_template
from frontdesk.config.rules import EscalationConfig, RulesConfig, Trigger
from frontdesk.policy import owning_team
from frontdesk.policy.escalation import PriorContact, detect_triggers
from frontdesk.policy.rules_router import UNANSWERABLE_RULE, Facts, RuleRouter
from frontdesk.types import Action, Answerability, IntentPrediction, Urgency

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BILLING = IntentPrediction(
    name="billing", confidence=0.8, ranking=[("billing", 0.8), ("outage", 0.15), ("greet", 0.05)]
)
CLOSE = IntentPrediction(
    name="billing", confidence=0.46, ranking=[("billing", 0.46), ("cancel", 0.41), ("outage", 0.13)]
)
NO = Answerability(answerable=False, score=0.12, reason="no passage mentions router lights")
YES = Answerability(answerable=True, score=0.91, reason="passage 1 answers it")


def _rules(when: dict[str, Any], **extra: Any) -> RulesConfig:
    return RulesConfig.model_validate(
        {
            "teams": {"billing": {}, "network_ops": {"intents": ["outage"]}, "support": {}},
            "rules": [
                {"name": "target", "when": when, "then": {"action": "handoff", "team": "billing"}},
                {"name": "default", "then": {"action": "answer", "team": "support"}},
            ],
            **extra,
        }
    )


def _facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {"intent": BILLING, "urgency": Urgency.NORMAL, "channel": "web",
                            "now": NOW, "text": "hello"}  # fmt: skip
    base.update(overrides)
    return Facts(**base)


def _target(when: dict[str, Any], **facts: Any) -> str | None:
    """The reason when the target rule fires, None when the default does."""
    route = RuleRouter(_rules(when)).decide(_facts(**facts))
    return route.reason if route.rule == "target" else None


# -- text_matches -----------------------------------------------------------------------------


def test_text_matches_phrases_on_word_boundaries_any_case() -> None:
    when = {"text_matches": ["cancel my contract", "third time"]}
    assert _target(when, text="I want to CANCEL  my contract now") == (
        "the message says 'CANCEL  my contract'"
    )
    assert _target(when, text="this is the third time!") == "the message says 'third time'"
    assert _target(when, text="the cancel my contracts page") is None  # not a whole word
    assert _target(when, text="nothing like it") is None


def test_text_matches_regexes_and_curly_apostrophes() -> None:
    when = {"text_matches": [r"re:\bsolicitor|lawyer|legal action\b", "don't work"]}
    reason = _target(when, text="My lawyer will hear about this")
    assert reason == "the message says 'lawyer' (matches '\\\\bsolicitor|lawyer|legal action\\\\b')"
    assert _target(when, text="the lights don\u2019t work") == 'the message says "don\'t work"'
    assert find_phrase(["re:^$x"], "x") is None


# -- combinators -----------------------------------------------------------------------------


def test_any_holds_when_one_branch_does_and_says_which() -> None:
    when = {"any": [{"text_matches": ["ombudsman"]}, {"intent": ["billing"], "urgency": ["high"]}]}
    assert _target(when, text="I'll go to the ombudsman") == (
        "any #1: the message says 'ombudsman'"
    )
    assert _target(when, urgency=Urgency.HIGH) == "any #2: intent=billing; urgency=high"
    assert _target(when) is None


def test_all_needs_every_branch() -> None:
    when = {"all": [{"intent": ["billing"]}, {"text_matches": ["refund"]}]}
    assert _target(when, text="refund me") == "intent=billing; the message says 'refund'"
    assert _target(when, text="hello") is None


def test_not_inverts_and_says_what_did_not_hold() -> None:
    when = {"not": {"intent": ["greet", "billing"]}}
    assert _target(when) is None
    assert _target(when, intent=CLOSE.model_copy(update={"name": "cancel"})) == (
        "not (intent: [greet, billing])"
    )


def test_combinators_nest() -> None:
    when = {
        "intent": ["billing"],
        "any": [
            {"all": [{"text_matches": ["cancel"]}, {"not": {"sentiment": ["positive"]}}]},
            {"not": {"any": [{"channel": ["web"]}, {"channel": ["email"]}]}},
        ],
    }
    reason = _target(when, text="cancel it", sentiment_label="negative")
    assert reason == (
        "intent=billing; any #1: the message says 'cancel'; not (sentiment: [positive])"
    )
    assert _target(when, text="cancel it", sentiment_label="positive") is None
    assert _target(when, channel="whatsapp") == (
        "intent=billing; any #2: not (any: [{channel: [web]}, {channel: [email]}])"
    )


# -- intent margin, language, answerable --------------------------------------------------------


def test_intent_margin_below() -> None:
    when = {"intent_margin_below": 0.10}
    assert _target(when, intent=CLOSE) == (
        "top two intents within 0.10 (billing 0.46, cancel 0.41: 0.05 apart)"
    )
    assert _target(when, intent=BILLING) is None  # 0.65 apart
    assert _target(when, intent=None) is None
    lone = IntentPrediction(name="billing", confidence=0.05)  # no ranking: the second is 0
    assert _target(when, intent=lone) is not None


def test_language_and_not_language_and_unknown() -> None:
    assert _target({"language": ["es", "de"]}, language="es") == "written in es"
    assert _target({"language": "es"}, language="en") is None
    assert _target({"not_language": "en"}, language="de") == "written in de, not en"
    assert _target({"not_language": ["en"]}, language="en") is None
    # Unknown (a short message): neither matches.
    assert _target({"not_language": "en"}, language=None) is None
    assert _target({"language": "en"}, language=None) is None


def test_answerable_and_unknown() -> None:
    assert _target({"answerable": False}, answerability=NO) == (
        "the knowledge base does not answer this (no passage mentions router lights)"
    )
    assert _target({"answerable": True}, answerability=YES) == (
        "the knowledge base answers this (passage 1 answers it)"
    )
    assert _target({"answerable": False}, answerability=YES) is None
    assert _target({"answerable": False}, answerability=None) is None
    assert _target({"answerable": True}, answerability=None) is None


def test_the_snapshot_keeps_the_new_facts() -> None:
    rules = _rules({})
    facts = RuleRouter(rules).explain(_facts(intent=CLOSE, language="de", answerability=NO)).facts
    assert facts["intent_margin"] == 0.05
    assert facts["language"] == "de"
    assert facts["answerable"] is False
    assert facts["answerability"]["reason"] == NO.reason


# -- team: owner, owning_team -----------------------------------------------------------------

OWNED = RulesConfig.model_validate(
    {
        "teams": {"billing": {"display_name": "Billing & Accounts"}, "network_ops": {
            "intents": ["outage"]}, "support": {}, "review": {}},
        "default_team": "review",
        "rules": [
            {"name": "person", "when": {"trigger": ["human_requested"]},
             "then": {"action": "handoff", "team": "owner"}},
            {"name": "billing answers", "when": {"any": [{"intent": ["billing", "cancel"]}]},
             "then": {"action": "answer", "team": "billing"}},
            {"name": "not billing", "when": {"not": {"intent": ["greet"]}, "text_matches": ["x"]},
             "then": {"action": "answer", "team": "support"}},
            {"name": "outage to support?", "when": {"intent": ["outage"]},
             "then": {"action": "answer", "team": "support"}},
            {"name": "rest", "then": {"action": "answer"}},
        ],
    }
)  # fmt: skip


def test_owning_team_explicit_list_wins_then_first_rule_naming_the_intent() -> None:
    assert owning_team(OWNED, "outage") == "network_ops"  # teams.network_ops.intents
    assert owning_team(OWNED, "cancel") == "billing"  # inside an any
    assert owning_team(OWNED, "greet") is None  # named only under a not
    assert owning_team(OWNED, "unknown") is None


@pytest.mark.parametrize(
    ("intent", "team", "why"),
    [
        (IntentPrediction(name="outage", confidence=0.9), "network_ops",
         "team network_ops owns intent outage"),
        # Out of scope: the best guess from the ranking decides.
        (IntentPrediction(name="cancel", confidence=0.2, out_of_scope=True,
                          ranking=[("cancel", 0.2), ("greet", 0.1)]), "billing",
         "team billing owns intent cancel"),
        (IntentPrediction(name="greet", confidence=0.9), "review",
         "no team owns intent greet: default team review"),
    ],
)  # fmt: skip
def test_handoff_to_the_owner(intent: IntentPrediction, team: str, why: str) -> None:
    triggers = {Trigger.HUMAN_REQUESTED: "asked for a person ('real person')"}
    route = RuleRouter(OWNED).decide(_facts(intent=intent, triggers=triggers))
    assert (route.rule, route.action, route.team) == ("person", Action.HANDOFF, team)
    assert route.reason.endswith(why)


def test_a_request_for_a_person_goes_to_the_owner_of_the_topic_mentioned_with_it() -> None:
    triggers = {Trigger.HUMAN_REQUESTED: "intent human_agent"}
    router = RuleRouter(OWNED)
    # "can I talk to someone about my bill": the second intent names the topic.
    about_bill = IntentPrediction(
        name="human_agent", confidence=0.6, ranking=[("human_agent", 0.6), ("billing", 0.3)]
    )
    route = router.decide(_facts(intent=about_bill, triggers=triggers))
    assert route.team == "billing"
    assert route.reason.endswith("team billing owns intent billing (in this message)")
    # A bare request: the topic of the conversation so far.
    bare = IntentPrediction(
        name="human_agent", confidence=0.9, ranking=[("human_agent", 0.9), ("billing", 0.05)]
    )
    route = router.decide(_facts(intent=bare, triggers=triggers, earlier_intents=("outage",)))
    assert route.team == "network_ops"
    assert route.reason.endswith("team network_ops owns intent outage (earlier in the chat)")
    assert router.decide(_facts(intent=bare, triggers=triggers)).team == "review"


def test_out_of_scope_with_an_unowned_best_guess_goes_to_the_default_team() -> None:
    # An API question, out of scope; its best guess (greet) has no owner and an outage is
    # third in the ranking at 0.2: not a topic it mentions. The default team takes it.
    api = IntentPrediction(name="greet", confidence=0.3, out_of_scope=True,
                           ranking=[("greet", 0.3), ("outage", 0.2)])  # fmt: skip
    router = RuleRouter(OWNED)
    route = router.decide(_facts(intent=api, answerability=NO))
    assert (route.action, route.team) == (Action.HANDOFF, "review")
    assert route.reason.endswith("no team owns intent greet: default team review")
    # In scope, the same ranking names the outage as a topic mentioned with it.
    in_scope = api.model_copy(update={"out_of_scope": False})
    assert router.decide(_facts(intent=in_scope, answerability=NO)).team == "network_ops"


def test_default_team_is_the_last_rules_team_else_the_first() -> None:
    assert _rules({}).fallback_team() == "support"
    assert OWNED.fallback_team() == "review"


def test_team_names_for_customers() -> None:
    assert OWNED.team_name("billing") == "Billing & Accounts"
    assert OWNED.team_name("network_ops") == "network ops"


# -- the built-in abstain default ---------------------------------------------------------------


def test_an_answer_the_knowledge_base_cannot_give_becomes_a_handoff_to_the_rules_team() -> None:
    router = RuleRouter(OWNED)
    route = router.decide(_facts(intent=BILLING, answerability=NO))
    assert (route.action, route.team, route.rule) == (Action.HANDOFF, "billing", UNANSWERABLE_RULE)
    assert "rule 'billing answers' would answer" in route.reason
    assert "no passage mentions router lights" in route.reason
    assert route.ask is not None
    assert "don't have that information" in route.ask
    # Answerable, or unknown: the rule answers.
    assert router.decide(_facts(intent=BILLING, answerability=YES)).action is Action.ANSWER
    assert router.decide(_facts(intent=BILLING, answerability=None)).action is Action.ANSWER


def test_abstain_goes_to_the_owner_when_the_rule_names_no_team() -> None:
    outage = IntentPrediction(name="outage", confidence=0.3, out_of_scope=True,
                              ranking=[("outage", 0.3)])  # fmt: skip
    route = RuleRouter(OWNED).decide(_facts(intent=outage, answerability=NO))
    assert (route.rule, route.team) == (UNANSWERABLE_RULE, "network_ops")
    assert "rule 'rest' would answer" in route.reason
    assert route.reason.endswith("team network_ops owns intent outage")


def test_abstain_leaves_fixed_messages_clarify_and_handoffs_alone() -> None:
    rules = RulesConfig.model_validate(
        {"teams": {"support": {}},
         "rules": [{"name": "hi", "when": {"text_matches": ["hello"]},
                    "then": {"action": "answer", "message": "Hello!"}},
                   {"name": "rest", "then": {"action": "clarify", "ask": "What?"}}]}
    )  # fmt: skip
    router = RuleRouter(rules)
    assert router.decide(_facts(text="hello", answerability=NO)).rule == "hi"
    assert router.decide(_facts(text="x", answerability=NO)).action is Action.CLARIFY


def test_unanswerable_section_changes_or_switches_off_the_default() -> None:
    base = OWNED.model_dump(by_alias=True)
    changed = RulesConfig.model_validate(
        {**base, "unanswerable": {"team": "support", "priority": "high",
                                  "message": "Not in my notes: {team} will write ({reference})."}}
    )  # fmt: skip
    route = RuleRouter(changed).decide(_facts(intent=BILLING, answerability=NO))
    assert (route.team, route.priority) == ("support", Urgency.HIGH)
    assert route.ask == "Not in my notes: {team} will write ({reference})."
    off = RulesConfig.model_validate({**base, "unanswerable": {"action": "answer"}})
    assert RuleRouter(off).decide(_facts(intent=BILLING, answerability=NO)).action is (
        Action.ANSWER
    )


def test_answer_then_handoff_also_abstains() -> None:
    rules = _rules({})
    rules.rules[0].then = rules.rules[0].then.model_copy(
        update={"action": Action.ANSWER_THEN_HANDOFF}
    )
    route = RuleRouter(rules).decide(_facts(answerability=NO))
    assert (route.action, route.team, route.rule) == (Action.HANDOFF, "billing", UNANSWERABLE_RULE)
    assert RuleRouter(rules).decide(_facts(answerability=YES)).action is (
        Action.ANSWER_THEN_HANDOFF
    )


# -- templates --------------------------------------------------------------------------------


def test_templates_keep_the_reference_and_the_reply_time() -> None:
    values = {"team": "network team", "reference": "AB12CD34", "when": "within 15 minutes"}
    assert render_template("Our {team} will call ({reference}), {when}.", values) == (
        "Our network team will call (AB12CD34), within 15 minutes."
    )
    assert render_template("A person will take this over.", values) == (
        "A person will take this over. Your reference is AB12CD34. A member of the team will "
        "reply here within 15 minutes."
    )


# -- repeat_contact ---------------------------------------------------------------------------

CONFIG = EscalationConfig(repeat_contact_days=7)


def _repeat(text: str = "hello", intent: IntentPrediction | None = BILLING,
            earlier: list[PriorContact] | None = None) -> str | None:  # fmt: skip
    fired = detect_triggers(CONFIG, text=text, intent=intent, sentiment=0.0, history=[],
                            earlier_contacts=earlier or [], now=NOW)  # fmt: skip
    return fired.get(Trigger.REPEAT_CONTACT)


@pytest.mark.parametrize(
    "text",
    ["This is the third time I'm writing", "I already contacted you about it",
     "it's STILL not fixed", "I've called you several times"],
)  # fmt: skip
def test_repeat_contact_from_what_the_customer_says(text: str) -> None:
    reason = _repeat(text)
    assert reason is not None
    assert reason.startswith("the customer says they have been in touch before")


def test_repeat_contact_ignores_ordinary_words() -> None:
    assert _repeat("thanks again, and can I try again later?") is None


def test_repeat_contact_from_an_earlier_conversation_within_the_window() -> None:
    two_days = PriorContact(
        conversation_id="c1", intent="billing", confidence=0.9, at=NOW - timedelta(days=2)
    )
    assert _repeat(earlier=[two_days]) == (
        "the customer asked about billing in an earlier conversation 2 days ago (within 7 days)"
    )
    old = PriorContact(
        conversation_id="c2", intent="billing", confidence=0.9, at=NOW - timedelta(days=9)
    )
    other = PriorContact(
        conversation_id="c3", intent="outage", confidence=0.9, at=NOW - timedelta(days=1)
    )
    unsure = PriorContact(
        conversation_id="c4", intent="billing", confidence=0.1, at=NOW - timedelta(days=1)
    )
    assert _repeat(earlier=[old, other, unsure]) is None
    assert _repeat(intent=IntentPrediction(name="billing", confidence=0.1),
                   earlier=[two_days]) is None  # fmt: skip


def test_repeat_contact_can_need_several_earlier_conversations() -> None:
    third_time = CONFIG.model_copy(update={"repeat_contact_conversations": 2})

    def repeat(earlier: list[PriorContact]) -> str | None:
        return detect_triggers(third_time, text="hello", intent=BILLING, sentiment=0.0,
                               history=[], earlier_contacts=earlier, now=NOW,
                               ).get(Trigger.REPEAT_CONTACT)  # fmt: skip

    def turn(conversation: str, days: int) -> PriorContact:
        return PriorContact(intent="billing", confidence=0.9, at=NOW - timedelta(days=days),
                            conversation_id=conversation)  # fmt: skip

    # Two turns of one earlier conversation are one contact, not two.
    assert repeat([turn("a", 1), turn("a", 3)]) is None
    assert repeat([turn("a", 1), turn("a", 3), turn("b", 5)]) == (
        "the customer asked about billing in 2 earlier conversations, the last 24 hour(s) ago"
        " (within 7 days)"
    )
    assert repeat([turn("a", 1), turn("b", 9)]) is None  # the second is outside the window


# -- a team's own hours -----------------------------------------------------------------------


def test_a_team_with_its_own_hours_table() -> None:
    from frontdesk.policy.hours import next_opening, team_available, team_hours

    rules = RulesConfig.model_validate(
        {
            "business_hours": {"timezone": "Europe/London", "open": "09:00", "close": "17:00"},
            "teams": {
                "night": {"hours": {"timezone": "America/New_York", "days": ["mon"],
                                    "open": "01:00", "close": "06:00"}},
                "office": {"hours": "business"},
                "always": {"hours": "always"},
            },
            "rules": [{"name": "x", "then": {"action": "answer"}}],
        }
    )  # fmt: skip
    # Monday 10:00 UTC is 05:00 in New York (night open) and 10:00 in London (office open).
    assert team_available(rules, "night", NOW)
    assert team_available(rules, "office", NOW)
    later = NOW + timedelta(hours=2)  # 07:00 in New York: night closed, office open
    assert not team_available(rules, "night", later)
    assert team_available(rules, "office", later)
    assert team_hours(rules, "always") is None
    night = team_hours(rules, "night")
    assert night is not None
    opening = next_opening(night, later)
    assert (opening.weekday(), opening.hour, str(opening.tzinfo)) == (0, 1, "America/New_York")
    assert RuleRouter(rules).explain(_facts(now=later)).facts["teams_available"] == {
        "night": False, "office": True, "always": True
    }  # fmt: skip
