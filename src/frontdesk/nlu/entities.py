"""Rule-based entity extraction: configured id patterns, training-data regexes and lookup
tables, e-mail addresses, phone numbers, money amounts with their currency, and dates and
deadlines resolved against the message's time. `EntityPipeline` adds a trained extractor
(see `crf_entities`) for what the rules do not cover, and maps synonyms to their values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from frontdesk.config.settings import NluSettings
from frontdesk.nlu.dates import DateOrder, find_dates
from frontdesk.nlu.training_data import TrainingData
from frontdesk.types import Entity

# Types the rule extractor produces without any configuration.
BUILTIN_TYPES = ("email", "phone", "amount", "date", "deadline")

_SYMBOLS = {"£": "GBP", "$": "USD", "€": "EUR", "¥": "JPY", "₹": "INR", "us$": "USD",
            "a$": "AUD", "c$": "CAD", "chf": "CHF"}  # fmt: skip
_WORDS = {
    "pound": "GBP", "pounds": "GBP", "quid": "GBP", "gbp": "GBP", "sterling": "GBP",
    "dollar": "USD", "dollars": "USD", "bucks": "USD", "usd": "USD",
    "euro": "EUR", "euros": "EUR", "eur": "EUR", "yen": "JPY", "jpy": "JPY",
    "rupees": "INR", "inr": "INR", "chf": "CHF", "francs": "CHF", "aud": "AUD", "cad": "CAD",
    "pence": "GBP/100", "p": "GBP/100", "cents": "USD/100", "cent": "USD/100",
}  # fmt: skip
# 1,234.56 | 1.234,56 | 1234 | 12,50 | 1 234,56; an optional k/m multiplier.
_AMOUNT = (
    r"(?P<num>\d{1,3}(?:[,.\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?P<mult>[km]\b)?"
)
_CODES = r"(?:gbp|usd|eur|jpy|inr|chf|aud|cad)"
_MONEY = re.compile(
    r"(?<![\w.])(?:(?P<sym>us\$|a\$|c\$|[£$€¥₹])\s?|(?P<code>"
    + _CODES
    + r")\s?)"
    + _AMOUNT
    + r"|(?<![\w.])"
    + _AMOUNT.replace("num", "num2").replace("mult", "mult2")
    + r"\s?(?P<word>pounds?|quid|sterling|dollars?|bucks|euros?|yen|rupees|francs|pence|p|"
    r"cents?|[£€]|" + _CODES + r")(?!\w)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# A run of digits in groups: an optional "+" (or "00") and separators of one space, dash or
# dot, or brackets around a group ("(415) 555-0132", "+44 (0)20 7946 0958"). Not glued to a
# word, an id (KP-12345678), a decimal, a path or a longer number. `phone_number` then decides
# by the groups' shape whether the run (or its head) is a phone number.
_PHONE_RUN = re.compile(
    r"(?<![\w+./\-])(?<!\d )(?:\+ ?|00)?\(?\d+\)?(?:(?:[ .\-]|\) ?| ?\()\(?\d+\)?)*"
    r"(?![\w\-/@]|[.,]\d)"
)
_PHONE_SEPARATORS = re.compile(r"[ .\-]|\)[ .\-]?|[ .\-]?\(")


class TrainedExtractor(Protocol):
    def extract(self, text: str, *, now: datetime) -> list[Entity]: ...


class RuleEntityExtractor:
    def __init__(
        self,
        patterns: Mapping[str, str | Iterable[str]] | None = None,
        lookups: Mapping[str, Iterable[str]] | None = None,
        *,
        date_order: DateOrder = "DMY",
    ) -> None:
        self.date_order: DateOrder = date_order
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

    @property
    def types(self) -> list[str]:
        names = {n for n, _ in self._patterns} | {n for n, _ in self._lookups}
        return sorted({*BUILTIN_TYPES, *names})

    def extract(self, text: str, *, now: datetime) -> list[Entity]:
        found: list[Entity] = []
        for name, pattern in self._patterns:
            for m in pattern.finditer(text):
                found.append(_entity(name, m, m.group(0).upper(), "regex"))
        for m in _EMAIL.finditer(text):
            found.append(_entity("email", m, m.group(0).lower(), "regex"))
        for m in _MONEY.finditer(text):
            value = _money(m)
            if value is not None:
                found.append(_entity("amount", m, value, "money", confidence=0.95))
        for d in find_dates(text, now, self.date_order):
            found.append(
                Entity(
                    type="deadline" if d.deadline else "date",
                    text=d.text,
                    value=d.value.isoformat(),
                    start=d.start,
                    end=d.end,
                    extractor="date",
                    confidence=0.9,
                )
            )
        for m in _PHONE_RUN.finditer(text):
            phone = phone_number(m.group(0))
            if phone is not None:
                end = m.start() + len(phone[0])
                found.append(
                    Entity(type="phone", text=phone[0], value=phone[1], start=m.start(),
                           end=end, extractor="regex", confidence=0.85)
                )  # fmt: skip
        for name, pattern in self._lookups:
            for m in pattern.finditer(text):
                found.append(_entity(name, m, m.group(0).lower(), "lookup", confidence=0.8))
        return without_overlaps(found)


def rule_extractor(settings: NluSettings, data: TrainingData) -> RuleEntityExtractor:
    """The rules of a workspace: `nlu.entity_patterns`, and only those training-data regexes
    and lookup tables that `nlu.extractors` names (the others are features of the trained
    extractor, which learns when to trust them: see `crf_entities.EntityFeatures`)."""
    patterns: dict[str, list[str]] = {k: [v] for k, v in settings.entity_patterns.items()}
    for name in settings.extractors.regex:
        for regex in data.regexes.get(name, []):
            if regex not in patterns.setdefault(name, []):
                patterns[name].append(regex)
    lookups = {n: data.lookups[n] for n in settings.extractors.lookup if n in data.lookups}
    return RuleEntityExtractor(patterns, lookups, date_order=settings.date_order)


def phone_number(run: str) -> tuple[str, str] | None:
    """(text, value) of the phone number a run of digit groups starts with, or None.

    Accepted: an international number ("+44 20 7946 0958", "0044 ...", "+44 (0)20 ...": 8-15
    digits, value "+" and the digits); a North American one ("(415) 555-0132", "415-555-0132",
    "1-800-555-0199": three, three and four digits); a national number with its trunk 0
    ("020 7946 0958", "0800 123 4567", "07700 900123", "01 23 45 67 89": 10-12 digits, value
    the digits). Not: dates (2026-03-12), IP addresses, card or account numbers grouped in
    fours, amounts, references whose groups have no phone's shape (2026-0311-7781). A run
    that is longer than a phone number ("020 7946 0958 12") gives its longest phone head."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    for count in range(len(groups), 0, -1):
        end = groups[count - 1][1]
        head = run[:end] + (")" if run[end : end + 1] == ")" and "(" in run[:end] else "")
        value = _phone_value(head, [run[a:b] for a, b in groups[:count]])
        if value is not None:
            return head, value
    return None


def _phone_value(text: str, groups: list[str]) -> str | None:
    seps = re.split(r"\d+", text)[1:-1]
    if any(not _PHONE_SEPARATORS.fullmatch(s) for s in seps) or text.count("(") != text.count(")"):
        return None
    digits = "".join(groups)
    sizes = [len(g) for g in groups]
    if seps and all(s == "." for s in seps) and len(groups) == 4 and max(sizes) <= 3:
        return None  # an IP address
    if text.startswith(("+", "00")):
        # +44 (0)20 ...: the bracketed trunk 0 is not dialled from abroad.
        trunk = "(0)" in text and len(groups) > 1 and groups[1] == "0"
        digits = "".join(g for i, g in enumerate(groups) if not (trunk and i == 1))
        digits = digits[2:] if text.startswith("00") else digits
        grouped = len(groups) >= 2 or text.startswith("+")  # "+447700900123", not "0044..."
        return "+" + digits if 8 <= len(digits) <= 15 and grouped else None
    if sizes in ([3, 3, 4], [1, 3, 3, 4]) and (sizes[0] == 3 or groups[0] == "1"):
        return digits if groups[-3][0] in "23456789" else None  # a North American area code
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        if len(groups) == 1:
            return digits if len(digits) <= 11 else None  # 07700900123
        if len(groups) >= 3 and all(n == 4 for n in sizes[:3]):
            return None  # grouped in fours like a card or account number
        if 2 <= sizes[0] <= 5 and min(sizes[1:]) >= 2:
            return digits
    return None


def _parse_number(raw: str) -> float:
    raw = raw.replace("\u00a0", " ").replace(" ", "")
    if "," in raw and "." in raw:
        # Whichever separator comes last is the decimal one: 1,234.56 or 1.234,56.
        if raw.rfind(",") > raw.rfind("."):
            raw = raw.replace(".", "").replace(",", ".")
        else:
            raw = raw.replace(",", "")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        # 12,50 is a decimal comma; 1,250 is thousands.
        raw = f"{head.replace(',', '')}.{tail}" if len(tail) <= 2 else raw.replace(",", "")
    elif raw.count(".") > 1 or (raw.count(".") == 1 and len(raw.rpartition(".")[2]) == 3):
        raw = raw.replace(".", "")
    return float(raw)


def _money(m: re.Match[str]) -> dict[str, object] | None:
    if m.group("num") is not None:
        number, mult = m.group("num"), m.group("mult")
        unit = (m.group("sym") or m.group("code") or "").lower()
        currency = _SYMBOLS.get(unit) or _WORDS.get(unit) or unit.upper()
    else:
        number, mult = m.group("num2"), m.group("mult2")
        unit = m.group("word").lower()
        currency = _SYMBOLS.get(unit) or _WORDS.get(unit) or unit.upper()
        if unit == "p" and not re.fullmatch(r"\d{1,3}", number):
            return None  # "2p" is pence; "2022p" is not money
    try:
        amount = _parse_number(number)
    except ValueError:
        return None
    if mult:
        amount *= 1000 if mult.lower() == "k" else 1_000_000
    if currency.endswith("/100"):
        currency, amount = currency[:3], amount / 100
    return {"amount": round(amount, 2), "currency": currency}


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


def without_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the longest span where two overlap (an order id over a bare number, say)."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (-(e.end - e.start), -e.confidence, e.start)):
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)


class EntityPipeline:
    """Rules first (their values are normalised), then a trained extractor for spans the rules
    did not claim; synonyms map surface text to the operator's canonical values.

    The trained extractor is looked up on every call (`trained()`), so a newly promoted model
    is used as soon as it is swapped in."""

    def __init__(
        self,
        rules: RuleEntityExtractor,
        trained: TrainedExtractor | None = None,
        synonyms: Mapping[str, str] | None = None,
    ) -> None:
        self.rules = rules
        self.trained = trained
        self.synonyms = {k.lower(): v for k, v in (synonyms or {}).items()}

    @property
    def types(self) -> list[str]:
        learned = getattr(self.trained, "types", None) or []
        return sorted({*self.rules.types, *learned})

    def extract(self, text: str, *, now: datetime) -> list[Entity]:
        found = self.rules.extract(text, now=now)
        if self.trained is not None:
            for entity in self.trained.extract(text, now=now):
                if all(entity.end <= k.start or entity.start >= k.end for k in found):
                    found.append(self._normalise(entity, now))
            found.sort(key=lambda e: e.start)
        for entity in found:
            if isinstance(entity.value, str) and entity.value.lower() in self.synonyms:
                entity.value = self.synonyms[entity.value.lower()]
        return found

    def _normalise(self, entity: Entity, now: datetime) -> Entity:
        """A learned date span gets a calendar value when the date rules can read it."""
        if entity.type in {"date", "deadline"}:
            dates = find_dates(entity.text, now, self.rules.date_order)
            if dates:
                entity.value = dates[0].value.isoformat()
        return entity
