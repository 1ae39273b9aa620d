"""Auth and roles on every route, console login, limits (413/429 with Retry-After), audit of
admin actions and data access, privacy export/erase and the retention purge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from limits import parse_many
from sqlalchemy import select, update

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import AuditLog, Conversation, Message, utcnow
from frontdesk.storage.users import Role, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def app_client(sqlite_runtime: Runtime) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = sqlite_runtime
    runtime.settings.limits.per_conversation = "3/minute"
    runtime.settings.limits.max_conversation_messages = 6
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http, runtime


async def _login(
    client: httpx.AsyncClient, runtime: Runtime, email: str, password: str
) -> httpx.Response:
    body = {"tenant": runtime.settings.tenant, "email": email, "password": password}
    return await client.post("/v1/auth/login", json=body)


async def _key(runtime: Runtime, scope: Scope) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=scope)).token
    return {"Authorization": f"Bearer {token}"}


async def test_every_v1_route_needs_credentials(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _ = app_client
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    checked = 0
    for route, operations in paths.items():
        if not route.startswith("/v1/") or route == "/v1/auth/login":
            continue
        path = route.replace("{", "").replace("}", "")
        for method in operations:
            response = await client.request(method.upper(), path)
            assert response.status_code == 401, (method, route, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 10


async def test_roles(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    widget, service = await _key(runtime, Scope.WIDGET), await _key(runtime, Scope.SERVICE)
    conversation = (await client.post("/v1/conversations", headers=widget)).json()["id"]
    assert (await client.get(f"/v1/conversations/{conversation}", headers=widget)).status_code == (
        403
    )
    assert (await client.get(f"/v1/conversations/{conversation}", headers=service)).status_code == (
        200
    )
    for path in ("/v1/admin/users", "/v1/admin/audit"):
        assert (await client.get(path, headers=service)).status_code == 403
        assert (await client.get(path, headers=widget)).status_code == 403


async def test_console_login_roles_and_audit(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    admin_key = await _key(runtime, Scope.ADMIN)
    created = await client.post(
        "/v1/admin/users",
        json={"email": "agent@kestrel.example", "password": PASSWORD, "role": "agent"},
        headers=admin_key,
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    await create_user(runtime.db, runtime.tenant.id, email="boss@kestrel.example",
                      password=PASSWORD, role=Role.ADMIN)  # fmt: skip
    bad = await _login(client, runtime, "agent@kestrel.example", "nope")
    assert bad.status_code == 401
    login = await _login(client, runtime, "agent@kestrel.example", PASSWORD)
    assert login.status_code == 200, login.text
    agent = {"Authorization": f"Bearer {login.json()['token']}"}
    me = (await client.get("/v1/auth/me", headers=agent)).json()
    assert (me["kind"], me["scope"]) == ("user", "service")
    conversation = (await client.post("/v1/conversations", headers=agent)).json()["id"]
    assert (await client.get(f"/v1/conversations/{conversation}", headers=agent)).status_code == 200
    assert (await client.get("/v1/admin/users", headers=agent)).status_code == 403

    boss = (
        await client.post(
            "/v1/auth/login",
            json={
                "tenant": runtime.settings.tenant,
                "email": "boss@kestrel.example",
                "password": PASSWORD,
            },
        )
    ).json()["token"]
    entries = await client.get("/v1/admin/audit", headers={"Authorization": f"Bearer {boss}"})
    actions = [e["action"] for e in entries.json()]
    assert {"user.create", "user.login", "conversation.read"} <= set(actions)

    assert (await client.post("/v1/auth/logout", headers=agent)).status_code == 204
    assert (await client.get("/v1/auth/me", headers=agent)).status_code == 401


async def test_limits_say_what_the_limit_is(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    key = await _key(runtime, Scope.SERVICE)
    conversation = (await client.post("/v1/conversations", headers=key)).json()["id"]
    url = f"/v1/conversations/{conversation}/messages"
    for _ in range(3):
        assert (await client.post(url, json={"text": "hello"}, headers=key)).status_code == 200
    limited = await client.post(url, json={"text": "hello"}, headers=key)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "3 per 1 minute" in limited.json()["error"]["message"]
    assert int(limited.headers["Retry-After"]) >= 1

    await client.app.state.limiter.reset()  # type: ignore[attr-defined]
    full = await client.post(url, json={"text": "hello"}, headers=key)
    assert full.status_code == 413  # 6 messages stored: the conversation is full
    assert full.json()["error"]["code"] == "conversation_too_long"
    assert "the limit is 6" in full.json()["error"]["message"]

    too_long = await client.post(url, json={"text": "x" * 5000}, headers=key)
    assert too_long.status_code == 413
    assert "the limit is 4000" in too_long.json()["error"]["message"]


async def test_tenant_concurrency(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    key = await _key(runtime, Scope.SERVICE)
    conversation = (await client.post("/v1/conversations", headers=key)).json()["id"]
    limiter = client.app.state.limiter  # type: ignore[attr-defined]
    slots = runtime.settings.limits.tenant_concurrency
    held = [limiter.tenant_slot(runtime.tenant.id, slots) for _ in range(slots)]
    for slot in held:
        await slot.__aenter__()
    busy = await client.post(
        f"/v1/conversations/{conversation}/messages", json={"text": "hi"}, headers=key
    )
    assert busy.status_code == 429
    assert busy.json()["error"]["code"] == "tenant_busy"
    assert busy.headers["Retry-After"] == "1"
    for slot in held:
        await slot.__aexit__(None, None, None)


async def test_export_erase_and_retention(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    admin = await _key(runtime, Scope.ADMIN)
    ids = []
    for ref in ("cust-1", "cust-1", "cust-2"):
        created = await client.post("/v1/conversations", json={"customer_ref": ref}, headers=admin)
        ids.append(created.json()["id"])
        await client.post(f"/v1/conversations/{ids[-1]}/messages", json={"text": "where is it"},
                          headers=admin)  # fmt: skip
    exported = await client.get("/v1/admin/customers/cust-1/export", headers=admin)
    assert exported.status_code == 200
    body = exported.json()
    assert [c["id"] for c in body["conversations"]] == ids[:2]
    assert body["conversations"][0]["messages"][0]["text"] == "where is it"
    assert (await client.delete("/v1/admin/customers/cust-1", headers=admin)).status_code == 204
    assert (await client.get("/v1/admin/customers/cust-1/export", headers=admin)).status_code == (
        404
    )
    async with runtime.db.session(runtime.tenant.id) as session:
        left = set(await session.scalars(select(Message.conversation_id)))
        assert left == {ids[2]}
        actions = set(await session.scalars(select(AuditLog.action)))
        assert {"privacy.export", "privacy.delete"} <= actions
        # Age the remaining conversation past a 30-day retention period.
        await session.execute(update(Conversation).values(updated_at=utcnow() - timedelta(days=31)))
        await session.commit()
    runtime.settings.privacy.retention_days = 30
    job = (await client.post("/v1/admin/retention/purge", headers=admin)).json()["job_id"]
    for _ in range(100):
        status = (await client.get(f"/v1/jobs/{job}", headers=admin)).json()
        if status["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "done", status
    assert status["result"] == {"purged": 1, "retention_days": 30}
    async with runtime.db.session(runtime.tenant.id) as session:
        assert list(await session.scalars(select(Conversation.id))) == []


async def test_console_sign_in_is_rate_limited_and_reads_are_audited(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app_client
    await create_user(runtime.db, runtime.tenant.id, email="ana@kestrel.example",
                      password=PASSWORD, role=Role.AGENT)  # fmt: skip
    client.app.state.limiter.sign_ins = parse_many("3/minute")  # type: ignore[attr-defined]
    wrong = {"email": "ana@kestrel.example", "password": "guess"}
    for _ in range(3):
        assert (await client.post("/console/login", data=wrong)).status_code == 401
    limited = await client.post("/console/login", data={**wrong, "password": PASSWORD})
    assert limited.status_code == 429
    assert "the limit is 3 per 1 minute" in limited.json()["error"]["message"]
    assert int(limited.headers["Retry-After"]) >= 1

    await client.app.state.limiter.reset()  # type: ignore[attr-defined]
    signed_in = await client.post("/console/login", data={**wrong, "password": PASSWORD})
    assert signed_in.status_code == 303
    conversation = (await client.post("/v1/conversations", headers=await _key(
        runtime, Scope.SERVICE))).json()["id"]  # fmt: skip
    assert (await client.get(f"/console/conversations/{conversation}")).status_code == 200
    async with runtime.db.session(runtime.tenant.id) as session:
        reads = list(await session.scalars(
            select(AuditLog).where(AuditLog.action == "conversation.read")))  # fmt: skip
    assert [(r.target, r.detail) for r in reads] == [(conversation, {"via": "console"})]
    assert reads[0].actor.startswith("user:")


# The least scope each /v1 route admits (None: no credentials; "session": console sessions
# only). A route missing here fails `test_every_route_declares_its_role`: declare it.
WIDGET, SERVICE, ADMIN = Scope.WIDGET, Scope.SERVICE, Scope.ADMIN
LEAST_SCOPE: dict[tuple[str, str], Scope | str | None] = {
    ("post", "/v1/conversations"): WIDGET,
    ("post", "/v1/conversations/{conversation_id}/messages"): WIDGET,
    ("post", "/v1/chat/completions"): SERVICE,
    ("post", "/v1/channels/email"): SERVICE,
    ("post", "/v1/channels/voice"): SERVICE,
    # Webhooks: no API key; signed with the tenant's Slack or Meta app secret (without the
    # signature header they are 401 like any /v1 route without credentials).
    ("post", "/v1/channels/slack/{tenant}/events"): None,
    ("get", "/v1/channels/whatsapp/{tenant}"): None,
    ("post", "/v1/channels/whatsapp/{tenant}"): None,
    ("get", "/v1/conversations/{conversation_id}/updates"): WIDGET,
    ("post", "/v1/conversations/{conversation_id}/token"): WIDGET,  # its token, rotated
    ("get", "/v1/conversations/{conversation_id}"): SERVICE,
    ("get", "/v1/knowledge/documents"): SERVICE,
    ("get", "/v1/knowledge/search"): SERVICE,
    ("get", "/v1/jobs/{job_id}"): SERVICE,
    ("post", "/v1/knowledge/documents"): ADMIN,
    ("post", "/v1/knowledge/reindex"): ADMIN,
    ("delete", "/v1/knowledge/documents/{document_id}"): ADMIN,
    ("post", "/v1/admin/users"): ADMIN,
    ("get", "/v1/admin/users"): ADMIN,
    ("get", "/v1/admin/audit"): ADMIN,
    ("get", "/v1/admin/customers/{customer_ref}/export"): ADMIN,
    ("delete", "/v1/admin/customers/{customer_ref}"): ADMIN,
    ("post", "/v1/admin/retention/purge"): ADMIN,
    ("get", "/v1/admin/keys"): ADMIN,
    ("delete", "/v1/admin/keys/{key_id}"): ADMIN,
    ("post", "/v1/admin/keys/{key_id}/rotate"): ADMIN,
    ("post", "/v1/admin/users/{user_id}/disable"): ADMIN,
    ("post", "/v1/admin/users/{user_id}/enable"): ADMIN,
    ("get", "/v1/admin/models"): ADMIN,
    ("get", "/v1/admin/models/{version}"): ADMIN,
    ("post", "/v1/admin/models/retrain"): ADMIN,
    ("post", "/v1/admin/models/rollback"): ADMIN,
    ("post", "/v1/admin/models/{version}/promote"): ADMIN,
    ("get", "/v1/admin/corrections"): ADMIN,
    ("get", "/v1/admin/corrections/export"): ADMIN,
    ("delete", "/v1/admin/corrections/{correction_id}"): ADMIN,
    ("post", "/v1/admin/corrections/{correction_id}/{change}"): ADMIN,
    # The operations assistant: operators (a scope of their own) and admins; approving a
    # plan also needs a person (a session, not a key): tests/api/test_ops_api.py.
    ("get", "/v1/ops/elements"): ADMIN,
    ("get", "/v1/ops/events"): ADMIN,
    ("get", "/v1/ops/metrics"): ADMIN,
    ("post", "/v1/ops/chat"): ADMIN,
    ("post", "/v1/ops/setup"): ADMIN,
    ("post", "/v1/ops/plans"): ADMIN,
    ("get", "/v1/ops/plans"): ADMIN,
    ("get", "/v1/ops/plans/{plan_id}"): ADMIN,
    ("post", "/v1/ops/plans/{plan_id}/approve"): ADMIN,
    ("post", "/v1/ops/plans/{plan_id}/apply"): ADMIN,
    ("post", "/v1/ops/plans/{plan_id}/rollback"): ADMIN,
    ("post", "/v1/auth/login"): None,
    ("post", "/v1/auth/logout"): "session",
    ("get", "/v1/auth/me"): WIDGET,
}
BELOW = {
    WIDGET: [],
    SERVICE: [WIDGET],
    ADMIN: [WIDGET, SERVICE],
    "session": [WIDGET, SERVICE, ADMIN],
}
# Valid input for each route that needs some, so a refusal can only be about the role.
USER = {"email": "x@kestrel.example", "password": PASSWORD, "role": "agent"}
INPUT: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/conversations/{conversation_id}/messages"): {"json": {"text": "hi"}},
    ("post", "/v1/chat/completions"): {"json": {"messages": [{"role": "user", "content": "hi"}]}},
    ("post", "/v1/channels/email"): {
        "content": b"From: a@example.com\nMessage-ID: <r1@example.com>\nSubject: hi\n\nhello\n"
    },
    ("get", "/v1/knowledge/search"): {"params": {"q": "refund"}},
    ("post", "/v1/knowledge/documents"): {"files": {"files": ("a.md", b"# A\n", "text/markdown")}},
    ("post", "/v1/admin/users"): {"json": USER},
    ("post", "/v1/ops/plans"): {"json": {"request": "disable depot D14"}},
    ("get", "/v1/ops/events"): {"params": {"start": "2026-12-05T20:00", "end": "2026-12-06"}},
    ("get", "/v1/ops/metrics"): {"params": {"start": "2026-12-05T20:00", "end": "2026-12-06"}},
    ("post", "/v1/ops/chat"): {"json": {"question": "what failed last night?"}},
    ("post", "/v1/ops/setup"): {"json": {"description": "a depot in Ennis"}},
}


async def test_every_route_declares_its_role(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {(m, r) for r, ops in paths.items() if r.startswith("/v1/") for m in ops}
    assert routes == set(LEAST_SCOPE), "declare the role of each new route in LEAST_SCOPE"
    keys = {scope: await _key(runtime, scope) for scope in (WIDGET, SERVICE, ADMIN)}
    refused = 0
    for (method, route), least in LEAST_SCOPE.items():
        path = route.replace("{", "").replace("}", "")  # ids that exist nowhere
        kwargs = INPUT.get((method, route), {})
        for scope in BELOW.get(least, []) if least is not None else []:
            response = await client.request(method.upper(), path, headers=keys[scope], **kwargs)
            assert response.status_code == 403, (method, route, scope, response.text)
            assert response.json()["error"]["code"] == "forbidden"
            refused += 1
        if method == "get" and isinstance(least, Scope):  # admitted (no side effects to fear)
            response = await client.get(path, headers=keys[least], **kwargs)
            # (a widget key is then refused for want of the conversation's token, not its role)
            code = response.json()["error"]["code"] if response.status_code == 403 else ""
            assert response.status_code != 401, (route, least, response.text)
            assert response.status_code != 403 or code.startswith("conversation_token"), route
    assert refused >= 20


async def test_console_pages_escape_what_customers_wrote(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app_client
    await create_user(runtime.db, runtime.tenant.id, email="ana@kestrel.example",
                      password=PASSWORD, role=Role.AGENT)  # fmt: skip
    widget = await _key(runtime, Scope.WIDGET)
    started = (await client.post("/v1/conversations", headers=widget)).json()
    conversation = started["id"]
    widget["X-Conversation-Token"] = started["conversation_token"]
    markup = "<b onmouseover=alert(1)>where is my parcel</b>"
    posted = await client.post(f"/v1/conversations/{conversation}/messages",
                               json={"text": markup}, headers=widget)  # fmt: skip
    assert posted.status_code == 200
    await client.post("/console/login", data={"email": "ana@kestrel.example", "password": PASSWORD})
    page = await client.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200
    assert markup not in page.text
    assert "&lt;b onmouseover=alert(1)&gt;where is my parcel&lt;/b&gt;" in page.text
