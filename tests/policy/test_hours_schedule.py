"""Opening hours that differ by day (`schedule`), and SLAs that count only open time
(`sla_counts: open_hours`): what real support policies say ("Mon-Fri 8-20, Sat 9-13; we reply
within 4 working hours")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from frontdesk.config.rules import BusinessHours, RulesConfig
from frontdesk.policy.hours import (
    after_open_minutes,
    next_opening,
    reply_due,
    team_available,
    within_business_hours,
)
from frontdesk.types import Urgency

LONDON = ZoneInfo("Europe/London")
SCHEDULE = {
    "timezone": "Europe/London",
    "schedule": {"mon-fri": "08:00-20:00", "sat": ["09:00-11:00", "12:00-13:00"], "sun": []},
    "holidays": ["2026-12-25"],
}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026 in London (the 7th is a Monday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=LONDON)


def test_each_day_has_its_own_windows() -> None:
    hours = BusinessHours.model_validate(SCHEDULE)

    assert within_business_hours(hours, at(7, 19, 59))  # Monday evening
    assert not within_business_hours(hours, at(7, 20, 0))
    assert within_business_hours(hours, at(12, 10))  # Saturday morning
    assert not within_business_hours(hours, at(12, 11, 30))  # Saturday's break
    assert within_business_hours(hours, at(12, 12, 30))
    assert not within_business_hours(hours, at(12, 14))
    assert not within_business_hours(hours, at(13, 10))  # Sunday: closed
    assert not within_business_hours(hours, at(25, 10))  # a Friday holiday
    # The same instant read in UTC: 09:30 UTC on a Saturday is 09:30 in London in winter.
    assert within_business_hours(hours, datetime(2026, 12, 12, 9, 30, tzinfo=UTC))


def test_the_next_opening_follows_the_schedule() -> None:
    hours = BusinessHours.model_validate(SCHEDULE)

    assert next_opening(hours, at(12, 11, 30)) == at(12, 12)  # after Saturday's break
    assert next_opening(hours, at(12, 14)) == at(14, 8)  # Saturday afternoon -> Monday
    assert next_opening(hours, at(24, 21)) == at(26, 9)  # skips the Christmas holiday
    assert next_opening(hours, at(7, 9)) == at(7, 9)  # open now


def test_open_minutes_skip_closed_time() -> None:
    hours = BusinessHours.model_validate(SCHEDULE)

    assert after_open_minutes(hours, at(7, 9), 240) == at(7, 13)  # all within Monday
    # Friday 19:00: 60 minutes on Friday, 120 on Saturday morning, the last 60 after the break.
    assert after_open_minutes(hours, at(11, 19), 240) == at(12, 13)
    # Asked on Sunday, nothing counts until Monday 08:00.
    assert after_open_minutes(hours, at(13, 10), 30) == at(14, 8, 30)


def test_a_plain_table_still_means_the_same_hours_every_listed_day() -> None:
    hours = BusinessHours.model_validate({"days": ["mon"], "open": "09:00", "close": "17:00"})

    assert hours.windows("mon") == [(hours.open, hours.close)]
    assert hours.windows("tue") == []
    assert after_open_minutes(hours, datetime(2026, 12, 7, 16, 0, tzinfo=UTC), 120) == datetime(
        2026, 12, 14, 10, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"schedule": {"mon": "09:00-17:00"}, "open": "08:00"}, "either 'schedule' or"),
        ({"schedule": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "windows overlap"),
        ({"schedule": {"mon-fri": "09:00-17:00", "fri": "09:00-12:00"}}, "'fri' is given twice"),
        ({"schedule": {"monday": "09:00-17:00"}}, "is not a day"),
        ({"schedule": {"fri-mon": "09:00-17:00"}}, "runs forward"),
        ({"schedule": {"mon": "9-5"}}, "is not a time window"),
        ({"schedule": {"mon": "17:00-09:00"}}, "closes before it opens"),
    ],
)
def test_a_wrong_schedule_says_what_is_wrong(table: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        BusinessHours.model_validate(table)


def test_until_midnight() -> None:
    hours = BusinessHours.model_validate({"schedule": {"sat,sun": "18:00-24:00"}})

    assert within_business_hours(hours, datetime(2026, 12, 12, 23, 59, tzinfo=UTC))
    assert not within_business_hours(hours, datetime(2026, 12, 12, 17, 59, tzinfo=UTC))


def _rules(counts: str) -> RulesConfig:
    return RulesConfig.model_validate(
        {
            "business_hours": SCHEDULE,
            "teams": {
                "billing": {"sla_minutes": 240, "sla_counts": counts, "sla": {"high": 60}},
                "night": {"hours": "always", "sla_minutes": 240, "sla_counts": counts},
            },
            "rules": [{"name": "x", "then": {"action": "answer"}}],
        }
    )


def test_the_reply_is_due_after_open_hours_only_when_the_team_says_so() -> None:
    friday_evening = at(11, 19)
    working, clock = _rules("open_hours"), _rules("all_hours")

    assert team_available(working, "billing", friday_evening)
    assert reply_due(working, "billing", Urgency.NORMAL, friday_evening) == at(12, 13)
    assert reply_due(working, "billing", Urgency.HIGH, friday_evening) == at(11, 20)
    assert reply_due(clock, "billing", Urgency.NORMAL, friday_evening) == friday_evening + (
        timedelta(minutes=240)
    )
    # A team staffed around the clock has no closed time to skip.
    assert reply_due(working, "night", Urgency.NORMAL, friday_evening) == at(11, 23)
