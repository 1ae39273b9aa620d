"""Two installations (two databases) sharing one Redis server: the console's live events, the
rate limits and the tenant slots of one are not the other's, although both have the same
tenant id and e-mail addresses (a copy of one database, as a staging copy restored from a
production backup is; here, two copies of the demo's). The processes of one installation still
share them (tests/api/test_limits.py, test_tenant_slots.py, test_serve_workers.py).
Issue 21: Redis is namespaced per installation (`limits.namespace`, by default derived from
the database URL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from frontdesk.api.app import create_app
from frontdesk.api.limits import Limiter
from frontdesk.embedding import CachingEmbedder
from frontdesk.orchestration.runtime import Runtime, open_runtime
from tests.conftest import demo_copy, require_redis

pytestmark = pytest.mark.services

REDIS_URL = "redis://127.0.0.1:6379/15"


@asynccontextmanager
async def _installation(
    root: Path, prepared_state: Path, embedder: CachingEmbedder
) -> AsyncIterator[tuple[Runtime, Limiter]]:
    """A demo installation with its own SQLite database, its limits in the shared Redis; its
    runtime and the API's limiter (built by the app's lifespan)."""
    workspace = demo_copy(root, prepared_state)
    runtime = await open_runtime(workspace, embedder=embedder)
    try:
        app = create_app(runtime=runtime)
        async with app.router.lifespan_context(app):
            yield runtime, app.state.limiter
    finally:
        await runtime.close()


@pytest.fixture
async def two(
    tmp_path: Path,
    prepared_state: Path,
    embedder: CachingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[list[tuple[Runtime, Limiter]]]:
    require_redis()
    monkeypatch.setenv("FRONTDESK_LIMITS__STORAGE_URL", REDIS_URL)
    monkeypatch.setenv("FRONTDESK_LIMITS__SIGN_INS_PER_ACCOUNT", "1/minute")
    monkeypatch.setenv("FRONTDESK_LIMITS__PER_KEY", "1/minute")
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(_installation(tmp_path / n, prepared_state, embedder))
            for n in ("a", "b")
        ]


async def test_console_events_stay_in_their_installation(
    two: list[tuple[Runtime, Limiter]],
) -> None:
    (a, _), (b, _) = two
    assert a.desk is not None
    assert b.desk is not None
    assert a.tenant.id == b.tenant.id  # copies of one database
    async with b.desk.hub.subscribe(b.tenant.id) as queue:
        a.desk.hub.publish(a.tenant.id, {"type": "message", "from": "a"})
        await asyncio.sleep(0.5)
        b.desk.hub.publish(b.tenant.id, {"type": "message", "from": "b"})
        seen = [await asyncio.wait_for(queue.get(), 5)]
        while seen[-1]["from"] != "b":
            seen.append(await asyncio.wait_for(queue.get(), 5))
    assert [e["from"] for e in seen] == ["b"]  # installation a's event never reached b


async def test_rate_limits_stay_in_their_installation(
    two: list[tuple[Runtime, Limiter]],
) -> None:
    (_, a), (_, b) = two
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"  # the same account name in both
    await a.hit_sign_in("default", email, "192.0.2.1")
    await b.hit_sign_in("default", email, "192.0.2.1")  # b's own budget: not refused
    key = uuid.uuid4().hex
    await a.hit_key(key)
    await b.hit_key(key)


async def test_tenant_slots_stay_in_their_installation(
    two: list[tuple[Runtime, Limiter]],
) -> None:
    (_, a), (_, b) = two
    tenant = f"default-{uuid.uuid4().hex[:8]}"
    async with a.tenant_slot(tenant, 1), b.tenant_slot(tenant, 1):  # b's is another tenant
        pass
