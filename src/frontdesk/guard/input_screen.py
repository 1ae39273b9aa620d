"""Screening a customer message before anything stores it or sends it to a model:
PII redaction (e-mail, phone, Luhn-valid card numbers, IBANs) and an injection score from
rules. The guardrails issue adds a trained injection model and tenant policies."""

from __future__ import annotations

import re
from collections.abc import Callable

from frontdesk.interfaces import Screening

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# 10-15 digits (E.164), not part of a longer run of digit groups (a failed card number).
_PHONE = re.compile(r"(?<![\w-])(?<!\d )\+?\d(?:[ ().-]?\d){9,14}(?![\w-])(?! \d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_INJECTION = [
    re.compile(p, re.I)
    for p in (
        r"\bignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?|rules)",
        r"\b(reveal|print|show|repeat) (me )?(your|the) (system )?(prompt|instructions)",
        r"\byou are now\b|\bact as (an? )?(unrestricted|jailbroken)|\bdeveloper mode\b",
        r"\bdisregard (your|all|the) (rules|guidelines|instructions)",
    )
]


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """(label, start, end) of each piece of personal data, earlier patterns winning overlaps."""
    spans: list[tuple[str, int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for _, s, e in spans)

    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(("card_number", match.start(), match.end()))
    for label, pattern in (("iban", _IBAN), ("email", _EMAIL), ("phone", _PHONE)):
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                spans.append((label, match.start(), match.end()))
    return sorted(spans, key=lambda span: span[1])


PLACEHOLDER = {"card_number": "[CARD]", "iban": "[IBAN]", "email": "[EMAIL]", "phone": "[PHONE]"}


def redact(text: str, keep: Callable[[str], bool] = lambda _value: False) -> tuple[str, list[str]]:
    """Replace personal data with placeholders, except values for which `keep` is true."""
    out: list[str] = []
    found: list[str] = []
    cursor = 0
    for label, start, end in find_pii(text):
        if keep(text[start:end]):
            continue
        out.append(text[cursor:start])
        out.append(PLACEHOLDER[label])
        found.append(label)
        cursor = end
    out.append(text[cursor:])
    return "".join(out), found


class InputScreen:
    """Implements `Guard` for inbound customer text."""

    def __init__(self, *, max_chars: int = 4000) -> None:
        self.max_chars = max_chars

    def screen(self, text: str) -> Screening:
        if len(text) > self.max_chars:
            return Screening(
                text=text[: self.max_chars],
                findings=["too_long"],
                blocked=True,
                reason=f"message is longer than {self.max_chars} characters",
            )
        redacted, findings = redact(text)
        hits = sum(1 for pattern in _INJECTION if pattern.search(redacted))
        if hits:
            findings.append("prompt_injection")
        return Screening(
            text=redacted, findings=sorted(set(findings)), injection_score=min(1.0, 0.6 * hits)
        )


class OutputScreen:
    """Checks a reply: no personal data the customer did not give in this conversation."""

    def screen_reply(self, reply: str, given: list[str]) -> str:
        return redact(reply, keep=lambda value: any(value in text for text in given))[0]
