"""POST /v1/ops/chat: the troubleshooting chat over HTTP (read-only, nothing stored)."""

from __future__ import annotations

import httpx

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
