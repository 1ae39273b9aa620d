"""rules.yaml is validated at load: unknown fields, teams, intents, entities and tools are
errors that name the file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.errors import ConfigError
from frontdesk.policy.validation import check_rules

DEMO = Path(__file__).resolve().parents[2] / "src" / "frontdesk" / "demo" / "workspace"

HEAD = """\
teams:
  support: {sla_minutes: 60}
  billing: {}
escalation:
  sensitive_intents: [refund]
rules:
  - name: first
    when: {intent: [refund]}
    then: {action: answer}
"""


def _load(tmp_path: Path, text: str) -> Workspace:
    (tmp_path / "frontdesk.yaml").write_text("tenant: default\n")
    (tmp_path / "rules.yaml").write_text(text)
    return Workspace.at(tmp_path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_rules(_load(tmp_path, text))
    return info.value.message


def test_the_demo_rules_load_and_pass_the_checks() -> None:
    rules = load_rules(Workspace.at(DEMO))
    assert rules.rules[-1].name == "everything else"
    assert rules.teams["priority"].hours == "always"
    assert rules.rules[0].line > 1


def test_unknown_condition_field_names_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, HEAD + "  - name: typo\n    when: {intnet: [refund]}\n"
                     "    then: {action: answer}\n")  # fmt: skip
    assert "rules.yaml:11" in message
    assert "intnet" in message
    assert "unknown field" in message


def test_unknown_team_names_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, HEAD + "  - name: to nowhere\n    then: {action: handoff, "
                     "team: sales}\n")  # fmt: skip
    assert "rules.yaml:11" in message
    assert "unknown team 'sales'" in message
    assert "billing, support" in message


def test_unknown_team_in_team_available(tmp_path: Path) -> None:
    message = _error(tmp_path, HEAD + "  - name: avail\n    when:\n      team_available: "
                     "{sales: false}\n    then: {action: answer}\n")  # fmt: skip
    assert "rules.yaml:12" in message
    assert "unknown team 'sales' in team_available" in message


@pytest.mark.parametrize(
    ("then", "expected"),
    [("{action: tool}", "a tool action needs 'tool'"),
     ("{action: clarify}", "needs 'ask'"),
     ("{action: answer, tool: x}", "only for action: tool"),
     ("{action: handoff}", "a handoff needs a team")],
)  # fmt: skip
def test_actions_need_their_arguments(tmp_path: Path, then: str, expected: str) -> None:
    message = _error(tmp_path, HEAD + f"  - name: bad\n    then: {then}\n")
    assert expected in message
    assert "rules.yaml:11" in message


def test_bad_business_hours(tmp_path: Path) -> None:
    message = _error(tmp_path, HEAD + "business_hours: {timezone: Mars/Olympus}\n")
    assert "unknown time zone" in message
    message = _error(tmp_path, HEAD + "business_hours: {open: '18:00', close: '08:00'}\n")
    assert "'open' must be before 'close'" in message


def test_unknown_intent_entity_and_tool_name_their_lines(tmp_path: Path) -> None:
    text = HEAD + (
        "  - name: second\n"
        "    when:\n"
        "      intent: [refund]\n"
        "      has_entity: [ordre_id]\n"
        "    then: {action: tool, tool: parcel_stats}\n"
    )
    rules = load_rules(_load(tmp_path, text))
    with pytest.raises(ConfigError) as info:
        check_rules(rules, intents=["greet"], entities=["order_id"], tools=["parcel_status"])
    lines = info.value.message.splitlines()
    source = str(tmp_path / "rules.yaml")
    assert f"{source}:8: rules[0] (first): unknown intent 'refund'; expected one of: greet" in lines
    assert any(line.startswith(f"{source}:13:") and "'ordre_id'" in line for line in lines)
    assert any(line.startswith(f"{source}:14:") and "unknown tool 'parcel_stats'" in line
               for line in lines)  # fmt: skip
    assert any(line.startswith(f"{source}:5:") and "sensitive_intents" in line for line in lines)


def test_demo_workspace_with_a_misspelt_intent_fails_to_start(tmp_path: Path) -> None:
    import asyncio

    from frontdesk.orchestration.runtime import open_runtime

    root = tmp_path / "ws"
    shutil.copytree(DEMO, root)
    rules = root / "rules.yaml"
    rules.write_text(rules.read_text().replace("intent: [greet]", "intent: [gret]"))
    with pytest.raises(ConfigError, match=r"rules\.yaml:\d+: rules\[0\] \(small talk\): unknown "
                       r"intent 'gret'"):  # fmt: skip
        asyncio.run(open_runtime(root, sync=False))
