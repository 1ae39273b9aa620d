"""`frontdesk ops plan|show|list|approve|apply|rollback` on a copy of the demo workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.ops.conftest import tree_bytes

runner = CliRunner()


def _plan_id(output: str) -> str:
    match = re.search(r"^plan ([0-9a-f]{32})", output, re.M)
    assert match, output
    return match.group(1)


def test_plan_approve_apply_rollback(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = str(workspace)
    target = workspace / "ops" / "target"
    before = tree_bytes(target)
    monkeypatch.setenv("FRONTDESK_PASSWORD", "operator password 1")
    for email, role in (("olga@kestrel.example", "operator"), ("ana@kestrel.example", "agent")):
        made = runner.invoke(app, ["users", "create", "--email", email, "--role", role, "-w", ws])
        assert made.exit_code == 0, made.output

    planned = runner.invoke(app, ["ops", "plan", "-w", ws,
                                  "increase capacity by 200 for the Dublin depots"])  # fmt: skip
    assert planned.exit_code == 0, planned.output
    plan = _plan_id(planned.output)
    assert "elements (5): D01 D02 D03 D04 D05" in planned.output
    assert "-capacity_per_hour: 1500\n+capacity_per_hour: 1700\n" in planned.output

    agent = runner.invoke(app, ["ops", "approve", plan, "--as", "ana@kestrel.example", "-w", ws])
    assert agent.exit_code == 1
    assert "ana@kestrel.example is agent: only operators and admins can" in agent.output
    approved = runner.invoke(
        app, ["ops", "approve", plan, "--as", "olga@kestrel.example", "-w", ws]
    )
    assert approved.exit_code == 0, approved.output
    assert f"plan {plan}  approved" in approved.output
    applied = runner.invoke(app, ["ops", "apply", plan, "-w", ws])
    assert applied.exit_code == 0, applied.output
    assert "applied as version 1" in applied.output
    assert "D05: applied" in applied.output
    assert "capacity_per_hour: 1700" in (target / "elements/depots/D05.yaml").read_text()

    rolled = runner.invoke(app, ["ops", "rollback", plan, "-w", ws])
    assert rolled.exit_code == 0, rolled.output
    assert "rolled back as version 2" in rolled.output
    assert tree_bytes(target) == before

    listed = runner.invoke(app, ["ops", "list", "-w", ws])
    assert f"{plan}  rolled_back" in listed.output
    shown = runner.invoke(app, ["ops", "show", plan, "--json", "-w", ws])
    assert '"status": "rolled_back"' in shown.output


def test_refusals_are_readable(workspace: Path) -> None:
    ws = str(workspace)
    empty = runner.invoke(app, ["ops", "plan", "-w", ws, "set capacity to 900 in Ulster depots"])
    assert empty.exit_code == 1
    assert "refused: selector_empty: the selector matches no depot" in empty.output
    unclear = runner.invoke(app, ["ops", "plan", "-w", ws, "make it better"])
    assert unclear.exit_code == 1
    assert "error:" in unclear.output
    assert "Traceback" not in unclear.output
    missing = runner.invoke(app, ["ops", "apply", "0" * 32, "-w", ws])
    assert missing.exit_code == 1
    assert f"no change plan {'0' * 32}" in missing.output
