from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from frontdesk.nlu.message import understand_message
from frontdesk.nlu.sentiment import LexiconSentiment
from frontdesk.nlu.urgency import assess_urgency
from frontdesk.types import Entity, IntentPrediction, Sentiment, SentimentLabel, Urgency

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def test_sentiment_labels_and_scores() -> None:
    analyse = LexiconSentiment().analyse
    assert analyse("where is my parcel").label is SentimentLabel.NEUTRAL
    assert analyse("I need to change my delivery address").label is SentimentLabel.NEUTRAL
    angry = analyse("still no refund, this is the third time I've asked")
    assert angry.label is SentimentLabel.NEGATIVE
    assert angry.score <= -0.6
    assert analyse("this is unacceptable").label is SentimentLabel.NEGATIVE
    happy = analyse("thanks, that was really helpful")
    assert happy.label is SentimentLabel.POSITIVE
    assert 0 < happy.score <= 1
    assert analyse("WHERE IS MY PARCEL???").score < 0


def test_urgency_from_cues_and_intent_priority() -> None:
    assert assess_urgency("my account was hacked") is Urgency.CRITICAL
    assert assess_urgency("hello, someone made unauthorised payments", Urgency.LOW) is (
        Urgency.CRITICAL
    )
    assert assess_urgency("the app is down") is Urgency.HIGH
    assert assess_urgency("where is my parcel") is Urgency.NORMAL
    assert assess_urgency("where is my parcel", Urgency.HIGH) is Urgency.HIGH
    assert assess_urgency("thanks", Urgency.LOW) is Urgency.LOW


def _deadline(value: str) -> Entity:
    return Entity(type="deadline", text="by x", value=value, start=0, end=4, extractor="date")


def test_urgency_from_deadlines_and_anger() -> None:
    soon = assess_urgency("I need it by tomorrow", entities=[_deadline("2026-11-19")], now=NOW)
    assert soon is Urgency.HIGH
    later = assess_urgency("I need it by the 30th", entities=[_deadline("2026-11-30")], now=NOW)
    assert later is Urgency.NORMAL
    furious = Sentiment(label=SentimentLabel.NEGATIVE, score=-0.9)
    assert assess_urgency("this is the worst", sentiment=furious) is Urgency.HIGH
    assert assess_urgency("bye, worst ever", Urgency.LOW, sentiment=furious) is Urgency.NORMAL
    mild = Sentiment(label=SentimentLabel.NEGATIVE, score=-0.3)
    assert assess_urgency("a bit slow", sentiment=mild) is Urgency.NORMAL


class _ThreadNotingClassifier:
    def __init__(self) -> None:
        self.thread: int | None = None

    @property
    def intents(self) -> list[str]:
        return ["greet"]

    def predict(self, text: str) -> IntentPrediction:
        self.thread = threading.get_ident()
        return IntentPrediction(name="greet", confidence=0.9, ranking=[("greet", 0.9)])


class _ThreadNotingExtractor:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.thread: int | None = None

    def extract(self, text: str, *, now: datetime) -> list[Entity]:
        self.thread = threading.get_ident()
        if self.fail:
            raise RuntimeError("extractor broke")
        return [Entity(type="order_id", text="KP-1", value="KP-1", start=0, end=4,
                       extractor="rule", confidence=1.0)]  # fmt: skip


async def test_a_message_is_understood_off_the_event_loop_thread() -> None:
    classifier, extractor = _ThreadNotingClassifier(), _ThreadNotingExtractor()
    understood = await understand_message(
        "KP-1 thanks, great help",
        now=NOW,
        classifier=classifier,
        extractor=extractor,
        sentiment=LexiconSentiment(),
    )
    loop_thread = threading.get_ident()
    assert classifier.thread is not None
    assert classifier.thread != loop_thread
    assert extractor.thread == classifier.thread
    assert understood.intent.name == "greet"
    assert [e.type for e in understood.entities] == ["order_id"]
    assert understood.sentiment.label is SentimentLabel.POSITIVE


async def test_a_failing_extractor_raises_to_the_caller() -> None:
    with pytest.raises(RuntimeError, match="extractor broke"):
        await understand_message(
            "hello",
            now=NOW,
            classifier=_ThreadNotingClassifier(),
            extractor=_ThreadNotingExtractor(fail=True),
            sentiment=LexiconSentiment(),
        )
