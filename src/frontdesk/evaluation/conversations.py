"""Golden conversations: Rasa end-to-end test stories played through understanding.

Each story's user turns go through the intent classifier and the entity extractors in order;
a turn matches when the intent is the expected one (an `out_of_scope` turn: flagged out of
scope) and the entities of the types the story's data knows are exactly the annotated ones
(type and value, in any case). A story passes when all its turns match. The bot's actions in
the story are not checked: frontdesk has no dialogue policy for them yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontdesk.nlu.rasa_stories import Story, UserTurn, load_stories, story_files
from frontdesk.nlu.training_data import OUT_OF_SCOPE


@dataclass(frozen=True)
class Understood:
    intent: str
    out_of_scope: bool
    entities: tuple[tuple[str, str], ...]  # (type, value)


Understand = Callable[[Sequence[str]], list[Understood]]


@dataclass
class TurnResult:
    story: str
    source: str
    line: int
    text: str
    expected_intent: str
    intent: str
    out_of_scope: bool
    expected_entities: list[tuple[str, str]]
    entities: list[tuple[str, str]]
    intent_ok: bool
    entities_ok: bool

    @property
    def ok(self) -> bool:
        return self.intent_ok and self.entities_ok

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class StoryResult:
    name: str
    source: str
    line: int
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.turns)


@dataclass
class ConversationsReport:
    stories: list[StoryResult] = field(default_factory=list)
    skipped_turns: int = 0  # turns with only an intent or only text: nothing to check

    @property
    def turns(self) -> list[TurnResult]:
        return [t for s in self.stories for t in s.turns]

    def summary(self) -> dict[str, Any]:
        turns = self.turns
        n = len(turns) or 1
        checked = [s for s in self.stories if s.turns]
        return {
            "stories": len(checked),
            "stories_passed": sum(s.ok for s in checked),
            "story_pass_rate": round(sum(s.ok for s in checked) / (len(checked) or 1), 4),
            "turns": len(turns),
            "turns_matched": sum(t.ok for t in turns),
            "turn_accuracy": round(sum(t.ok for t in turns) / n, 4),
            "intent_accuracy": round(sum(t.intent_ok for t in turns) / n, 4),
            "entity_turns_matched": sum(t.entities_ok for t in turns),
            "turns_skipped": self.skipped_turns,
        }

    def failures(self) -> list[TurnResult]:
        return [t for t in self.turns if not t.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "stories": [
                {
                    "name": s.name,
                    "where": f"{s.source}:{s.line}",
                    "ok": s.ok,
                    "turns": [{**t.__dict__, "ok": t.ok} for t in s.turns],
                }
                for s in self.stories
            ],
        }


def load_conversations(path: Path) -> list[Story]:
    """The test stories of a file or a folder of them (rules in such files are not tests)."""
    files = story_files(path) if path.is_dir() else [path]
    return [s for f in files for s in load_stories(f) if s.kind == "story"]


def expected_entities(turn: UserTurn) -> list[tuple[str, str]]:
    found = [(span.type, span.value) for span in turn.entities]
    annotated = {t for t, _ in found}
    found.extend((t, v) for t, v in turn.listed_entities if v is not None and t not in annotated)
    return sorted(found)


def intent_matches(expected: str, got: Understood) -> bool:
    """The expected intent, not flagged out of scope; a retrieval intent (faq/ask_x) may be
    classified as its group (faq) when the model learns groups. Out of scope: flagged."""
    if expected == OUT_OF_SCOPE or expected.startswith(f"{OUT_OF_SCOPE}/"):
        return got.out_of_scope or got.intent.split("/", 1)[0] == OUT_OF_SCOPE
    if got.out_of_scope:
        return False
    return got.intent in {expected, expected.split("/", 1)[0]}


def run_conversations(
    stories: Sequence[Story], understand: Understand, entity_types: set[str]
) -> ConversationsReport:
    """Play every story's user turns through `understand` (all turns in one batch)."""
    report = ConversationsReport()
    pending: list[tuple[StoryResult, UserTurn]] = []
    for story in stories:
        result = StoryResult(story.name, story.source, story.line)
        report.stories.append(result)
        for turn in story.user_turns:
            if turn.intent and turn.text:
                pending.append((result, turn))
            else:
                report.skipped_turns += 1
    understood = understand([turn.text or "" for _, turn in pending]) if pending else []
    for (result, turn), got in zip(pending, understood, strict=True):
        expected = expected_entities(turn)
        types = entity_types | {t for t, _ in expected}
        entities = sorted((t, str(v)) for t, v in got.entities if t in types)
        result.turns.append(
            TurnResult(
                story=result.name,
                source=result.source,
                line=turn.line,
                text=turn.text or "",
                expected_intent=str(turn.intent),
                intent=got.intent,
                out_of_scope=got.out_of_scope,
                expected_entities=expected,
                entities=entities,
                intent_ok=intent_matches(str(turn.intent), got),
                entities_ok=_same(expected, entities),
            )
        )
    return report


def _same(expected: list[tuple[str, str]], got: list[tuple[str, str]]) -> bool:
    def norm(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted((t, " ".join(v.lower().split())) for t, v in items)

    return norm(expected) == norm(got)
