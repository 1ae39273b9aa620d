from __future__ import annotations

from pathlib import Path

from frontdesk.nlu.training_data import load_training_data
from frontdesk.nlu.validation import validate


def test_findings_point_at_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        "nlu:\n"
        "- intent: track\n  examples: |\n    - where is my parcel\n    - where is it\n"
        "    - tracking please\n    - Where is it?\n    - status of [KP-12345678](order_id)\n"
        "- intent: lost\n  examples: |\n    - where is my parcel\n    - it is lost [today](when)\n"
    )
    findings = validate(
        load_training_data(tmp_path),
        known_entities={"order_id"},
        min_examples=3,
        rule_entities=[("rules.yaml:7", "invoice_no"), ("rules.yaml:9", "order_id")],
    )
    text = [str(f) for f in findings]
    path = tmp_path / "nlu.yml"
    assert any(
        line.startswith(f"{path}:11: error: the same example is under 'lost' and 'track'")
        for line in text
    ), text
    assert f"{path}:12: error: unknown entity 'when' in 'today'" in "\n".join(text)
    assert any("rules.yaml:7: error: the rule refers to entity 'invoice_no'" in t for t in text)
    assert not any("rules.yaml:9" in t for t in text)
    assert any(f"{path}:11: warning: intent 'lost' has 2 examples" in t for t in text)
    assert any(f"{path}:7: warning: duplicate example (first at {path}:5)" in t for t in text)
    # errors first
    assert [f.severity for f in findings] == sorted(
        (f.severity for f in findings), key=lambda s: s != "error"
    )


def test_a_single_intent_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "nlu.csv").write_text("text,intent\nhi,greet\nhello,greet\n")
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=1)
    assert [f.message for f in findings] == ["a classifier needs at least two intents"]
