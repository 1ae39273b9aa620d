"""The console's ops chat page and plan form with `llm.models.ops` (the fake provider on
loopback; SQLite and PostgreSQL): the model's answer and its engine shown above the
deterministic diagnosis, the fallback said, and a plan read by the model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.config.settings import LlmSettings
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role
from tests.llm.conftest import Models, fake, models, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider, Step
from tests.web.test_ops_console import _csrf, _sign_in

ASK = {"q": "What failed last night?", "at": "2026-12-06T08:30Z"}


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_the_console_with_a_model(
    client: httpx.AsyncClient,
    runtime: Runtime,
    models: Models,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _sign_in(client, runtime, Role.OPERATOR)
    plain = await client.get("/console/ops/chat", params=ASK)
    assert 'id="engine"' not in plain.text  # no model: the page as before

    settings = LlmSettings.model_validate({"models": {"ops": ["openai:gpt-test"]}, "retries": 0})
    service = LlmService(settings, ModelRouter(settings, {"openai:gpt-test": models("openai")}))
    monkeypatch.setattr(runtime.assistant.deps, "llm", service)
    answer = "S07 broke after its deploy: [2026-12-05T22:04:00Z] S07 SORT-E17."
    fake.then(Step(tool=("diagnose", {"question": ASK["q"]})), Step(text=answer))
    page = (await client.get("/console/ops/chat", params=ASK)).text
    assert 'data-engine="llm"' in page
    assert "Answered by openai:gpt-test" in page
    assert "S07 broke after its deploy" in page
    assert 'data-root="S07"' in page  # the deterministic diagnosis below it

    fake.then(Step(status=500))
    down = (await client.get("/console/ops/chat", params=ASK)).text
    assert 'data-engine="deterministic"' in down
    assert "the model failed" in down
    assert 'id="llm-answer"' not in down

    fake.then(Step(text='{"kind": "depot", "field": "/schedule/close", "value": "21:00", '
                        '"where": {"/city": ["Galway"]}}'))  # fmt: skip
    csrf = _csrf(await client.get("/console/ops"))
    made = await client.post("/console/ops/plans", data={
        "csrf": csrf, "text": "Galway depots need to shut at 9pm"})  # fmt: skip
    assert made.status_code == 303
    assert made.headers["location"].startswith("/console/ops/plans/")
    plan = (await client.get(made.headers["location"])).text
    assert "D23" in plan
    assert "D24" in plan
