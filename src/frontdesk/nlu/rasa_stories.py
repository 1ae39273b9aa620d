"""Rasa stories, rules and end-to-end test stories (YAML), read with file:line for every step.

frontdesk does not follow stories yet: the parsed steps are the dialogue data a conversation
engine will use, and the test stories' annotated user turns are golden NLU examples
(`load_test_stories`) and golden conversations (`frontdesk evaluate conversations`).

A step is one of Rasa's: `intent` (with `user` text carrying entity annotations and an
`entities` list), `user` alone, `action`, `bot`, `active_loop`, `slot_was_set`, `checkpoint`,
`or` (alternative user steps). Rules may have a `condition`; other keys of a story or rule
(`conversation_start`, `wait_for_user_input`, `metadata`) are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from frontdesk.nlu.training_data import EntitySpan, Example, parse_annotated

StepKind = Literal["user", "action", "bot", "active_loop", "slot_was_set", "checkpoint", "or"]
_STEP_KEYS = ("intent", "user", "action", "bot", "active_loop", "slot_was_set", "checkpoint", "or")


class StoryError(ValueError):
    """A stories/rules file Rasa would refuse too; the message starts with file:line."""


@dataclass(frozen=True)
class UserTurn:
    intent: str | None  # None: an end-to-end turn given only as text
    text: str | None  # the plain text (annotations removed); None when only the intent is given
    entities: tuple[EntitySpan, ...]  # annotated in the text
    listed_entities: tuple[tuple[str, str | None], ...]  # the step's `entities:` (type, value)
    line: int  # the line of the text when there is one, else of the step
    # The step's other keys (frontdesk's golden conversations keep `expect:` here) as plain
    # data, with the line each starts on.
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    option_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Step:
    kind: StepKind
    line: int
    name: str | None = None  # the action, bot text, loop (None: `active_loop: null`), checkpoint
    user: UserTurn | None = None
    slots: tuple[tuple[str, Any], ...] = ()
    alternatives: tuple[UserTurn, ...] = ()  # `or:` of user steps


@dataclass
class Story:
    name: str
    kind: Literal["story", "rule"]
    source: str
    line: int
    steps: list[Step] = field(default_factory=list)
    condition: list[Step] = field(default_factory=list)  # a rule's `condition`
    options: dict[str, Any] = field(default_factory=dict)  # conversation_start, metadata, ...

    @property
    def user_turns(self) -> list[UserTurn]:
        return [s.user for s in self.steps if s.user is not None]


def story_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())


def load_stories(path: Path) -> list[Story]:
    """The stories and rules of one YAML file (a file without either gives none)."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise StoryError(f"{path}:1: not UTF-8 text ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise StoryError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise StoryError(f"{path}:1: expected a mapping (version, stories, rules, nlu...)")
    stories: list[Story] = []
    for key, value in root.value:
        if key.value not in {"stories", "rules"}:
            continue
        if _is_null(value):
            continue
        if not isinstance(value, yaml.SequenceNode):
            raise StoryError(f"{path}:{_line(value)}: '{key.value}' must be a list")
        kind: Literal["story", "rule"] = "story" if key.value == "stories" else "rule"
        for item in value.value:
            stories.append(_story(path, kind, item))
    return stories


def load_test_stories(path: Path) -> list[Example]:
    """Each annotated user turn of Rasa end-to-end test stories (a file or a folder of them)
    as a training Example with its intent, entities, file and line. Turns with only an
    intent (no text) or only text (no intent) are not NLU examples and are left out."""
    files = story_files(path) if path.is_dir() else [path]
    examples: list[Example] = []
    for file in files:
        for story in load_stories(file):
            for turn in story.user_turns:
                if turn.intent and turn.text:
                    examples.append(
                        Example(turn.text, turn.intent, turn.entities, str(file), turn.line)
                    )
    return examples


def _story(path: Path, kind: Literal["story", "rule"], node: yaml.Node) -> Story:
    line = _line(node)
    if not isinstance(node, yaml.MappingNode):
        raise StoryError(f"{path}:{line}: each {kind} must be a mapping with '{kind}' and 'steps'")
    fields = {k.value: v for k, v in node.value}
    name_node = fields.get(kind)
    if name_node is None or not isinstance(name_node, yaml.ScalarNode) or not name_node.value:
        raise StoryError(f"{path}:{line}: a {kind} needs a name ('- {kind}: ...')")
    story = Story(str(name_node.value), kind, str(path), line)
    steps_node = fields.get("steps")
    if steps_node is None or _is_null(steps_node):
        raise StoryError(f"{path}:{line}: {kind} {story.name!r} has no steps")
    story.steps = _steps(path, steps_node)
    condition = fields.get("condition")
    if condition is not None and not _is_null(condition):
        story.condition = _steps(path, condition)
    for key, value in fields.items():
        if key not in {kind, "steps", "condition"}:
            story.options[key] = yaml.safe_load(yaml.serialize(value))
    return story


def _steps(path: Path, node: yaml.Node) -> list[Step]:
    if not isinstance(node, yaml.SequenceNode):
        raise StoryError(f"{path}:{_line(node)}: steps must be a list")
    return [_step(path, item) for item in node.value]


def _step(path: Path, node: yaml.Node) -> Step:
    line = _line(node)
    if not isinstance(node, yaml.MappingNode):
        raise StoryError(f"{path}:{line}: a step must be a mapping such as '- intent: greet'")
    fields = {k.value: v for k, v in node.value}
    if "intent" in fields or "user" in fields:
        return Step("user", line, user=_user(path, fields, line))
    if "or" in fields:
        alternatives = fields["or"]
        if not isinstance(alternatives, yaml.SequenceNode):
            raise StoryError(f"{path}:{line}: 'or' must be a list of steps")
        turns = []
        for alt in alternatives.value:
            alt_fields = (
                {k.value: v for k, v in alt.value} if isinstance(alt, yaml.MappingNode) else {}
            )
            if "intent" in alt_fields or "user" in alt_fields:
                turns.append(_user(path, alt_fields, _line(alt)))
            elif "slot_was_set" not in alt_fields:
                raise StoryError(f"{path}:{_line(alt)}: 'or' holds user steps or slot_was_set")
        return Step("or", line, alternatives=tuple(turns))
    if "slot_was_set" in fields:
        return Step("slot_was_set", line, slots=_slots(path, fields["slot_was_set"]))
    for kind in ("action", "bot", "active_loop", "checkpoint"):
        if kind in fields:
            value = fields[kind]
            name = None if _is_null(value) else _scalar(path, value, kind)
            return Step(kind, line, name=name)
    keys = ", ".join(sorted(fields)) or "nothing"
    raise StoryError(f"{path}:{line}: a step has {keys}; expected one of {', '.join(_STEP_KEYS)}")


def _user(path: Path, fields: dict[str, yaml.Node], line: int) -> UserTurn:
    intent = _scalar(path, fields["intent"], "intent") if "intent" in fields else None
    text: str | None = None
    spans: tuple[EntitySpan, ...] = ()
    text_line = line
    if "user" in fields:
        node = fields["user"]
        raw = _scalar(path, node, "user")
        # A `|` or `|-` block starts on the line after its indicator.
        text_line = _line(node) + (1 if node.style in {"|", ">"} else 0)  # type: ignore[attr-defined]
        try:
            text, spans = parse_annotated(raw.strip())
        except ValueError as exc:
            raise StoryError(f"{path}:{text_line}: {exc}") from exc
    listed: list[tuple[str, str | None]] = []
    entities = fields.get("entities")
    if entities is not None and not _is_null(entities):
        for item in yaml.safe_load(yaml.serialize(entities)) or []:
            if isinstance(item, str):
                listed.append((item, None))
            elif isinstance(item, dict) and "entity" in item:
                value = item.get("value")
                listed.append((str(item["entity"]), None if value is None else str(value)))
            elif isinstance(item, dict):
                listed.extend((str(k), None if v is None else str(v)) for k, v in item.items())
    options = {
        key: yaml.safe_load(yaml.serialize(value))
        for key, value in fields.items()
        if key not in {"intent", "user", "entities"}
    }
    lines = {key: _line(value) for key, value in fields.items() if key in options}
    return UserTurn(intent, text, spans, tuple(listed), text_line, options, lines)


def _slots(path: Path, node: yaml.Node) -> tuple[tuple[str, Any], ...]:
    value = yaml.safe_load(yaml.serialize(node))
    items = value if isinstance(value, list) else [value]
    slots: list[tuple[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            slots.append((item, None))
        elif isinstance(item, dict):
            slots.extend((str(k), v) for k, v in item.items())
        else:
            raise StoryError(f"{path}:{_line(node)}: slot_was_set holds slot names or name: value")
    return tuple(slots)


def _scalar(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise StoryError(f"{path}:{_line(node)}: '{what}' must be a name or text")
    return str(node.value)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
