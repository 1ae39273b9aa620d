"""Business hours and team availability, from `rules.yaml`, at a given instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from frontdesk.config.rules import WEEKDAYS, BusinessHours, RulesConfig
from frontdesk.types import Urgency

LOOKAHEAD_DAYS = 15  # a table with no opening in two weeks is closed: never loop on it


def within_business_hours(hours: BusinessHours, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.date() in hours.holidays:
        return False
    clock = local.time().replace(tzinfo=None)
    return any(start <= clock < end for start, end in hours.windows(WEEKDAYS[local.weekday()]))


def _open_spans(hours: BusinessHours, now: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open spans from `now` on, in order (the current one cut to start at `now`)."""
    zone = ZoneInfo(hours.timezone)
    local = now.astimezone(zone)
    for days_ahead in range(LOOKAHEAD_DAYS):
        day = (local + timedelta(days=days_ahead)).date()
        if day in hours.holidays:
            continue
        for start, end in hours.windows(WEEKDAYS[day.weekday()]):
            opens = datetime.combine(day, start, tzinfo=zone)
            closes = datetime.combine(day, end, tzinfo=zone)
            if closes > local:
                yield max(opens, local), closes


def next_opening(hours: BusinessHours, now: datetime) -> datetime:
    """The next instant the business opens (now, when it is open)."""
    if within_business_hours(hours, now):
        return now
    for opens, _ in _open_spans(hours, now):
        return opens
    return now  # no opening within two weeks: the table is effectively closed


def after_open_minutes(hours: BusinessHours, now: datetime, minutes: int) -> datetime:
    """The instant `minutes` of open time have passed since `now` (closed time not counted)."""
    left = timedelta(minutes=minutes)
    for opens, closes in _open_spans(hours, now):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    return now + timedelta(minutes=minutes)  # closed for two weeks: fall back to the clock


def team_hours(rules: RulesConfig, team: str) -> BusinessHours | None:
    """When a team is staffed: its own table, the file's business hours, or None (always)."""
    hours = rules.teams[team].hours
    if isinstance(hours, BusinessHours):
        return hours
    return None if hours == "always" else rules.business_hours


def reply_due(rules: RulesConfig, team: str, priority: Urgency, now: datetime) -> datetime:
    """When the team's SLA for this priority says the first reply is due."""
    config = rules.teams[team]
    minutes = config.sla_for(priority)
    hours = team_hours(rules, team)
    if config.sla_counts == "open_hours" and hours is not None:
        return after_open_minutes(hours, now, minutes)
    return now + timedelta(minutes=minutes)


def team_available(rules: RulesConfig, team: str, now: datetime) -> bool:
    config = rules.teams.get(team)
    if config is None or not config.available:
        return False
    hours = team_hours(rules, team)
    return hours is None or within_business_hours(hours, now)


def team_availability(rules: RulesConfig, now: datetime) -> dict[str, bool]:
    return {name: team_available(rules, name, now) for name in rules.teams}
