"""The learning loop's commands: `frontdesk retrain` prints the gate's verdict against the
baseline with the golden examples that flipped and exits 3 when the current model is kept;
`frontdesk models list/show/promote/rollback`; `frontdesk corrections
list/disable/enable/delete/export`, each change in the audit log."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.nlu.model_store import ModelStore
from frontdesk.orchestration import retrain as retrain_module
from frontdesk.orchestration.learning import RetrainReport
from frontdesk.storage.db import Database
from frontdesk.storage.models import AuditLog
from frontdesk.storage.support_models import TrainingExample
from frontdesk.storage.tenants import ensure_tenant

runner = CliRunner()
KEPT = RetrainReport(
    promoted=False, candidate="v2", current="v1", baseline="v0", corrections=4,
    reasons=["golden set: intent request_refund loses 1 example(s) the baseline v0 read "
             "right: \"I'd like my money returned\" -> billing_issue"],
    changes=[{"metric": "ece", "baseline": 0.032, "candidate": 0.0415, "worse_by": 0.0095,
              "allowed": 0.0486, "interval95": 0.0486, "blocked": False}],
    flips=[{"text": "I'd like my money returned", "expected": "request_refund",
            "baseline": "request_refund", "candidate": "billing_issue", "lost": True,
            "kind": "intent"}],
)  # fmt: skip


def _stand_in(report: RetrainReport) -> Any:
    async def train_workspace(*_: Any, **options: Any) -> RetrainReport:
        assert options["trigger"] == "retrain"
        return report

    return train_workspace


@pytest.mark.parametrize(
    ("report", "code", "verdict"),
    [(KEPT, 3, "kept the current model"),
     (RetrainReport(promoted=True, candidate="v2", current="v1", baseline="v0", corrections=4,
                    reasons=["no loss against baseline v0; golden set: no example changed"]),
      0, "promoted")],
    ids=["kept", "promoted"],
)  # fmt: skip
def test_retrain_prints_the_verdict_and_why(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, report: RetrainReport, code: int,
    verdict: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(retrain_module, "train_workspace", _stand_in(report))
    result = runner.invoke(app, ["retrain", "-w", str(workspace)])
    assert result.exit_code == code, result.output
    assert f"4 corrections; candidate v2 (baseline v0): {verdict}" in result.output
    assert report.reasons[0] in result.output
    if code:
        assert "golden lost: \"I'd like my money returned\" (request_refund): request_refund " \
               "-> billing_issue" in result.output  # fmt: skip


def _db(workspace: Path) -> Database:
    return Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")


def _audit_actions(workspace: Path) -> list[tuple[str, str | None]]:
    async def run() -> list[tuple[str, str | None]]:
        db = _db(workspace)
        try:
            tenant = await ensure_tenant(db, "default")
            async with db.session(tenant.id) as session:
                rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
                return [(r.action, r.target) for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_models_list_show_promote_rollback(workspace: Path) -> None:
    store = ModelStore(workspace / ".frontdesk" / "models" / "nlu")
    first = store.active_version()
    assert first is not None
    second = first[:-1] + ("0" if first[-1] != "0" else "1")
    shutil.copytree(store.root / first, store.root / second)

    listed = runner.invoke(app, ["models", "list", "-w", str(workspace)])
    assert listed.exit_code == 0, listed.output
    assert first in listed.output
    assert second in listed.output
    shown = runner.invoke(app, ["models", "show", second, "-w", str(workspace), "--json"])
    assert json.loads(shown.output)["active"] is False
    missing = runner.invoke(app, ["models", "show", "nope", "-w", str(workspace)])
    assert missing.exit_code == 1
    assert "no model version 'nope'" in missing.output

    promoted = runner.invoke(app, ["models", "promote", second, "-w", str(workspace)])
    assert promoted.exit_code == 0, promoted.output
    assert (store.active_version(), store.baseline_version()) == (second, second)
    back = runner.invoke(app, ["models", "rollback", "-w", str(workspace)])
    assert back.exit_code == 0, back.output
    assert f"rolled back: {first} is in use (was {second})" in back.output
    assert (store.active_version(), store.baseline_version()) == (first, first)
    assert _audit_actions(workspace)[-2:] == [("nlu.model.promote", second),
                                              ("nlu.model.rollback", first)]  # fmt: skip
    nowhere = runner.invoke(app, ["models", "rollback", "-w", str(workspace)])
    assert nowhere.exit_code == 1
    assert "no earlier version to roll back to" in nowhere.output


def test_corrections_disable_enable_delete_export(workspace: Path) -> None:
    async def add() -> list[str]:
        db = _db(workspace)
        try:
            tenant = await ensure_tenant(db, "default")
            async with db.session(tenant.id) as session:
                rows = [
                    TrainingExample(text="refund KP-20481736 now", intent="request_refund",
                                    entities=[{"type": "order_id", "value": "KP-20481736",
                                               "text": "KP-20481736", "start": 7, "end": 18}],
                                    created_by="ana", note="it asks for money back"),
                    TrainingExample(text="hello there", intent="billing_issue", entities=[],
                                    created_by="mallory"),
                ]  # fmt: skip
                session.add_all(rows)
                await session.commit()
                return [r.id for r in rows]
        finally:
            await db.dispose()

    good, bad = asyncio.run(add())
    ws = ["-w", str(workspace)]
    disabled = runner.invoke(app, ["corrections", "disable", bad[:10], *ws])
    assert disabled.exit_code == 0, disabled.output
    listed = runner.invoke(app, ["corrections", "list", *ws])
    assert "refund KP-20481736 now" in listed.output
    assert "hello there" not in listed.output
    assert "[disabled by cli" in runner.invoke(app, ["corrections", "list", "--all", *ws]).output
    exported = runner.invoke(app, ["corrections", "export", *ws])
    assert exported.exit_code == 0, exported.output
    assert "- intent: request_refund\n  examples: |\n" in exported.output
    assert "    - refund [KP-20481736](order_id) now\n" in exported.output
    assert "it asks for money back" in exported.output
    assert "billing_issue" not in exported.output  # disabled: left out
    unknown = runner.invoke(app, ["corrections", "delete", "zzzzzzzz", *ws])
    assert unknown.exit_code == 1
    assert "no correction zzzzzzzz" in unknown.output
    deleted = runner.invoke(app, ["corrections", "delete", bad, *ws])
    assert deleted.exit_code == 0, deleted.output
    assert "hello there" not in runner.invoke(app, ["corrections", "list", "--all", *ws]).output
    actions = _audit_actions(workspace)
    assert ("correction.disable", bad) in actions
    assert ("correction.delete", bad) in actions
    assert good not in {target for _, target in actions}
