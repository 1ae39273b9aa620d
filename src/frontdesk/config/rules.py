"""The schema of `rules.yaml`: teams, thresholds and an ordered decision table.

The first rule whose every condition holds decides the action. Matching lives in
`frontdesk.policy`; this module only says what a valid file looks like.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from frontdesk.types import Action, Urgency


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    sla_minutes: int = Field(default=240, ge=1)


class RuleCondition(BaseModel):
    """All given conditions must hold; an empty condition always matches."""

    model_config = ConfigDict(extra="forbid")
    intent: list[str] | None = None
    confidence_below: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence_at_least: float | None = Field(default=None, ge=0.0, le=1.0)
    urgency: list[Urgency] | None = None
    has_entity: list[str] | None = None
    missing_entity: list[str] | None = None
    channel: list[str] | None = None


class RuleThen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    team: str | None = None
    priority: Urgency = Urgency.NORMAL
    ask: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> RuleThen:
        if self.action is Action.HANDOFF and not self.team:
            raise ValueError("a handoff needs a team")
        if self.action is Action.CLARIFY and not self.ask:
            raise ValueError("a clarify action needs 'ask': the question to put to the customer")
        return self


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    when: RuleCondition = Field(default_factory=RuleCondition)
    then: RuleThen
    line: int = 0  # filled by the loader, for messages that point at the file


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teams: dict[str, TeamConfig] = Field(min_length=1)
    intent_priority: dict[str, Urgency] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(min_length=1)
