from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config.workspace import Workspace, load_rules, load_settings
from frontdesk.errors import ConfigError


def test_demo_workspace_loads(workspace: Path) -> None:
    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    assert settings.assistant.company == "Kestrel Parcel"
    rules = load_rules(ws)
    assert {"priority", "billing", "support", "review"} <= set(rules.teams)
    assert rules.rules[-1].when.intent is None  # a catch-all closes the table
    assert all(rule.line > 0 for rule in rules.rules)


def test_environment_overrides_the_file(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_SERVER__PORT", "9123")
    monkeypatch.setenv("FRONTDESK_ASSISTANT__NAME", "Envbot")
    settings = load_settings(Workspace.at(workspace))
    assert settings.server.port == 9123
    assert settings.assistant.name == "Envbot"
    assert settings.assistant.company == "Kestrel Parcel"  # the rest still from the file


def test_bad_value_names_file_line_field_and_expectation(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    config.write_text(config.read_text().replace("port: 8000", "port: eighty"))
    with pytest.raises(ConfigError) as caught:
        load_settings(Workspace.at(workspace))
    message = caught.value.message
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if "eighty" in text)
    assert f"{config}:{line}" in message
    assert "server.port" in message
    assert "integer" in message


def test_unknown_setting_is_an_error(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    config.write_text(config.read_text() + "\ntypo_setting: 1\n")
    with pytest.raises(ConfigError, match=r"typo_setting: unknown field"):
        load_settings(Workspace.at(workspace))


def test_bad_environment_value_names_the_variable(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_SERVER__PORT", "99999")
    with pytest.raises(ConfigError, match="environment variable FRONTDESK_SERVER__PORT"):
        load_settings(Workspace.at(workspace))


def test_invalid_yaml_reports_the_line(workspace: Path) -> None:
    (workspace / "frontdesk.yaml").write_text("tenant: default\nserver: [unclosed\n")
    with pytest.raises(ConfigError, match=r"frontdesk.yaml:\d+: invalid YAML"):
        load_settings(Workspace.at(workspace))


def test_rule_with_unknown_team(workspace: Path) -> None:
    rules = workspace / "rules.yaml"
    rules.write_text(rules.read_text().replace("team: billing}", "team: bilin}", 1))
    with pytest.raises(ConfigError) as caught:
        load_rules(Workspace.at(workspace))
    assert "unknown team 'bilin'" in caught.value.message
    assert f"{rules}:" in caught.value.message


def test_rule_missing_required_part(workspace: Path) -> None:
    (workspace / "rules.yaml").write_text(
        "teams: {support: {}}\nrules:\n  - name: x\n    then: {action: handoff}\n"
    )
    with pytest.raises(ConfigError, match=r"rules.yaml:4: rules.0.then: Value error, a handoff"):
        load_rules(Workspace.at(workspace))


def test_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workspace directory not found"):
        Workspace.at(tmp_path / "nope")
    with pytest.raises(ConfigError, match="not a frontdesk workspace") as plain:
        Workspace.at(tmp_path)
    assert "name one with `-w DIR` or FRONTDESK_WORKSPACE=DIR" in str(plain.value)


def test_a_workspace_just_below_is_named(tmp_path: Path) -> None:
    """`make run` creates ./workspace: from the repository root the hint names it."""
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "frontdesk.yaml").write_text("{}\n")
    with pytest.raises(ConfigError, match="not a frontdesk workspace") as below:
        Workspace.at(tmp_path)
    assert "workspace/ below it is one: add `-w workspace` to the command" in str(below.value)
    assert f"FRONTDESK_WORKSPACE={tmp_path / 'workspace'}" in str(below.value)
