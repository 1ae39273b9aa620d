"""forms.yml: Rasa-style forms, slots and responses; a mistake stops start-up with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.errors import ConfigError

GOOD = """\
version: "3.1"
forms:
  parcel_form:
    required_slots: [order_id]
    max_attempts: 3
    team: support
slots:
  order_id:
    type: text
    mappings:
      - type: from_entity
        entity: order_id
    validation:
      regex: '^KP-\\d{8}$'
responses:
  utter_ask_order_id:
    - text: "What is the order number?"
"""


def _workspace(tmp_path: Path, forms: str) -> Path:
    (tmp_path / "frontdesk.yaml").write_text("tenant: default\n")
    (tmp_path / "forms.yml").write_text(forms)
    return tmp_path


def test_the_demo_forms_load() -> None:
    from frontdesk.config.workspace import Workspace, load_forms

    demo = Path(__file__).parents[2] / "src/frontdesk/demo/workspace"
    forms = load_forms(Workspace.at(demo))
    assert set(forms.forms) >= {"parcel_form", "refund_form"}
    assert forms.forms["refund_form"].required_slots == ["order_id", "amount"]
    assert "order number" in forms.ask("parcel_form", "order_id")


def test_a_good_file_loads(tmp_path: Path) -> None:
    from frontdesk.config.workspace import Workspace, load_forms

    forms = load_forms(Workspace.at(_workspace(tmp_path, GOOD)))
    assert forms.forms["parcel_form"].max_attempts == 3
    assert forms.ask("parcel_form", "order_id") == "What is the order number?"


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("[order_id]", "[order_id, amount]"), 4, "slot 'amount'"),
        (("type: from_entity", "type: from_nowhere"), 11, "from_nowhere"),
        (("'^KP-\\d{8}$'", "'^KP-(\\d{8}$'"), 14, "regex"),
        (("max_attempts: 3", "max_attempts: 0"), 5, "max_attempts"),
    ],
)
def test_mistakes_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], line: int, words: str
) -> None:
    from frontdesk.config.workspace import Workspace, load_forms

    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as error:
        load_forms(Workspace.at(_workspace(tmp_path, text)))
    assert f"forms.yml:{line}" in str(error.value)
    assert words in str(error.value)


def test_a_slot_without_a_question_is_an_error(tmp_path: Path) -> None:
    from frontdesk.config.workspace import Workspace, load_forms

    text = GOOD.replace('  utter_ask_order_id:\n    - text: "What is the order number?"\n', "")
    with pytest.raises(ConfigError, match="utter_ask_order_id"):
        load_forms(Workspace.at(_workspace(tmp_path, text)))


def test_a_rule_naming_an_unknown_form_is_an_error(tmp_path: Path) -> None:
    from frontdesk.config.rules import RulesConfig
    from frontdesk.config.workspace import Workspace, load_forms
    from frontdesk.policy.validation import check_rules

    forms = load_forms(Workspace.at(_workspace(tmp_path, GOOD)))
    rules = RulesConfig.model_validate(
        {
            "teams": {"support": {}},
            "rules": [
                {"name": "r", "then": {"action": "tool", "tool": "t", "form": "nope_form"}},
            ],
            "source": "rules.yaml",
        }
    )
    with pytest.raises(ConfigError, match="unknown form 'nope_form'"):
        check_rules(rules, intents=[], forms=forms.forms)


def test_names_the_workspace_must_know(tmp_path: Path) -> None:
    from frontdesk.config.forms import check_form_names
    from frontdesk.config.workspace import Workspace, load_forms

    text = (
        GOOD.replace("entity: order_id", "entity: order_number")
        .replace("team: support", "team: nobody")
        .replace("      regex:", "      tool: look_it_up\n      regex:")
    )
    forms = load_forms(Workspace.at(_workspace(tmp_path, text)))
    problems = check_form_names(
        forms, tools=["parcel_status"], entities=["order_id"], teams=["support"]
    )
    assert len(problems) == 3
    assert all("forms.yml:" in p for p in problems)
    assert any("unknown entity type 'order_number'" in p for p in problems)
    assert any("unknown tool 'look_it_up'" in p for p in problems)
    assert any("unknown team 'nobody'" in p for p in problems)
