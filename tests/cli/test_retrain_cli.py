"""`frontdesk retrain`: the gate's verdict, each metric's change, and exit status 3 when the
current model is kept (so scripts and CI can tell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.orchestration import retrain as retrain_module
from frontdesk.orchestration.retrain import RetrainReport
from frontdesk.policy.promotion import promotion_gate

runner = CliRunner()
CURRENT = {"held_out_accuracy": 0.90, "golden_accuracy": 0.80, "ece": 0.05}


def _stand_in(candidate: dict[str, float]) -> Any:
    async def retrain(runtime: Any, *, max_relative_drop: float = 0.05) -> RetrainReport:
        gate = promotion_gate(CURRENT, candidate, max_relative_drop=max_relative_drop,
                              lower_is_better=["ece"])  # fmt: skip
        changes = gate.as_dict()["changes"]
        assert isinstance(changes, list)
        return RetrainReport(promoted=gate.promote, candidate="v2", current="v1",
                             reasons=gate.reasons, changes=changes, corrections=4)  # fmt: skip

    return retrain


@pytest.mark.parametrize(
    ("candidate", "code", "verdict", "reason"),
    [
        ({"held_out_accuracy": 0.91, "golden_accuracy": 0.79, "ece": 0.05}, 0, "promoted",
         "no metric dropped more than 5%"),
        ({"held_out_accuracy": 0.91, "golden_accuracy": 0.70, "ece": 0.05}, 3,
         "kept the current model", "golden_accuracy would drop 12.5% (0.8000 -> 0.7000)"),
    ],
    ids=["promoted", "kept"],
)  # fmt: skip
def test_retrain_prints_the_verdict_and_why(
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    candidate: dict[str, float],
    code: int,
    verdict: str,
    reason: str,
) -> None:
    monkeypatch.setattr(retrain_module, "retrain", _stand_in(candidate))
    result = runner.invoke(app, ["retrain", "-w", str(workspace)])
    assert result.exit_code == code, result.output
    assert f"4 corrections; candidate v2: {verdict}" in result.output
    assert reason in result.output
    assert "golden_accuracy" in result.output  # the table of changes
