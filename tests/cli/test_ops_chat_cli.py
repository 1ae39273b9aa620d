"""`frontdesk ops chat` on a copy of the demo workspace: the answer with its evidence, JSON,
and a readable refusal of a bad --at."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app

runner = CliRunner()


def test_ops_chat(workspace: Path) -> None:
    ws = str(workspace)
    asked = runner.invoke(app, ["ops", "chat", "-w", ws, "--at", "2026-12-01T17:00Z",
                                "why were Dublin parcels late this afternoon?"])  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert "Root cause: C-DPD" in asked.output
    assert "[2026-12-01T14:05:00Z] C-DPD CARRIER-503 (error)" in asked.output
    assert "1. Confirm it is the carrier" in asked.output

    at = "2026-12-03T19:30:00+00:00"
    as_json = runner.invoke(app, ["ops", "chat", "-w", ws, "--json", "--at", at,
                                  "why did S05 jam tonight?"])  # fmt: skip
    assert as_json.exit_code == 0, as_json.output
    view = json.loads(as_json.output)
    assert [i["root"] for i in view["incidents"]] == ["D05"]

    bad = runner.invoke(app, ["ops", "chat", "-w", ws, "--at", "yesterday", "what failed?"])
    assert bad.exit_code == 1
    assert "--at 'yesterday' is not an ISO 8601 time" in bad.output
    assert "Traceback" not in bad.output

    # No question: one after another until an empty line.
    loop = runner.invoke(app, ["ops", "chat", "-w", ws, "--at", "2026-12-06T08:30Z"],
                         input="what failed last night?\nanything at D12 today?\n\n")  # fmt: skip
    assert loop.exit_code == 0, loop.output
    assert loop.output.count("ops> ") == 3
    assert "Root cause: S07" in loop.output
    assert "D12: no failures found" in loop.output
