"""Business hours and team availability, from `rules.yaml`, at a given instant."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from frontdesk.config.rules import WEEKDAYS, BusinessHours, RulesConfig


def within_business_hours(hours: BusinessHours, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.date() in hours.holidays:
        return False
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    return hours.open <= local.time().replace(tzinfo=None) < hours.close


def next_opening(hours: BusinessHours, now: datetime) -> datetime:
    """The next instant the business opens (now, when it is open)."""
    if within_business_hours(hours, now):
        return now
    zone = ZoneInfo(hours.timezone)
    local = now.astimezone(zone)
    for days_ahead in range(0, 15):
        day = (local + timedelta(days=days_ahead)).date()
        candidate = datetime.combine(day, hours.open, tzinfo=zone)
        if candidate <= local:
            continue
        if day in hours.holidays or WEEKDAYS[candidate.weekday()] not in hours.days:
            continue
        return candidate
    return now  # no opening within two weeks: the table is effectively closed; do not loop


def team_hours(rules: RulesConfig, team: str) -> BusinessHours | None:
    """When a team is staffed: its own table, the file's business hours, or None (always)."""
    hours = rules.teams[team].hours
    if isinstance(hours, BusinessHours):
        return hours
    return None if hours == "always" else rules.business_hours


def team_available(rules: RulesConfig, team: str, now: datetime) -> bool:
    config = rules.teams.get(team)
    if config is None or not config.available:
        return False
    hours = team_hours(rules, team)
    return hours is None or within_business_hours(hours, now)


def team_availability(rules: RulesConfig, now: datetime) -> dict[str, bool]:
    return {name: team_available(rules, name, now) for name in rules.teams}
