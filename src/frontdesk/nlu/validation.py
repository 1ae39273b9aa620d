"""`frontdesk data validate`: problems in training data that load fine but train badly.

Modelled on `rasa data validate`, so a Rasa project passes unchanged when Rasa would pass it:

- Entity types are declared by being used: an annotation `[low](priority)` is all a type needs
  (`train` learns it). A routing rule that asks for an entity nothing annotates and no
  extractor produces is an error: the rule can never fire.
- The same example under two intents is a warning naming both places, as in Rasa (a
  classifier sees both labels for one text; keep it under one). Examples that differ only in
  case, punctuation or spacing under two intents are warnings too (Rasa does not look; our
  classifier lowercases, so to it they are the same text).
- The same example twice under one intent is a warning (it adds weight, nothing else, and it
  lands in training and test folds at once); the same text annotated differently is a warning.
  Case or punctuation variants under one intent are deliberate and not reported.
- An intent with fewer than `min_examples` examples is a warning; fewer than two intents is
  an error (nothing to classify).

Findings carry their file and line as a number and sort by file, then line.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from frontdesk.nlu.training_data import OUT_OF_SCOPE, Example, TrainingData

Severity = Literal["error", "warning"]

_WHERE = re.compile(r"^(?P<source>.*):(?P<line>\d+)$")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    source: str  # a file, or a description when there is none
    line: int | None
    message: str

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.source, self.line or 0, self.severity != "error", self.message)

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


def finding_at(severity: Severity, where: str, message: str) -> Finding:
    """A finding for a `file:line` string (the line becomes a number for sorting)."""
    match = _WHERE.match(where)
    if match is None:
        return Finding(severity, where, None, message)
    return Finding(severity, match["source"], int(match["line"]), message)


def near_duplicate_key(text: str) -> str:
    """The text without case, punctuation or spacing differences."""
    kept = "".join(
        " " if unicodedata.category(ch).startswith("P") else ch for ch in text.casefold()
    )
    return " ".join(kept.split())


def _at(example: Example) -> str:
    return f"{example.source}:{example.line}"


def _spans(example: Example) -> set[tuple[str, int, int, str]]:
    return {(s.type, s.start, s.end, s.value) for s in example.entities}


def _duplicates(examples: list[Example]) -> list[Finding]:
    findings: list[Finding] = []
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        groups[near_duplicate_key(example.text)].append(example)
    for group in groups.values():
        if len(group) < 2:
            continue
        first_by_intent: dict[str, Example] = {}
        first_by_text: dict[tuple[str, str], Example] = {}
        for example in group:
            first_of_intent = first_by_intent.setdefault(example.intent, example)
            same = first_by_text.setdefault((example.intent, example.text), example)
            if same is not example:
                what = (
                    "duplicate example"
                    if _spans(same) == _spans(example)
                    else "the same example annotated differently"
                )
                findings.append(
                    finding_at("warning", _at(example), f"{what} (first at {_at(same)})")
                )
            elif first_of_intent is example:
                # The first of this intent in the group: compare with earlier intents' firsts.
                for intent, other in first_by_intent.items():
                    if intent == example.intent:
                        continue
                    if other.text == example.text:
                        message = (
                            f"the same example is under {example.intent!r} and {intent!r} "
                            f"({_at(other)}); keep it under one intent"
                        )
                    else:
                        message = (
                            f"{example.text!r} under {example.intent!r} differs only in case, "
                            f"punctuation or spacing from {other.text!r} under {intent!r} "
                            f"({_at(other)})"
                        )
                    findings.append(finding_at("warning", _at(example), message))
    return findings


def validate(
    data: TrainingData,
    *,
    known_entities: Iterable[str],
    min_examples: int = 5,
    rule_entities: Iterable[tuple[str, str]] = (),
) -> list[Finding]:
    """`known_entities`: types some extractor produces or the settings declare.
    `rule_entities`: (file:line, entity type) pairs the routing rules refer to.
    Returns the findings sorted by file, then line."""
    findings = _duplicates(data.examples)

    counts = Counter(e.intent for e in data.examples)
    first: dict[str, Example] = {}
    for example in data.examples:
        first.setdefault(example.intent, example)
    for intent, count in sorted(counts.items()):
        if intent != OUT_OF_SCOPE and count < min_examples:
            tested = "" if count > 1 else " (one example cannot be cross-validated)"
            findings.append(
                finding_at(
                    "warning",
                    _at(first[intent]),
                    f"intent {intent!r} has {count} example{'s' * (count != 1)}; "
                    f"give it at least {min_examples}{tested}",
                )
            )
    if len([i for i in counts if i != OUT_OF_SCOPE]) < 2:
        where = _at(next(iter(first.values()))) if first else "training data"
        findings.append(finding_at("error", where, "a classifier needs at least two intents"))

    # Entity types are declared by being annotated.
    known = set(known_entities) | set(data.regexes) | set(data.lookups) | set(data.entity_types)
    for where, entity in rule_entities:
        if entity not in known:
            findings.append(
                finding_at(
                    "error",
                    where,
                    f"the rule refers to entity {entity!r}, which no extractor produces "
                    "and no example annotates",
                )
            )
    # What the loader read but could not carry over (roles in an unknown form, stories in an
    # nlu file...): the model trains without it, so the operator should see it here too.
    findings += [Finding("warning", w.source, w.line, w.message) for w in data.warnings]
    return sorted(findings, key=Finding.sort_key)
