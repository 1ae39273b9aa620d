"""Rasa NLU YAML (`- intent: x / examples: | - text with [value](entity)`) and `text,intent` CSV."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# [value](entity) or [value]{"entity": "...", "value": "..."}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


# What is left of a broken annotation: "[KP-1](order_id" or "[KP-1]{"entity": ...".
_UNCLOSED = re.compile(r"\[[^\]]*\]\s*[({]")


# Examples of messages the assistant should not handle: used to tune the out-of-scope
# threshold, never learned as an intent of their own.
OUT_OF_SCOPE = "out_of_scope"


class TrainingDataError(ValueError):
    """Unreadable training data; the message starts with file:line."""


@dataclass(frozen=True)
class EntitySpan:
    type: str
    text: str
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...]
    source: str
    line: int


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # surface text -> canonical value

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
                    (e.text, e.intent, [(s.type, s.start, s.end, s.value) for s in e.entities])
                    for e in self.examples
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


def parse_annotated(text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip annotations from one example, returning the plain text and its entity spans."""
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
        if match.group("entity"):
            entity, value = match.group("entity").strip(), value_text
        else:
            try:
                spec = json.loads(match.group("json"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid entity annotation {match.group(0)!r}: {exc}") from exc
            if not isinstance(spec, dict) or "entity" not in spec:
                raise ValueError(f"entity annotation {match.group(0)!r} has no 'entity' key")
            entity, value = str(spec["entity"]), str(spec.get("value", value_text))
        spans.append(EntitySpan(entity, value_text, length, length + len(value_text), value))
        plain.append(value_text)
        length += len(value_text)
        cursor = match.end()
    rest = text[cursor:]
    if _UNCLOSED.search(rest):
        raise ValueError(f"unclosed entity annotation in {text!r}: write [value](entity)")
    plain.append(rest)
    return "".join(plain), tuple(spans)


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
            plain, spans = _parse(path, row_number, text)
            data.examples.append(Example(plain, intent, spans, str(path), row_number))
    return data


def load_yaml(path: Path) -> TrainingData:
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TrainingDataError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML") from exc
    data = TrainingData()
    if root is None:
        return data
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu", []), list):
        raise TrainingDataError(f"{path}:1: expected a mapping with an 'nlu' list")
    nlu_node = next((v for k, v in root.value if k.value == "nlu"), None)
    items = nlu_node.value if isinstance(nlu_node, yaml.SequenceNode) else []
    for item_node, item in zip(items, doc.get("nlu", []), strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            raise TrainingDataError(f"{path}:{line}: each nlu item must be a mapping")
        examples_text = item.get("examples", "")
        if not isinstance(examples_text, str):
            raise TrainingDataError(f"{path}:{line}: 'examples' must be a block of '- ' lines")
        examples_line = _examples_line(item_node)
        entries = _block_entries(path, examples_text, examples_line)
        if "intent" in item:
            if not str(item["intent"] or "").strip():
                raise TrainingDataError(f"{path}:{line}: the intent has no name")
            for entry_line, entry in entries:
                plain, spans = _parse(path, entry_line, entry)
                data.examples.append(
                    Example(plain, str(item["intent"]), spans, str(path), entry_line)
                )
        elif "regex" in item:
            for entry_line, entry in entries:
                try:
                    re.compile(entry)
                except re.error as exc:
                    raise TrainingDataError(
                        f"{path}:{entry_line}: regex {entry!r} does not compile: {exc}"
                    ) from exc
            data.regexes.setdefault(str(item["regex"]), []).extend(e for _, e in entries)
        elif "lookup" in item:
            data.lookups.setdefault(str(item["lookup"]), []).extend(e for _, e in entries)
        elif "synonym" in item:
            for _, entry in entries:
                data.synonyms[entry.lower()] = str(item["synonym"])
        else:
            raise TrainingDataError(
                f"{path}:{line}: an nlu item needs one of intent, regex, lookup, synonym"
            )
    return data


def _parse(path: Path, line: int, text: str) -> tuple[str, tuple[EntitySpan, ...]]:
    try:
        return parse_annotated(text)
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
