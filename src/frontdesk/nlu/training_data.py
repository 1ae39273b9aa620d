"""Rasa NLU YAML (`- intent: x / examples: | - text with [value](entity)`) and `text,intent` CSV.

Read with Rasa's meaning: every annotation form (`[text](entity)`, `[text](entity:value)`,
`[text]{"entity": .., "value": .., "role": .., "group": ..}`), examples given as `- text:` with
`metadata:` (and intent-level `metadata:`), retrieval intents kept under their full name
(`faq/ask_hours`: the answer is per sub-intent, as Rasa's ResponseSelector gives it), every
`out_of_scope/*` retrieval intent as out of scope, `regex:` and `lookup:` sections as features
of the entity model (extractors only where the settings say so: `nlu.extractors`), `synonym:`
sections as value mappings. What cannot be carried over is a warning with file:line
(`TrainingData.warnings`), never dropped silently; what cannot be read is an error."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# [value](entity) or [value]{"entity": "...", "value": "..."}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


# What is left of a broken annotation: "[KP-1](order_id" or "[KP-1]{"entity": ...".
_UNCLOSED = re.compile(r"\[[^\]]*\]\s*[({]")


# Examples of messages the assistant should not handle: used to tune the out-of-scope
# threshold, never learned as an intent of their own.
OUT_OF_SCOPE = "out_of_scope"


# Keys of a JSON annotation that frontdesk keeps; any other is a warning.
_ANNOTATION_KEYS = {"entity", "value", "role", "group"}
# Keys of an nlu item that are read; `metadata` is kept on its examples.
_ITEM_KEYS = {"intent", "regex", "lookup", "synonym", "examples", "metadata"}


class TrainingDataError(ValueError):
    """Unreadable training data; the message starts with file:line."""


@dataclass(frozen=True)
class LoadWarning:
    """Something the loader read but could not carry over (it goes on without it)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True)
class EntitySpan:
    type: str
    text: str
    start: int
    end: int
    value: str
    # Rasa's entity roles and groups (`{"entity": "city", "role": "destination"}`).
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    source: str
    line: int
    # Rasa's per-example metadata (intent-level metadata merged under it); not learned from.
    metadata: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # surface text -> canonical value
    # Only what `synonym:` sections declare (`synonyms` adds the annotations' values): a
    # feature source that does not carry a test example's annotation into its training.
    declared_synonyms: dict[str, str] = field(default_factory=dict)
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def patterns(self) -> dict[str, list[str]]:
        """The regexes (`regex:<name>`) and lookup tables (`lookup:<name>`, each entry a whole
        word in any case) as patterns: features of the intent model."""
        found = {f"regex:{name}": list(items) for name, items in self.regexes.items()}
        for name, values in self.lookups.items():
            words = sorted({v.strip() for v in values if v.strip()}, key=lambda w: (-len(w), w))
            if words:
                alternation = "|".join(re.escape(w) for w in words)
                found[f"lookup:{name}"] = [rf"(?i:\b(?:{alternation})\b)"]
        return found

    @property
    def retrieval_intents(self) -> dict[str, list[str]]:
        """Rasa retrieval intents by base intent: {"faq": ["faq/ask_hours", ...]}."""
        found: dict[str, set[str]] = {}
        for intent in self.intents:
            if "/" in intent:
                found.setdefault(intent.split("/", 1)[0], set()).add(intent)
        return {base: sorted(names) for base, names in sorted(found.items())}

    @property
    def intents(self) -> list[str]:
        """The intents a classifier learns (not the out-of-scope examples)."""
        return sorted({e.intent for e in self.examples if e.intent != OUT_OF_SCOPE})

    @property
    def in_scope(self) -> list[Example]:
        return [e for e in self.examples if e.intent != OUT_OF_SCOPE]

    @property
    def out_of_scope(self) -> list[Example]:
        return [e for e in self.examples if e.intent == OUT_OF_SCOPE]

    def fingerprint(self) -> str:
        """A hash of everything a trained model depends on (examples with their annotations,
        regexes, lookups, synonyms), not of where it sits in which file."""
        payload = json.dumps(
            {
                "examples": [
                    (e.text, e.intent, [_span_key(s) for s in e.entities]) for e in self.examples
                ],
                "regexes": sorted(self.regexes.items()),
                "lookups": sorted(self.lookups.items()),
                "synonyms": sorted(self.synonyms.items()),
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def entity_types(self) -> list[str]:
        """Entity types annotated in the examples."""
        return sorted({span.type for e in self.examples for span in e.entities})

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.warnings.extend(other.warnings)
        self.declared_synonyms.update(other.declared_synonyms)
        for example in other.examples:
            for span in example.entities:
                # [text]{"entity": .., "value": ..} makes `text` a synonym of `value`, as in Rasa.
                if span.value != span.text:
                    self.synonyms.setdefault(span.text.lower(), span.value)
        for name, patterns in other.regexes.items():
            self.regexes.setdefault(name, []).extend(patterns)
        for name, values in other.lookups.items():
            self.lookups.setdefault(name, []).extend(values)
        self.synonyms.update(other.synonyms)


def _span_key(span: EntitySpan) -> tuple[Any, ...]:
    # Role and group only where given, so that data without them keeps its fingerprint.
    key: tuple[Any, ...] = (span.type, span.start, span.end, span.value)
    return (*key, span.role, span.group) if span.role or span.group else key


def parse_annotated(text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip annotations from one example, returning the plain text and its entity spans."""
    plain, spans, _ = parse_annotated_with_notes(text)
    return plain, spans


def parse_annotated_with_notes(text: str) -> tuple[str, tuple[EntitySpan, ...], list[str]]:
    """`parse_annotated`, with what was read but not kept (unknown annotation keys)."""
    notes: list[str] = []
    plain: list[str] = []
    spans: list[EntitySpan] = []
    cursor = 0
    length = 0
    for match in _ANNOTATION.finditer(text):
        before = text[cursor : match.start()]
        if _UNCLOSED.search(before):
            raise ValueError(f"unclosed entity annotation in {text!r}: write [value](entity)")
        plain.append(before)
        length += len(before)
        value_text = match.group("text")
        role = group = None
        if match.group("entity"):
            # [text](entity) or Rasa 1.x's [text](entity:value) synonym shorthand.
            entity, _, value = match.group("entity").partition(":")
            entity, value = entity.strip(), value.strip() or value_text
            if not entity:
                raise ValueError(f"entity annotation {match.group(0)!r} has no entity name")
        else:
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid entity annotation {match.group(0)!r}: {exc}") from exc
            if not isinstance(spec, dict) or not str(spec.get("entity") or "").strip():
                raise ValueError(f"entity annotation {match.group(0)!r} has no 'entity' key")
            entity, value = str(spec["entity"]).strip(), str(spec.get("value", value_text))
            role = str(spec["role"]) if spec.get("role") is not None else None
            group = str(spec["group"]) if spec.get("group") is not None else None
            extra = sorted(set(spec) - _ANNOTATION_KEYS)
            if extra:
                notes.append(
                    f"annotation {match.group(0)!r}: {', '.join(map(repr, extra))} not kept "
                    "(frontdesk keeps entity, value, role and group)"
                )
        spans.append(
            EntitySpan(entity, value_text, length, length + len(value_text), value, role, group)
        )
        plain.append(value_text)
        length += len(value_text)
        cursor = match.end()
    rest = text[cursor:]
    if _UNCLOSED.search(rest):
        raise ValueError(f"unclosed entity annotation in {text!r}: write [value](entity)")
    plain.append(rest)
    return "".join(plain), tuple(spans), notes


def load_training_data(folder: Path) -> TrainingData:
    data = TrainingData()
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".yml", ".yaml", ".csv"})
    if not files:
        raise TrainingDataError(f"{folder}: no NLU training files (*.yml, *.yaml, *.csv)")
    for path in files:
        data.merge(load_csv(path) if path.suffix == ".csv" else load_yaml(path))
    return data


def load_csv(path: Path) -> TrainingData:
    data = TrainingData()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "intent"} <= set(reader.fieldnames):
            raise TrainingDataError(f"{path}:1: expected a header with 'text' and 'intent'")
        for row_number, row in enumerate(reader, start=2):
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text or not intent:
                raise TrainingDataError(f"{path}:{row_number}: empty text or intent")
            plain, spans, notes = _parse(path, row_number, text)
            data.warnings.extend(LoadWarning(str(path), row_number, n) for n in notes)
            if intent.split("/", 1)[0] == OUT_OF_SCOPE:
                intent = OUT_OF_SCOPE
            data.examples.append(Example(plain, intent, spans, str(path), row_number))
    return data


def load_yaml(path: Path) -> TrainingData:
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TrainingDataError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML") from exc
    data = TrainingData()
    if root is None:
        return data
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu", []), list):
        raise TrainingDataError(f"{path}:1: expected a mapping with an 'nlu' list")
    for key_node, _ in root.value:
        if key_node.value not in {"version", "nlu"}:
            data.warnings.append(
                LoadWarning(str(path), key_node.start_mark.line + 1,
                            f"'{key_node.value}' is not NLU training data: not read here"
                            + (" (`frontdesk import rasa` reads a Rasa project's "
                               "domain, stories, rules and responses)"
                               if key_node.value in _RASA_NON_NLU else ""))
            )  # fmt: skip
    nlu_node = next((v for k, v in root.value if k.value == "nlu"), None)
    items = nlu_node.value if isinstance(nlu_node, yaml.SequenceNode) else []
    for item_node, item in zip(items, doc.get("nlu") or [], strict=True):
        _read_item(data, path, item_node, item)
    return data


# Top-level keys of Rasa's other data files.
_RASA_NON_NLU = {"stories", "rules", "responses", "intents", "entities", "slots", "forms",
                 "actions", "session_config", "e2e_actions"}  # fmt: skip


def _read_item(data: TrainingData, path: Path, item_node: yaml.Node, item: object) -> None:
    line = item_node.start_mark.line + 1
    if not isinstance(item, dict):
        raise TrainingDataError(f"{path}:{line}: each nlu item must be a mapping")
    for key_node, _ in item_node.value:
        if key_node.value not in _ITEM_KEYS:
            data.warnings.append(
                LoadWarning(str(path), key_node.start_mark.line + 1,
                            f"'{key_node.value}' of an nlu item is not read")
            )  # fmt: skip
    entries = _entries(data, path, item_node, item)
    if "intent" in item:
        intent = str(item["intent"] or "").strip()
        if not intent:
            raise TrainingDataError(f"{path}:{line}: the intent has no name")
        if intent.split("/", 1)[0] == OUT_OF_SCOPE:
            intent = OUT_OF_SCOPE  # out_of_scope/* retrieval intents are out of scope too
        shared = item.get("metadata")
        if shared is not None and not isinstance(shared, dict):
            data.warnings.append(LoadWarning(str(path), line, "intent metadata that is not a "
                                             "mapping is not kept"))  # fmt: skip
            shared = None
        for entry_line, entry, own in entries:
            plain, spans, notes = _parse(path, entry_line, entry)
            for note in notes:
                data.warnings.append(LoadWarning(str(path), entry_line, note))
            metadata = {**(shared or {}), **(own or {})} or None
            data.examples.append(Example(plain, intent, spans, str(path), entry_line, metadata))
    elif "regex" in item:
        for entry_line, entry, _ in entries:
            try:
                re.compile(entry)
            except re.error as exc:
                raise TrainingDataError(
                    f"{path}:{entry_line}: regex {entry!r} does not compile: {exc}"
                ) from exc
        data.regexes.setdefault(str(item["regex"]), []).extend(e for _, e, _ in entries)
    elif "lookup" in item:
        data.lookups.setdefault(str(item["lookup"]), []).extend(e for _, e, _ in entries)
    elif "synonym" in item:
        for _, entry, _ in entries:
            data.synonyms[entry.lower()] = str(item["synonym"])
            data.declared_synonyms[entry.lower()] = str(item["synonym"])
    else:
        raise TrainingDataError(
            f"{path}:{line}: an nlu item needs one of intent, regex, lookup, synonym"
        )


def _entries(
    data: TrainingData, path: Path, item_node: yaml.Node, item: dict[str, Any]
) -> list[tuple[int, str, dict[str, Any] | None]]:
    """(line, text, metadata) of each example: a `|` block of `- ` lines, or Rasa's list of
    `- text: ...` mappings (with `metadata:`)."""
    examples = item.get("examples", "")
    node = next((v for k, v in item_node.value if k.value == "examples"), None)
    if isinstance(examples, str):
        return [(n, t, None) for n, t in
                _block_entries(path, examples, _examples_line(item_node))]  # fmt: skip
    line = item_node.start_mark.line + 1
    if not isinstance(examples, list) or not isinstance(node, yaml.SequenceNode):
        raise TrainingDataError(f"{path}:{line}: 'examples' must be a block of '- ' lines")
    found: list[tuple[int, str, dict[str, Any] | None]] = []
    for entry_node, entry in zip(node.value, examples, strict=True):
        entry_line = entry_node.start_mark.line + 1
        if not isinstance(entry, dict):
            raise TrainingDataError(
                f"{path}:{line}: 'examples' must be a block of '- ' lines or a list of "
                "'- text: ...' mappings (with an optional 'metadata:')"
            )
        if not isinstance(entry.get("text"), str | int | float):
            raise TrainingDataError(f"{path}:{entry_line}: the example has no 'text'")
        text_node = next(v for k, v in entry_node.value if k.value == "text")
        text_line = text_node.start_mark.line + (2 if text_node.style in {"|", ">"} else 1)
        for key in sorted(set(entry) - {"text", "metadata"}):
            data.warnings.append(
                LoadWarning(str(path), entry_line, f"'{key}' of an example is not read")
            )
        metadata = entry.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            data.warnings.append(
                LoadWarning(str(path), entry_line, "metadata that is not a mapping is not kept")
            )
            metadata = None
        text = str(entry["text"]).strip()
        if text:
            found.append((text_line, text, metadata))
    return found


def _parse(path: Path, line: int, text: str) -> tuple[str, tuple[EntitySpan, ...], list[str]]:
    try:
        return parse_annotated_with_notes(text)
    except ValueError as exc:
        raise TrainingDataError(f"{path}:{line}: {exc}") from exc


def _examples_line(item_node: yaml.Node) -> int:
    for key, value in item_node.value:
        if key.value == "examples":
            # A `|` block starts on the line after the key.
            return int(value.start_mark.line) + (2 if value.style == "|" else 1)
    return int(item_node.start_mark.line) + 1


def _block_entries(path: Path, block: str, first_line: int) -> list[tuple[int, str]]:
    entries = []
    for offset, raw in enumerate(block.splitlines()):
        line = raw.strip()
        if line.startswith("- ") and line[2:].strip():
            entries.append((first_line + offset, line[2:].strip()))
        elif line and not line.startswith("#"):
            raise TrainingDataError(
                f"{path}:{first_line + offset}: expected an example as '- text', got {line!r}"
            )
    return entries
