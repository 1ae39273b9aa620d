"""Golden answers: the file format, the scoring and a run through the whole assistant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.errors import ConfigError
from frontdesk.evaluation.answers import (
    AnswersReport,
    CaseResult,
    cites_one_of,
    evaluate_answers,
    load_answer_golden,
    missing_facts,
)
from frontdesk.evaluation.calibration import calibrate
from frontdesk.knowledge.answerability import DEFAULT_MODEL
from frontdesk.orchestration.runtime import Runtime

runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    return path


def test_the_file_names_the_case_that_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cases\[1\] \(two\)\.answerable: Field required"):
        load_answer_golden(write(tmp_path, "cases:\n- {id: one, message: hi, answerable: true}\n"
                                           "- {id: two, message: hello}\n"))  # fmt: skip
    twice = write(tmp_path, "cases:\n" + "- {id: one, message: a, answerable: true}\n" * 2)
    with pytest.raises(ConfigError, match="'one' is used twice"):
        load_answer_golden(twice)
    with pytest.raises(ConfigError, match="not found"):
        load_answer_golden(tmp_path / "nope.yaml")


def test_facts_ignore_case_dashes_and_emphasis() -> None:
    reply = "Refunds take **5\u20137 Working Days** to reach the original payment method."
    facts: list[str | list[str]] = ["5-7 working days", ["same card", "original payment method"]]
    assert missing_facts(reply, facts) == []
    assert missing_facts(reply, ["14 days"]) == ["14 days"]


def test_citations_match_titles_or_file_names() -> None:
    assert cites_one_of(["Refund timelines"], ["knowledge/refunds.md"], ["refund timelines"])
    assert cites_one_of(["Wiki"], ["knowledge/d8c3d205aba.txt"], ["d8c3d205aba"])
    assert not cites_one_of(["Prices"], ["knowledge/prices.md"], ["Refund timelines"])


def result(id: str, *, answerable: bool, handed_off: bool, team: str | None = None,
           expected_team: str | None = None, cited: list[str] | None = None,
           must: bool | None = None, dense: float = 0.6) -> CaseResult:  # fmt: skip
    return CaseResult(
        id=id, answerable=answerable, must_hand_off=(not answerable) if must is None else must,
        expected_team=expected_team, reply="", intent=None, expected_intent=None, action=None,
        rule=None, reason=None, handed_off=handed_off, team=team, cited=cited or [],
        facts_expected=0, facts_missing=[], right_citation=None, refused=False,
        answerability={"signals": {"dense": dense, "dense_gap": 0.0}}, ms=1.0,
    )  # fmt: skip


def test_handoff_precision_counts_the_wrong_team_as_a_miss() -> None:
    report = AnswersReport([
        result("a", answerable=False, handed_off=True, team="billing", expected_team="billing"),
        result("b", answerable=False, handed_off=True, team="support", expected_team="billing"),
        result("c", answerable=True, handed_off=True, team="support"),
        result("d", answerable=False, handed_off=False, expected_team="billing"),
    ])  # fmt: skip
    summary = report.summary()
    assert summary["handoff_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["handoff_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["abstain_handoff"] == pytest.approx(1 / 3, abs=1e-4)


def test_calibration_finds_the_workspace_threshold() -> None:
    # In this knowledge base answered questions sit at cosine 0.70 and up, unanswered at 0.62:
    # the built-in threshold (about 0.5) would call both answerable.
    cases = [result(f"a{i}", answerable=True, handed_off=False, dense=0.70 + i / 100)
             for i in range(8)] + [result(f"u{i}", answerable=False, handed_off=True,
                                          dense=0.58 + i / 100) for i in range(8)]  # fmt: skip
    found = calibrate(cases, DEFAULT_MODEL, source="test")
    assert found.before.unanswerable_declined == 0.0
    assert found.cross_validated.unanswerable_declined == 1.0
    assert found.cross_validated.answerable_kept == 1.0
    assert found.model.probability({"dense": 0.72, "dense_gap": 0}) >= found.model.threshold
    assert found.model.probability({"dense": 0.62, "dense_gap": 0}) < found.model.threshold
    with pytest.raises(ConfigError, match="at least 5 answerable and 5 unanswerable"):
        calibrate(cases[:6], DEFAULT_MODEL, source="test")


GOLDEN = """cases:
  - id: vat-invoice
    message: where can I download a VAT invoice for my parcels?
    answerable: true
    facts: ["Download PDF"]
    cite: [Invoices and VAT]
  - id: human
    message: I want to talk to a real person please
    answerable: true
    handoff: true
    team: support
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # storage adds nothing here
async def test_cases_run_through_the_assistant(runtime: Runtime, tmp_path: Path) -> None:
    golden = load_answer_golden(write(tmp_path, GOLDEN))
    report = await evaluate_answers(runtime.assistant, runtime.db, runtime.tenant.id, golden)
    by_id = {r.id: r for r in report.results}
    assert by_id["vat-invoice"].passed, by_id["vat-invoice"].failures
    assert by_id["vat-invoice"].answerability is not None
    assert by_id["human"].handed_off
    assert by_id["human"].team == "support"
    assert report.summary()["handoff_recall"] == 1.0


def test_cli_runs_in_a_scratch_copy_and_writes_json(workspace: Path, tmp_path: Path) -> None:
    golden = write(tmp_path, GOLDEN)
    out = tmp_path / "report.json"
    before = sorted(p.name for p in (workspace / ".frontdesk").iterdir())
    db_size = (workspace / ".frontdesk" / "frontdesk.db").stat().st_size
    args = ["evaluate", "answers", "-w", str(workspace), "--golden", str(golden)]
    result = runner.invoke(app, [*args, "--output", str(out), "--at", "2026-12-08T10:00"])
    assert result.exit_code == 0, result.output
    assert "handoff_recall" in result.output
    data = json.loads(out.read_text())
    assert {c["id"] for c in data["cases"]} == {"vat-invoice", "human"}
    # Nothing was written to the workspace's own database.
    assert sorted(p.name for p in (workspace / ".frontdesk").iterdir()) == before
    assert (workspace / ".frontdesk" / "frontdesk.db").stat().st_size == db_size
    calibrated = runner.invoke(app, ["evaluate", "answers", "-w", str(workspace), "--golden",
                                     str(golden), "--calibrate"])  # fmt: skip
    assert calibrated.exit_code == 1
    assert "calibration needs at least 5 answerable" in calibrated.output
