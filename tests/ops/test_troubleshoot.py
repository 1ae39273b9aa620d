"""The troubleshooting chat without an LLM on the demo target: time phrases, element
references, and root causes with their evidence (phrasings outside bench/data/ops)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.references import referenced, scope
from frontdesk.ops.troubleshoot import Troubleshooter, diagnosis_view
from frontdesk.ops.windows import parse_window
from frontdesk.orchestration.ops_chat import read_ops_atoms

SUNDAY = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)  # Sunday morning after the S07 deploy


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("what failed last night?", "2026-12-05T18:00", "2026-12-06T08:00"),
        ("anything this morning", "2026-12-06T00:00", "2026-12-06T09:30"),
        ("problems yesterday afternoon", "2026-12-05T12:00", "2026-12-05T18:00"),
        ("since Tuesday 14:00", "2026-12-01T14:00", "2026-12-06T09:30"),
        ("errors on Thursday", "2026-12-03T00:00", "2026-12-04T00:00"),
        ("yesterday between 9 and 11am", "2026-12-05T09:00", "2026-12-05T11:00"),
        ("between 1pm and 3pm", "2026-12-05T13:00", "2026-12-05T15:00"),  # not yet today
        ("since 23:10", "2026-12-05T23:10", "2026-12-06T09:30"),
        ("since 99:99", "2026-12-05T09:30", "2026-12-06T09:30"),  # not a time: the default
        ("this week", "2026-11-30T00:00", "2026-12-06T09:30"),
        ("the last 3 hours", "2026-12-06T06:30", "2026-12-06T09:30"),
        ("anything wrong?", "2026-12-05T09:30", "2026-12-06T09:30"),
    ],
)
def test_time_phrases(question: str, start: str, end: str) -> None:
    window = parse_window(question, SUNDAY)
    assert (window.start, window.end) == (at(start), at(end))


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("what went wrong on 1 December?", "2026-12-01T00:00", "2026-12-02T00:00"),
        ("Dec 3 evening", "2026-12-03T16:00", "2026-12-04T00:00"),
        ("errors on the 2nd of December", "2026-12-02T00:00", "2026-12-03T00:00"),
        ("since December 4 08:15", "2026-12-04T08:15", "2026-12-06T09:30"),
        ("between 2 and 5pm on 1 Dec", "2026-12-01T14:00", "2026-12-01T17:00"),
        ("anything on 24 December?", "2025-12-24T00:00", "2025-12-25T00:00"),  # last year's
        ("on 31 November", "2026-12-05T09:30", "2026-12-06T09:30"),  # no such day: default
    ],
)
def test_calendar_dates(question: str, start: str, end: str) -> None:
    window = parse_window(question, SUNDAY)
    assert (window.start, window.end) == (at(start), at(end))


@pytest.fixture
def target() -> FolderTarget:
    # Read-only: the package's own copy of the demo target is enough.
    with as_file(files("frontdesk") / "demo" / "workspace" / "ops" / "target") as folder:
        return FolderTarget(Path(folder))


@pytest.mark.parametrize(
    ("question", "ids"),
    [
        ("is depot 12 ok", ["D12"]),
        ("sorter S07 rejects", ["S07"]),
        ("trouble at Cork Airport", ["D14"]),  # not every Cork depot
        ("all Dublin depots", ["D01", "D02", "D03", "D04", "D05"]),
        ("is DPD down?", ["C-DPD"]),
        ("what about route 3 and d05", ["D05", "R03"]),
        ("anything at all", []),
    ],
)
async def test_element_references(target: FolderTarget, question: str, ids: list[str]) -> None:
    assert referenced(question, await target.elements()) == ids


async def test_scope_adds_neighbours(target: FolderTarget) -> None:
    elements = await target.elements()
    assert {"S07", "C-DPD"} <= set(scope(["D14"], elements))  # its sorter and carriers
    assert scope(["S05"], elements) == ["D05", "S05"]


async def test_root_cause_with_evidence(target: FolderTarget) -> None:
    atoms = read_ops_atoms(Path(target.root).parent / "knowledge")
    chat = Troubleshooter(target, atoms)
    view = diagnosis_view(await chat.ask("did the D14 sorter break overnight?", SUNDAY))
    [incident] = view["incidents"]
    assert incident["root"] == "S07"
    assert incident["cause"]["code"] == "DEPLOY"
    assert incident["cause"]["ts"] == "2026-12-05T22:00:00Z"
    cited = {(e["element"], e["code"], e["ts"]) for e in incident["evidence"]}
    assert ("S07", "SORT-E17", "2026-12-05T22:04:00Z") in cited
    assert any(m["element"] == "S07" and m["name"] == "rejects" for m in incident["metrics"])
    assert incident["atoms"][0]["title"] == "SORT-E17 lane map checksum mismatch"
    assert incident["next_steps"]
    assert "Roll the firmware back" in incident["next_steps"][0]
    assert "[2026-12-05T22:04:00Z] S07 SORT-E17" in view["answer"]

    # A carrier's errors before depots' backlogs: the carrier is the root, with its playbook.
    tuesday = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    [dpd] = (await chat.ask("why could Swords not print labels this afternoon?", tuesday)).incidents
    assert dpd.root == "C-DPD"
    assert {"CARRIER-503", "LABEL-BACKLOG"} <= set(dpd.codes)
    assert dpd.next_steps[0].startswith("Confirm it is the carrier")

    # Nothing there: said so, no incident.
    quiet = await chat.ask("any trouble in Galway on Monday?", tuesday)
    assert quiet.incidents == []
    assert "no failures found" in quiet.answer

    # A topic narrows: no carrier trouble on Thursday, and the other incidents are named.
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    carriers = await chat.ask("any carrier problems on Thursday?", saturday)
    assert carriers.incidents == []
    assert sorted(carriers.others) == ["D05", "D12"]
    assert "no such failures found" in carriers.answer
    # An overflow before a jam: the depot is the root, the sorter's jam its evidence.
    [overflow] = (await chat.ask("what happened to S05 on Thursday evening?", saturday)).incidents
    assert overflow.root == "D05"
    assert {(e.element, e.code) for e in overflow.failures} >= {("S05", "SORT-JAM")}
