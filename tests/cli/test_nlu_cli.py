from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.conftest import DEMO

runner = CliRunner()


def _demo(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".frontdesk"))
    return root


def test_data_validate_passes_on_the_demo_and_reports_problems(tmp_path: Path) -> None:
    ws = _demo(tmp_path)
    ok = runner.invoke(app, ["data", "validate", "-w", str(ws)])
    assert ok.exit_code == 0, ok.output
    assert "0 errors" in ok.output

    (ws / "nlu" / "extra.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - where is my parcel\n    - ping [today](when)\n"
    )
    warned = runner.invoke(app, ["data", "validate", "-w", str(ws)])
    assert warned.exit_code == 0, warned.output
    assert "warning: the same example is under 'track_parcel' and 'greet'" in warned.output
    assert "(" + str(ws / "nlu" / "extra.yml") + ":4)" in warned.output
    assert "when" not in warned.output  # declared by being annotated
    strict = runner.invoke(app, ["data", "validate", "-w", str(ws), "--strict"])
    assert strict.exit_code == 1
    assert strict.output == warned.output


def test_data_validate_prints_line_numbers_as_numbers(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "nlu").mkdir(parents=True)
    (ws / "frontdesk.yaml").write_text("tenant: default\n")
    lines = ["nlu:", "- intent: a", "  examples: |"] + [f"    - a {n}" for n in range(100)]
    lines += ["- intent: b", "  examples: |", "    - A 99!", "    - [b](thing) one", "    - b two"]
    (ws / "nlu" / "nlu.yml").write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["data", "validate", "-w", str(ws)])
    assert result.exit_code == 0, result.output
    # rich markup would print `nlu.yml:106:` and `:100:` as emoji
    assert f"{ws / 'nlu' / 'nlu.yml'}:106: warning: 'A 99!' under 'b' differs only" in result.output
    assert f"({ws / 'nlu' / 'nlu.yml'}:103)" in result.output
    assert "💯" not in result.output
    assert "0 errors, 2 warnings" in result.output


def test_data_validate_broken_file_is_one_line(tmp_path: Path) -> None:
    ws = _demo(tmp_path)
    (ws / "nlu" / "broken.yml").write_text("nlu:\n- intent: a\n  examples: |\n    - [x](y\n")
    result = runner.invoke(app, ["data", "validate", "-w", str(ws)])
    assert result.exit_code == 1
    assert "broken.yml:4: unclosed entity annotation" in result.output
    assert "Traceback" not in result.output


def test_train_stores_and_promotes_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_NLU__CLASSIFIER", "tfidf")  # n-grams only: fast
    ws = _demo(tmp_path)
    result = runner.invoke(app, ["train", "-w", str(ws)])
    assert result.exit_code == 0, result.output
    models = ws / ".frontdesk" / "models" / "nlu"
    active = (models / "active").read_text().strip()
    assert f"{active} (active)" in result.output
    assert "calibration error (ECE)" in result.output
    manifest = json.loads((models / active / "manifest.json").read_text())
    assert manifest["embeddings"] is None
    assert manifest["out_of_scope_examples"] > 0

    again = runner.invoke(app, ["train", "-w", str(ws), "--no-promote"])
    assert again.exit_code == 0, again.output
    assert "(not promoted)" in again.output
    assert (models / "active").read_text().strip() == active
    assert len([p for p in models.iterdir() if p.is_dir()]) == 2


def test_evaluate_nlu_writes_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_NLU__CLASSIFIER", "tfidf")
    ws = _demo(tmp_path)
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["evaluate", "nlu", "-w", str(ws), "--folds", "2", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "2-fold cross-validation: accuracy" in result.output
    summary = json.loads((out / "nlu-report.json").read_text())
    assert set(summary["per_intent"]) >= {"greet", "request_refund"}
    assert {"macro", "micro"} <= set(summary["averages"])
    assert "order_id" in summary["entities"]
    assert summary["confusion"]["labels"] == sorted(summary["per_intent"])
    assert (out / "confusion.png").read_bytes().startswith(b"\x89PNG")
    assert "Worst confusions" in (out / "nlu-report.html").read_text()

    test_file = tmp_path / "test.csv"
    test_file.write_text(
        "text,intent\nhello there,greet\nrefund KP-12345678 please,request_refund\n"
    )
    fixed = runner.invoke(
        app, ["evaluate", "nlu", "-w", str(ws), "--test", str(test_file), "--output", str(out)]
    )
    assert fixed.exit_code == 0, fixed.output
    assert "fixed test set" in fixed.output

    test_file.write_text("text,intent\nhello,no_such_intent\n")
    bad = runner.invoke(app, ["evaluate", "nlu", "-w", str(ws), "--test", str(test_file)])
    assert bad.exit_code == 1
    assert "intents not in the training data: no_such_intent" in bad.output


TEST_STORIES = """\
version: "3.1"
stories:
- story: bye
  steps:
  - intent: greet
    user: |-
      hello there
  - action: utter_greet
  - intent: goodbye
    user: |-
      see you [tomorrow](when)
  - action: utter_goodbye
"""


def test_evaluate_nlu_on_a_rasa_bot_without_out_of_scope_and_a_tiny_intent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_NLU__CLASSIFIER", "tfidf")
    ws = tmp_path / "ws"
    (ws / "nlu").mkdir(parents=True)
    (ws / "frontdesk.yaml").write_text("tenant: default\n")
    (ws / "nlu" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: greet\n  examples: |\n"
        + "".join(f"    - {t}\n" for t in ["hi", "hello", "hey", "good morning", "hello you"])
        + "- intent: goodbye\n  examples: |\n"
        + "".join(f"    - {t}\n" for t in ["bye", "goodbye", "see you", "farewell", "bye now"])
        + "- intent: human\n  examples: |\n    - talk to a human\n"
    )
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["evaluate", "nlu", "-w", str(ws), "--folds", "5", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    note = "note: intent 'human' has 1 example: it is in the training part of every fold"
    assert note in result.output
    assert result.output.index(note) < result.output.index("5-fold cross-validation: accuracy")
    assert "not tested (no test examples): human" in result.output
    summary = json.loads((out / "nlu-report.json").read_text())
    assert summary["examples"] == 10
    assert summary["not_tested"] == ["human"]

    stories = tmp_path / "test_stories.yml"
    stories.write_text(TEST_STORIES)
    fixed = runner.invoke(
        app, ["evaluate", "nlu", "-w", str(ws), "--test", str(stories), "--output", str(out)]
    )
    assert fixed.exit_code == 0, fixed.output
    assert "fixed test set: accuracy" in fixed.output
    summary = json.loads((out / "nlu-report.json").read_text())
    assert summary["examples"] == 2
    assert summary["not_tested"] == ["human"]

    stories.write_text("version: '3.1'\nstories: []\n")
    empty = runner.invoke(app, ["evaluate", "nlu", "-w", str(ws), "--test", str(stories)])
    assert empty.exit_code == 1
    assert f"{stories}: no test examples" in empty.output
    assert "Traceback" not in empty.output


def test_cli_consoles_print_file_and_line_as_written() -> None:
    """kb lint, rules errors and every other file:line the CLI prints: no emoji codes."""
    from frontdesk.cli.common import err, out

    for console in (out, err):
        with console.capture() as captured:
            console.print("nlu.yml:100: and rules.yaml:1234: :smile:", markup=False)
        assert captured.get().strip() == "nlu.yml:100: and rules.yaml:1234: :smile:"
