"""`evaluate nlu` on data Rasa users have: no out-of-scope intent, tiny intents, Rasa test sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.nlu.entities import RuleEntityExtractor
from frontdesk.nlu.evaluation import evaluate, load_test_set, plan_folds
from frontdesk.nlu.training_data import TrainingData, TrainingDataError, load_yaml
from tests.nlu.fakes import HashingEmbedder

GREET = ["hi", "hello", "hey there", "good morning", "hello friend", "hi again"]
BYE = ["bye", "goodbye", "see you later", "farewell", "bye bye", "see you soon"]
PRIORITY = [
    "make it [high](priority) priority",
    "set [low](priority) priority please",
    "this is [urgent](priority)",
    "priority [medium](priority)",
    "it is [high](priority) priority",
    "can you make it [low](priority)",
]


def _nlu(path: Path, intents: dict[str, list[str]]) -> TrainingData:
    text = 'version: "3.1"\nnlu:\n'
    for name, examples in intents.items():
        text += f"- intent: {name}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)
    path.write_text(text)
    return load_yaml(path)


def _rules() -> RuleEntityExtractor:
    return RuleEntityExtractor({}, {})


def test_cross_validation_without_out_of_scope_examples(tmp_path: Path) -> None:
    data = _nlu(tmp_path / "nlu.yml", {"greet": GREET, "goodbye": BYE, "inform": PRIORITY})
    assert not data.out_of_scope
    # Embeddings are where it crashed: an empty out-of-scope array reshaped to (0, -1).
    report = evaluate(data, HashingEmbedder(), _rules(), folds=5)
    summary = report.as_dict()
    assert summary["method"] == "5-fold cross-validation"
    assert summary["examples"] == 18
    assert "oos_recall" not in summary
    assert summary["notes"] == []
    assert summary["not_tested"] == []
    assert summary["accuracy"] > 0.5
    assert summary["entities"]["priority"]["support"] == 6


def test_tiny_intents_keep_the_folds_asked_for_and_say_so(tmp_path: Path) -> None:
    data = _nlu(
        tmp_path / "nlu.yml",
        {
            "greet": GREET,
            "goodbye": BYE,
            "thank": ["thanks a lot", "thank you so much"],
            "human": ["talk to a human"],
        },
    )
    plan = plan_folds(data, 5)
    assert plan.folds == 5
    assert plan.train_only == {"human"}
    assert plan.notes == (
        "intent 'human' has 1 example: it is in the training part of every fold and never "
        "tested (tested, nothing of it would be left to learn from)",
        "intent 'thank' has 2 examples, fewer than 5 folds: each is tested once, with the "
        "other 1 in training; 3 fold(s) do not test it",
    )
    report = evaluate(data, HashingEmbedder(), _rules(), folds=5)
    summary = report.as_dict()
    assert summary["method"] == "5-fold cross-validation"
    tested = sorted(o.text for o in report.outcomes)
    assert tested == sorted(GREET + BYE + ["thanks a lot", "thank you so much"])
    assert summary["not_tested"] == ["human"]
    assert summary["notes"] == list(plan.notes)
    # Learned in every fold although never tested: it is one of the classes.
    assert "human" in report.intents


def test_folds_shrink_only_when_no_intent_has_enough_examples(tmp_path: Path) -> None:
    data = _nlu(tmp_path / "nlu.yml", {"a": ["one a", "two a", "three a"], "b": ["one b", "2 b"]})
    plan = plan_folds(data, 5)
    assert plan.folds == 3
    assert plan.notes[0] == (
        "5 folds need an intent with at least 5 examples; the largest has 3: running 3 folds"
    )
    assert evaluate(data, None, _rules(), folds=5).method == "3-fold cross-validation"

    singles = _nlu(tmp_path / "one.yml", {"a": ["only a"], "b": ["only b"]})
    with pytest.raises(ValueError, match="every intent has one example"):
        plan_folds(singles, 5)


TEST_STORIES = """\
version: "3.1"
stories:
- story: open incident
  steps:
  - intent: greet
    user: |-
      hello there
  - action: utter_greet
  - intent: inform
    user: |-
      make it [high](priority)
  - active_loop: open_incident_form
  - intent: goodbye
  - action: utter_goodbye
- story: out of scope
  steps:
  - user: I want a pizza
    intent: out_of_scope
rules:
- rule: say bye
  steps:
  - intent: goodbye
    user: |
      see you soon
  - action: utter_goodbye
"""


def test_rasa_test_stories_are_a_test_set(tmp_path: Path) -> None:
    path = tmp_path / "test_stories.yml"
    path.write_text(TEST_STORIES)
    test = load_test_set(path)
    rows = [
        (e.line, e.intent, e.text, [(s.type, s.value) for s in e.entities]) for e in test.examples
    ]
    assert rows == [
        (7, "greet", "hello there", []),
        (11, "inform", "make it high", [("priority", "high")]),
        (17, "out_of_scope", "I want a pizza", []),
        (24, "goodbye", "see you soon", []),
    ]
    assert all(e.source == str(path) for e in test.examples)

    data = _nlu(tmp_path / "nlu.yml", {"greet": GREET, "goodbye": BYE, "inform": PRIORITY})
    report = evaluate(data, HashingEmbedder(), _rules(), test=test)
    summary = report.as_dict()
    assert summary["method"] == "fixed test set"
    assert summary["examples"] == 3
    assert summary["oos_examples"] == 1
    assert summary["entities"]["priority"]["support"] == 1


def test_test_sets_in_rasa_nlu_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "tests"
    folder.mkdir()
    _nlu(folder / "nlu.yml", {"greet": ["hi there", "good evening"]})
    (folder / "stories.yml").write_text(TEST_STORIES)
    (folder / "domain.yml").write_text("intents:\n- greet\n")  # holds no test: left out
    test = load_test_set(folder)
    assert [e.text for e in test.examples][:2] == ["hi there", "good evening"]
    assert len(test.examples) == 6

    with pytest.raises(TrainingDataError, match=r"domain\.yml: no test examples"):
        load_test_set(folder / "domain.yml")
    (tmp_path / "broken.yml").write_text(
        "stories:\n- story: x\n  steps:\n  - user: '[a](b'\n    intent: greet\n"
    )
    with pytest.raises(TrainingDataError, match=r"broken\.yml:4: unclosed entity annotation"):
        load_test_set(tmp_path / "broken.yml")
    with pytest.raises(TrainingDataError, match=r"expected a \.yml, \.yaml or \.csv file"):
        load_test_set(tmp_path / "notes.txt")
