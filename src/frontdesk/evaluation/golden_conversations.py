"""Golden conversations played through the whole assistant (`frontdesk test conversations`).

The files are Rasa end-to-end test stories (read by `nlu.rasa_stories`, as `frontdesk evaluate
conversations` reads them), where a user step may add frontdesk's `expect:` mapping: the action,
team, tool, citations, facts of the reply and the dialogue state after the turn
(docs/golden-conversations.md). From an imported Rasa story's other steps, what frontdesk can
observe is expected too: `slot_was_set` values, `utter_ask_<slot>` as the slot asked for, and
bot responses that a fixed reply of rules.yaml says word for word.

Each conversation runs in a conversation of its own through `Assistant.handle`, and every
customer turn is scored from the outside: the reply, its route and citations, the ticket it
opened, and the dialogue state and language stored with the turn.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from frontdesk.errors import ConfigError
from frontdesk.evaluation.answers import _p95, cites_one_of, missing_facts, normalise
from frontdesk.evaluation.conversations import (
    Found,
    Understood,
    expected_entities,
    intent_matches,
    load_conversations,
    next_responses,
)
from frontdesk.nlu.rasa_stories import Story, StoryError, UserTurn
from frontdesk.orchestration.assistant import Assistant
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Ticket
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import Action, Entity, InboundMessage, Reply

# Shares of turns (higher is better) that the regression gate compares with a baseline.
RATES = (
    "action_accuracy",
    "intent_accuracy",
    "entity_accuracy",
    "slot_accuracy",
    "state_accuracy",
    "team_accuracy",
    "tool_accuracy",
    "citation_accuracy",
    "facts_accuracy",
    "reply_accuracy",
    "language_accuracy",
    "forms_completed",
    "turns_passed",
    "conversations_passed",
)
# A metric may fall by this share of its baseline value before the gate fails.
TOLERANCE = 0.05

_ASK = re.compile(r"^(?:utter|action)_ask_(\w+)$")


class Expectation(BaseModel):
    """What one customer turn must lead to; a key left out is not checked."""

    model_config = ConfigDict(extra="forbid")
    action: Action | None = None
    team: str | None = None
    tool: str | None = None
    cite: list[str] = Field(default_factory=list)
    facts: list[str | list[str]] = Field(default_factory=list)
    slots: dict[str, str] = Field(default_factory=dict)
    requested_slot: str | None = None  # checked when given, `null` included
    task: str | None = None  # likewise
    completes: str | None = None
    language: str | None = None
    reply: str | None = None  # the whole reply, word for word (a Rasa bot response)

    @field_validator("slots", mode="before")
    @classmethod
    def _slot_values(cls, value: Any) -> Any:
        # `amount: 6.95` in YAML is a float: compared as text like any other value.
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else _plain(v) for k, v in value.items()}
        return value

    def given(self, key: str) -> bool:
        return key in self.model_fields_set


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class GoldenTurn:
    text: str
    source: str
    line: int
    intent: str | None
    entities: tuple[Found, ...]
    expect: Expectation

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class GoldenConversation:
    name: str
    source: str
    line: int
    turns: tuple[GoldenTurn, ...]
    skipped: int = 0  # user steps with no text (an intent alone): nothing to send

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def load_golden_conversations(
    path: Path,
    *,
    responses: dict[str, str] | None = None,
    fixed: set[str] | None = None,
    slots: set[str] | None = None,
) -> list[GoldenConversation]:
    """The conversations of a file or folder. `responses` (utter_x -> text) and `fixed` (the
    replies rules.yaml says word for word) turn a Rasa story's bot responses into expected
    replies where frontdesk has them; `slots` (the workspace's, from forms.yml) are those an
    `utter_ask_<slot>` asks for (a bot's `utter_ask_handoff` is a yes/no question, not a
    slot; None: any). Errors are ConfigError with file:line."""
    try:
        stories = load_conversations(path)
    except StoryError as exc:
        raise ConfigError(str(exc)) from None
    found: list[GoldenConversation] = []
    seen: dict[str, str] = {}
    for story in stories:
        where = f"{story.source}:{story.line}"
        if story.name in seen:
            raise ConfigError(f"{where}: conversation {story.name!r} is also at {seen[story.name]}")
        seen[story.name] = where
        found.append(_conversation(story, responses or {}, fixed or set(), slots))
    return found


def _conversation(
    story: Story, responses: dict[str, str], fixed: set[str], slots: set[str] | None
) -> GoldenConversation:
    following = next_responses(story)
    turns: list[GoldenTurn] = []
    skipped = 0
    for index, step in enumerate(story.steps):
        user = step.user
        if user is None:
            continue
        if not user.text:
            skipped += 1
            continue
        derived = _from_rasa(story, index, following.get(index, []), responses, fixed, slots)
        turns.append(
            GoldenTurn(
                text=user.text,
                source=story.source,
                line=user.line,
                intent=user.intent,
                entities=tuple(expected_entities(user)),
                expect=_expectation(story.source, user, derived),
            )
        )
    return GoldenConversation(story.name, story.source, story.line, tuple(turns), skipped)


def _from_rasa(
    story: Story,
    index: int,
    actions: list[str],
    responses: dict[str, str],
    fixed: set[str],
    known: set[str] | None,
) -> dict[str, Any]:
    """What the steps after a user step (up to the next one) say frontdesk can check."""
    derived: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    for step in story.steps[index + 1 :]:
        if step.kind in {"user", "or"}:
            break
        if step.kind == "slot_was_set":
            slots.update({k: v for k, v in step.slots if v is not None})
    if slots:
        derived["slots"] = slots
    asked = [m.group(1) for a in actions if (m := _ASK.match(a))]
    asked = [slot for slot in asked if known is None or slot in known]
    if asked:
        derived["requested_slot"] = asked[-1]
    texts = [responses.get(a) for a in actions if a != "action_listen"]
    if texts and all(t is not None for t in texts):
        reply = "\n\n".join(str(t).strip() for t in texts)
        if reply in fixed:
            derived["reply"] = reply
    return derived


def _expectation(source: str, turn: UserTurn, derived: dict[str, Any]) -> Expectation:
    unknown = sorted(set(turn.options) - {"expect"})
    if unknown:
        line = turn.option_lines.get(unknown[0], turn.line)
        raise ConfigError(
            f"{source}:{line}: a user step has {', '.join(unknown)}; frontdesk's checks go "
            "under `expect:` (action, team, tool, cite, facts, slots, requested_slot, task, "
            "completes, language, reply)"
        )
    given = turn.options.get("expect")
    line = turn.option_lines.get("expect", turn.line)
    if given is not None and not isinstance(given, dict):
        raise ConfigError(f"{source}:{line}: `expect` must be a mapping such as {{action: answer}}")
    try:
        return Expectation.model_validate({**derived, **(given or {})})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{source}:{line}: expect.{key}: {first['msg']}") from None


# ----------------------------------------------------------------------------- results


@dataclass
class TurnResult:
    where: str
    text: str
    reply: str
    intent: str | None
    action: str | None
    rule: str | None
    team: str | None
    tool: str | None
    cited: list[str]
    state: dict[str, Any] | None
    language: str | None
    ms: float
    # check name -> passed, for the checks this turn makes
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


@dataclass
class ConversationResult:
    name: str
    where: str
    turns: list[TurnResult] = field(default_factory=list)
    skipped: int = 0
    forms_expected: int = 0
    forms_completed: int = 0

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.turns)

    def failures(self) -> list[tuple[int, TurnResult]]:
        return [(n, t) for n, t in enumerate(self.turns, start=1) if not t.passed]


# check name -> summary metric
_METRIC = {
    "action": "action_accuracy",
    "intent": "intent_accuracy",
    "entities": "entity_accuracy",
    "slots": "slot_accuracy",
    "state": "state_accuracy",
    "team": "team_accuracy",
    "tool": "tool_accuracy",
    "citation": "citation_accuracy",
    "facts": "facts_accuracy",
    "reply": "reply_accuracy",
    "language": "language_accuracy",
}


@dataclass
class ConversationReport:
    conversations: list[ConversationResult] = field(default_factory=list)

    @property
    def turns(self) -> list[TurnResult]:
        return [t for c in self.conversations for t in c.turns]

    def summary(self) -> dict[str, Any]:
        turns = self.turns
        summary: dict[str, Any] = {
            "conversations": len(self.conversations),
            "turns": len(turns),
            "turns_skipped": sum(c.skipped for c in self.conversations),
        }
        for check, metric in _METRIC.items():
            summary[metric] = _share([t.checks[check] for t in turns if check in t.checks])
        expected = sum(c.forms_expected for c in self.conversations)
        summary["forms_expected"] = expected
        summary["forms_completed"] = (
            round(sum(c.forms_completed for c in self.conversations) / expected, 4)
            if expected
            else None
        )
        summary["turns_passed"] = _share([t.passed for t in turns])
        summary["conversations_passed"] = _share([c.passed for c in self.conversations])
        summary["turn_p95_ms"] = round(_p95([t.ms for t in turns]), 1) if turns else None
        return summary

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "conversations": [
                {
                    "name": c.name,
                    "where": c.where,
                    "passed": c.passed,
                    "forms_expected": c.forms_expected,
                    "forms_completed": c.forms_completed,
                    "turns": [asdict(t) | {"passed": t.passed} for t in c.turns],
                }
                for c in self.conversations
            ],
        }


def _share(flags: Sequence[bool]) -> float | None:
    """None when no turn makes the check: nothing measured, not zero."""
    return round(sum(flags) / len(flags), 4) if flags else None


# ----------------------------------------------------------------------------- playing


async def play_conversations(
    assistant: Assistant,
    db: Database,
    tenant_id: str,
    conversations: Sequence[GoldenConversation],
    entity_types: Iterable[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> ConversationReport:
    """Every conversation in a conversation of its own; `progress(n)` after each turn."""
    types = set(entity_types)
    report = ConversationReport()
    done = 0
    for golden in conversations:
        result = ConversationResult(golden.name, golden.where, skipped=golden.skipped)
        report.conversations.append(result)
        async with db.session(tenant_id) as session:
            conversation = await create_conversation(session, channel="api")
            await session.commit()
            conversation_id = conversation.id
        before: dict[str, Any] | None = None
        for turn in golden.turns:
            began = time.perf_counter()
            reply = await assistant.handle(
                InboundMessage(tenant_id=tenant_id, conversation_id=conversation_id, text=turn.text)
            )
            ms = (time.perf_counter() - began) * 1000
            async with db.session(tenant_id) as session:
                row = await session.get(TurnRow, reply.turn_id)
                team = None
                if reply.ticket_id is not None:
                    team = await session.scalar(
                        select(Ticket.team).where(Ticket.id == reply.ticket_id)
                    )
            scored = score_turn(turn, reply, row, team, before, types, ms)
            result.turns.append(scored)
            if turn.expect.completes:
                result.forms_expected += 1
                result.forms_completed += scored.checks.get("completes", False)
            before = scored.state
            done += 1
            if progress is not None:
                progress(done)
    return report


def score_turn(
    turn: GoldenTurn,
    reply: Reply,
    row: TurnRow | None,
    ticket_team: str | None,
    state_before: dict[str, Any] | None,
    entity_types: set[str],
    ms: float,
) -> TurnResult:
    decision = (row.decision if row is not None else None) or {}
    facts = decision.get("facts") or {}
    state = row.dialogue_state if row is not None else None
    route = reply.route
    result = TurnResult(
        where=turn.where,
        text=turn.text,
        reply=reply.text,
        intent=reply.intent,
        action=route.action.value if route else None,
        rule=route.rule if route else None,
        team=ticket_team or (route.team if route else None),
        tool=route.tool if route else None,
        cited=[c.title for c in reply.citations],
        state=state,
        language=row.language if row is not None else None,
        ms=round(ms, 2),
    )
    expect = turn.expect
    checks, problems = result.checks, result.problems

    def check(name: str, ok: bool, problem: str) -> None:
        checks[name] = checks.get(name, True) and ok
        if not ok:
            problems.append(problem)

    if turn.intent:
        got = Understood(reply.intent or "", bool(facts.get("out_of_scope")), ())
        shown = "out of scope" if got.out_of_scope else (reply.intent or "none")
        check("intent", intent_matches(turn.intent, got), f"intent {shown}, expected {turn.intent}")
    expected = list(turn.entities)
    types = entity_types | {t for t, _, _ in expected}
    got_entities = [e for e in reply.entities if e.type in types]
    check(
        "entities",
        entities_agree(expected, got_entities),
        f"entities {_show(got_entities)}, expected {_show_found(expected)}",
    )
    if expect.action is not None:
        wanted = expect.action.value
        check("action", result.action == wanted,
              f"action {result.action} (rule {result.rule!r}), expected {wanted}")  # fmt: skip
    if expect.team is not None:
        check("team", result.team == expect.team, f"team {result.team}, expected {expect.team}")
    if expect.tool is not None:
        check("tool", result.tool == expect.tool, f"tool {result.tool}, expected {expect.tool}")
    if expect.cite:
        sources = [c.source for c in reply.citations]
        check("citation", cites_one_of(result.cited, sources, expect.cite),
              f"cites {result.cited or 'nothing'}, expected one of {expect.cite}")  # fmt: skip
    if expect.facts:
        missing = missing_facts(reply.text, expect.facts)
        check("facts", not missing, "reply lacks " + "; ".join(repr(m) for m in missing))
    if expect.reply is not None:
        check("reply", reply.text.strip() == expect.reply.strip(),
              f"reply {reply.text!r}, expected {expect.reply!r}")  # fmt: skip
    if expect.language is not None:
        check("language", result.language == expect.language,
              f"language {result.language}, expected {expect.language}")  # fmt: skip
    active = _active(state)
    for name, value in expect.slots.items():
        got_value = slot_value(state, name)
        check("slots", got_value is not None and same_value(got_value, value),
              f"slot {name}={got_value}, expected {value}")  # fmt: skip
    if expect.given("requested_slot"):
        asked = active.get("requested_slot")
        check("state", asked == expect.requested_slot,
              f"asks for {asked}, expected {expect.requested_slot}")  # fmt: skip
    if expect.given("task"):
        task = active.get("intent")
        check("state", task == expect.task, f"task {task}, expected {expect.task}")
    if expect.completes:
        was = _active(state_before).get("form")
        now = active.get("form")
        others = all(ok for name, ok in checks.items())
        ok = was == expect.completes and now != expect.completes and others
        check("completes", ok, f"form {expect.completes} not completed (active before: {was}, "
                               f"after: {now})")  # fmt: skip
    return result


def _active(state: dict[str, Any] | None) -> dict[str, Any]:
    active = (state or {}).get("active")
    return active if isinstance(active, dict) else {}


def slot_value(state: dict[str, Any] | None, name: str) -> str | None:
    """A slot's value after the turn: the active task's, else the conversation's."""
    for slots in (_active(state).get("slots"), (state or {}).get("slots")):
        if isinstance(slots, dict) and name in slots:
            held = slots[name]
            value = held.get("value") if isinstance(held, dict) else held
            if value is not None:
                return _plain(value)
    return None


_MONEY = re.compile(r"^[£$€]?\s*(\d+(?:[.,]\d+)?)\s*(?:gbp|eur|usd|pounds?)?$")


def same_value(got: str, expected: str) -> bool:
    """Equal in any case and spacing; amounts as numbers ("£6.95" is 6.95)."""
    if normalise(got) == normalise(expected):
        return True
    a, b = _MONEY.match(normalise(got)), _MONEY.match(normalise(expected))
    if a and b:
        return math.isclose(
            float(a.group(1).replace(",", ".")), float(b.group(1).replace(",", "."))
        )
    return False


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def entities_agree(expected: Sequence[Found], got: Sequence[Entity]) -> bool:
    """The same entities: each expected one matched by one found of its type whose value or
    text is the annotated value (an amount's value is a number with a currency, a synonym's is
    the canonical name), and nothing more; roles compared where annotated."""
    left = list(got)
    for type_, value, role in expected:
        for i, entity in enumerate(left):
            if entity.type != type_ or (role and entity.role != role):
                continue
            if same_value(entity.text, value) or same_value(_entity_value(entity), value):
                del left[i]
                break
        else:
            return False
    return not left


def _entity_value(entity: Entity) -> str:
    value = entity.value
    if isinstance(value, dict) and "amount" in value:
        return _plain(value["amount"])
    return _plain(value)


def _show(entities: Sequence[Entity]) -> str:
    return "[" + ", ".join(f"{e.type}={e.text}" for e in entities) + "]"


def _show_found(entities: Sequence[Found]) -> str:
    return "[" + ", ".join(f"{t}={v}" for t, v, _ in entities) + "]"


# ----------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Change:
    metric: str
    baseline: float
    now: float | None

    @property
    def dropped(self) -> bool:
        """Down by more than TOLERANCE of the baseline (a metric no turn checks any more
        cannot be compared: it is not a drop)."""
        return self.now is not None and self.now < self.baseline * (1 - TOLERANCE) - 1e-9


def baseline_metrics(path: Path) -> dict[str, float]:
    """A baseline: the JSON `--output` wrote (its summary) or a mapping of metric: value."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: baseline not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    summary = data.get("summary", data) if isinstance(data, dict) else None
    if not isinstance(summary, dict):
        raise ConfigError(f"{path}:1: expected an object of metrics (or --output's JSON)")
    metrics = {}
    for name in RATES:
        value = summary.get(name)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: {name} must be a number, not {value!r}")
        metrics[name] = float(value)
    if not metrics:
        raise ConfigError(f"{path}: no metrics in it (expected some of {', '.join(RATES)})")
    return metrics


def baseline_of(summary: dict[str, Any]) -> dict[str, Any]:
    """What `--save-baseline` writes: the rates the gate compares, and the counts they are
    shares of (so a reader sees how much the golden set held)."""
    counts = ("conversations", "turns", "forms_expected")
    return {"summary": {k: summary[k] for k in (*counts, *RATES) if k in summary}}


def compare(summary: dict[str, Any], baseline: dict[str, float]) -> list[Change]:
    return [Change(name, value, summary.get(name)) for name, value in baseline.items()]


# ----------------------------------------------------------------------------- JUnit XML


def junit_xml(report: ConversationReport, *, suite: str = "golden conversations") -> str:
    """One testcase per conversation; a failure names each failing turn and what differed."""
    from xml.etree import ElementTree as ET

    total_ms = sum(t.ms for t in report.turns)
    failed = [c for c in report.conversations if not c.passed]
    root = ET.Element("testsuites")
    element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(report.conversations)),
        failures=str(len(failed)),
        errors="0",
        skipped="0",
        time=f"{total_ms / 1000:.3f}",
    )
    for conversation in report.conversations:
        source, _, line = conversation.where.rpartition(":")
        case = ET.SubElement(
            element,
            "testcase",
            classname=f"conversations.{Path(source).stem}",
            name=conversation.name,
            file=source,
            line=line,
            time=f"{sum(t.ms for t in conversation.turns) / 1000:.3f}",
        )
        failures = conversation.failures()
        if failures:
            first_n, first = failures[0]
            message = f"turn {first_n} ({first.where}): {'; '.join(first.problems)}"
            body = "\n".join(
                f"turn {n} ({t.where}) {t.text!r}: {'; '.join(t.problems)}\n  reply: {t.reply!r}"
                for n, t in failures
            )
            failure = ET.SubElement(case, "failure", message=message, type="ConversationFailed")
            failure.text = body
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
