"""Urgency cue words from rules.yaml: added to the built-in ones, or instead of them."""

from __future__ import annotations

from frontdesk.config.rules import UrgencyCuesConfig
from frontdesk.nlu.urgency import DEFAULT_CUES, UrgencyCues, assess_urgency
from frontdesk.types import Urgency


def test_the_defaults_are_unchanged() -> None:
    assert UrgencyCues.from_config(UrgencyCuesConfig()) == DEFAULT_CUES
    assert assess_urgency("my account was hacked") is Urgency.CRITICAL
    assert assess_urgency("the app is down") is Urgency.HIGH


def test_operator_cues_add_to_the_defaults() -> None:
    cues = UrgencyCues.from_config(
        UrgencyCuesConfig(
            critical=["no dial tone", r"re:\bcarbon monoxide\b"], high=["won't connect"]
        )
    )
    assert assess_urgency("there is NO dial tone at all", cues=cues) is Urgency.CRITICAL
    assert assess_urgency("I smell carbon monoxide", cues=cues) is Urgency.CRITICAL
    assert assess_urgency("my laptop won\u2019t connect", cues=cues) is Urgency.HIGH
    assert assess_urgency("my account was hacked", cues=cues) is Urgency.CRITICAL  # kept
    assert assess_urgency("no dial tone") is Urgency.NORMAL  # not a default cue


def test_operator_cues_can_replace_the_defaults() -> None:
    cues = UrgencyCues.from_config(UrgencyCuesConfig(high=["outage"], keep_defaults=False))
    assert assess_urgency("my account was hacked", cues=cues) is Urgency.NORMAL
    assert assess_urgency("is there an outage?", cues=cues) is Urgency.HIGH
    assert assess_urgency("it is urgent", cues=cues) is Urgency.NORMAL
