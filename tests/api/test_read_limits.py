"""Reads (GET) have a per-key budget of their own (`limits.reads_per_key`), counted by the
dependency every authenticated route uses; health, metrics and static pages are exempt."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from frontdesk.api.app import create_app
from frontdesk.api.deps import limit_reads, require_key
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.users import Role, create_user
from frontdesk.web.auth import agent_reads, current_agent

# Query parameters a route needs, so that its reads are counted, not refused as invalid.
PASSWORD = "correct horse battery"
PARAMS: dict[str, dict[str, str]] = {"/v1/knowledge/search": {"q": "refund"}}


@pytest.fixture
async def app_client(sqlite_runtime: Runtime) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = sqlite_runtime
    runtime.settings.limits.reads_per_key = "2/minute"
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http, runtime


async def _key(runtime: Runtime, scope: Scope) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=scope)).token
    return {"Authorization": f"Bearer {token}"}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
        found |= _calls(sub)
    return found


def _authenticated_gets(app: FastAPI) -> dict[str, set[Callable[..., Any]]]:
    """Path -> the dependencies of every GET route that takes an API key or a session."""
    # FastAPI 0.165 keeps included routers as branches; iter_route_contexts flattens them.
    flatten = getattr(fastapi.routing, "iter_route_contexts", list)
    found = {}
    for route in flatten(app.routes):
        dependant = getattr(route, "dependant", None)
        if "GET" in (route.methods or ()) and dependant is not None:
            calls = _calls(dependant)
            if calls & {require_key, current_agent}:
                found[route.path] = calls
    return found


def test_every_authenticated_get_counts_its_reads(sqlite_runtime: Runtime) -> None:
    routes = _authenticated_gets(create_app(runtime=sqlite_runtime))
    for path, calls in routes.items():
        if require_key in calls:
            assert limit_reads in calls, f"GET {path} reads without the read limit"
        if current_agent in calls:
            assert agent_reads in calls, f"console page {path} reads without the read limit"
    assert sum(p.startswith("/v1/") for p in routes) >= 9
    assert sum(p.startswith("/console") for p in routes) >= 3


async def test_every_v1_read_is_limited(app_client: tuple[httpx.AsyncClient, Runtime]) -> None:
    client, runtime = app_client
    routes = [p for p in _authenticated_gets(client.app) if p.startswith("/v1/")]  # type: ignore[attr-defined]
    assert len(routes) >= 9
    for route in routes:
        key = await _key(runtime, Scope.ADMIN)  # a fresh budget for each route
        path = route.replace("{", "").replace("}", "")
        params = PARAMS.get(route, {})
        for _ in range(2):
            response = await client.get(path, headers=key, params=params)
            assert response.status_code not in (401, 403, 429), (route, response.text)
        limited = await client.get(path, headers=key, params=params)
        assert limited.status_code == 429, (route, limited.text)
        error = limited.json()["error"]
        assert error["code"] == "rate_limited"
        assert "too many reads for this API key: the limit is 2 per 1 minute" in error["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_reads_and_messages_have_separate_budgets(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app_client
    key = await _key(runtime, Scope.SERVICE)
    conversation = (await client.post("/v1/conversations", headers=key)).json()["id"]
    for _ in range(2):
        assert (await client.get(f"/v1/conversations/{conversation}", headers=key)).is_success
    url = f"/v1/conversations/{conversation}/messages"
    assert (await client.post(url, json={"text": "hello"}, headers=key)).status_code == 200
    assert (await client.get(f"/v1/conversations/{conversation}", headers=key)).status_code == 429
    other = await _key(runtime, Scope.SERVICE)  # budgets are per key
    assert (await client.get(f"/v1/conversations/{conversation}", headers=other)).is_success


async def test_a_widget_key_reads_per_conversation(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app_client
    widget = await _key(runtime, Scope.WIDGET)  # public: every visitor of the page shares it
    started = [(await client.post("/v1/conversations", headers=widget)).json() for _ in range(2)]
    (first, first_token), (second, second_token) = [
        (s["id"], {**widget, "X-Conversation-Token": s["conversation_token"]}) for s in started
    ]
    for _ in range(2):
        assert (
            await client.get(f"/v1/conversations/{first}/updates", headers=first_token)
        ).is_success
    assert (
        await client.get(f"/v1/conversations/{first}/updates", headers=first_token)
    ).status_code == 429
    assert (
        await client.get(f"/v1/conversations/{second}/updates", headers=second_token)
    ).is_success


async def test_health_metrics_and_pages_are_not_counted(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _ = app_client
    for _ in range(3):
        for path in ("/healthz", "/readyz", "/metrics", "/", "/static/chat.js"):
            assert (await client.get(path)).status_code == 200, path


async def test_console_pages_share_the_sessions_read_budget(
    app_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = app_client
    await create_user(
        runtime.db, runtime.tenant.id, email="ana@kestrel.test", password=PASSWORD, role=Role.ADMIN
    )
    login = {"email": "ana@kestrel.test", "password": PASSWORD}
    assert (await client.post("/console/login", data=login)).status_code == 303
    assert (await client.get("/console")).status_code == 200
    assert (await client.get("/console/admin")).status_code == 200
    limited = await client.get("/console")
    assert limited.status_code == 429
    assert "too many reads" in limited.json()["error"]["message"]
    assert (await client.get("/console/login")).status_code == 200  # the sign-in page is open
