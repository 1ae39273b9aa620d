"""`frontdesk evaluate answers`: whole turns against golden answers (docs/golden-answers.md).

Each case goes through the same Assistant the API runs, in a conversation of its own, and is
scored from the outside: the reply's text (required facts), its citations, the tickets the
conversation ended with (hand-off and team), and whether the input screen refused it.
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from frontdesk.evaluation.golden_file import load_golden_file
from frontdesk.orchestration.assistant import Assistant
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Ticket
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import Action, InboundMessage, Reply


class AnswerCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    message: str = Field(min_length=1)
    answerable: bool
    facts: list[str | list[str]] = Field(default_factory=list)
    cite: list[str] = Field(default_factory=list)
    handoff: bool | None = None  # default: not answerable
    team: str | None = None
    intent: str | None = None
    action: Action | None = None
    before: list[str] = Field(default_factory=list)
    customer_ref: str | None = None
    note: str = ""

    @property
    def must_hand_off(self) -> bool:
        return (not self.answerable) if self.handoff is None else self.handoff


class AnswerGolden(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: list[AnswerCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> AnswerGolden:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} is used twice")
            seen.add(case.id)
        return self


def load_answer_golden(path: Path) -> AnswerGolden:
    return load_golden_file(path, AnswerGolden, "golden answers file")


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}


def normalise(text: str) -> str:
    """Case, dashes, quotes, Markdown emphasis and spacing do not decide whether a fact is
    there: "5\u20137 Working Days" (an en dash) holds "5-7 working days"."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    text = re.sub(r"[*_`]+", "", text)
    text = re.sub(r"\s*-\s*", "-", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def missing_facts(reply: str, facts: Sequence[str | list[str]]) -> list[str]:
    said = normalise(reply)
    missing = []
    for fact in facts:
        options = [fact] if isinstance(fact, str) else fact
        if not any(normalise(option) in said for option in options):
            missing.append(" | ".join(options))
    return missing


def cites_one_of(titles: Sequence[str], sources: Sequence[str], wanted: Sequence[str]) -> bool:
    """A citation names an atom by title, or a document by its file name or stem."""
    names = {normalise(t) for t in titles}
    for source in sources:
        path = PurePath(source)
        names |= {normalise(path.name), normalise(path.stem)}
    return any(normalise(w) in names for w in wanted)


@dataclass
class CaseResult:
    id: str
    answerable: bool
    must_hand_off: bool
    expected_team: str | None
    reply: str
    intent: str | None
    expected_intent: str | None
    action: str | None
    rule: str | None
    reason: str | None
    handed_off: bool
    team: str | None
    cited: list[str]
    facts_expected: int
    facts_missing: list[str]
    right_citation: bool | None  # None: the case names no atom
    refused: bool
    answerability: dict[str, Any] | None
    ms: float
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class AnswersReport:
    results: list[CaseResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        answerable = [r for r in self.results if r.answerable]
        unanswerable = [r for r in self.results if not r.answerable]
        scored = [r for r in answerable if r.facts_expected or r.right_citation is not None]
        cited = [r for r in answerable if r.right_citation is not None]
        with_intent = [r for r in self.results if r.expected_intent]
        expected = [r for r in self.results if r.must_hand_off]
        predicted = [r for r in self.results if r.handed_off]
        right = [r for r in expected if r.handed_off and _team_ok(r)]
        return {
            "cases": len(self.results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "must_hand_off": len(expected),
            "passed": _share([r.passed for r in self.results]),
            "answer_hit": _share([_hit(r) for r in scored]),
            "right_citation": _share([bool(r.right_citation) for r in cited]),
            "abstain_handoff": _share([_abstained(r) for r in unanswerable]),
            "handoff_precision": round(len(right) / len(predicted), 4) if predicted else 0.0,
            "handoff_recall": round(len(right) / len(expected), 4) if expected else 0.0,
            "refused_ordinary": sum(r.refused for r in self.results),
            "intent_accuracy": _share([r.intent == r.expected_intent for r in with_intent]),
            "p95_ms": round(_p95([r.ms for r in self.results]), 1),
        }

    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "cases": [asdict(r) | {"passed": r.passed} for r in self.results],
        }


def _hit(result: CaseResult) -> bool:
    """Every required fact said, and the right atom cited where the case names one."""
    return not result.facts_missing and result.right_citation is not False


def _team_ok(result: CaseResult) -> bool:
    return result.expected_team is None or result.team == result.expected_team


def _abstained(result: CaseResult) -> bool:
    return not result.cited and result.handed_off and _team_ok(result) and not result.refused


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _p95(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def run_case(
    assistant: Assistant, db: Database, tenant_id: str, case: AnswerCase
) -> CaseResult:
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(
            session, channel="api", customer_ref=case.customer_ref
        )
        await session.commit()
        conversation_id = conversation.id
    for text in case.before:
        await assistant.handle(
            InboundMessage(tenant_id=tenant_id, conversation_id=conversation_id, text=text)
        )
    began = time.perf_counter()
    reply = await assistant.handle(
        InboundMessage(tenant_id=tenant_id, conversation_id=conversation_id, text=case.message)
    )
    ms = (time.perf_counter() - began) * 1000
    async with db.session(tenant_id) as session:
        row = await session.get(TurnRow, reply.turn_id)
        tickets = list(
            await session.scalars(
                select(Ticket)
                .where(Ticket.conversation_id == conversation_id)
                .order_by(Ticket.created_at)
            )
        )
    return score(case, reply, row, tickets, ms)


def score(
    case: AnswerCase, reply: Reply, row: TurnRow | None, tickets: Sequence[Ticket], ms: float
) -> CaseResult:
    screening = (row.screening if row is not None else None) or {}
    decision = (row.decision if row is not None else None) or {}
    titles = [c.title for c in reply.citations]
    sources = [c.source for c in reply.citations]
    handed_off = bool(tickets) or reply.ticket_id is not None
    team = tickets[-1].team if tickets else None
    result = CaseResult(
        id=case.id,
        answerable=case.answerable,
        must_hand_off=case.must_hand_off,
        expected_team=case.team,
        reply=reply.text,
        intent=reply.intent,
        expected_intent=case.intent,
        action=reply.route.action.value if reply.route else None,
        rule=reply.route.rule if reply.route else None,
        reason=reply.route.reason if reply.route else None,
        handed_off=handed_off,
        team=team,
        cited=titles,
        facts_expected=len(case.facts) if case.answerable else 0,
        facts_missing=missing_facts(reply.text, case.facts) if case.answerable else [],
        right_citation=cites_one_of(titles, sources, case.cite) if case.cite else None,
        refused=bool(screening.get("blocked")),
        answerability=(decision.get("facts") or {}).get("answerability"),
        ms=round(ms, 2),
    )
    result.failures = _failures(case, result)
    return result


def _failures(case: AnswerCase, r: CaseResult) -> list[str]:
    failed: list[str] = []
    if r.refused:
        failed.append("refused by the input screen")
    if r.facts_missing:
        failed.append("missing " + "; ".join(repr(f) for f in r.facts_missing))
    if r.right_citation is False:
        failed.append(f"cites {r.cited or 'nothing'}, expected one of {case.cite}")
    if not case.answerable and r.cited:
        failed.append(f"quoted {r.cited} for a question the knowledge base does not answer")
    if case.must_hand_off and not r.handed_off:
        failed.append("not handed off")
    elif not case.must_hand_off and r.handed_off:
        failed.append(f"handed off to {r.team} without need")
    elif r.handed_off and not _team_ok(r):
        failed.append(f"handed off to {r.team}, expected {case.team}")
    if case.action is not None and r.action != case.action.value:
        failed.append(f"action {r.action}, expected {case.action.value}")
    return failed


async def evaluate_answers(
    assistant: Assistant,
    db: Database,
    tenant_id: str,
    golden: AnswerGolden,
    *,
    progress: Callable[[int], None] | None = None,
) -> AnswersReport:
    report = AnswersReport()
    for n, case in enumerate(golden.cases, start=1):
        report.results.append(await run_case(assistant, db, tenant_id, case))
        if progress is not None:
            progress(n)
    return report
