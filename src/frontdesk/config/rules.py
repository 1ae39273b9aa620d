"""The schema of `rules.yaml`: teams, business hours, escalation thresholds and an ordered
decision table.

The first rule whose every condition holds decides the action. Matching lives in
`frontdesk.policy`; this module only says what a valid file looks like. Conditions nest
(`any`, `all`, `not`); `iter_conditions` walks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from frontdesk.config.reply_languages import ReplyKind
from frontdesk.config.rule_text import Phrase, Template, check_template
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
    INJECTION_SUSPECTED = "injection_suspected"  # the input screen doubts the message
    REPEAT_CONTACT = "repeat_contact"  # same customer, same intent, recently; or they say so


# `team: owner` hands off to the team that owns the turn's intent (see policy.ownership).
OWNER = "owner"
HANDOFF_ACTIONS = frozenset({Action.HANDOFF, Action.ANSWER_THEN_HANDOFF})


Window = tuple[time, time]
_END_OF_DAY = time.max  # "24:00": open until midnight
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _clock(hour: str, minute: str) -> time:
    if (int(hour), int(minute)) == (24, 0):
        return _END_OF_DAY
    return time(int(hour), int(minute))  # ValueError past 23:59, which pydantic reports


def _parse_window(text: str) -> Window:
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time window like '08:00-20:00'")
    start, end = _clock(*match.group(1, 2)), _clock(*match.group(3, 4))
    if start >= end:
        raise ValueError(f"{text!r} closes before it opens")
    return start, end


def _parse_days(key: str) -> list[Weekday]:
    """`mon`, `mon-fri` or `sat,sun` -> the weekdays it names."""
    days: list[Weekday] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(
                f"{key!r} is not a day, a range like 'mon-fri' or a list like 'sat,sun'"
            )
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"{key!r}: a range runs forward in the week ('mon-fri')")
        days.extend(WEEKDAYS[start : end + 1])
    return days


class BusinessHours(BaseModel):
    """When people are there: the same hours on `days`, or a `schedule` of each day's own
    windows (`{mon-fri: "08:00-20:00", sat: "09:00-13:00"}`; a list for split shifts)."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    open: time = time(9, 0)
    close: time = time(17, 0)
    schedule: dict[str, str | list[str]] | None = None
    holidays: list[date] = Field(default_factory=list)
    _table: dict[str, list[Window]] = PrivateAttr(default_factory=dict)

    def windows(self, day: Weekday) -> list[Window]:
        """The day's opening windows, earliest first (none: closed all day)."""
        return self._table.get(day, [])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _build_table(self) -> BusinessHours:
        if self.schedule is None:
            if self.open >= self.close:
                raise ValueError("'open' must be before 'close'")
            self._table = {day: [(self.open, self.close)] for day in self.days}
            return self
        if self.model_fields_set & {"days", "open", "close"}:
            raise ValueError("give either 'schedule' or 'days'/'open'/'close', not both")
        table: dict[str, list[Window]] = {}
        for key, value in self.schedule.items():
            texts = [value] if isinstance(value, str) else value
            windows = sorted(_parse_window(text) for text in texts)
            for (_, end), (start, _) in pairwise(windows):
                if start < end:
                    raise ValueError(f"schedule {key!r}: windows overlap")
            for day in _parse_days(key):
                if day in table:
                    raise ValueError(f"schedule: {day!r} is given twice")
                table[day] = windows
        self._table = table
        return self


Minutes = Annotated[int, Field(ge=1)]


def _hours_kind(value: object) -> str:
    return "table" if isinstance(value, dict | BusinessHours) else "name"


# `always`, `business`, or a table of the team's own (one error, not one per alternative).
TeamHours = Annotated[
    Annotated[Literal["always", "business"], Tag("name")] | Annotated[BusinessHours, Tag("table")],
    Discriminator(_hours_kind),
]


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    # What customers read ("our network team"); default: the team's key, humanised.
    display_name: str | None = Field(default=None, min_length=1)
    sla_minutes: int = Field(default=240, ge=1)  # reply time for priorities `sla` leaves out
    sla: dict[Urgency, Minutes] = Field(default_factory=dict)  # {critical: 15, high: 60}
    # `open_hours`: the SLA's minutes run only while the team's hours are open ("8 working
    # hours"); `all_hours`: clock minutes from the hand-off.
    sla_counts: Literal["all_hours", "open_hours"] = "all_hours"
    # When people staff the queue: around the clock, the file's business hours, or the
    # team's own table (days, open, close, timezone, holidays).
    hours: TeamHours = "business"
    available: bool = True  # set false to close a team's queue (holiday, incident)
    intents: list[str] = Field(default_factory=list)  # intents this team owns (`team: owner`)
    handoff_message: Template | None = None  # what the customer reads on a hand-off here

    def sla_for(self, priority: Urgency) -> int:
        """Minutes to the first reply for a ticket of this priority."""
        return self.sla.get(priority, self.sla_minutes)


class EscalationConfig(BaseModel):
    """Thresholds for the escalation triggers the rules can test with `trigger:`."""

    model_config = ConfigDict(extra="forbid")
    low_confidence: float = Field(default=0.35, ge=0.0, le=1.0)
    low_confidence_turns: int = Field(default=2, ge=1)
    negative_sentiment: float = Field(default=-0.25, ge=-1.0, le=1.0)
    negative_turns: int = Field(default=2, ge=1)
    sensitive_intents: list[str] = Field(default_factory=list)
    tool_failures: int = Field(default=2, ge=1)
    # repeat_contact: the same customer (conversations' customer_ref) asked about the same
    # intent in an earlier conversation this many days back (0: never look back)...
    repeat_contact_days: int = Field(default=7, ge=0)
    # How many such earlier conversations make a repeat contact (2: "the third contact").
    repeat_contact_conversations: int = Field(default=1, ge=1)
    # ...or says they have been in touch before (phrases, see config.rule_text).
    repeat_contact_phrases: list[Phrase] = Field(
        default_factory=lambda: [
            "again and again",
            "contacting you again",
            "contacted you again",
            "writing again",
            "calling again",
            "second time",
            "third time",
            "fourth time",
            "already contacted you",
            "already called",
            "already reported",
            "already told you",
            "still not fixed",
            "still not resolved",
            "still not sorted",
            "still broken",
            "keeps happening",
            "happened again",
            r"re:\b(?:i|we)(?:'ve| have) (?:contacted|called|emailed|written to) you "
            r"(?:before|already|\d+ times|several times|many times)",
        ]
    )
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


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Languages = Annotated[list[LanguageCode], BeforeValidator(_one_or_many), Field(min_length=1)]


class ProfileCondition(BaseModel):
    """What the customer profile (across conversations, by `customer_ref`) must show; a
    conversation without a customer_ref has no profile and matches none of these."""

    model_config = ConfigDict(extra="forbid")
    contacts_at_least: int | None = Field(default=None, ge=1)  # conversations, this one too
    has_name: bool | None = None  # the customer gave their name ("my name is ...")
    has_fact: list[str] | None = Field(default=None, min_length=1)  # facts given: [order_id]


class RepeatContactCondition(BaseModel):
    """`repeat_contact: {conversations: 2, days: 14}`: the same customer (customer_ref) asked
    about this message's intent in at least `conversations` earlier conversations within the
    last `days` days, so "second contact" and "third contact" rules can stand side by side.
    Counted like the repeat_contact trigger: only turns understood well enough (not low
    confidence, not out of scope); what the customer says is the trigger's part."""

    model_config = ConfigDict(extra="forbid")
    conversations: int = Field(default=1, ge=1)
    days: int = Field(default=7, ge=1, le=366)


class RuleCondition(BaseModel):
    """All given conditions must hold; an empty condition always matches. `any`, `all` and
    `not` hold condition objects of their own, nested as deep as needed."""

    model_config = ConfigDict(extra="forbid")
    intent: list[str] | None = None
    not_intent: list[str] | None = None
    confidence_below: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence_at_least: float | None = Field(default=None, ge=0.0, le=1.0)
    out_of_scope: bool | None = None
    urgency: list[Urgency] | None = None
    sentiment: list[SentimentName] | None = None
    sentiment_below: float | None = Field(default=None, ge=-1.0, le=1.0)
    # Entity types; "type:role", "type@group" or "type:role@group" ask for a role or group.
    has_entity: list[str] | None = None
    missing_entity: list[str] | None = None
    channel: list[str] | None = None
    business_hours: bool | None = None  # true: only inside business hours; false: outside
    team_available: dict[str, bool] | None = None  # {billing: false}: billing is not staffed
    trigger: list[Trigger] | None = None  # any of these escalation triggers fired
    repeat_contact: RepeatContactCondition | None = None  # earlier conversations, counted
    text_matches: list[Phrase] | None = Field(default=None, min_length=1)  # any phrase found
    intent_margin_below: float | None = Field(default=None, gt=0.0, le=1.0)  # top-1 - top-2
    language: Languages | None = None  # the message's detected language is one of these
    not_language: Languages | None = None  # detected, and none of these (unknown: no match)
    answerable: bool | None = None  # what retrieval concluded (unknown: no match)
    # The form (forms.yml) the conversation's active task is in, and this message continues.
    form: list[str] | None = None
    # The customer has a profile from an earlier conversation (true), or has none (false).
    known_customer: bool | None = None
    profile: ProfileCondition | None = None
    # P(answerable) below this: nothing in the knowledge base is even near the topic (an
    # off-topic message), where `answerable: false` also covers near misses.
    answerability_below: float | None = Field(default=None, gt=0.0, le=1.0)
    any_: list[RuleCondition] | None = Field(default=None, alias="any", min_length=1)
    all_: list[RuleCondition] | None = Field(default=None, alias="all", min_length=1)
    not_: RuleCondition | None = Field(default=None, alias="not")


def iter_conditions(
    condition: RuleCondition, path: str = "when", *, negated: bool = False
) -> Iterator[tuple[str, RuleCondition, bool]]:
    """Every condition object in a tree, with its path ("when.any.1") and whether it sits
    under a `not`."""
    yield path, condition, negated
    for key, children in (("any", condition.any_), ("all", condition.all_)):
        for index, child in enumerate(children or []):
            yield from iter_conditions(child, f"{path}.{key}.{index}", negated=negated)
    if condition.not_ is not None:
        yield from iter_conditions(condition.not_, f"{path}.not", negated=not negated)


class PrioritySet(BaseModel):
    """`priority: {set: low}`: the hand-off gets exactly this priority, even below the
    message's urgency (`priority: low` alone is a floor: never below the urgency)."""

    model_config = ConfigDict(extra="forbid")
    set: Urgency


class RuleThen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    team: str | None = None
    priority: Urgency | PrioritySet = Urgency.NORMAL
    ask: str | None = None
    message: str | None = None
    tool: str | None = None
    # A form of forms.yml: its slots are asked for, one question at a time, before the
    # action runs with them (a clarify action then needs no `ask`: the form's questions).
    form: str | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> RuleThen:
        if self.action is Action.HANDOFF and not self.team:
            raise ValueError("a handoff needs a team")
        if self.action is Action.CLARIFY and not self.ask and not self.form:
            raise ValueError("a clarify action needs 'ask': the question to put to the customer")
        if self.action is Action.TOOL and not self.tool:
            raise ValueError("a tool action needs 'tool': the name of the tool to call")
        if self.tool and self.action is not Action.TOOL:
            raise ValueError("'tool' is only for action: tool")
        if self.action is Action.ANSWER_THEN_HANDOFF and not self.team:
            raise ValueError(
                "answer_then_handoff needs a team (a team's name, or 'owner' for the team "
                "that owns the intent)"
            )
        if self.action in HANDOFF_ACTIONS:  # the hand-off message's text is a template
            for text in (self.message, self.ask):
                if text is not None:
                    check_template(text)
        return self


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    when: RuleCondition = Field(default_factory=RuleCondition)
    then: RuleThen
    line: int = 0  # filled by the loader, for messages that point at the file
    field_lines: dict[str, int] = Field(default_factory=dict)  # "when.intent" -> line


class UnanswerableConfig(BaseModel):
    """The built-in default for a rule that would answer when retrieval concluded that the
    knowledge base does not answer the question: hand off instead."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["handoff", "answer"] = "handoff"  # answer: leave such turns to the rule
    # The team: a name, or owner; default: the rule's team, else the intent's owner, else
    # default_team.
    team: str | None = None
    priority: Urgency | None = None  # default: the rule's
    message: Template | None = None  # default: "I don't have that information..."


class UrgencyCuesConfig(BaseModel):
    """Words that raise a message's urgency (phrases, see config.rule_text)."""

    model_config = ConfigDict(extra="forbid")
    critical: list[Phrase] = Field(default_factory=list)
    high: list[Phrase] = Field(default_factory=list)
    keep_defaults: bool = True  # false: only these cues, not the built-in ones


class LanguageDetectionConfig(BaseModel):
    """How `language` / `not_language` detect a message's language (offline, py3langid).
    Below `min_words` words or `min_confidence` the language is unknown, and neither
    condition matches."""

    model_config = ConfigDict(extra="forbid")
    languages: Languages | None = None  # choose among these only (much surer on short text)
    min_words: int = Field(default=3, ge=1)
    min_confidence: float = Field(default=0.7, ge=0.0, le=1.0)


class LanguagesConfig(BaseModel):
    """Which languages the workspace answers. A message detected in another language is
    handed off to `team` (default: a team named review, else default_team) instead of being
    answered, clarified or sent to a tool, with the reply in the customer's language from the
    template table (config/reply_languages.py; `replies` overrides or adds languages). A rule
    that hands off anyway keeps its team, and the customer reads its message in their
    language too. Unknown language (too short to tell): answered as before."""

    model_config = ConfigDict(extra="forbid")
    answered: Languages | None = None  # None: every language is answered (nothing routed)
    team: str | None = None  # a team, or owner
    priority: Urgency | None = None  # default: normal (raised to the message's urgency)
    replies: dict[LanguageCode, dict[ReplyKind, str]] = Field(default_factory=dict)

    @field_validator("replies")
    @classmethod
    def _templates(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for kinds in value.values():
            for kind, text in kinds.items():
                if kind in ("handoff", "unanswerable"):
                    check_template(text)
                elif kind == "greeting" and "{name}" not in text:
                    raise ValueError("a greeting needs {name}: the name the customer gave")
        return value


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teams: dict[str, TeamConfig] = Field(min_length=1)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    intent_priority: dict[str, Urgency] = Field(default_factory=dict)
    # Where `team: owner` goes when no team owns the intent; default: the last rule's team,
    # else the first team.
    default_team: str | None = None
    handoff_message: Template | None = None  # default for every team's hand-off message
    unanswerable: UnanswerableConfig = Field(default_factory=UnanswerableConfig)
    urgency_cues: UrgencyCuesConfig = Field(default_factory=UrgencyCuesConfig)
    language_detection: LanguageDetectionConfig = Field(default_factory=LanguageDetectionConfig)
    languages: LanguagesConfig = Field(default_factory=LanguagesConfig)
    rules: list[RuleConfig] = Field(min_length=1)
    source: str = ""  # the file it came from, filled by the loader
    lines: dict[str, int] = Field(default_factory=dict)  # "escalation.sensitive_intents" -> line

    def team_name(self, team: str) -> str:
        """What customers read for a team: its display_name, else its key humanised."""
        config = self.teams.get(team)
        if config is not None and config.display_name:
            return config.display_name
        return re.sub(r"[_\-\s]+", " ", team).strip()

    def fallback_team(self) -> str:
        """default_team, else the team of the last rule (the catch-all), else the first."""
        if self.default_team:
            return self.default_team
        last = self.rules[-1].then.team
        if last and last in self.teams:
            return last
        return next(iter(self.teams))

    def uses_language(self) -> bool:
        return any(
            node.language is not None or node.not_language is not None
            for rule in self.rules
            for _, node, _ in iter_conditions(rule.when)
        )

    def languages_team(self) -> str:
        """Where messages in a language the workspace does not answer go."""
        if self.languages.team:
            return self.languages.team
        return "review" if "review" in self.teams else self.fallback_team()

    def uses_repeat_contact(self) -> bool:
        """Whether a rule looks at earlier conversations (the trigger or the condition)."""
        return self.uses_trigger(Trigger.REPEAT_CONTACT) or any(
            node.repeat_contact is not None
            for rule in self.rules
            for _, node, _ in iter_conditions(rule.when)
        )

    def repeat_contact_days(self) -> int:
        """How far back earlier conversations are read: the trigger's look-back, or the
        longest of the `repeat_contact` conditions'."""
        days = (
            self.escalation.repeat_contact_days if self.uses_trigger(Trigger.REPEAT_CONTACT) else 0
        )
        for rule in self.rules:
            for _, node, _ in iter_conditions(rule.when):
                if node.repeat_contact is not None:
                    days = max(days, node.repeat_contact.days)
        return days

    def uses_trigger(self, trigger: Trigger) -> bool:
        return any(
            node.trigger is not None and trigger in node.trigger
            for rule in self.rules
            for _, node, _ in iter_conditions(rule.when)
        )

    def where(self, key: str, rule: RuleConfig | None = None) -> str:
        """`file:line` of a field, for error messages."""
        line = (rule.field_lines.get(key) or rule.line) if rule else self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source or "rules.yaml"
