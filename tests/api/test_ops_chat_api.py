"""POST /v1/ops/chat: the troubleshooting chat over HTTP (read-only, nothing stored)."""

from __future__ import annotations

import httpx

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role
from tests.api.test_ops_api import _session


async def test_ops_chat(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    body = {"question": "What failed last night?", "at": "2026-12-06T08:30:00Z"}
    response = await client.post("/v1/ops/chat", json=body, headers=operator)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["window"] == {"start": "2026-12-05T18:00:00Z", "end": "2026-12-06T08:00:00Z",
                              "phrase": "last night"}  # fmt: skip
    [incident] = view["incidents"]
    assert incident["root"] == "S07"
    assert incident["cause"]["code"] == "DEPLOY"
    assert incident["atoms"][0]["title"] == "SORT-E17 lane map checksum mismatch"
    assert "[2026-12-05T22:00:00Z] S07 DEPLOY" in view["answer"]

    empty = await client.post("/v1/ops/chat", json={"question": ""}, headers=operator)
    assert empty.status_code == 422
    assert empty.json()["error"]["code"]
    agent = await _session(client, runtime, Role.AGENT)
    refused = await client.post("/v1/ops/chat", json=body, headers=agent)
    assert refused.status_code == 403, refused.text


async def test_ops_writes_have_a_budget_of_their_own(sqlite_runtime: Runtime) -> None:
    """`limits.ops_per_key` counts every POST to /v1/ops per key (chat, setup, plans, steps):
    over it, 429 rate_limited; reads keep their own budget."""
    sqlite_runtime.settings.limits.ops_per_key = "2/minute"
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            operator = await _session(client, sqlite_runtime, Role.OPERATOR)
            body = {"question": "What failed last night?", "at": "2026-12-06T08:30:00Z"}
            for _ in range(2):
                ok = await client.post("/v1/ops/chat", json=body, headers=operator)
                assert ok.status_code == 200, ok.text
            plan = {"request": "set the cut-off to 18:30 for depot D12"}
            refused = await client.post("/v1/ops/plans", json=plan, headers=operator)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "rate_limited"
            assert "operations requests" in refused.json()["error"]["message"]
            reads = await client.get("/v1/ops/elements", headers=operator)
            assert reads.status_code == 200, reads.text
