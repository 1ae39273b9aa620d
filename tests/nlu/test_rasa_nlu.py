"""Rasa NLU files read with Rasa's meaning: annotation forms, roles and groups, metadata,
retrieval intents, lookups and regexes as features, warnings with file:line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from frontdesk.config.rules import RulesConfig
from frontdesk.config.settings import NluSettings
from frontdesk.errors import ConfigError
from frontdesk.nlu.crf_entities import CrfEntityExtractor, EntityFeatures, tokenize
from frontdesk.nlu.entities import EntityPipeline, rule_extractor
from frontdesk.nlu.intent_classifier import HybridIntentClassifier
from frontdesk.nlu.training_data import (
    OUT_OF_SCOPE,
    EntitySpan,
    Example,
    TrainingDataError,
    load_training_data,
    load_yaml,
    parse_annotated,
)
from frontdesk.policy.rules_router import Facts, RuleRouter, entity_names
from frontdesk.policy.validation import check_rules
from frontdesk.types import Entity, IntentPrediction, Urgency

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)

RASA_NLU = """\
version: "3.1"
nlu:
- intent: book_flight
  metadata:
    source: website
  examples: |
    - fly from [Berlin]{"entity": "city", "role": "departure"} to [Paris]{"entity": "city", \
"role": "destination"}
    - a [large]{"entity": "size", "group": "1"} [pizza]{"entity": "food", "group": "1"}
    - it is [urgent](priority:high)
- intent: greet
  examples:
  - text: |
      hi there
    metadata:
      sentiment: neutral
  - text: hello
- intent: faq/ask_hours
  examples: |
    - when are you open
- intent: out_of_scope/weather
  examples: |
    - what is the weather
- lookup: city
  examples: |
    - Berlin
    - Paris
- regex: greet
  examples: |
    - hey[^\\s]*
- synonym: high
  examples: |
    - urgent
    - asap
"""


def _write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_annotation_form_with_roles_groups_and_values(tmp_path: Path) -> None:
    data = load_yaml(_write(tmp_path, RASA_NLU))
    by_text = {e.text: e for e in data.examples}
    flight = by_text["fly from Berlin to Paris"]
    assert [(s.type, s.text, s.role, s.group) for s in flight.entities] == [
        ("city", "Berlin", "departure", None),
        ("city", "Paris", "destination", None),
    ]
    pizza = by_text["a large pizza"]
    assert [(s.type, s.group) for s in pizza.entities] == [("size", "1"), ("food", "1")]
    # Rasa 1.x's [text](entity:value) shorthand is a value (a synonym), not an entity name.
    urgent = by_text["it is urgent"]
    assert urgent.entities == (EntitySpan("priority", "urgent", 6, 12, "high"),)
    assert data.warnings == []


def test_metadata_forms_are_read_and_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, RASA_NLU)
    data = load_yaml(path)
    by_text = {e.text: e for e in data.examples}
    # - text: | block: the text's own line (the line after `text: |`).
    assert by_text["hi there"].metadata == {"sentiment": "neutral"}
    assert by_text["hi there"].line == 13
    assert by_text["hello"].metadata is None
    assert by_text["hello"].line == 16
    # Intent-level metadata is kept on each of its examples.
    assert by_text["a large pizza"].metadata == {"source": "website"}


def test_retrieval_intents_keep_their_full_name_and_out_of_scope_ones_are_out_of_scope(
    tmp_path: Path,
) -> None:
    data = load_yaml(_write(tmp_path, RASA_NLU))
    assert "faq/ask_hours" in data.intents
    assert data.retrieval_intents == {"faq": ["faq/ask_hours"]}
    assert [e.text for e in data.out_of_scope] == ["what is the weather"]
    assert all(e.intent == OUT_OF_SCOPE for e in data.out_of_scope)
    assert not any(i.startswith("out_of_scope") for i in data.intents)


def test_lookups_regexes_and_synonyms_are_read(tmp_path: Path) -> None:
    data = load_yaml(_write(tmp_path, RASA_NLU))
    assert data.lookups == {"city": ["Berlin", "Paris"]}
    assert data.regexes == {"greet": ["hey[^\\s]*"]}
    assert data.declared_synonyms == {"urgent": "high", "asap": "high"}
    merged = load_training_data(tmp_path)
    assert merged.synonyms["urgent"] == "high"


def test_what_is_not_carried_over_is_a_warning_with_its_line_once(tmp_path: Path) -> None:
    text = (
        "version: '3.1'\n"
        "nlu:\n"
        "- intent: greet\n"
        "  examples: |\n"
        '    - hi [bob]{"entity": "name", "confidence_entity": 0.9}\n'
        "  comment: greetings\n"
        "- intent: bye\n"
        "  examples:\n"
        "  - text: bye\n"
        "    intent_confidence: 1\n"
        "rules:\n"
        "- rule: greet back\n"
        "  steps: []\n"
    )
    _write(tmp_path, text)
    data = load_training_data(tmp_path)
    path = str(tmp_path / "nlu.yml")
    assert [str(w) for w in data.warnings] == [
        f"{path}:11: 'rules' is not NLU training data: not read here (`frontdesk import "
        "rasa` reads a Rasa project's domain, stories, rules and responses)",
        f"{path}:6: 'comment' of an nlu item is not read",
        f'{path}:5: annotation \'[bob]{{"entity": "name", "confidence_entity": 0.9}}\': '
        "'confidence_entity' not kept (frontdesk keeps entity, value, role and group)",
        f"{path}:9: 'intent_confidence' of an example is not read",
    ]
    # The examples are still there, annotations with them.
    assert [(e.text, [s.type for s in e.entities]) for e in data.examples] == [
        ("hi bob", ["name"]),
        ("bye", []),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nlu:\n- intent: a\n  examples:\n  - {metadata: {}}\n", "nlu.yml:4: the example has no"),
        ("nlu:\n- intent: a\n  examples: |\n    - [x](:v)\n", "nlu.yml:4: entity annotation"),
        ('nlu:\n- intent: a\n  examples: |\n    - [x]{"role": "r"}\n', "has no 'entity' key"),
    ],
)
def test_real_errors_stay_errors_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(TrainingDataError, match=message.replace("[", r"\[")):
        load_yaml(_write(tmp_path, text))


def test_role_and_group_are_left_out_of_the_fingerprint_when_absent(tmp_path: Path) -> None:
    plain = load_yaml(_write(tmp_path, "nlu:\n- intent: a\n  examples: |\n    - [x](t)\n"))
    same = load_yaml(
        _write(tmp_path, 'nlu:\n- intent: a\n  examples: |\n    - [x]{"entity": "t"}\n', "b.yml")
    )
    roled = load_yaml(
        _write(
            tmp_path,
            'nlu:\n- intent: a\n  examples: |\n    - [x]{"entity": "t", "role": "r"}\n',
            "c.yml",
        )
    )
    assert plain.fingerprint() == same.fingerprint() != roled.fingerprint()


# A small bot where a lookup table disagrees with the annotations: "vase" is listed as a
# product, but the annotations say the product is "ceramic vase".
LOOKUP_BOT = """\
nlu:
- intent: damaged
  examples: |
    - my [ceramic vase](product) arrived broken
    - the [ceramic vase](product) is cracked
    - a [glass lamp](product) came smashed
    - my [glass lamp](product) is broken
    - the [floor lamp](product) arrived damaged
    - hey, my [ceramic vase](product) is in pieces
- intent: greet
  examples: |
    - hey there
    - hey, good morning
    - hello
    - hi
- lookup: product
  examples: |
    - vase
    - lamp
- regex: greet
  examples: |
    - hey[^\\s]*
"""


def test_a_lookup_does_not_override_the_annotation_and_a_regex_extracts_nothing(
    tmp_path: Path,
) -> None:
    _write(tmp_path, LOOKUP_BOT)
    data = load_training_data(tmp_path)
    rules = rule_extractor(NluSettings(entity_patterns={}), data)
    crf = CrfEntityExtractor().fit(
        data.in_scope, lookups=data.lookups, regexes=data.regexes, synonyms=data.declared_synonyms
    )
    pipeline = EntityPipeline(rules, crf, data.synonyms)
    found = pipeline.extract("hey, the ceramic vase is broken", now=NOW)
    assert [(e.type, e.text, e.extractor) for e in found] == [("product", "ceramic vase", "crf")]


def test_lookups_and_regexes_named_in_the_settings_extract(tmp_path: Path) -> None:
    _write(tmp_path, LOOKUP_BOT)
    data = load_training_data(tmp_path)
    settings = NluSettings(entity_patterns={}, extractors={"lookup": ["product"], "regex": []})
    found = rule_extractor(settings, data).extract("the vase and the lamp", now=NOW)
    assert [(e.type, e.text, e.extractor) for e in found] == [
        ("product", "vase", "lookup"),
        ("product", "lamp", "lookup"),
    ]
    settings = NluSettings(entity_patterns={}, extractors={"regex": ["greet"]})
    found = rule_extractor(settings, data).extract("hey, there", now=NOW)
    assert [(e.type, e.text) for e in found] == [("greet", "hey,")]
    with pytest.raises(ValueError, match="extra"):
        NluSettings(extractors={"lookups": ["product"]})


def test_features_mark_lookups_synonyms_and_regexes() -> None:
    features = EntityFeatures({"priority": ["really important", "high"]}, {"ticket": [r"INC\d+"]})
    text = "INC42 is really important"
    marks = features.marks(text, tokenize(text))
    assert marks == [
        ["re:ticket"],
        [],
        ["in:priority", "in:priority:B"],
        ["in:priority", "in:priority:I"],
    ]


def test_a_value_annotated_once_is_not_marked_in_its_own_example() -> None:
    examples = _examples("[critical](priority)", "[high](priority)", "it is [high](priority)")
    features = EntityFeatures.learn(examples)
    own = EntityFeatures.own(examples[0])
    assert features.marks("critical", tokenize("critical"), own) == [[]]
    assert features.marks("critical", tokenize("critical")) == [["in:priority", "in:priority:B"]]
    # "high" is annotated in two examples: marked even while learning from one of them.
    own = EntityFeatures.own(examples[1])
    assert features.marks("high", tokenize("high"), own) == [["in:priority", "in:priority:B"]]


def _examples(*annotated: str) -> list[Example]:
    found = []
    for line, text in enumerate(annotated, start=1):
        plain, spans = parse_annotated(text)
        found.append(Example(plain, "inform", spans, "x.yml", line))
    return found


def test_roles_and_groups_are_learned_and_extracted(tmp_path: Path) -> None:
    lines = []
    for a, b in [("Berlin", "Paris"), ("Rome", "Oslo"), ("Madrid", "Lisbon"), ("Vienna", "Prague")]:
        lines.append(
            f'    - fly from [{a}]{{"entity": "city", "role": "departure"}} to '
            f'[{b}]{{"entity": "city", "role": "destination"}}'
        )
        lines.append(
            f'    - a flight to [{b}]{{"entity": "city", "role": "destination"}} from '
            f'[{a}]{{"entity": "city", "role": "departure"}}'
        )
    _write(tmp_path, "nlu:\n- intent: fly\n  examples: |\n" + "\n".join(lines) + "\n")
    data = load_training_data(tmp_path)
    crf = CrfEntityExtractor().fit(data.in_scope)
    assert crf.types == ["city"]
    found = crf.extract("fly from Rome to Lisbon", now=NOW)
    assert [(e.type, e.text, e.role) for e in found] == [
        ("city", "Rome", "departure"),
        ("city", "Lisbon", "destination"),
    ]


def test_rules_name_an_entity_by_type_role_and_group() -> None:
    entity = Entity(type="city", text="Paris", value="Paris", start=0, end=5, extractor="crf",
                    role="destination", group="2")  # fmt: skip
    assert entity_names(entity) == {"city", "city:destination", "city@2", "city:destination@2"}
    plain = Entity(type="city", text="Paris", value="Paris", start=0, end=5, extractor="crf")
    assert entity_names(plain) == {"city"}


def test_the_plain_parser_still_gives_text_and_spans() -> None:
    plain, spans = parse_annotated('go to [Paris]{"entity": "city", "role": "destination"}')
    assert plain == "go to Paris"
    assert spans[0].role == "destination"


def test_regexes_and_lookups_are_features_of_the_intent_model(tmp_path: Path) -> None:
    _write(tmp_path, LOOKUP_BOT)
    data = load_training_data(tmp_path)
    assert data.patterns == {
        "regex:greet": ["hey[^\\s]*"],
        "lookup:product": [r"(?i:\b(?:lamp|vase)\b)"],
    }
    texts = [e.text for e in data.in_scope]
    intents = [e.intent for e in data.in_scope]
    plain = HybridIntentClassifier(None).fit(texts, intents, folds=2)
    featured = HybridIntentClassifier(None, patterns=data.patterns).fit(texts, intents, folds=2)
    message = "the LAMP, hey"
    row = featured._features([message, "hello"], None)
    assert row.shape[1] == plain._features([message, "hello"], None).shape[1] + 2
    # One column per name (lookup:product, regex:greet), 0.5 where it matches.
    assert row[0, -2:].toarray().tolist() == [[0.5, 0.5]]
    assert row[1, -2:].toarray().tolist() == [[0.0, 0.0]]
    # The one-message path gives the same row as the batch path.
    assert (featured._features([message], None) != row[0]).nnz == 0


def test_a_rule_asks_for_a_role_and_the_check_knows_the_type() -> None:
    rules = RulesConfig.model_validate(
        {
            "teams": {"travel": {}},
            "rules": [
                {"name": "to paris", "when": {"has_entity": ["city:destination"]},
                 "then": {"action": "handoff", "team": "travel"}},
                {"name": "default", "then": {"action": "answer"}},
            ],
        }
    )  # fmt: skip
    check_rules(rules, intents=["fly"], entities=["city"])  # "city:destination" is known
    with pytest.raises(ConfigError, match="unknown entity type 'city:destination'"):
        check_rules(rules, intents=["fly"], entities=["town"])
    router = RuleRouter(rules)
    city = Entity(type="city", text="Paris", value="Paris", start=0, end=5, extractor="crf")
    intent = IntentPrediction(name="fly", confidence=0.9)

    def decide(entity: Entity) -> str | None:
        return router.decide(Facts(intent, Urgency.NORMAL, "api", [entity])).rule

    assert decide(city.model_copy(update={"role": "destination"})) == "to paris"
    assert decide(city.model_copy(update={"role": "departure"})) == "default"
    assert decide(city) == "default"
