"""The schema of `forms.yml`: forms, the slots they fill and the questions that ask for them.

Rasa-compatible where it makes sense: a Rasa `domain.yml`'s `forms:` (`required_slots`),
`slots:` (`type`, `mappings` of `from_entity`, `from_text`, `from_intent`) and `responses:`
(`utter_ask_<form>_<slot>`, else `utter_ask_<slot>`: the question) read as they are. Added
for frontdesk: per form `max_attempts` (failed answers to one question before a hand-off)
and `team` (where that hand-off goes; `owner`: the intent's team), per slot `validation`
(`regex`, `entity`: the entity type a value must be, `tool`: a lookup that must succeed).

A rule of `rules.yaml` runs a form (`then: {form: parcel_form, ...}`): the rules decide when a
task needs one; this file says what it asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SlotType = Literal["text", "float", "bool", "categorical", "any", "list"]


class SlotMapping(BaseModel):
    """Where a slot's value comes from (Rasa's slot mappings)."""

    model_config = ConfigDict(extra="forbid")
    # custom: filled by a Rasa custom action, which frontdesk does not run (never fills).
    type: Literal["from_entity", "from_text", "from_intent", "from_trigger_intent", "custom"]
    entity: str | None = None
    role: str | None = None
    group: str | None = None
    value: Any = None  # from_intent: the value the slot takes
    intent: list[str] | str | None = None
    not_intent: list[str] | str | None = None
    # Rasa's conditions: the mapping applies only while one holds ({active_loop: form,
    # requested_slot: slot}: that form is active, and asking for that slot).
    conditions: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _needs(self) -> SlotMapping:
        if self.type == "from_entity" and not self.entity:
            raise ValueError("a from_entity mapping needs 'entity': the entity type")
        if self.type in ("from_intent", "from_trigger_intent") and self.value is None:
            raise ValueError(f"a {self.type} mapping needs 'value'")
        return self

    def applies(self, form: str | None, requested: str | None) -> bool:
        """Whether the mapping's conditions (if any) hold for the active form and the slot
        it asks for."""
        if not self.conditions:
            return True
        for condition in self.conditions:
            loop = condition.get("active_loop")
            asked = condition.get("requested_slot")
            if (loop is None or loop == form) and (asked is None or asked == requested):
                return True
        return False

    def intents(self) -> tuple[list[str], list[str]]:
        """(intents it is limited to, intents it excludes)."""

        def names(value: list[str] | str | None) -> list[str]:
            return [value] if isinstance(value, str) else list(value or [])

        return names(self.intent), names(self.not_intent)


class SlotValidation(BaseModel):
    """What a value must be before the slot takes it (frontdesk's addition)."""

    model_config = ConfigDict(extra="forbid")
    regex: str | None = None  # the whole value must match (case-insensitive)
    entity: str | None = None  # the value must have been extracted as this entity type
    tool: str | None = None  # a tool called with {slot: value} must succeed (a lookup)
    message: str | None = None  # said before the question again when a value is refused

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regex: {exc}") from exc
        return value


class SlotConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # Rasa keys we do not use (influence_conversation...)
    type: SlotType = "text"
    mappings: list[SlotMapping] = Field(default_factory=list)
    values: list[str] | None = None  # categorical
    validation: SlotValidation | None = None


class FormConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required_slots: list[str] = Field(min_length=1)
    ignored_intents: list[str] = Field(default_factory=list)  # Rasa: never fill from these
    max_attempts: int = Field(default=3, ge=1)
    team: str | None = None  # hand-off after max_attempts; default: the intent's owner
    # The intents whose tasks it serves: another of them while it asks is the same task
    # ("track" while a late parcel's form asks), not a new one. Default: the intents of the
    # rules that run it (filled at start-up).
    intents: list[str] = Field(default_factory=list)

    @field_validator("required_slots", mode="before")
    @classmethod
    def _rasa_2(cls, value: Any) -> Any:
        # Rasa 2 wrote required_slots as a mapping of slot -> mappings.
        return list(value) if isinstance(value, dict) else value


class FormsConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # a whole Rasa domain.yml reads too
    version: str | None = None
    forms: dict[str, FormConfig] = Field(default_factory=dict)
    slots: dict[str, SlotConfig] = Field(default_factory=dict)
    responses: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    # A message about another intent at this confidence or more switches task (the form
    # waits, and resumes when that task is done); below it, the message answers the form.
    switch_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    source: str = ""  # the file it came from, filled by the loader
    lines: dict[str, int] = Field(default_factory=dict)  # "forms.parcel_form" -> line

    @field_validator("forms", "slots", "responses", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return {} if value is None else value  # `responses:` with nothing under it

    def ask(self, form: str, slot: str) -> str:
        """The question for a slot: utter_ask_<form>_<slot>, else utter_ask_<slot>."""
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            for variant in self.responses.get(name, []):
                text = variant.get("text")
                if isinstance(text, str) and text.strip():
                    return text
        return f"Could you tell me your {slot.replace('_', ' ')}?"

    def missing(self, form: str, slots: dict[str, Any]) -> list[str]:
        """The form's required slots not filled yet, in the order it asks for them."""
        return [name for name in self.forms[form].required_slots if name not in slots]

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source or "forms.yml"

    def problems(self) -> list[str]:
        """Cross-references the schema cannot check: each required slot is declared, and has
        a question."""
        found: list[str] = []
        for name, form in self.forms.items():
            for slot in form.required_slots:
                where = self.where(f"forms.{name}.required_slots")
                if slot not in self.slots:
                    declared = ", ".join(sorted(self.slots)) or "(none)"
                    found.append(
                        f"{where}: forms.{name}: slot {slot!r} is not declared under slots "
                        f"(declared: {declared})"
                    )
                elif not any(
                    n in self.responses for n in (f"utter_ask_{name}_{slot}", f"utter_ask_{slot}")
                ):
                    found.append(
                        f"{where}: forms.{name}: no question for slot {slot!r}: add a response "
                        f"utter_ask_{slot} (or utter_ask_{name}_{slot}) with a text"
                    )
        return found


def check_form_names(
    forms: FormsConfig, *, tools: Iterable[str], entities: Iterable[str], teams: Iterable[str]
) -> list[str]:
    """Names forms.yml gives that the workspace must know: the entity a slot is mapped
    from or validated as, a lookup tool, a form's team (or owner)."""
    known_tools, known_entities = set(tools), set(entities)
    known_teams = {*teams, "owner"}
    problems: list[str] = []

    def unknown(key: str, kind: str, name: str, options: set[str]) -> None:
        listed = ", ".join(sorted(options)) or "(none)"
        problems.append(f"{forms.where(key)}: {key}: unknown {kind} {name!r}; "
                        f"expected one of: {listed}")  # fmt: skip

    for name, slot in forms.slots.items():
        for mapping in slot.mappings:
            if mapping.entity and mapping.entity not in known_entities:
                unknown(f"slots.{name}", "entity type", mapping.entity, known_entities)
        rule = slot.validation
        if rule is not None and rule.entity and rule.entity not in known_entities:
            unknown(f"slots.{name}", "entity type", rule.entity, known_entities)
        if rule is not None and rule.tool and rule.tool not in known_tools:
            unknown(f"slots.{name}", "tool", rule.tool, known_tools)
    for name, form in forms.forms.items():
        if form.team is not None and form.team not in known_teams:
            unknown(f"forms.{name}", "team", form.team, known_teams)
    return problems
