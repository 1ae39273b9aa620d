"""Issue 21: concurrent turns on PostgreSQL must not starve the connection pool. A turn holds
one pooled connection for its whole pipeline; if anything in the turn waited for a second
one, N turns on an N-connection pool would each hold one and wait for another until the
pool's timeout. A tiny pool (2 connections, no overflow, 5 s timeout) makes that cheap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text as sql

from frontdesk.api.app import create_app
from frontdesk.config.settings import Settings
from frontdesk.embedding.cache import CachingEmbedder
from frontdesk.llm.budget import stored_month_usage
from frontdesk.orchestration.runtime import Runtime, open_runtime, warn_small_pool
from frontdesk.storage import migrate
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.tools import FunctionTool, ToolContext, ToolRegistry
from frontdesk.types import InboundMessage

POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.services)
TURNS = 6  # three times the pool


@pytest.fixture
async def tiny_pool_runtime(
    workspace: Path,
    runtime_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    embedder: CachingEmbedder,
) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", runtime_database_url)
    monkeypatch.setenv("FRONTDESK_DATABASE__POOL_SIZE", "2")
    monkeypatch.setenv("FRONTDESK_DATABASE__MAX_OVERFLOW", "0")
    monkeypatch.setenv("FRONTDESK_DATABASE__POOL_TIMEOUT_S", "5")
    rt = await open_runtime(workspace, embedder=embedder)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.mark.parametrize("database_url", [POSTGRESQL], indirect=True)
async def test_more_concurrent_turns_than_pooled_connections_all_finish(
    tiny_pool_runtime: Runtime,
) -> None:
    rt = tiny_pool_runtime
    pool = rt.db.engine.sync_engine.pool
    assert (pool.size(), pool._max_overflow) == (2, 0)  # type: ignore[attr-defined]
    ids = []
    async with rt.db.session(rt.tenant.id) as session:
        for _ in range(TURNS):
            ids.append((await create_conversation(session, channel="api")).id)
        await session.commit()

    async def two_turns(conversation_id: str) -> list[bool]:
        fallbacks = []
        for text in ("I want a refund for order KP-20481736", "how long does it take?"):
            message = InboundMessage(
                tenant_id=rt.tenant.id, conversation_id=conversation_id, text=text
            )
            fallbacks.append((await rt.assistant.handle(message)).fallback)
        return fallbacks

    # Starved, every turn would wait out the 5 s pool timeout (and fail); served, the twelve
    # turns take well under a second each.
    results = await asyncio.wait_for(asyncio.gather(*(two_turns(c) for c in ids)), timeout=60)
    assert results == [[False, False]] * TURNS


@pytest.mark.parametrize("database_url", [POSTGRESQL], indirect=True)
async def test_more_concurrent_keyed_deliveries_than_pooled_connections_all_finish(
    tiny_pool_runtime: Runtime,
) -> None:
    """Through the API with Idempotency-Keys: the delivery's claim, its lease renewal and its
    stored answer take connections of their own around (never inside) the turn's."""
    rt = tiny_pool_runtime
    app = create_app(runtime=rt)
    issued = await create_key(rt.db, rt.tenant.id, name="pool", scope=Scope.SERVICE)
    headers = {"Authorization": f"Bearer {issued.token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

            async def deliver(n: int) -> list[int]:
                created = await http.post("/v1/conversations", json={}, headers=headers)
                url = f"/v1/conversations/{created.json()['id']}/messages"
                codes = []
                for i, text in enumerate(("where is my parcel?", "I want a refund")):
                    keyed = {**headers, "Idempotency-Key": f"evt-{n}-{i}"}
                    response = await http.post(url, json={"text": text}, headers=keyed)
                    codes.append(response.status_code)
                return codes

            results = await asyncio.wait_for(
                asyncio.gather(*(deliver(n) for n in range(TURNS))), timeout=60
            )
    assert results == [[200, 200]] * TURNS


@pytest.fixture
async def one_connection_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0, pool_timeout_s=3)
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.mark.parametrize("database_url", [POSTGRESQL], indirect=True)
async def test_tool_calls_and_budget_reloads_inside_a_turn_need_no_second_turn_connection(
    one_connection_db: Database,
) -> None:
    """What a turn does on connections of its own (a tool call's record, committed apart from
    the turn; a monthly budget's reload) takes the side pool, not a second of the turns'."""
    db = one_connection_db
    tenant = (await ensure_tenant(db, "acme")).id

    async def double(n: int) -> int:
        return n * 2

    registry = ToolRegistry(db, timeout_s=1, breaker_failures=3, breaker_reset_s=30)
    registry.register(FunctionTool(double, idempotent=True))
    async with db.session(tenant) as turn_session:  # the turn's, holding the only connection
        await turn_session.execute(sql("SELECT 1"))
        outcome = await asyncio.wait_for(
            registry.call("double", {"n": 4}, ToolContext(tenant_id=tenant)), timeout=10
        )
        usage = await asyncio.wait_for(
            stored_month_usage(db)(tenant, datetime(2026, 1, 1, tzinfo=UTC)), timeout=10
        )
    assert (outcome.status, outcome.result) == ("ok", 8)
    assert usage == (0, 0.0)


def test_the_default_pool_serves_tenant_concurrency_and_a_small_one_is_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert Settings().pool_size() == 8 + 4  # tenant_concurrency 8
    wide = Settings.model_validate({"tenants": {"big": {"tenant_concurrency": 20}}})
    assert wide.pool_size() == 24
    assert Settings.model_validate({"limits": {"tenant_concurrency": 128}}).pool_size() == 50
    with caplog.at_level(logging.WARNING, logger="frontdesk.orchestration.runtime"):
        warn_small_pool(Settings())
        assert not caplog.records
        warn_small_pool(Settings.model_validate({"database": {"pool_size": 2, "max_overflow": 0}}))
    assert "cannot serve tenant_concurrency 8" in caplog.text
