from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from frontdesk.nlu.entities import RuleEntityExtractor
from frontdesk.nlu.model_store import load_or_train
from frontdesk.nlu.training_data import load_training_data
from frontdesk.nlu.urgency import assess_urgency
from frontdesk.types import Urgency
from tests.conftest import DEMO

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def test_classifier_trained_on_demo_examples(trained_models: Path) -> None:
    classifier = load_or_train(load_training_data(DEMO / "nlu"), trained_models)
    prediction = classifier.predict("I'd like my money back for order KP-11112222")
    assert prediction.name == "request_refund"
    assert 0.0 < prediction.confidence <= 1.0
    assert prediction.ranking[0][0] == "request_refund"
    assert classifier.predict("your tracking website is down again").name == "service_outage"


def test_model_is_cached_by_data_fingerprint(tmp_path: Path) -> None:
    data = load_training_data(DEMO / "nlu")
    load_or_train(data, tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert data.fingerprint() in files[0].name
    load_or_train(data, tmp_path)
    assert list(tmp_path.iterdir()) == files


def _extract(text: str) -> dict[str, object]:
    extractor = RuleEntityExtractor(
        {"order_id": r"\bKP-\d{8}\b", "customer_id": r"\bCU-\d{6}\b"},
        {"product": ["laptop", "vase"]},
    )
    return {e.type: e.value for e in extractor.extract(text, now=NOW)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund KP-20481736 please", {"order_id": "KP-20481736"}),
        ("customer cu-104233 here", {}),  # ids are case-sensitive patterns
        ("I'm CU-104233", {"customer_id": "CU-104233"}),
        ("charged £24.99 twice", {"amount": {"amount": 24.99, "currency": "GBP"}}),
        ("it was 40 dollars", {"amount": {"amount": 40.0, "currency": "USD"}}),
        ("it came yesterday", {"date": "2026-11-17"}),
        ("ordered last Friday", {"date": "2026-11-13"}),
        ("deliver next monday", {"date": "2026-11-23"}),
        ("sent on 12 March", {"date": "2026-03-12"}),
        ("my laptop arrived broken", {"product": "laptop"}),
        ("mail me at Jo@Example.com", {"email": "jo@example.com"}),
    ],
)
def test_rule_entities(text: str, expected: dict[str, object]) -> None:
    assert _extract(text) == expected


def test_entities_carry_spans_and_extractor() -> None:
    extractor = RuleEntityExtractor({"order_id": r"\bKP-\d{8}\b"})
    [entity] = extractor.extract("order KP-20481736", now=NOW)
    assert (entity.start, entity.end, entity.text, entity.extractor) == (
        6, 17, "KP-20481736", "regex",
    )  # fmt: skip


def test_urgency_from_cues_and_intent_priority() -> None:
    assert assess_urgency("my account was hacked") is Urgency.CRITICAL
    assert assess_urgency("the app is down") is Urgency.HIGH
    assert assess_urgency("where is my parcel") is Urgency.NORMAL
    assert assess_urgency("where is my parcel", Urgency.HIGH) is Urgency.HIGH
    assert assess_urgency("thanks", Urgency.LOW) is Urgency.LOW
