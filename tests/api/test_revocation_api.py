"""The admin API revokes keys and disables console users, refused at once (the console's
cookie and open event stream included), audited; the real app's pages carry their headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.users import Role, create_user
from frontdesk.web import routes as console_routes

PASSWORD = "correct horse battery"


@pytest.fixture
async def http(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_revoked_keys_and_disabled_users_are_refused_at_once(
    http: httpx.AsyncClient, sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = sqlite_runtime
    admin = {"Authorization": "Bearer " + (await create_key(rt.db, rt.tenant.id, name="root",
                                                            scope=Scope.ADMIN)).token}  # fmt: skip
    service = await create_key(rt.db, rt.tenant.id, name="shop backend", scope=Scope.SERVICE)
    bearer = {"Authorization": f"Bearer {service.token}"}
    assert (await http.get("/v1/knowledge/documents", headers=bearer)).status_code == 200

    listed = (await http.get("/v1/admin/keys", headers=admin)).json()
    assert {k["name"] for k in listed} >= {"root", "shop backend"}
    assert (await http.delete(f"/v1/admin/keys/{service.id}", headers=admin)).status_code == 204
    refused = await http.get("/v1/knowledge/documents", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    missing = await http.delete("/v1/admin/keys/nope", headers=admin)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")

    agent = await create_user(rt.db, rt.tenant.id, email="ana@kestrel.test", password=PASSWORD,
                              role=Role.AGENT)  # fmt: skip
    credentials = {"email": "ana@kestrel.test", "password": PASSWORD, "tenant": "default"}
    signed = await http.post("/v1/auth/login", json=credentials)
    assert signed.status_code == 200, signed.text
    session = {"Authorization": "Bearer " + signed.json()["token"]}
    forbidden = await http.post(f"/v1/admin/users/{agent.id}/disable", headers=session)
    assert forbidden.status_code == 403  # an agent cannot
    console = await http.post("/console/login", data={"email": "ana@kestrel.test",
                                                      "password": PASSWORD})  # fmt: skip
    assert console.status_code == 303
    assert (await http.get("/console")).status_code == 200

    monkeypatch.setattr(console_routes, "HEARTBEAT_S", 0.05)
    stream = asyncio.create_task(http.get("/console/events"))  # open before the disable
    await asyncio.sleep(0.3)
    assert not stream.done()
    disabled = await http.post(f"/v1/admin/users/{agent.id}/disable", headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] is not None
    ended = await asyncio.wait_for(stream, timeout=10)  # the open stream ends by itself
    assert ended.status_code == 200
    assert (await http.get("/v1/knowledge/documents", headers=session)).status_code == 401
    page = await http.get("/console")
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")
    again = await http.post("/v1/auth/login", json=credentials)
    assert again.status_code == 401

    audit = (await http.get("/v1/admin/audit", headers=admin)).json()
    actions = {(a["action"], a["target"]) for a in audit}
    assert ("api_key.revoke", service.id) in actions
    assert ("user.disable", agent.id) in actions
    users = (await http.get("/v1/admin/users", headers=admin)).json()
    assert [u["disabled_at"] is not None for u in users if u["id"] == agent.id] == [True]

    enabled = await http.post(f"/v1/admin/users/{agent.id}/enable", headers=admin)
    assert (enabled.status_code, enabled.json()["disabled_at"]) == (200, None)
    assert (await http.get("/v1/knowledge/documents", headers=session)).status_code == 401
    back = await http.post("/v1/auth/login", json=credentials)  # old sessions stay ended
    assert back.status_code == 200, back.text
    audit = (await http.get("/v1/admin/audit", headers=admin)).json()
    assert ("user.enable", agent.id) in {(a["action"], a["target"]) for a in audit}
    missing_user = await http.post("/v1/admin/users/nobody/enable", headers=admin)
    assert missing_user.status_code == 404


async def test_the_apps_pages_carry_security_headers(http: httpx.AsyncClient) -> None:
    for path in ("/", "/console/login", "/docs"):
        page = await http.get(path)
        assert page.status_code == 200, path
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"].split("style-src")[0]
    assert "frame-ancestors 'self'" in (await http.get("/")).headers["Content-Security-Policy"]
    login = await http.get("/console/login")
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
