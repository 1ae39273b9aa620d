"""Golden conversations: Rasa end-to-end test stories played through understanding.

Each story's user turns go through the intent classifier and the entity extractors in order;
a turn matches when the intent is the expected one (an `out_of_scope` turn: flagged out of
scope) and the entities of the types the story's data knows are exactly the annotated ones
(type and value, in any case). Where frontdesk has the dialogue for the bot's answer (the
story's next actions are text responses that a fixed reply in rules.yaml says), the reply
the routing rules choose for what was understood must be that text too. A story passes when
all its turns match. Other bot actions (forms, custom actions) are not checked: frontdesk has
no dialogue policy for them yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontdesk.config.rules import RulesConfig
from frontdesk.nlu.rasa_stories import Story, UserTurn, load_stories, story_files
from frontdesk.nlu.training_data import OUT_OF_SCOPE
from frontdesk.policy.rules_router import Facts, RuleRouter
from frontdesk.types import Action, IntentPrediction, Urgency

# An entity as (type, value, role): the role None where there is none.
Found = tuple[str, str, str | None]


@dataclass(frozen=True)
class Understood:
    intent: str
    out_of_scope: bool
    entities: tuple[Found, ...]
    confidence: float = 1.0


Understand = Callable[[Sequence[str]], list[Understood]]
# The fixed reply the routing rules give to what was understood of a text (None: none).
Reply = Callable[[Understood, str], str | None]


@dataclass
class TurnResult:
    story: str
    source: str
    line: int
    text: str
    expected_intent: str
    intent: str
    out_of_scope: bool
    expected_entities: list[Found]
    entities: list[Found]
    intent_ok: bool
    entities_ok: bool
    expected_reply: str | None = None  # the bot's next text responses, where checked
    reply: str | None = None
    reply_ok: bool | None = None  # None: frontdesk has no dialogue for the bot's next actions

    @property
    def ok(self) -> bool:
        return self.intent_ok and self.entities_ok and self.reply_ok is not False

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
            "replies_checked": sum(t.reply_ok is not None for t in turns),
            "replies_matched": sum(bool(t.reply_ok) for t in turns),
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


def expected_entities(turn: UserTurn) -> list[Found]:
    found: list[Found] = [(span.type, span.value, span.role) for span in turn.entities]
    annotated = {t for t, _, _ in found}
    found.extend(
        (t, v, None) for t, v in turn.listed_entities if v is not None and t not in annotated
    )
    return sorted(found, key=_order)


def _order(entity: Found) -> tuple[str, str, str]:
    return entity[0], entity[1], entity[2] or ""


def show_entities(entities: Sequence[Found]) -> str:
    """[city(destination)=Rome, seat=business]"""
    return "[" + ", ".join(
        f"{t}({r})={v}" if r else f"{t}={v}" for t, v, r in entities
    ) + "]"  # fmt: skip


def intent_matches(expected: str, got: Understood) -> bool:
    """The expected intent, not flagged out of scope; a retrieval intent (faq/ask_x) may be
    classified as its group (faq) when the model learns groups. Out of scope: flagged."""
    if expected == OUT_OF_SCOPE or expected.startswith(f"{OUT_OF_SCOPE}/"):
        return got.out_of_scope or got.intent.split("/", 1)[0] == OUT_OF_SCOPE
    if got.out_of_scope:
        return False
    return got.intent in {expected, expected.split("/", 1)[0]}


def next_responses(story: Story) -> dict[int, list[str]]:
    """For each user step (by its index in the story's steps), the names of the actions
    that follow it up to the next user step."""
    found: dict[int, list[str]] = {}
    current: int | None = None
    for index, step in enumerate(story.steps):
        if step.kind in {"user", "or"}:
            current = index
            found[index] = []
        elif step.kind == "action" and current is not None and step.name:
            found[current].append(step.name)
        elif step.kind == "bot" and current is not None and step.name:
            found[current].append(f"bot:{step.name}")
    return found


def run_conversations(
    stories: Sequence[Story],
    understand: Understand,
    entity_types: set[str],
    *,
    responses: dict[str, str] | None = None,
    fixed_replies: set[str] | None = None,
    reply: Reply | None = None,
) -> ConversationsReport:
    """Play every story's user turns through `understand` (all turns in one batch). With
    `responses` (utter_x -> text), the replies rules.yaml gives (`fixed_replies`) and `reply`,
    a turn whose next actions are responses making one of those replies is checked too."""
    report = ConversationsReport()
    pending: list[tuple[StoryResult, UserTurn, str | None]] = []
    for story in stories:
        result = StoryResult(story.name, story.source, story.line)
        report.stories.append(result)
        following = next_responses(story)
        for index, step in enumerate(story.steps):
            turn = step.user
            if turn is None:
                continue
            if turn.intent and turn.text:
                pending.append((result, turn, _expected_reply(following[index], responses,
                                                              fixed_replies)))  # fmt: skip
            else:
                report.skipped_turns += 1
    understood = understand([turn.text or "" for _, turn, _ in pending]) if pending else []
    for (result, turn, expected_reply), got in zip(pending, understood, strict=True):
        replied = reply(got, turn.text or "") if reply and expected_reply is not None else None
        expected = expected_entities(turn)
        types = entity_types | {t for t, _, _ in expected}
        entities = sorted((e for e in got.entities if e[0] in types), key=_order)
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
                entities_ok=entities_match(expected, entities),
                expected_reply=expected_reply,
                reply=replied,
                reply_ok=None if expected_reply is None else replied == expected_reply,
            )
        )
    return report


def _expected_reply(
    actions: list[str], responses: dict[str, str] | None, fixed: set[str] | None
) -> str | None:
    """The text the bot answers with, when frontdesk has that reply as a fixed one."""
    if not actions or not responses or not fixed:
        return None
    texts = [responses.get(a) for a in actions if a != "action_listen"]
    if not texts or any(t is None for t in texts):
        return None
    text = "\n\n".join(str(t).strip() for t in texts)
    return text if text in fixed else None


def entities_match(expected: list[Found], got: list[Found]) -> bool:
    """The same entities, values in any case; roles compared where the turn annotates one
    (a test story without roles is not held to the roles a model learned)."""
    roles = any(r for _, _, r in expected)

    def norm(items: list[Found]) -> list[tuple[str, str, str]]:
        return sorted(
            (t, " ".join(v.lower().split()), (r or "") if roles else "") for t, v, r in items
        )

    return norm(expected) == norm(got)


def fixed_replies(rules: RulesConfig) -> set[str]:
    """The replies rules.yaml says word for word (answer `message`, clarify `ask`)."""
    found = set()
    for rule in rules.rules:
        text = rule.then.message if rule.then.action is Action.ANSWER else rule.then.ask
        if text:
            found.add(str(text).strip())
    return found


def rule_reply(rules: RulesConfig) -> Reply:
    """What the routing rules say to what was understood of a text: the fixed reply of the
    rule that decides (None when it answers from the knowledge base, calls a tool or hands
    off). Escalation triggers, sentiment and answerability are not part of it."""
    router = RuleRouter(rules)
    by_name = {rule.name: rule for rule in rules.rules}

    def reply(got: Understood, text: str) -> str | None:
        intent = IntentPrediction(name=got.intent, confidence=got.confidence,
                                  ranking=[(got.intent, got.confidence)],
                                  out_of_scope=got.out_of_scope)  # fmt: skip
        route = router.decide(Facts(intent=intent, urgency=Urgency.NORMAL, channel="api",
                                    text=text))  # fmt: skip
        rule = by_name.get(route.rule)
        if rule is None:
            return None
        said = rule.then.message if route.action is Action.ANSWER else route.ask
        return str(said).strip() if said else None

    return reply
