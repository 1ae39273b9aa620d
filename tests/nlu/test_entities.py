from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from frontdesk.nlu.crf_entities import CrfEntityExtractor
from frontdesk.nlu.entities import EntityPipeline, RuleEntityExtractor
from frontdesk.nlu.training_data import Example, parse_annotated
from tests.guard.ordinary import ordinary_technical_messages

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday

RULES = RuleEntityExtractor(
    {"order_id": r"\bKP-\d{8}\b", "customer_id": r"\bCU-\d{6}\b"}, {"product": ["laptop", "vase"]}
)


def _values(text: str, extractor: RuleEntityExtractor = RULES) -> list[tuple[str, object]]:
    return [(e.type, e.value) for e in extractor.extract(text, now=NOW)]


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("charged £24.99 twice", 24.99, "GBP"),
        ("it was 40 dollars", 40.0, "USD"),
        ("refund €1.234,56 now", 1234.56, "EUR"),
        ("they took 1,250 USD", 1250.0, "USD"),
        ("EUR 30 missing", 30.0, "EUR"),
        ("cost me 50p", 0.5, "GBP"),
        ("a £2k sofa", 2000.0, "GBP"),
        ("paid $ 12.50", 12.5, "USD"),
        ("12,50 euros", 12.5, "EUR"),
        ("about 300 quid", 300.0, "GBP"),
        ("charged ¥5000", 5000.0, "JPY"),
    ],
)
def test_money_with_currency(text: str, amount: float, currency: str) -> None:
    [(kind, value)] = _values(text)
    assert kind == "amount"
    assert value == {"amount": amount, "currency": currency}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it came yesterday", [("date", "2026-11-17")]),
        ("ordered last Friday", [("date", "2026-11-13")]),
        ("deliver next monday", [("date", "2026-11-23")]),
        ("sent on 12 March", [("date", "2026-03-12")]),  # no year: the nearest, in the past
        ("shipped on June 20", [("date", "2026-06-20")]),
        ("on 10/03/2026", [("date", "2026-03-10")]),  # day first by default
        ("2026-12-01 it said", [("date", "2026-12-01")]),
        ("3 days ago", [("date", "2026-11-15")]),
        ("in two weeks", [("date", "2026-12-02")]),
        ("sent on the 5th of jan 2027", [("date", "2027-01-05")]),
        ("the day after tomorrow", [("date", "2026-11-20")]),
        ("need it by Friday", [("deadline", "2026-11-20")]),
        ("no later than 3rd December", [("deadline", "2026-12-03")]),
        ("within 2 days please", [("deadline", "2026-11-20")]),
        ("by end of month", [("deadline", "2026-11-30")]),
        ("before 1 March", [("deadline", "2027-03-01")]),  # a deadline is never in the past
        ("it came this morning", [("date", "2026-11-18")]),
        ("sent last night", [("date", "2026-11-17")]),
        ("ordered last month", [("date", "2026-10-01")]),
        ("due on the 2nd", [("date", "2026-11-02")]),
        ("pay by the 25th", [("deadline", "2026-11-25")]),
        ("on Friday 14 March", [("date", "2026-03-14")]),  # one date, not two
        ("I may come back", []),  # "may" the verb is not a month
        ("it's been 3 days", []),  # a duration, not a date
        ("on 31/02/2026", []),  # no such day
    ],
)
def test_dates_and_deadlines_relative_to_the_message(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert _values(text) == expected


def test_month_first_dates_when_configured() -> None:
    us = RuleEntityExtractor(date_order="MDY")
    assert _values("on 10/03/2026", us) == [("date", "2026-10-03")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +44 20 7946 0958", "+442079460958"),
        ("my number is 07700 900123", "07700900123"),
        ("ring 555-123-4567", "5551234567"),
        ("(020) 7946 0958 is the office", "02079460958"),
        ("the office is on 020 7946 0958.", "02079460958"),
        ("US desk: (415) 555-0132", "4155550132"),
        ("the Fraud line 0800 123 4567 is free", "08001234567"),
        ("from abroad +44 (0)20 7946 0958", "+442079460958"),
        ("or 0044 20 7946 0958", "+442079460958"),
        ("text +447700900123", "+447700900123"),
        ("toll free 1-800-555-0199", "18005550199"),
        ("415.555.0132 after 5", "4155550132"),
        ("Paris 01 23 45 67 89", "0123456789"),
        ("Berlin +49 30 12345678", "+493012345678"),
        ("call 020 7946 0958 12 times", "02079460958"),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert _values(text) == [("phone", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "tracking 123456789012",
        "in 2026",
        "order KP-12345678",
        "order 20481736",
        "call 999",
        "account 40118834, sort code 12-34-56",
        "account number 0123 4567 8901",
        "card 4111 1111 1111 1111",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "fault reference 2026-0311-7781",
        "since 2026-03-12 10:30",
        "on 12.03.2026",
        "£1 234 567 or 1,234,567.89 dollars",
        "router at 192.168.100.254, gateway 10.20.0.1",
        "error 0x80070005 in firmware v2.10.3",
        "open between 0900 - 1700",
    ],
)
def test_numbers_that_are_not_phones(text: str) -> None:
    assert "phone" not in {kind for kind, _ in _values(text)}


def test_phone_spans_cover_the_number_as_written() -> None:
    text = "Call +1 (415) 555-0132 or fax +1 (415) 555-0188."
    phones = [e for e in RULES.extract(text, now=NOW) if e.type == "phone"]
    assert [(e.text, e.value) for e in phones] == [
        ("+1 (415) 555-0132", "+14155550132"),
        ("+1 (415) 555-0188", "+14155550188"),
    ]
    assert all(text[e.start : e.end] == e.text for e in phones)


def test_phones_in_ordinary_technical_messages() -> None:
    """The phone numbers customers wrote in tests/guard/ordinary_technical.jsonl, and none
    among the speeds, addresses, error codes, dates, amounts and references of the rest."""
    for row in ordinary_technical_messages():
        found = [e.text for e in RULES.extract(row["text"], now=NOW) if e.type == "phone"]
        assert found == row["phones"], row["text"]


def test_ids_emails_lookups_and_overlaps() -> None:
    text = "CU-104233 here: order KP-20481736 (a laptop) for £30 on 12 March, mail JO@Example.com"
    assert _values(text) == [
        ("customer_id", "CU-104233"),
        ("order_id", "KP-20481736"),
        ("product", "laptop"),
        ("amount", {"amount": 30.0, "currency": "GBP"}),
        ("date", "2026-03-12"),
        ("email", "jo@example.com"),
    ]
    assert _values("customer cu-104233") == []  # id patterns are case-sensitive


def test_entities_carry_span_extractor_and_confidence() -> None:
    [entity] = RULES.extract("order KP-20481736", now=NOW)
    assert (entity.start, entity.end, entity.text, entity.extractor) == (
        6, 17, "KP-20481736", "regex",
    )  # fmt: skip
    assert 0 < entity.confidence <= 1
    [money] = RULES.extract("that was £12", now=NOW)
    assert (money.text, money.extractor) == ("£12", "money")


def _examples(*lines: str) -> list[Example]:
    out = []
    for i, line in enumerate(lines):
        text, spans = parse_annotated(line)
        out.append(Example(text, "x", spans, "t.yml", i + 1))
    return out


TRAINING = _examples(
    "my [blue vase](product) arrived broken",
    "the [garden chair](product) never came",
    "where is my [coffee table](product)",
    "the [desk lamp](product) is scratched",
    "I ordered a [standing desk](product) last week",
    "my [bookshelf](product) is missing a panel",
    "the [mirror](product) was cracked",
    "refund the [rug](product) please",
    "where is my parcel",
    "I want to talk to someone",
    "hello there",
    "my order never arrived",
)


def test_crf_learns_product_names_from_annotations() -> None:
    crf = CrfEntityExtractor().fit(TRAINING)
    assert crf.types == ["product"]
    found = crf.extract("my [floor lamp] is broken".replace("[", "").replace("]", ""), now=NOW)
    assert [(e.type, e.text, e.extractor) for e in found] == [("product", "floor lamp", "crf")]
    assert 0.5 <= found[0].confidence <= 1
    assert crf.extract("hello there", now=NOW) == []


def test_crf_without_annotations_keeps_no_model() -> None:
    crf = CrfEntityExtractor().fit(_examples("hello", "bye"))
    assert not crf.trained
    assert crf.extract("my vase", now=NOW) == []


def test_pipeline_prefers_rules_and_applies_synonyms() -> None:
    crf = CrfEntityExtractor().fit(TRAINING)
    pipeline = EntityPipeline(RULES, crf, synonyms={"vase": "ceramic vase", "lappy": "laptop"})
    text = "the vase from KP-20481736 broke and my garden chair is missing"
    found = pipeline.extract(text, now=NOW)
    by_type = [(e.type, e.value, e.extractor) for e in found]
    assert ("order_id", "KP-20481736", "regex") in by_type
    assert ("product", "ceramic vase", "lookup") in by_type  # rules win, synonym applied
    assert ("product", "garden chair", "crf") in by_type
    # No span is claimed twice.
    spans = sorted((e.start, e.end) for e in found)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_a_date_without_a_year_far_ahead_means_last_year() -> None:
    january = datetime(2027, 1, 10, tzinfo=UTC)
    [entity] = RULES.extract("it was shipped on 20 December", now=january)
    assert entity.value == "2026-12-20"
