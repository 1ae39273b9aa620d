from __future__ import annotations

from pathlib import Path

from frontdesk.nlu.training_data import load_training_data
from frontdesk.nlu.validation import near_duplicate_key, validate


def test_findings_point_at_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        "nlu:\n"
        "- intent: track\n  examples: |\n    - where is my parcel\n    - where is it\n"
        "    - tracking please\n    - where is it\n    - status of [KP-12345678](order_id)\n"
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
    # As in `rasa data validate`: the same example under two intents is a warning.
    assert (
        f"{path}:11: warning: the same example is under 'lost' and 'track' ({path}:4); "
        "keep it under one intent" in text
    ), text
    # An annotated entity type is declared by being used.
    assert not any("when" in t for t in text), text
    assert any("rules.yaml:7: error: the rule refers to entity 'invoice_no'" in t for t in text)
    assert not any("rules.yaml:9" in t for t in text)
    assert any(f"{path}:11: warning: intent 'lost' has 2 examples" in t for t in text)
    assert f"{path}:7: warning: duplicate example (first at {path}:5)" in text
    assert [f.severity for f in findings].count("error") == 1


def test_a_single_intent_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "nlu.csv").write_text("text,intent\nhi,greet\nhello,greet\n")
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=1)
    assert [(f.severity, f.message) for f in findings] == [
        ("error", "a classifier needs at least two intents")
    ]


def test_near_duplicates_across_intents_are_warnings_naming_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "nlu:\n- intent: affirm\n  examples: |\n    - Yes please!\n    - sure\n    - yes\n"
        "- intent: thank\n  examples: |\n    - yes,  please\n    - Thanks\n    - thanks\n"
        "    - cheers\n"
    )
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=3)
    path = tmp_path / "a.yml"
    assert [str(f) for f in findings] == [
        f"{path}:9: warning: 'yes,  please' under 'thank' differs only in case, punctuation or "
        f"spacing from 'Yes please!' under 'affirm' ({path}:4)"
    ]
    # Case and punctuation variants under one intent ("Thanks", "thanks") are deliberate.


def test_same_text_annotated_differently_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "nlu:\n- intent: inform\n  examples: |\n    - [high](priority)\n    - high\n"
        "    - [low](priority)\n- intent: greet\n  examples: |\n    - hi\n    - hello\n"
        "    - hey\n"
    )
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=3)
    assert [f.message for f in findings] == [
        f"the same example annotated differently (first at {tmp_path / 'a.yml'}:4)"
    ]


def test_thin_intents_are_warnings_and_findings_sort_by_numeric_line(tmp_path: Path) -> None:
    lines = ["nlu:", "- intent: tiny", "  examples: |", "    - just one example here"]
    lines += ["- intent: big", "  examples: |"]
    lines += [f"    - example number {n}" for n in range(120)]
    lines += ["- intent: other", "  examples: |", "    - Example number 3"]
    lines += [f"    - another one {n}" for n in range(10)]
    (tmp_path / "nlu.yml").write_text("\n".join(lines) + "\n")
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=5)
    assert all(f.severity == "warning" for f in findings)
    assert [(f.line, f.message.split(";")[0]) for f in findings] == [
        (4, "intent 'tiny' has 1 example"),
        (
            129,
            "'Example number 3' under 'other' differs only in case, punctuation or spacing "
            f"from 'example number 3' under 'big' ({tmp_path / 'nlu.yml'}:10)",
        ),
    ]
    assert "(one example cannot be cross-validated)" in findings[0].message
    # Sorted by file, then line as a number: ":9" before ":100".
    (tmp_path / "z.yml").write_text(
        "nlu:\n- intent: other\n  examples: |\n"
        + "".join(f"    - filler {n}\n" for n in range(100))
        + "    - another one 1\n"
    )
    findings = validate(load_training_data(tmp_path), known_entities=(), min_examples=1)
    b = [f.line for f in findings if f.source.endswith("z.yml")]
    assert b == [104], b


def test_near_duplicate_key() -> None:
    assert near_duplicate_key("  What's  my balance?!") == near_duplicate_key("what s my balance")
    assert near_duplicate_key("e-mail") != near_duplicate_key("email")


def test_what_the_loader_could_not_carry_over_is_a_warning_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        "nlu:\n"
        "- intent: track\n  examples: |\n    - where is my parcel\n    - where is it\n"
        "- intent: lost\n  examples: |\n    - it is lost\n    - my parcel is lost\n"
        "stories:\n- story: happy path\n  steps:\n  - intent: track\n"
    )
    data = load_training_data(tmp_path)
    assert data.warnings, "the loader keeps a warning for the stories it does not read"
    findings = validate(data, known_entities=set(), min_examples=2)
    loaded = [
        f
        for f in findings
        if (f.source, f.line) == (data.warnings[0].source, data.warnings[0].line)
    ]
    assert [f.severity for f in loaded] == ["warning"], findings
