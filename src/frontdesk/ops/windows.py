"""Time expressions in an operator's question, read relative to the moment it is asked.

A small documented grammar (no dateparser: it is not a dependency, and these phrases mean
operations shifts, not calendar arithmetic). All times are UTC, the demo target's clock.

    last night | overnight            18:00 the day before → 08:00 (or now, if earlier)
    tonight | this evening            16:00 today → now
    this morning | this afternoon     00:00-12:00 | 12:00-18:00 today (ending at now)
    today | yesterday                 the whole day (today ends at now)
    yesterday morning|afternoon|evening|night   that part of yesterday
    <weekday> [morning|afternoon|evening|night] the latest such day (today counts), or part
    on <weekday>                      the same
    since <weekday|yesterday|today> [HH:MM]      that moment → now;  since HH:MM  its last
                                      passing (today, else yesterday)
    [on] DATE [morning|...|night]     a calendar day (or part): "1 December", "Dec 3", "the
                                      2nd of December"; the latest such date not after the
                                      moment (so in December, "24 December" is last year's);
                                      a day the month lacks is not read as a date
    since DATE [HH:MM]                that moment → now;  between H and H on DATE  those hours
    (over) the weekend                the latest Saturday 00:00 → Monday 00:00
    this week | last week             Monday 00:00 → now | the Monday before → this Monday
    last N hours|days                 now - N → now
    between H[am|pm] and H[am|pm]     those hours on the day named (default today, or
                                      yesterday when they have not begun yet);
                                      "between 2 and 5pm" reads the first hour as pm too
anything else: the last 24 hours (DEFAULT_HOURS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

DEFAULT_HOURS = 24
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS = {  # part of a day: (start hour, end hour; 32 = 08:00 the next day)
    "morning": (0, 12),
    "afternoon": (12, 18),
    "evening": (16, 24),
    "night": (18, 32),
}
_DAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today)"
_PART = r"(morning|afternoon|evening|night)"
_HOUR = r"([01]?\d|2[0-4])(?!\d)"  # an impossible clock time (99:99) is not read as one
_CLOCK = r"([01]?\d|2[0-3]):([0-5]\d)(?!\d)"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])")  # fmt: skip
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?(?!\d)"
_DATE = rf"\b(?:(?:the\s+)?{_ORD}(?:\s+of)?\s+{_MONTH}|{_MONTH}\.?\s+{_ORD})"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    phrase: str  # the words it was read from ("" for the default)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=moment.tzinfo)


def _day(word: str, now: datetime) -> datetime:
    today = _midnight(now)
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    back = (now.weekday() - WEEKDAYS.index(word)) % 7
    return today - timedelta(days=back)


def _date(match: re.Match[str], now: datetime, first: int = 1) -> datetime | None:
    """Midnight of the date matched by _DATE (its groups from `first` on): this year's, or
    last year's when this year's is still to come; None for a day the month lacks."""
    day_a, month_a, month_b, day_b = match.group(first, first + 1, first + 2, first + 3)
    day, month = int(day_a or day_b), MONTHS.index((month_a or month_b)[:3]) + 1
    for year in (now.year, now.year - 1):
        try:
            moment = datetime(year, month, day, tzinfo=now.tzinfo)
        except ValueError:
            return None
        if moment <= now:
            return moment
    return None


def _hour(number: str, suffix: str | None) -> int:
    hour = int(number) % 12 if suffix else int(number)
    return hour + 12 if suffix == "pm" else hour


def _span(start: datetime, end: datetime, now: datetime, phrase: str) -> Window:
    return Window(start, min(end, now), phrase)


def parse_window(question: str, now: datetime) -> Window:
    """The window a question asks about (see the module's grammar)."""
    text = question.lower()
    today = _midnight(now)
    if m := re.search(r"between " + _HOUR + r"\s*(am|pm)? and " + _HOUR + r"\s*(am|pm)?", text):
        day_word = re.search(_DAY, text)
        date = re.search(_DATE, text)
        on_date = _date(date, now) if date else None
        day = on_date or (_day(day_word.group(1), now) if day_word else today)
        end_h = _hour(m.group(3), m.group(4))
        start_h = _hour(
            m.group(1), m.group(2) or (m.group(4) if int(m.group(1)) < int(m.group(3)) else None)
        )
        if not (day_word or on_date) and day + timedelta(hours=start_h) > now:
            day -= timedelta(days=1)  # hours still to come today: the last time they passed
        return _span(day + timedelta(hours=start_h), day + timedelta(hours=end_h), now, m.group(0))
    if (m := re.search(r"since " + _DATE + r"(?:\s+" + _CLOCK + ")?", text)) and (
        start := _date(m, now)
    ):
        if m.group(5):
            start += timedelta(hours=int(m.group(5)), minutes=int(m.group(6)))
        return Window(start, now, m.group(0))
    if m := re.search(r"since " + _DAY + r"(?:\s+" + _CLOCK + ")?", text):
        start = _day(m.group(1), now)
        if m.group(2):
            start += timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return Window(start, now, m.group(0))
    if m := re.search(r"since " + _CLOCK, text):
        start = today + timedelta(hours=int(m.group(1)), minutes=int(m.group(2)))
        return Window(start - timedelta(days=1) if start > now else start, now, m.group(0))
    if m := re.search(r"last (\d{1,4}) (hour|day)s?", text):
        unit = timedelta(hours=1) if m.group(2) == "hour" else timedelta(days=1)
        return Window(now - int(m.group(1)) * unit, now, m.group(0))
    if m := re.search(r"\b(last night|overnight)\b", text):
        start = today - timedelta(days=1) if now.hour < 18 else today
        return _span(start + timedelta(hours=18), start + timedelta(hours=32), now, m.group(0))
    if m := re.search(r"\b(tonight|this evening)\b", text):
        return Window(today + timedelta(hours=16), now, m.group(0))
    if m := re.search(r"\bthis (morning|afternoon)\b", text):
        lo, hi = PARTS[m.group(1)]
        return _span(today + timedelta(hours=lo), today + timedelta(hours=hi), now, m.group(0))
    if m := re.search(r"\b(?:the )?weekend\b", text):
        back = (now.weekday() - 5) % 7
        saturday = today - timedelta(days=back)
        return _span(saturday, saturday + timedelta(days=2), now, m.group(0))
    if m := re.search(r"\b(this|last) week\b", text):
        monday = today - timedelta(days=now.weekday())
        if m.group(1) == "this":
            return Window(monday, now, m.group(0))
        return Window(monday - timedelta(days=7), monday, m.group(0))
    if (m := re.search(_DATE + r"(?:\s+" + _PART + r")?", text)) and (calendar := _date(m, now)):
        lo, hi = PARTS[m.group(5)] if m.group(5) else (0, 24)
        start, end = calendar + timedelta(hours=lo), calendar + timedelta(hours=hi)
        return _span(start, end, now, m.group(0))
    if m := re.search(r"\b" + _DAY + r"(?:\s+" + _PART + r")?\b", text):
        day = _day(m.group(1), now)
        lo, hi = PARTS[m.group(2)] if m.group(2) else (0, 24)
        return _span(day + timedelta(hours=lo), day + timedelta(hours=hi), now, m.group(0))
    return Window(now - timedelta(hours=DEFAULT_HOURS), now, "")
