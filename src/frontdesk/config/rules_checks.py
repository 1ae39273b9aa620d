"""What `rules.yaml` must get right beyond its schema, and how a schema error is told.

After validation the loader fills every rule's lines (nested conditions included, as
"when.any.1.intent") and checks the names that point at teams. Each problem starts with
`rules.yaml:LINE` and says what was expected.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from frontdesk.config.rules import OWNER, RulesConfig, iter_conditions
from frontdesk.config.yaml_lines import Loc, LocatedYaml

_INTERNAL = frozenset({"source", "lines", "line", "field_lines"})  # filled by the loader


def fill_lines(rules: RulesConfig, located: LocatedYaml, source: str) -> None:
    """Record the file and the line of each rule and of every key inside it."""
    rules.source = source
    for key in (
        "escalation.sensitive_intents",
        "intent_priority",
        "language_detection",
        "languages",
    ):
        line = located.line_of(tuple(key.split(".")))
        if line:
            rules.lines[key] = line
    for loc, line in located.lines.items():
        if len(loc) == 3 and loc[0] == "teams" and loc[2] == "intents":
            rules.lines[f"teams.{loc[1]}.intents"] = line
    for index, rule in enumerate(rules.rules):
        rule.line = located.line_of(("rules", index)) or 0
        for loc, line in located.lines.items():
            if len(loc) > 2 and loc[:2] == ("rules", index):
                rule.field_lines[".".join(str(part) for part in loc[2:])] = line


def team_problems(rules: RulesConfig, located: LocatedYaml) -> list[str]:
    """Names that must be teams of the file: rules' teams (or `owner`), team_available
    anywhere in a condition, default_team, unanswerable.team, languages.team; intents owned
    twice."""
    problems: list[str] = []
    known = ", ".join(sorted(rules.teams))

    def unknown(loc: Loc, label: str, team: str, owner_too: bool = False, where: str = "") -> None:
        if team in rules.teams or (owner_too and team == OWNER):
            return
        options = f"{known}, or {OWNER} (the team that owns the intent)" if owner_too else known
        problems.append(f"{located.where(loc)}: {label}: unknown team {team!r}{where}; "
                        f"expected one of: {options}")  # fmt: skip

    if OWNER in rules.teams:
        problems.append(
            f"{located.where(('teams', OWNER))}: teams: {OWNER!r} is reserved (`team: owner` "
            "means the team that owns the intent); give the team another name"
        )
    if rules.default_team is not None:
        unknown(("default_team",), "default_team", rules.default_team)
    if rules.unanswerable.team is not None:
        unknown(("unanswerable", "team"), "unanswerable.team", rules.unanswerable.team, True)
    if rules.languages.team is not None:
        unknown(("languages", "team"), "languages.team", rules.languages.team, True)
    owners: dict[str, str] = {}
    for name, config in rules.teams.items():
        for position, intent in enumerate(config.intents):
            if intent in owners and owners[intent] != name:
                problems.append(
                    f"{located.where(('teams', name, 'intents', position))}: teams.{name}."
                    f"intents: intent {intent!r} is owned by team {owners[intent]} already; "
                    "an intent has one owner"
                )
            owners.setdefault(intent, name)
    for index, rule in enumerate(rules.rules):
        label = f"rules[{index}] ({rule.name})"
        if rule.then.team is not None:
            unknown(("rules", index, "then", "team"), label, rule.then.team, True)
        for path, node, _ in iter_conditions(rule.when):
            for team in node.team_available or {}:
                loc = ("rules", index, *_parts(path), "team_available", team)
                unknown(loc, label, team, where=" in team_available")
    names = [rule.name for rule in rules.rules]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append(
                f"{located.where(('rules', index, 'name'))}: rule name {name!r} is used twice"
            )
    return problems


def _parts(path: str) -> tuple[str | int, ...]:
    return tuple(int(part) if part.isdigit() else part for part in path.split("."))


def clean_loc(loc: tuple[Any, ...], located: LocatedYaml, *, missing: bool) -> tuple[Any, ...]:
    """A pydantic error location without the names it adds for union members
    (`hours.BusinessHours.open` -> `hours.open`), which the file does not have. A missing
    key (`missing`) keeps its name at the end."""
    kept: tuple[Any, ...] = ()
    for position, part in enumerate(loc):
        candidate = (*kept, part)
        last = position == len(loc) - 1
        if candidate in located.lines or not isinstance(part, str) or (last and missing):
            kept = candidate
    return kept


def expected_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed where the unknown key at the end of `loc` sits, when that place is
    a model (a condition, a team, a `then`...)."""
    current: Any = model
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return None
    found = _model_in(current)
    if found is None:
        return None
    return sorted(
        field.alias or name for name, field in found.model_fields.items() if name not in _INTERNAL
    )


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _step(annotation: Any, part: Any) -> Any:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            for name, field in member.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
            if part == member.__name__:
                return member
        origin = get_origin(member)
        if origin is list and isinstance(part, int):
            return get_args(member)[0]
        if origin is dict and isinstance(part, str):
            return get_args(member)[1]
    return None
