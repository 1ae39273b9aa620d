from __future__ import annotations

from datetime import UTC, datetime

from frontdesk.nlu.sentiment import LexiconSentiment
from frontdesk.nlu.urgency import assess_urgency
from frontdesk.types import Entity, Sentiment, SentimentLabel, Urgency

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
