"""Golden conversations (`frontdesk test conversations`): the format, the scoring of a turn,
the regression gate, JUnit XML, and the demo's conversations against their committed baseline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.embedding.cache import CachingEmbedder
from frontdesk.errors import ConfigError
from frontdesk.evaluation.golden_conversations import (
    ConversationReport,
    ConversationResult,
    Expectation,
    GoldenTurn,
    TurnResult,
    baseline_metrics,
    compare,
    entities_agree,
    junit_xml,
    load_golden_conversations,
    same_value,
    score_turn,
)
from frontdesk.orchestration import runtime as runtime_module
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import Action, Citation, Entity, Reply, Route

runner = CliRunner()
DEMO = Path(__file__).parents[2] / "src" / "frontdesk" / "demo" / "workspace"
BASELINE = DEMO / "golden" / "conversations-baseline.json"
# A weekday morning: hand-off messages and team hours do not depend on when the test runs.
AT = "2026-03-04T10:00:00"


def write(tmp_path: Path, text: str, name: str = "c.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


ONE = """\
version: "3.1"
stories:
  - story: refund
    steps:
      - user: |
          I'd like a refund
        intent: request_refund
        expect:
          action: clarify
          requested_slot: order_id
          task: request_refund
      - user: |
          [KP-55120934](order_id)
        expect:
          slots: {order_id: KP-55120934, amount: 6.95}
          completes: refund_form
"""


def test_the_format_reads_expectations_and_annotated_entities(tmp_path: Path) -> None:
    [conversation] = load_golden_conversations(write(tmp_path, ONE))
    first, second = conversation.turns
    assert conversation.name == "refund"
    assert conversation.where.endswith("c.yml:3")
    assert first.text == "I'd like a refund"
    assert first.intent == "request_refund"
    assert first.expect.action is Action.CLARIFY
    assert first.line == 6
    assert first.expect.given("requested_slot")
    assert not first.expect.given("team")
    assert second.intent is None
    assert second.entities == (("order_id", "KP-55120934", None),)
    assert second.expect.slots == {"order_id": "KP-55120934", "amount": "6.95"}
    assert not second.expect.given("requested_slot")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("        expect: {action: reply}\n", r"c\.yml:7: expect\.action: Input should be"),
        ("        expect: {acton: answer}\n", r"c\.yml:7: expect\.acton: Extra inputs"),
        ("        expect: answer\n", r"c\.yml:7: `expect` must be a mapping"),
        ("        action: answer\n", r"c\.yml:7: a user step has action; .* under `expect:`"),
    ],
)
def test_a_wrong_step_is_named_by_file_and_line(tmp_path: Path, step: str, message: str) -> None:
    text = 'version: "3.1"\nstories:\n  - story: s\n    steps:\n      - user: hi\n'
    text += "        intent: greet\n" + step
    with pytest.raises(ConfigError, match=message):
        load_golden_conversations(write(tmp_path, text))


def test_broken_files_and_twice_used_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.yml:3: invalid YAML"):
        load_golden_conversations(write(tmp_path, "stories:\n  - story: a\n  steps: [\n"))
    twice = "stories:\n" + "  - story: a\n    steps:\n      - user: hi\n" * 2
    with pytest.raises(ConfigError, match=r"c\.yml:5: conversation 'a' is also at .*c\.yml:2"):
        load_golden_conversations(write(tmp_path, twice))


def test_rasa_test_stories_become_expectations(tmp_path: Path) -> None:
    """An imported Rasa story: slot_was_set, utter_ask_<slot> and a fixed reply are checked;
    a step with an intent but no text cannot be sent and is counted as skipped."""
    text = """\
stories:
  - story: greet and refund
    steps:
      - intent: greet
        user: hello
      - action: utter_greet
      - intent: request_refund
        user: refund [KP-20481736](order_id) please
      - slot_was_set:
          - order_id: KP-20481736
      - action: utter_ask_amount
      - action: utter_ask_handoff
      - intent: affirm
      - action: utter_other
"""
    responses = {"utter_greet": "Hello there!", "utter_ask_amount": "How much?"}
    [conversation] = load_golden_conversations(
        write(tmp_path, text), responses=responses, fixed={"Hello there!"}, slots={"amount"}
    )
    greet, refund = conversation.turns
    assert greet.expect.reply == "Hello there!"
    assert refund.expect.slots == {"order_id": "KP-20481736"}
    assert refund.expect.requested_slot == "amount"  # utter_ask_handoff: no such slot
    assert refund.expect.reply is None  # "How much?" is no fixed reply of the rules
    assert conversation.skipped == 1


def test_values_compare_in_any_case_and_amounts_as_numbers() -> None:
    assert same_value("£6.95", "6.95")
    assert same_value("kp-20481736", "KP-20481736")
    assert not same_value("£6.95", "7")
    assert not same_value("KP-1", "KP-2")

    def entity(type_: str, text: str, value: Any) -> Entity:
        return Entity(type=type_, text=text, value=value, start=0, end=1, extractor="x")

    amount = entity("amount", "£6.95", {"amount": 6.95, "currency": "GBP"})
    assert entities_agree([("amount", "£6.95", None)], [amount])
    assert entities_agree([("amount", "6.95", None)], [amount])
    assert not entities_agree([], [amount])  # an entity nobody annotated
    assert not entities_agree([("amount", "£6.95", None), ("order_id", "KP-1", None)], [amount])


def turn(expect: dict[str, Any], *, intent: str | None = None) -> GoldenTurn:
    return GoldenTurn("text", "c.yml", 4, intent, (), Expectation.model_validate(expect))


def reply(action: Action = Action.TOOL, text: str = "Parcel KP-20481736 was delivered.") -> Reply:
    return Reply(
        conversation_id="c",
        turn_id="t",
        text=text,
        intent="lost_parcel",
        route=Route(action=action, rule="r", reason="", tool="parcel_status"),
        citations=[
            Citation(n=1, title="Refund timelines", source="k/refund-timelines.md", chunk_id=1)
        ],
    )


def row(state: dict[str, Any] | None, language: str | None = None) -> TurnRow:
    return TurnRow(dialogue_state=state, language=language,
                   decision={"facts": {"out_of_scope": False}})  # fmt: skip


FORM = {"intent": "lost_parcel", "form": "parcel_form", "slots": {},
        "requested_slot": "order_id", "attempts": 0}  # fmt: skip


def test_a_turn_is_scored_from_its_reply_and_stored_state() -> None:
    done = {"active": None, "paused": [],
            "slots": {"order_id": {"value": "KP-20481736", "turn": "t"}}}  # fmt: skip
    expect = {"action": "tool", "tool": "parcel_status", "facts": ["KP-20481736"],
              "cite": ["Refund timelines"], "slots": {"order_id": "KP-20481736"},
              "task": None, "requested_slot": None, "completes": "parcel_form"}  # fmt: skip
    result = score_turn(turn(expect, intent="lost_parcel"), reply(), row(done), None,
                        {"active": FORM}, set(), 5.0)  # fmt: skip
    assert result.passed, result.problems
    assert set(result.checks) == {"intent", "entities", "action", "tool", "citation", "facts",
                                  "slots", "state", "completes"}  # fmt: skip
    # Not completed when the form was never active, and every difference is said.
    result = score_turn(turn(expect), reply(Action.ANSWER, "no"), row(None), "support",
                        None, set(), 5.0)  # fmt: skip
    assert not result.passed
    assert result.team == "support"
    assert "action answer (rule 'r'), expected tool" in result.problems
    assert "slot order_id=None, expected KP-20481736" in result.problems
    assert any(p.startswith("form parcel_form not completed") for p in result.problems)


def test_slots_are_read_from_the_active_task_first() -> None:
    state = {"active": {**FORM, "intent": "request_refund", "form": "refund_form",
                        "slots": {"order_id": {"value": "KP-1", "turn": "a"}},
                        "requested_slot": "amount"},
             "slots": {"order_id": {"value": "KP-2", "turn": "b"}}}  # fmt: skip
    expect = {"slots": {"order_id": "KP-1"}, "requested_slot": "amount", "task": "request_refund"}
    assert score_turn(turn(expect), reply(), row(state), None, None, set(), 1.0).passed
    wrong = {"requested_slot": None, "language": "es"}
    result = score_turn(turn(wrong), reply(), row(state, "en"), None, None, set(), 1.0)
    assert result.problems == ["language en, expected es", "asks for amount, expected None"]


def report_of(*passes: bool) -> ConversationReport:
    report = ConversationReport()
    for n, ok in enumerate(passes):
        result = TurnResult(where=f"c.yml:{n + 4}", text="hi", reply="hello", intent=None,
                            action="answer", rule="r", team=None, tool=None, cited=[],
                            state=None, language=None, ms=2.0,
                            checks={"action": ok}, problems=[] if ok else ["action x"])  # fmt: skip
        conversation = ConversationResult(f"conversation {n}", f"c.yml:{n + 2}")
        conversation.turns.append(result)
        report.conversations.append(conversation)
    return report


def test_the_gate_fails_on_a_drop_of_more_than_five_percent(tmp_path: Path) -> None:
    summary = report_of(True, True, True, False).summary()  # action_accuracy 0.75
    assert summary["action_accuracy"] == 0.75
    assert summary["slot_accuracy"] is None
    assert not any(c.dropped for c in compare(summary, {"action_accuracy": 0.78}))  # -3.8%
    [change] = compare(summary, {"action_accuracy": 0.80})  # -6.25%
    assert change.dropped
    # A metric no turn checks any more is not a drop; the baseline may be --output's JSON.
    assert not compare(summary, {"slot_accuracy": 0.5})[0].dropped
    path = write(tmp_path, json.dumps({"summary": summary, "conversations": []}), "b.json")
    assert baseline_metrics(path)["action_accuracy"] == 0.75
    with pytest.raises(ConfigError, match=r"b\.json:2: not JSON"):
        baseline_metrics(write(tmp_path, "{\n,}", "b.json"))
    with pytest.raises(ConfigError, match="no metrics in it"):
        baseline_metrics(write(tmp_path, '{"turns": 3}', "b.json"))
    with pytest.raises(ConfigError, match="baseline not found"):
        baseline_metrics(tmp_path / "missing.json")


def test_junit_has_one_testcase_per_conversation_and_says_which_turn_failed() -> None:
    root = ET.fromstring(junit_xml(report_of(True, False)))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["conversation 0", "conversation 1"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "turn 1 (c.yml:5): action x"
    assert cases[1].get("file") == "c.yml"
    assert cases[1].get("line") == "3"


def test_bad_files_stop_the_command_before_the_run(tmp_path: Path) -> None:
    bad = write(tmp_path, ONE.replace("action: clarify", "action: ask"))
    result = runner.invoke(app, ["test", "conversations", "-w", str(DEMO), "--stories", str(bad)])
    assert result.exit_code == 1
    assert "c.yml:9: expect.action" in result.output
    result = runner.invoke(app, ["test", "conversations", "-w", str(DEMO), "--stories",
                                 str(write(tmp_path, ONE)), "--baseline",
                                 str(tmp_path / "none.json")])  # fmt: skip
    assert result.exit_code == 1
    assert "baseline not found" in result.output
    result = runner.invoke(
        app, ["test", "conversations", "-w", str(DEMO), "--stories", str(tmp_path / "nope")]
    )
    assert result.exit_code == 1
    assert "no golden conversations" in result.output


def test_the_demo_conversations_hold_their_baseline(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: CachingEmbedder
) -> None:
    """`make test` runs the demo's golden conversations through the whole assistant and fails
    when a metric falls more than 5% below golden/conversations-baseline.json."""
    # The session's embedder has the demo's chunks cached: the scratch copy's fresh database
    # indexes them without embedding them again (the command is otherwise what a user runs).
    monkeypatch.setattr(runtime_module, "load_embedder", lambda *_: (embedder, "ok"))
    junit, output = tmp_path / "junit.xml", tmp_path / "out.json"
    began = time.perf_counter()
    result = runner.invoke(
        app,
        ["test", "conversations", "-w", str(workspace), "--at", AT, "--baseline", str(BASELINE),
         "--junit", str(junit), "--output", str(output)],
    )  # fmt: skip
    seconds = time.perf_counter() - began
    assert result.exit_code == 0, result.output
    assert "REGRESSION" not in result.output
    summary = json.loads(output.read_text())["summary"]
    assert summary["conversations"] >= 30
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert len(cases) == summary["conversations"]
    print(f"demo golden conversations: {seconds:.1f} s, {json.dumps(summary)}")
