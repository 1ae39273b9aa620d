"""Rules over the customer profile (`known_customer`, `profile: {contacts_at_least...}`) and
the languages a workspace answers (`languages:`): the others are handed off with a reply in
the customer's language from the template table, which rules.yaml can override; mistakes
name their rules.yaml line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from frontdesk.config.rules import RulesConfig
from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.errors import ConfigError
from frontdesk.types import Action, IntentPrediction, Urgency

TRACK = IntentPrediction(name="track_parcel", confidence=0.9, ranking=[("track_parcel", 0.9)])
SHIPPED = ("es", "de", "fr", "it", "pt", "nl")


def _rules(when: dict[str, Any] | None = None, **extra: Any) -> RulesConfig:
    rules: list[dict[str, Any]] = [
        {"name": "humans", "when": {"trigger": ["human_requested"]},
         "then": {"action": "handoff", "team": "support"}},
        {"name": "default", "then": {"action": "answer", "team": "support"}},
    ]  # fmt: skip
    if when is not None:
        rules.insert(0, {"name": "target", "when": when,
                         "then": {"action": "handoff", "team": "billing"}})  # fmt: skip
    return RulesConfig.model_validate(
        {"teams": {"billing": {}, "support": {}, "review": {}}, "rules": rules, **extra}
    )


def _facts(**values: Any) -> Any:
    from frontdesk.policy.rules_router import Facts

    return Facts(intent=TRACK, urgency=Urgency.NORMAL, channel="api", **values)


def test_known_customer_and_contacts_at_least() -> None:
    from frontdesk.policy.rules_router import CustomerFacts, RuleRouter

    known = RuleRouter(_rules({"known_customer": True}))
    regular = CustomerFacts(contacts=3, known=True, named=True, facts=frozenset({"order_id"}))
    new = CustomerFacts(contacts=1, known=False, named=False, facts=frozenset())
    assert known.decide(_facts(customer=regular)).rule == "target"
    assert known.decide(_facts(customer=new)).rule == "default"
    assert known.decide(_facts()).rule == "default"  # no customer_ref: not known
    third = RuleRouter(_rules({"profile": {"contacts_at_least": 3}}))
    route = third.decide(_facts(customer=regular))
    assert route.rule == "target"
    assert "3 contacts" in route.reason
    assert third.decide(_facts(customer=CustomerFacts(2, True, False, frozenset()))).rule == (
        "default"
    )
    named = RuleRouter(_rules({"profile": {"has_name": True, "has_fact": ["order_id"]}}))
    assert named.decide(_facts(customer=regular)).rule == "target"
    assert named.decide(_facts(customer=new)).rule == "default"


def test_a_language_not_answered_is_handed_off_in_that_language() -> None:
    from frontdesk.policy.rules_router import RuleRouter

    router = RuleRouter(_rules(languages={"answered": ["en"], "team": "review"}))
    spanish = router.decide(_facts(language="es"))
    assert spanish.action is Action.HANDOFF
    assert spanish.team == "review"
    assert spanish.rule.startswith("built-in: language")
    assert spanish.ask is not None
    assert "equipo" in spanish.ask
    assert "{reference}" in spanish.ask
    assert router.decide(_facts(language="en")).action is Action.ANSWER
    assert router.decide(_facts(language=None)).action is Action.ANSWER  # unknown: answered
    # A rule that hands off keeps its team; the customer reads it in their language.
    from frontdesk.config.rules import Trigger

    human = router.decide(_facts(language="de", triggers={Trigger.HUMAN_REQUESTED: "asked"}))
    assert human.team == "support"
    assert human.ask is not None
    assert "Team" in human.ask
    custom = RuleRouter(_rules(languages={
        "answered": ["en"], "replies": {"es": {"handoff": "Hola: {team}, {reference}, {when}."}},
    }))  # fmt: skip
    assert custom.decide(_facts(language="es")).ask == "Hola: {team}, {reference}, {when}."
    assert custom.decide(_facts(language="es")).team == "review"  # default: a review team


def test_the_template_table_ships_six_languages() -> None:
    from frontdesk.config.reply_languages import REPLIES, localise_when

    for code in SHIPPED:
        for kind in ("handoff", "unanswerable", "no_answer"):
            assert REPLIES[code][kind], (code, kind)
        for kind in ("handoff", "unanswerable"):
            assert "{reference}" in REPLIES[code][kind]
            assert "{when}" in REPLIES[code][kind]
    assert localise_when("within 4 hours", "es") == "en 4 horas"
    assert localise_when("within 30 minutes", "de") == "innerhalb von 30 Minuten"
    assert "lunes" in localise_when("when the team is back (Monday 08:00 Europe/London)", "es")
    assert localise_when("within 4 hours", "en") == "within 4 hours"


def _workspace(tmp_path: Path, text: str) -> Workspace:
    (tmp_path / "frontdesk.yaml").write_text("tenant: default\n")
    (tmp_path / "rules.yaml").write_text(text)
    return Workspace.at(tmp_path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_rules(_workspace(tmp_path, text))
    return info.value.message


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


FILE = """\
teams:
  support: {}
  review: {}
languages:
  answered: [en]
  team: review
  replies:
    es: {handoff: "Le pasamos con {team}. Referencia {reference}; respuesta {when}."}
rules:
  - name: regulars
    when: {known_customer: true, profile: {contacts_at_least: 3}}
    then: {action: handoff, team: support}
  - name: rest
    then: {action: answer}
"""


def test_the_file_loads_and_its_mistakes_name_their_line(tmp_path: Path) -> None:
    rules = load_rules(_workspace(tmp_path, FILE))
    assert rules.languages.answered == ["en"]
    text = FILE.replace("contacts_at_least: 3", "visits: 3")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'visits')}:" in message
    assert "visits" in message
    text = FILE.replace("contacts_at_least: 3", "contacts_at_least: 0")
    assert f"rules.yaml:{_line(text, 'contacts_at_least: 0')}:" in _error(tmp_path, text)
    text = FILE.replace("  team: review", "  team: nobody")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'team: nobody')}:" in message
    assert "nobody" in message
    text = FILE.replace("{reference}; respuesta {when}", "{referencia}")
    assert f"rules.yaml:{_line(text, '{referencia}')}:" in _error(tmp_path, text)


def test_facts_and_answered_languages_are_checked_against_the_workspace(tmp_path: Path) -> None:
    from frontdesk.policy.validation import check_rules

    text = FILE.replace("contacts_at_least: 3", "has_fact: [ordr_id]")
    rules = load_rules(_workspace(tmp_path, text))
    with pytest.raises(ConfigError) as info:
        check_rules(rules, intents=[], entities=["order_id"], languages=["en", "es"])
    assert f"rules.yaml:{_line(text, 'ordr_id')}:" in info.value.message
    assert "unknown entity type 'ordr_id'" in info.value.message
    text = FILE.replace("answered: [en]", "answered: [en, xx]")
    rules = load_rules(_workspace(tmp_path, text))
    with pytest.raises(ConfigError) as info:
        check_rules(rules, intents=[], entities=["order_id"], languages=["en", "es"])
    assert f"rules.yaml:{_line(text, 'answered: [en, xx]')}:" in info.value.message
    assert "languages.answered: unknown language 'xx'" in info.value.message
