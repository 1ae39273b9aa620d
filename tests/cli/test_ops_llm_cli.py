"""`frontdesk ops chat` and `frontdesk ops plan` with `llm.models.ops` set (the fake provider
on loopback): the model's answer with its engine, and a plan read by the model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.llm.conftest import fake, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider, Step

runner = CliRunner()


def _with_model(workspace: Path, url: str) -> None:
    config = workspace / "frontdesk.yaml"
    text = config.read_text()
    assert "llm:\n  answer_model: extractive\n" in text
    config.write_text(text.replace("llm:\n  answer_model: extractive\n", (
        "llm:\n  answer_model: extractive\n  retries: 0\n  models: {ops: [openai:gpt-test]}\n"
        f"  providers: {{openai: {{base_url: '{url}/v1', api_key: test-key}}}}\n")))  # fmt: skip


def test_ops_chat_and_plan_with_a_model(workspace: Path, fake: FakeProvider) -> None:  # noqa: F811
    ws = str(workspace)
    _with_model(workspace, fake.url)
    fake.then(Step(tool=("diagnose", {"question": "what failed last night?"})),
              Step(text="S07's deploy: [2026-12-05T22:04:00Z] S07 SORT-E17."))  # fmt: skip
    asked = runner.invoke(app, ["ops", "chat", "-w", ws, "--json", "--at", "2026-12-06T08:30Z",
                                "what failed last night?"])  # fmt: skip
    assert asked.exit_code == 0, asked.output
    view = json.loads(asked.output)
    assert (view["engine"], view["cited"]) == ("llm", ["[2026-12-05T22:04:00Z] S07 SORT-E17"])

    fake.then(Step(status=500))
    down = runner.invoke(app, ["ops", "chat", "-w", ws, "--at", "2026-12-06T08:30Z",
                               "what failed last night?"])  # fmt: skip
    assert down.exit_code == 0, down.output
    assert "Root cause: S07" in down.output
    assert "(engine: deterministic; the model failed:" in down.output

    fake.then(Step(text='{"kind": "depot", "field": "/schedule/close", "value": "21:00", '
                        '"where": {"/city": ["Galway"]}}'))  # fmt: skip
    planned = runner.invoke(app, ["ops", "plan", "-w", ws, "Galway depots need to shut at 9pm"])
    assert planned.exit_code == 0, planned.output
    assert "D23" in planned.output
    assert "D24" in planned.output
