"""Urgency from the intent's priority in the rules plus cue words in the message."""

from __future__ import annotations

import re

from frontdesk.types import Urgency

_CRITICAL = re.compile(
    r"\b(hacked|fraud|stolen (card|account)|unauthori[sz]ed|data breach|everything is down)\b",
    re.I,
)
_HIGH = re.compile(
    r"\b(urgent|asap|immediately|outage|down|not working|can'?t log ?in|deadline|today)\b", re.I
)


def assess_urgency(text: str, intent_priority: Urgency | None = None) -> Urgency:
    if _CRITICAL.search(text):
        return Urgency.CRITICAL
    if _HIGH.search(text):
        order = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]
        return max(Urgency.HIGH, intent_priority or Urgency.NORMAL, key=order.index)
    return intent_priority or Urgency.NORMAL
