from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.errors import ConfigError
from frontdesk.evaluation.metrics import ndcg_at, recall_at, reciprocal_rank
from frontdesk.evaluation.retrieval import load_golden

runner = CliRunner()


def test_metrics() -> None:
    relevant = {"a": 2.0, "b": 1.0}
    assert ndcg_at(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg_at(["c", "b", "a"], relevant) < ndcg_at(["b", "a", "c"], relevant) < 1.0
    assert recall_at(["a", "x"], relevant, 1) == 0.5
    assert reciprocal_rank(["x", "y", "b"], relevant) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], relevant) == 0.0


def test_bad_golden_file(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("queries:\n  - query: hi\n    expected: []\n")
    with pytest.raises(ConfigError, match=r"g.yaml: queries\[0\]\.expected"):
        load_golden(path)


def test_evaluate_retrieval_on_the_demo(workspace: Path, tmp_path: Path) -> None:
    output = tmp_path / "retrieval.json"
    result = runner.invoke(
        app, ["evaluate", "retrieval", "-w", str(workspace), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(output.read_text())["summary"]
    assert summary["queries"] >= 30
    assert summary["recall_at_5"] > 0.8  # a floor well under today's ~0.95: catches a broken index
    gate = runner.invoke(
        app, ["evaluate", "retrieval", "-w", str(workspace), "--min-ndcg", "0.999"]
    )
    assert gate.exit_code == 1
    assert "is below 0.999" in gate.output


def test_evaluate_retrieval_on_an_empty_index_says_to_ingest(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(workspace)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", "retrieval", "-w", str(workspace)])
    assert result.exit_code == 1
    assert "knowledge index" in result.output
    assert "frontdesk kb ingest" in result.output
