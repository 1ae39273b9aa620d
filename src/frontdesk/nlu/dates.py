"""Dates and deadlines in support messages, normalised relative to when the message arrived.

Hand-written rather than `dateparser` (about 1.3 ms a call here, and its search mode finds
dates in words like "may" and "march on"): one compiled pattern finds candidate spans, and a
small resolver turns each into a calendar date. Numeric dates follow the configured order
("DMY": 10/03/2026 is 10 March; "MDY": October 3).

A span introduced by "by", "before", "until", "no later than" or "within" is a deadline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

DateOrder = Literal["DMY", "MDY"]

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
]  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "couple of": 2, "a couple of": 2, "few": 3, "a few": 3,
}  # fmt: skip
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "hour": 0, "hours": 0}

# "may" alone is too often the verb: a month name needs a day next to it.
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# Full names (and "tues", "weds", "thurs"): "sat", "sun" and "wed" are words too.
_WD = r"(?:monday|tuesday|tues|wednesday|weds|thursday|thurs|friday|saturday|sunday)"
_ORD = r"(?:st|nd|rd|th)?"
_NUM = (
    r"(?:\d{1,2}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"(?:a\s+)?couple\s+of|(?:a\s+)?few)"
)
_DEADLINE = r"(?P<deadline>by|before|until|till|no\s+later\s+than|not\s+later\s+than|within)\s+"

_BODY = (
    r"(?P<iso>\d{4}-\d{1,2}-\d{1,2})"
    r"|(?P<n1>\d{1,2})/(?P<n2>\d{1,2})(?:/(?P<n3>\d{2}|\d{4}))?(?![/\d])"
    r"|(?P<d1>\d{1,2})[.-](?P<d2>\d{1,2})[.-](?P<d3>\d{4})"
    r"|(?:(?:on\s+)?"
    + _WD
    + r",?\s+)?(?:the\s+)?(?P<day>\d{1,2})"
    + _ORD
    + r"(?:\s+of)?\s+(?P<mon>"
    + _MONTH
    + r")"
    r"(?:,?\s+(?P<year>\d{4}))?"
    r"|(?P<mon2>"
    + _MONTH
    + r")\s+(?:the\s+)?(?P<day2>\d{1,2})"
    + _ORD
    + r"(?:,?\s+(?P<year2>\d{4}))?"
    r"|(?P<dat>the\s+day\s+after\s+tomorrow|the\s+day\s+before\s+yesterday)"
    r"|(?P<rel>today|tonight|tomorrow|tmrw|yesterday|this\s+(?:morning|afternoon|evening)"
    r"|last\s+night)"
    r"|(?P<month>(?:last|next|this)\s+month)"
    r"|the\s+(?P<nth>\d{1,2})(?:st|nd|rd|th)(?!\s+(?:of\s+)?" + _MONTH + r")"
    r"|(?P<agoN>" + _NUM + r")\s+(?P<agoU>days?|weeks?)\s+ago"
    r"|(?:in\s+)?(?P<inN>" + _NUM + r")\s+(?P<inU>days?|weeks?|hours?)(?!\s+ago)"
    r"|(?P<eow>(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?:week|month))"
    r"|(?P<nw>next\s+week|last\s+week|this\s+weekend|the\s+weekend|next\s+weekend)"
    r"|(?:(?P<dir>last|next|this|on|coming)\s+)?(?P<wd>" + _WD + r")"
)
PATTERN = re.compile(r"\b(?:" + _DEADLINE + r")?(?:" + _BODY + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class FoundDate:
    start: int
    end: int
    text: str
    value: date
    deadline: bool


def find_dates(text: str, now: datetime, order: DateOrder = "DMY") -> list[FoundDate]:
    today = now.date()
    found = []
    for m in PATTERN.finditer(text):
        # "in 2 weeks" and "within 3 days" are dates; "3 days" alone is a duration.
        if m.group("inN") and not (m.group(0).lower().startswith("in") or m.group("deadline")):
            continue
        value = _resolve(m, today, order)
        if value is None:
            continue
        found.append(FoundDate(m.start(), m.end(), m.group(0), value, bool(m.group("deadline"))))
    return found


def _number(word: str) -> int:
    word = " ".join(word.lower().split())
    return int(word) if word.isdigit() else _NUMBERS[word]


def _month(name: str) -> int:
    name = name.lower().rstrip(".")
    return next(i for i, full in enumerate(MONTHS, start=1) if full.startswith(name[:3]))


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nearest(candidate: date | None, today: date, future: bool) -> date | None:
    """A date given without a year. A deadline is the next such date; otherwise this year's,
    unless that is more than half a year ahead (last December's delivery, asked in January)."""
    if candidate is None:
        return None
    if future:
        if candidate < today:
            return _safe_date(candidate.year + 1, candidate.month, candidate.day)
        return candidate
    if (candidate - today).days > 183:
        return _safe_date(candidate.year - 1, candidate.month, candidate.day)
    return candidate


def _year(text: str | None, today: date) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _resolve(m: re.Match[str], today: date, order: DateOrder) -> date | None:
    future = bool(m.group("deadline"))
    if m.group("iso"):
        y, mo, d = (int(p) for p in m.group("iso").split("-"))
        return _safe_date(y, mo, d)
    if m.group("d1"):
        a, b = int(m.group("d1")), int(m.group("d2"))
        day, month = (a, b) if order == "DMY" else (b, a)
        return _safe_date(int(m.group("d3")), month, day)
    if m.group("n1"):
        a, b = int(m.group("n1")), int(m.group("n2"))
        day, month = (a, b) if order == "DMY" else (b, a)
        year = _year(m.group("n3"), today)
        if year is not None:
            return _safe_date(year, month, day)
        if month > 12 or day > 31:
            return None
        return _nearest(_safe_date(today.year, month, day), today, future)
    if m.group("mon") or m.group("mon2"):
        month = _month(m.group("mon") or m.group("mon2"))
        day = int(m.group("day") or m.group("day2"))
        year = _year(m.group("year") or m.group("year2"), today)
        if year is not None:
            return _safe_date(year, month, day)
        return _nearest(_safe_date(today.year, month, day), today, future)
    if m.group("dat"):
        return today + timedelta(days=2 if "after" in m.group("dat").lower() else -2)
    if m.group("rel"):
        word = " ".join(m.group("rel").lower().split())
        offsets = {"tomorrow": 1, "tmrw": 1, "yesterday": -1, "last night": -1}
        return today + timedelta(days=offsets.get(word, 0))
    if m.group("month"):
        # The first day of that month: "last month" names a month, not a day in it.
        first = today.replace(day=1)
        which = m.group("month").lower().split()[0]
        if which == "last":
            return (first - timedelta(days=1)).replace(day=1)
        if which == "next":
            return (first + timedelta(days=32)).replace(day=1)
        return first
    if m.group("nth"):
        # "the 2nd": a day of this month, or the nearest month that has it.
        return _nearest(_safe_date(today.year, today.month, int(m.group("nth"))), today, future)
    if m.group("agoN"):
        unit = _UNITS[m.group("agoU").lower()]
        return today - timedelta(days=_number(m.group("agoN")) * unit)
    if m.group("inN"):
        unit = _UNITS[m.group("inU").lower()]
        if unit == 0:  # hours: the same day, or the next when it runs past midnight
            return today + timedelta(days=_number(m.group("inN")) // 24)
        return today + timedelta(days=_number(m.group("inN")) * unit)
    if m.group("eow"):
        if "month" in m.group("eow").lower():
            first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
            return first_next - timedelta(days=1)
        return today + timedelta(days=(4 - today.weekday()) % 7)  # Friday
    if m.group("nw"):
        phrase = " ".join(m.group("nw").lower().split())
        monday = today - timedelta(days=today.weekday())
        if phrase == "next week":
            return monday + timedelta(days=7)
        if phrase == "last week":
            return monday - timedelta(days=7)
        saturday = monday + timedelta(days=5)
        return saturday + timedelta(days=7) if phrase == "next weekend" else saturday
    target = next(i for i, day in enumerate(WEEKDAYS) if day.startswith(m.group("wd").lower()[:3]))
    direction = (m.group("dir") or "").lower()
    delta = target - today.weekday()
    if direction in {"next", "coming"} or future:
        return today + timedelta(days=delta % 7 or (7 if direction else 0))
    if direction == "this":
        return today + timedelta(days=delta)
    # A bare weekday ("it was due Tuesday", "sent on Monday") in a support message almost
    # always means the last one.
    return today - timedelta(days=(-delta) % 7 or 7)
