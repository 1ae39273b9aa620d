"""Rule-based entity extraction: configured id patterns, training-data regexes and lookup
tables, money amounts, e-mail addresses and relative or absolute dates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from frontdesk.types import Entity

_MONEY = re.compile(
    r"(?P<sym>[£$€])\s?(?P<num>\d{1,7}(?:[.,]\d{3})*(?:\.\d{1,2})?)"
    r"|(?P<num2>\d{1,7}(?:\.\d{1,2})?)\s?(?P<word>pounds?|gbp|dollars?|usd|euros?|eur)\b",
    re.IGNORECASE,
)
_CURRENCY = {
    "£": "GBP", "$": "USD", "€": "EUR", "pound": "GBP", "pounds": "GBP", "gbp": "GBP",
    "dollar": "USD", "dollars": "USD", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
}  # fmt: skip
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
]  # fmt: skip
_MONTH_RE = "|".join(m[:3] + f"(?:{m[3:]})?" for m in _MONTHS)
_DATE = re.compile(
    r"\b(?P<iso>\d{4}-\d{2}-\d{2})\b"
    r"|\b(?P<rel>today|tonight|yesterday|tomorrow)\b"
    r"|\b(?:(?P<dir>last|next|this)\s+)?(?P<wd>" + "|".join(_WEEKDAYS) + r")\b"
    r"|\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon>" + _MONTH_RE + r")\b"
    r"|\b(?P<mon2>" + _MONTH_RE + r")\s+(?P<day2>\d{1,2})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)


class RuleEntityExtractor:
    def __init__(
        self,
        patterns: Mapping[str, str | Iterable[str]] | None = None,
        lookups: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for name, spec in (patterns or {}).items():
            for pattern in [spec] if isinstance(spec, str) else spec:
                self._patterns.append((name, re.compile(pattern)))
        self._lookups: list[tuple[str, re.Pattern[str]]] = []
        for name, values in (lookups or {}).items():
            words = sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True)
            if words:
                alternation = "|".join(re.escape(w) for w in words)
                self._lookups.append((name, re.compile(rf"\b(?:{alternation})\b", re.I)))

    def extract(self, text: str, *, now: datetime) -> list[Entity]:
        found: list[Entity] = []
        for name, pattern in self._patterns:
            for m in pattern.finditer(text):
                found.append(_entity(name, m, m.group(0).upper(), "regex"))
        for m in _EMAIL.finditer(text):
            found.append(_entity("email", m, m.group(0).lower(), "regex"))
        for m in _MONEY.finditer(text):
            number = (m.group("num") or m.group("num2")).replace(",", "")
            unit = (m.group("sym") or m.group("word") or "").lower()
            value = {"amount": float(number), "currency": _CURRENCY.get(unit, unit.upper())}
            found.append(_entity("amount", m, value, "money"))
        for m in _DATE.finditer(text):
            day = _date_value(m, now.date())
            if day is not None:
                found.append(_entity("date", m, day.isoformat(), "date", confidence=0.9))
        for name, pattern in self._lookups:
            for m in pattern.finditer(text):
                found.append(_entity(name, m, m.group(0).lower(), "lookup", confidence=0.8))
        return _without_overlaps(found)


def _entity(
    name: str, m: re.Match[str], value: object, extractor: str, confidence: float = 1.0
) -> Entity:
    return Entity(
        type=name,
        text=m.group(0),
        value=value,
        start=m.start(),
        end=m.end(),
        extractor=extractor,
        confidence=confidence,
    )


def _date_value(m: re.Match[str], today: date) -> date | None:
    if m.group("iso"):
        try:
            return date.fromisoformat(m.group("iso"))
        except ValueError:
            return None
    if m.group("rel"):
        offset = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}
        return today + timedelta(days=offset[m.group("rel").lower()])
    if m.group("wd"):
        target = _WEEKDAYS.index(m.group("wd").lower())
        direction = (m.group("dir") or "").lower()
        delta = target - today.weekday()
        if direction == "next":
            return today + timedelta(days=delta % 7 or 7)
        if direction == "this":
            return today + timedelta(days=delta)
        # A bare or "last" weekday in support messages almost always means the past one.
        return today - timedelta(days=(-delta) % 7 or 7)
    day, month = m.group("day") or m.group("day2"), m.group("mon") or m.group("mon2")
    month_index = next(i for i, name in enumerate(_MONTHS) if name.startswith(month.lower()[:3]))
    try:
        candidate = date(today.year, month_index + 1, int(day))
    except ValueError:
        return None
    # Without a year, pick the nearest such date (a delivery date last December, say).
    if (candidate - today).days > 183:
        candidate = candidate.replace(year=today.year - 1)
    return candidate


def _without_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the longest span where two overlap (an order id over a bare number, say)."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (-(e.end - e.start), e.start)):
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)
