"""Shared by the answer benchmarks: run a workspace's golden answers through the assistant.

A packaged or example workspace runs in a scratch copy (its real database untouched); the
CLAPNQ workspace, which lives in bench/.cache and takes a minute to index, runs in place.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.evaluation.answers import (
    AnswerGolden,
    AnswersReport,
    evaluate_answers,
    load_answer_golden,
)
from frontdesk.evaluation.scratch import scratch_workspace
from frontdesk.orchestration.runtime import open_runtime

ROOT = Path(__file__).resolve().parent.parent
# A Tuesday morning: every team of the example workspaces is staffed.
AT = "2026-12-08T10:00"


def clock_for(root: Path, at: str = AT) -> datetime:
    zone = load_rules(Workspace.at(root)).business_hours.timezone
    return datetime.fromisoformat(at).replace(tzinfo=ZoneInfo(zone))


async def run_golden(
    root: Path, golden: Path | None = None, *, in_place: bool = False, at: str = AT
) -> AnswersReport:
    workspace = Workspace.at(root)
    cases = load_answer_golden(golden or workspace.root / "golden" / "answers.yaml")
    moment = clock_for(workspace.root, at)
    if in_place:
        return await _run(workspace.root, cases, moment)
    with scratch_workspace(workspace) as copy:
        return await _run(copy, cases, moment)


async def _run(root: Path, cases: AnswerGolden, moment: datetime) -> AnswersReport:
    runtime = await open_runtime(root, clock=lambda: moment)
    try:
        return await evaluate_answers(runtime.assistant, runtime.db, runtime.tenant.id, cases)
    finally:
        await runtime.close()
