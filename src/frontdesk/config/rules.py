"""The schema of `rules.yaml`: teams, business hours, escalation thresholds and an ordered
decision table.

The first rule whose every condition holds decides the action. Matching lives in
`frontdesk.policy`; this module only says what a valid file looks like.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from frontdesk.types import Action, Urgency

SentimentName = Literal["negative", "neutral", "positive"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Trigger(StrEnum):
    """Escalation triggers, computed from the turn and the conversation's earlier turns."""

    HUMAN_REQUESTED = "human_requested"  # the customer asks for a person
    REPEATED_LOW_CONFIDENCE = "repeated_low_confidence"  # unsure or out of scope N turns running
    NEGATIVE_NO_PROGRESS = "negative_no_progress"  # unhappy N turns running, not improving
    SENSITIVE_INTENT = "sensitive_intent"  # security, legal: always people
    TOOL_FAILURES = "tool_failures"  # tools failed N times in this conversation


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    open: time = time(9, 0)
    close: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.open >= self.close:
            raise ValueError("'open' must be before 'close'")
        return self


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    sla_minutes: int = Field(default=240, ge=1)
    # When people staff the queue: around the clock, or the file's business hours.
    hours: Literal["always", "business"] = "business"
    available: bool = True  # set false to close a team's queue (holiday, incident)


class EscalationConfig(BaseModel):
    """Thresholds for the escalation triggers the rules can test with `trigger:`."""

    model_config = ConfigDict(extra="forbid")
    low_confidence: float = Field(default=0.35, ge=0.0, le=1.0)
    low_confidence_turns: int = Field(default=2, ge=1)
    negative_sentiment: float = Field(default=-0.25, ge=-1.0, le=1.0)
    negative_turns: int = Field(default=2, ge=1)
    sensitive_intents: list[str] = Field(default_factory=list)
    tool_failures: int = Field(default=2, ge=1)
    human_phrases: list[str] = Field(
        default_factory=lambda: [
            r"\b(speak|talk|chat)\s+(to|with)\s+(a|an|some)?\s*(human|person|agent|someone|"
            r"representative|real person)\b",
            r"\b(real|actual|live)\s+(person|human|agent)\b",
            r"\bhuman\s+(agent|being|please)\b",
            r"\b(get|give|put)\s+me\s+(a|an)?\s*(human|person|agent|manager|supervisor)\b",
        ]
    )

    @field_validator("human_phrases")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regex: {exc}") from exc
        return value


class RuleCondition(BaseModel):
    """All given conditions must hold; an empty condition always matches."""

    model_config = ConfigDict(extra="forbid")
    intent: list[str] | None = None
    not_intent: list[str] | None = None
    confidence_below: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence_at_least: float | None = Field(default=None, ge=0.0, le=1.0)
    out_of_scope: bool | None = None
    urgency: list[Urgency] | None = None
    sentiment: list[SentimentName] | None = None
    sentiment_below: float | None = Field(default=None, ge=-1.0, le=1.0)
    has_entity: list[str] | None = None
    missing_entity: list[str] | None = None
    channel: list[str] | None = None
    business_hours: bool | None = None  # true: only inside business hours; false: outside
    team_available: dict[str, bool] | None = None  # {billing: false}: billing is not staffed
    trigger: list[Trigger] | None = None  # any of these escalation triggers fired


class RuleThen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    team: str | None = None
    priority: Urgency = Urgency.NORMAL
    ask: str | None = None
    message: str | None = None
    tool: str | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> RuleThen:
        if self.action is Action.HANDOFF and not self.team:
            raise ValueError("a handoff needs a team")
        if self.action is Action.CLARIFY and not self.ask:
            raise ValueError("a clarify action needs 'ask': the question to put to the customer")
        if self.action is Action.TOOL and not self.tool:
            raise ValueError("a tool action needs 'tool': the name of the tool to call")
        if self.tool and self.action is not Action.TOOL:
            raise ValueError("'tool' is only for action: tool")
        return self


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    when: RuleCondition = Field(default_factory=RuleCondition)
    then: RuleThen
    line: int = 0  # filled by the loader, for messages that point at the file
    field_lines: dict[str, int] = Field(default_factory=dict)  # "when.intent" -> line


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teams: dict[str, TeamConfig] = Field(min_length=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    intent_priority: dict[str, Urgency] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(min_length=1)
    source: str = ""  # the file it came from, filled by the loader
    lines: dict[str, int] = Field(default_factory=dict)  # "escalation.sensitive_intents" -> line

    def where(self, key: str, rule: RuleConfig | None = None) -> str:
        """`file:line` of a field, for error messages."""
        line = (rule.field_lines.get(key) or rule.line) if rule else self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source or "rules.yaml"
