"""`frontdesk data validate`: problems in training data that load fine but train badly.

Each finding points at file:line: the same example under two intents, intents with too few
examples, entity annotations of a type nothing declares, and rules that ask for entities no
extractor can produce.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from frontdesk.nlu.training_data import OUT_OF_SCOPE, TrainingData

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


def _normalise(text: str) -> str:
    return " ".join(text.lower().split()).strip(" ?!.,")


def validate(
    data: TrainingData,
    *,
    known_entities: Iterable[str],
    min_examples: int = 5,
    rule_entities: Iterable[tuple[str, str]] = (),
) -> list[Finding]:
    """`known_entities`: types some extractor produces or the settings declare.
    `rule_entities`: (file:line, entity type) pairs the routing rules refer to."""
    findings: list[Finding] = []
    known = set(known_entities) | set(data.regexes) | set(data.lookups)

    by_text: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for example in data.examples:
        by_text[_normalise(example.text)].append(
            (example.intent, f"{example.source}:{example.line}")
        )
    for places in by_text.values():
        intents = {intent for intent, _ in places}
        if len(intents) > 1:
            first_intent, first_where = places[0]
            for intent, where in places[1:]:
                if intent != first_intent:
                    findings.append(
                        Finding(
                            "error",
                            where,
                            f"the same example is under {intent!r} and {first_intent!r} "
                            f"({first_where})",
                        )
                    )
        elif len(places) > 1:
            for _, where in places[1:]:
                findings.append(
                    Finding("warning", where, f"duplicate example (first at {places[0][1]})")
                )

    counts = Counter(e.intent for e in data.examples)
    first_line: dict[str, str] = {}
    for example in data.examples:
        first_line.setdefault(example.intent, f"{example.source}:{example.line}")
    for intent, count in sorted(counts.items()):
        if intent != OUT_OF_SCOPE and count < min_examples:
            findings.append(
                Finding(
                    "error" if count < 2 else "warning",
                    first_line[intent],
                    f"intent {intent!r} has {count} example{'s' * (count != 1)}; "
                    f"give it at least {min_examples}",
                )
            )
    if len([i for i in counts if i != OUT_OF_SCOPE]) < 2:
        where = next(iter(first_line.values()), "training data")
        findings.append(Finding("error", where, "a classifier needs at least two intents"))

    annotated: set[str] = set()
    for example in data.examples:
        for span in example.entities:
            annotated.add(span.type)
            if span.type not in known:
                findings.append(
                    Finding(
                        "error",
                        f"{example.source}:{example.line}",
                        f"unknown entity {span.type!r} in {span.text!r}; known: "
                        f"{', '.join(sorted(known))} (declare new ones under nlu.entities "
                        "in frontdesk.yaml)",
                    )
                )
    for where, entity in rule_entities:
        if entity not in known and entity not in annotated:
            findings.append(
                Finding(
                    "error",
                    where,
                    f"the rule refers to entity {entity!r}, which no extractor produces "
                    "and no example annotates",
                )
            )
    return sorted(findings, key=lambda f: (f.severity != "error", f.where))
