"""rules.yaml with the whole rule language: it loads, and every mistake, however deep in a
condition, stops start-up with rules.yaml:LINE and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.errors import ConfigError
from frontdesk.policy.validation import check_rules
from frontdesk.types import Action, Urgency

FULL = """\
teams:
  network_ops:
    display_name: Network team
    intents: [outage]
    sla_minutes: 120
    sla: {critical: 15, high: 60}
    hours: {days: [mon, tue, wed, thu, fri, sat, sun], open: "07:00", close: "23:00",
            timezone: Europe/Berlin}
    handoff_message: "Our {team} has your case ({reference}) and will reply {when}."
  billing: {hours: always}
  support: {}
default_team: support
handoff_message: "Passing you to our {team} team. Reference {reference}, reply {when}."
unanswerable: {team: owner, message: "I don't have that information; {team} will follow up."}
urgency_cues: {critical: ["no dial tone"], high: ["re:\\\\bwon'?t connect\\\\b"]}
language_detection: {languages: [en, es, de], min_words: 4, min_confidence: 0.8}
escalation:
  repeat_contact_days: 14
  repeat_contact_phrases: [again, "re:\\\\bnth time\\\\b"]
rules:
  - name: legal threats
    when:
      any:
        - text_matches: [solicitor, "re:legal action|small claims"]
        - all:
            - intent: [billing]
            - not: {language: en}
    then: {action: handoff, team: billing, priority: high}
  - name: unsure between two
    when: {intent_margin_below: 0.1, not_language: [en]}
    then: {action: answer_then_handoff, team: owner, message: "Someone from {team} will check."}
  - name: cannot answer
    when: {answerable: false}
    then: {action: handoff, team: owner}
  - name: rest
    then: {action: answer}
"""


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


def test_the_whole_language_loads(tmp_path: Path) -> None:
    rules = load_rules(_workspace(tmp_path, FULL))
    network = rules.teams["network_ops"]
    assert network.sla_for(Urgency.CRITICAL) == 15
    assert network.sla_for(Urgency.NORMAL) == 120  # sla_minutes for priorities sla leaves out
    assert rules.team_name("network_ops") == "Network team"
    assert rules.team_name("billing") == "billing"
    assert rules.rules[1].then.action is Action.ANSWER_THEN_HANDOFF
    legal = rules.rules[0]
    assert legal.when.any_ is not None
    assert legal.field_lines["when.any.1.all.1.not.language"] == _line(FULL, "not: {language")
    check_rules(rules, intents=["outage", "billing"], languages=["en", "es", "de"])


def test_a_typo_inside_a_nested_any_names_its_line_and_the_expected_keys(tmp_path: Path) -> None:
    text = FULL.replace("            - intent: [billing]", "            - intnet: [billing]")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'intnet')}:" in message
    assert "rules.0.when.any.1.all.0.intnet: unknown field 'intnet'" in message
    assert "expected one of: all, answerability_below, answerable, any, business_hours" in message
    assert "not, not_intent, not_language, out_of_scope" in message


def test_a_bad_regex_names_the_line_of_the_phrase(tmp_path: Path) -> None:
    text = FULL.replace('"re:legal action|small claims"', '"re:legal (action"')
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'legal (action')}:" in message
    assert "rules.0.when.any.0.text_matches.1" in message
    assert "is not a valid regular expression" in message


def test_a_bad_value_under_not(tmp_path: Path) -> None:
    text = FULL.replace("not: {language: en}", "not: {language: english}")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'english')}:" in message
    assert "rules.0.when.any.1.all.1.not.language.0" in message


def test_an_empty_any_is_an_error(tmp_path: Path) -> None:
    text = FULL.replace("    when: {answerable: false}", "    when: {any: []}")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'any: []')}:" in message
    assert "at least 1 item" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("has your case ({reference})", "has your case ({ticket})",
         "unknown placeholder {ticket}; a message template may use {team}, {reference}, {when}"),
        ('message: "Someone from {team} will check."', 'message: "Someone from {team will"',
         "write {{ and }} for a literal brace"),
        ("then: {action: handoff, team: owner}", "then: {action: answer_then_handoff}",
         "answer_then_handoff needs a team"),
        ("then: {action: handoff, team: owner}",
         "then: {action: handoff, team: owner, ask: 'Hello {name}'}", "unknown placeholder {name}"),
    ],
)  # fmt: skip
def test_bad_templates_and_actions(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = FULL.replace(old, new)
    assert text != FULL
    message = _error(tmp_path, text)
    assert expected in message
    assert "rules.yaml:" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("default_team: support", "default_team: suport", "default_team: unknown team 'suport'"),
        ("unanswerable: {team: owner", "unanswerable: {team: sales",
         "unanswerable.team: unknown team 'sales'; expected one of: billing, network_ops, "
         "support, or owner"),
        ("then: {action: handoff, team: billing, priority: high}",
         "then: {action: handoff, team: bililng, priority: high}",
         "rules[0] (legal threats): unknown team 'bililng'"),
        ("  support: {}", "  support: {intents: [outage]}",
         "intent 'outage' is owned by team network_ops already"),
        ("  support: {}", "  owner: {}", "'owner' is reserved"),
    ],
)  # fmt: skip
def test_team_names_are_checked_with_lines(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = FULL.replace(old, new)
    message = _error(tmp_path, text)
    assert expected in message
    assert f"rules.yaml:{_line(text, new.strip().split(':')[0])}:" in message


def test_team_available_inside_a_nested_condition_is_checked(tmp_path: Path) -> None:
    text = FULL.replace("- not: {language: en}", "- not: {team_available: {sales: true}}")
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'sales: true')}:" in message
    assert "unknown team 'sales' in team_available" in message


def test_a_teams_own_hours_table_is_checked(tmp_path: Path) -> None:
    text = FULL.replace('open: "07:00"', 'opens: "07:00"')
    message = _error(tmp_path, text)
    assert f"rules.yaml:{_line(text, 'opens')}:" in message
    assert "teams.network_ops.hours.opens: unknown field 'opens'; expected one of: close, days" in (
        message
    )


def test_unknown_intents_and_languages_in_nested_conditions(tmp_path: Path) -> None:
    rules = load_rules(_workspace(tmp_path, FULL))
    with pytest.raises(ConfigError) as info:
        check_rules(rules, intents=["outage"], languages=["en", "es"])
    lines = info.value.message.splitlines()
    source = str(tmp_path / "rules.yaml")
    assert (
        f"{source}:{_line(FULL, '- intent: [billing]')}: rules[0] (legal threats): unknown "
        "intent 'billing'; expected one of: outage"
    ) in lines
    assert any(line.startswith(f"{source}:{_line(FULL, 'language_detection')}:")
               and "unknown language 'de'" in line for line in lines)  # fmt: skip
    with pytest.raises(ConfigError, match=r"teams\.network_ops\.intents: unknown intent 'outage'"):
        check_rules(rules, intents=["billing"])
