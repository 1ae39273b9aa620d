"""Urgency (critical / high / normal / low) from the intent's priority in the rules, cue
phrases (outages, security, money taken), deadlines close to the message time, and anger.

Cues only ever raise the intent's priority: a "low" greeting that says "my account was
hacked" is critical, but an outage intent never drops below its configured level. The cue
words are configurable (`urgency_cues:` in rules.yaml): added to the built-in ones, or
instead of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from frontdesk.config.rule_text import phrase_pattern
from frontdesk.config.rules import UrgencyCuesConfig
from frontdesk.types import Entity, Sentiment, Urgency

_CRITICAL = re.compile(
    r"\b(hacked|fraud(?:ulent)?|stolen (?:card|account|identity)|unauthori[sz]ed|data breach"
    r"|security breach|phishing|someone else (?:logged|is using)|everything is down"
    r"|all (?:systems|services) (?:are )?down|total outage|emergency|danger(?:ous)?|fire"
    r"|injur(?:ed|y))\b",
    re.IGNORECASE,
)
_HIGH = re.compile(
    r"\b(urgent(?:ly)?|asap|a\.s\.a\.p|immediately|right now|outage|(?:is|are|went|gone) down"
    r"|not working|doesn'?t work|stopped working|can'?t (?:log ?in|sign ?in|access)|locked out"
    r"|deadline|charged twice|double charged|overcharged|medication|medicine|perishable)\b",
    re.IGNORECASE,
)
_ORDER = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]


@dataclass(frozen=True)
class UrgencyCues:
    """Patterns that make a message critical, or at least high."""

    critical: tuple[re.Pattern[str], ...] = (_CRITICAL,)
    high: tuple[re.Pattern[str], ...] = (_HIGH,)

    @classmethod
    def from_config(cls, config: UrgencyCuesConfig) -> UrgencyCues:
        """The operator's cues (phrases or `re:` patterns), with or without the built-in."""
        keep = config.keep_defaults
        return cls(
            critical=((_CRITICAL,) if keep else ()) + tuple(map(phrase_pattern, config.critical)),
            high=((_HIGH,) if keep else ()) + tuple(map(phrase_pattern, config.high)),
        )


DEFAULT_CUES = UrgencyCues()


def _at_least(current: Urgency, floor: Urgency) -> Urgency:
    return max(current, floor, key=_ORDER.index)


def assess_urgency(
    text: str,
    intent_priority: Urgency | None = None,
    *,
    sentiment: Sentiment | None = None,
    entities: Sequence[Entity] = (),
    now: datetime | None = None,
    cues: UrgencyCues = DEFAULT_CUES,
) -> Urgency:
    urgency = intent_priority or Urgency.NORMAL
    text = text.replace("\u2019", "'")
    if any(pattern.search(text) for pattern in cues.critical):
        return Urgency.CRITICAL
    if any(pattern.search(text) for pattern in cues.high):
        urgency = _at_least(urgency, Urgency.HIGH)
    if now is not None:
        today = now.date()
        for entity in entities:
            if entity.type == "deadline" and isinstance(entity.value, str):
                try:
                    days = (date.fromisoformat(entity.value) - today).days
                except ValueError:
                    continue
                # A deadline today or tomorrow cannot wait in a normal queue.
                if days <= 1:
                    urgency = _at_least(urgency, Urgency.HIGH)
    if sentiment is not None and sentiment.score <= -0.6:
        # An angry customer is seen sooner, but anger alone never makes a message critical.
        urgency = _at_least(urgency, Urgency.NORMAL if urgency is Urgency.LOW else Urgency.HIGH)
    return urgency
