"""The ops LLM paths over HTTP (SQLite and PostgreSQL): with `llm.models.ops` the chat says
its engine and a request the grammar refuses is planned from the model's structured output;
without it the replies are as before (no `engine`, the same 422)."""

from __future__ import annotations

import httpx
import pytest

from frontdesk.config.settings import LlmSettings
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role
from tests.api.test_ops_api import _session
from tests.llm.conftest import Models, fake, models, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider, Step

CHAT = {"question": "What failed last night?", "at": "2026-12-06T08:30:00Z"}
REQUEST = {"request": "Galway depots need to shut at 9pm"}


async def test_without_a_model_nothing_changes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    view = (await client.post("/v1/ops/chat", json=CHAT, headers=operator)).json()
    assert "engine" not in view
    assert view["incidents"][0]["root"] == "S07"
    refused = await client.post("/v1/ops/plans", json=REQUEST, headers=operator)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "request_not_understood"


async def test_with_a_model(
    client: httpx.AsyncClient,
    runtime: Runtime,
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = LlmSettings.model_validate({"models": {"ops": ["openai:gpt-test"]}, "retries": 0})
    service = LlmService(settings, ModelRouter(settings, {"openai:gpt-test": models("openai")}))
    monkeypatch.setattr(runtime.assistant.deps, "llm", service)
    operator = await _session(client, runtime, Role.OPERATOR)

    fake.then(Step(tool=("diagnose", {"question": CHAT["question"]})),
              Step(text="S07 after its deploy: [2026-12-05T22:04:00Z] S07 SORT-E17."))  # fmt: skip
    view = (await client.post("/v1/ops/chat", json=CHAT, headers=operator)).json()
    assert (view["engine"], view["fallback"]) == ("llm", None)
    assert view["cited"] == ["[2026-12-05T22:04:00Z] S07 SORT-E17"]

    fake.then(Step(status=500))
    down = (await client.post("/v1/ops/chat", json=CHAT, headers=operator)).json()
    assert down["engine"] == "deterministic"
    assert "[2026-12-05T22:00:00Z] S07 DEPLOY" in down["answer"]

    fake.then(Step(text='{"kind": "depot", "field": "/schedule/close", "value": "21:00", '
                        '"where": {"/city": ["Galway"]}}'))  # fmt: skip
    made = await client.post("/v1/ops/plans", json=REQUEST, headers=operator)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert (plan["status"], plan["elements"]) == ("planned", ["D23", "D24"])
    assert plan["selector"]["read_by"] == "the model"

    fake.then(Step(text="no idea"), Step(text="still none"))
    unread = await client.post("/v1/ops/plans", json=REQUEST, headers=operator)
    assert unread.status_code == 422
    error = unread.json()["error"]
    assert error["code"] == "request_not_understood"
    assert "the model could not read it either" in error["message"]
