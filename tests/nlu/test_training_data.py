from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.nlu.training_data import (
    TrainingDataError,
    load_training_data,
    load_yaml,
    parse_annotated,
)
from tests.conftest import DEMO


def test_annotations_become_spans() -> None:
    text, spans = parse_annotated(
        'refund [KP-20481736](order_id) for [the vase]{"entity": "product", "value": "vase"}'
    )
    assert text == "refund KP-20481736 for the vase"
    assert [(s.type, s.text, s.value) for s in spans] == [
        ("order_id", "KP-20481736", "KP-20481736"),
        ("product", "the vase", "vase"),
    ]
    assert text[spans[1].start : spans[1].end] == "the vase"


def test_yaml_examples_carry_their_line(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello there\n'
        "- regex: order_id\n  examples: |\n    - KP-\\d{8}\n"
        "- synonym: parcel\n  examples: |\n    - package\n"
    )
    data = load_yaml(path)
    assert [(e.text, e.line) for e in data.examples] == [("hi", 5), ("hello there", 6)]
    assert data.regexes == {"order_id": [r"KP-\d{8}"]}
    assert data.synonyms == {"package": "parcel"}


def test_csv_training_data(tmp_path: Path) -> None:
    (tmp_path / "extra.csv").write_text("text,intent\nwhere is it,track_parcel\n")
    data = load_training_data(tmp_path)
    assert [(e.text, e.intent, e.line) for e in data.examples] == [
        ("where is it", "track_parcel", 2)
    ]


def test_bad_training_data_is_reported_with_location(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text("nlu:\n- examples: |\n    - hi\n")
    with pytest.raises(TrainingDataError, match=r"nlu.yml:2: an nlu item needs one of"):
        load_training_data(tmp_path)
    (tmp_path / "nlu.yml").write_text("nlu: [unclosed\n")
    with pytest.raises(TrainingDataError, match=r"nlu.yml:\d+: invalid YAML"):
        load_training_data(tmp_path)


def test_demo_nlu_data_meets_the_brief() -> None:
    data = load_training_data(DEMO / "nlu")
    counts = {intent: 0 for intent in data.intents}
    for example in data.in_scope:
        counts[example.intent] += 1
    assert len(counts) >= 12
    assert len(data.out_of_scope) >= 20
    assert min(counts.values()) >= 15
    entity_types = {s.type for e in data.examples for s in e.entities}
    assert {"order_id", "customer_id", "product", "date", "amount"} <= entity_types


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "nlu:\n- intent: a\n  examples: |\n    - refund [KP-1](order_id please\n",
            r"nlu.yml:4: unclosed entity annotation",
        ),
        (
            'nlu:\n- intent: a\n  examples: |\n    - x [y]{"entity": }\n',
            r"nlu.yml:4: invalid entity annotation",
        ),
        (
            'nlu:\n- intent: a\n  examples: |\n    - x [y]{"value": "z"}\n',
            r"nlu.yml:4: .*has no 'entity' key",
        ),
        (
            "nlu:\n- intent: a\n  examples: |\n    - fine\n    not a list item\n",
            r"nlu.yml:5: expected an example as '- text'",
        ),
        (
            "nlu:\n- regex: order_id\n  examples: |\n    - KP-(\\d{8}\n",
            r"nlu.yml:4: regex .* does not compile",
        ),
        ("nlu:\n- intent:\n  examples: |\n    - hi\n", r"nlu.yml:2: the intent has no name"),
        ("nlu:\n- intent: a\n  examples: [1, 2]\n", r"nlu.yml:2: 'examples' must be a block"),
        ("- just a list\n", r"nlu.yml:1: expected a mapping with an 'nlu' list"),
    ],
)
def test_malformed_yaml_points_at_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "nlu.yml").write_text(content)
    with pytest.raises(TrainingDataError, match=message):
        load_training_data(tmp_path)


def test_out_of_scope_examples_are_not_an_intent(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - hi\n"
        "- intent: out_of_scope\n  examples: |\n    - what is the capital of peru\n"
    )
    data = load_training_data(tmp_path)
    assert data.intents == ["greet"]
    assert [e.text for e in data.out_of_scope] == ["what is the capital of peru"]
    assert [e.text for e in data.in_scope] == ["hi"]


def test_fingerprint_follows_content_not_location(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    body = "nlu:\n- intent: greet\n  examples: |\n    - hi [Jo](name)\n"
    (a / "one.yml").write_text(body)
    (b / "other.yml").write_text("\n\n" + body)
    assert load_training_data(a).fingerprint() == load_training_data(b).fingerprint()
    (b / "other.yml").write_text(body.replace("(name)", "(person)"))
    assert load_training_data(a).fingerprint() != load_training_data(b).fingerprint()


def test_json_annotation_values_become_synonyms(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        "nlu:\n- intent: a\n  examples: |\n"
        '    - my [telly]{"entity": "product", "value": "television"} broke\n'
        "- lookup: product\n  examples: |\n    - sofa\n    - lamp\n"
    )
    data = load_training_data(tmp_path)
    assert data.synonyms == {"telly": "television"}
    assert data.lookups == {"product": ["sofa", "lamp"]}
    assert data.entity_types == ["product"]
