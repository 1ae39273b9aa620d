"""Per-tenant concurrency: counted per process in memory, shared by all processes in Redis
(a lease per slot, so a crashed process's slots come free)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from frontdesk.api.limits import Limiter, RateLimitedError
from frontdesk.api.tenant_slots import KEY_PREFIX, LocalSlots, RedisSlots, slots_for
from frontdesk.config.settings import LimitsSettings
from frontdesk.errors import ConfigError
from frontdesk.orchestration.runtime import Runtime
from tests.conftest import require_redis

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_storage_picks_the_slots() -> None:
    assert isinstance(slots_for("memory://", lease_s=30), LocalSlots)
    assert isinstance(slots_for("async+memory://", lease_s=30), LocalSlots)
    assert isinstance(slots_for("redis+unix:///run/redis.sock?db=1", lease_s=30), RedisSlots)
    with pytest.raises(ConfigError, match="redis://"):
        slots_for("memcached://127.0.0.1:11211", lease_s=30)


async def test_a_cancelled_turn_gives_its_slot_back() -> None:
    limiter = Limiter(LimitsSettings())
    entered = asyncio.Event()

    async def turn() -> None:
        async with limiter.tenant_slot("t", 1):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(turn())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with limiter.tenant_slot("t", 1):  # free again
        pass


async def test_a_stream_nobody_reads_still_gives_its_slot_back() -> None:
    """A client that leaves before the streamed response starts: the turn still runs and
    the tenant's slot is given back (it used to start only when the body was read)."""
    from types import SimpleNamespace
    from typing import cast

    from frontdesk.api.streaming import sse_reply
    from frontdesk.types import Channel, InboundMessage

    handled = asyncio.Event()

    async def handle(message: InboundMessage, sink: object = None) -> None:
        handled.set()
        raise RuntimeError("no reply needed here")

    limiter = Limiter(LimitsSettings())
    hold = AsyncExitStack()
    await hold.enter_async_context(limiter.tenant_slot("t", 1))
    runtime = cast(Runtime, SimpleNamespace(assistant=SimpleNamespace(handle=handle)))
    message = InboundMessage(tenant_id="t", conversation_id="c", text="hi", channel=Channel.API)
    sse_reply(runtime, message, lambda reply: reply, release=hold.aclose)  # never read
    await asyncio.wait_for(handled.wait(), 5)
    for _ in range(100):
        await asyncio.sleep(0.01)
        try:
            async with limiter.tenant_slot("t", 1):
                return
        except RateLimitedError:
            continue
    pytest.fail("the slot was never given back")


@pytest.fixture
async def two_processes() -> AsyncIterator[tuple[Limiter, Limiter]]:
    require_redis()
    settings = LimitsSettings(storage_url=REDIS_URL, tenant_slot_lease_s=0.6)
    first, second = Limiter(settings), Limiter(settings)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def _refused(limiter: Limiter, tenant: str, limit: int) -> RateLimitedError:
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.tenant_slot(tenant, limit):
            pass
    return caught.value


@pytest.mark.services
async def test_two_processes_share_the_tenant_limit(two_processes: tuple[Limiter, Limiter]) -> None:
    first, second = two_processes
    tenant = uuid.uuid4().hex
    async with first.tenant_slot(tenant, 2), second.tenant_slot(tenant, 2):
        for limiter in (first, second):
            refused = await _refused(limiter, tenant, 2)
            assert refused.status_code == 429
            assert refused.code == "tenant_busy"
            assert refused.retry_after == 1
            assert "2 messages in progress" in refused.message
        async with first.tenant_slot(uuid.uuid4().hex, 2):  # another tenant is not counted
            pass
    async with first.tenant_slot(tenant, 2), first.tenant_slot(tenant, 2):  # both given back
        pass


@pytest.mark.services
async def test_a_long_turn_keeps_its_slot() -> None:
    require_redis()
    # A lease of 1.5 s, not the fixture's 0.6: under CI's load (xdist on 2 cores) an event
    # loop stalled past a 0.6 s lease's renewal once and the slot was lost (1751370's run).
    settings = LimitsSettings(storage_url=REDIS_URL, tenant_slot_lease_s=1.5)
    first, second = Limiter(settings), Limiter(settings)
    tenant = uuid.uuid4().hex
    try:
        async with first.tenant_slot(tenant, 1):
            for _ in range(4):  # 4 s in all: past two and a half leases
                await asyncio.sleep(1.0)
                await _refused(second, tenant, 1)
        async with second.tenant_slot(tenant, 1):
            pass
    finally:
        await first.close()
        await second.close()


@pytest.mark.services
async def test_a_crashed_process_frees_its_slots(two_processes: tuple[Limiter, Limiter]) -> None:
    _, second = two_processes
    tenant = uuid.uuid4().hex
    crashed = RedisSlots(REDIS_URL, lease_s=0.5)  # takes a slot, then never renews or gives back
    try:
        assert await crashed.take(tenant, 1) is not None
        await _refused(second, tenant, 1)
        await asyncio.sleep(0.6)
        async with second.tenant_slot(tenant, 1):
            pass
        assert not await crashed.renew(tenant, "gone")  # a holder that was dropped stays dropped
    finally:
        await crashed.close()


@pytest.mark.services
async def test_slots_leave_no_keys_behind(two_processes: tuple[Limiter, Limiter]) -> None:
    from redis.asyncio import Redis

    first, _ = two_processes
    tenant = uuid.uuid4().hex
    client = Redis.from_url(REDIS_URL)
    try:
        async with first.tenant_slot(tenant, 3):
            ttl = await client.pttl(KEY_PREFIX + tenant)
            assert 0 < ttl <= 600  # the whole set expires if every holder dies
        assert await client.exists(KEY_PREFIX + tenant) == 0
    finally:
        await client.aclose()


@pytest.mark.services
async def test_two_api_processes_refuse_over_the_tenant_limit(sqlite_runtime: Runtime) -> None:
    """Two apps (two API processes) over one Redis: slots held in one make the other answer
    429 tenant_busy with Retry-After, as a single process does."""
    require_redis()
    import httpx

    from frontdesk.api.app import create_app
    from frontdesk.storage.api_keys import Scope, create_key

    runtime = sqlite_runtime
    runtime.settings.limits.storage_url = REDIS_URL
    runtime.settings.limits.tenant_concurrency = 2
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    headers = {"Authorization": f"Bearer {token}"}
    first, second = create_app(runtime=runtime), create_app(runtime=runtime)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            conversation = (await client.post("/v1/conversations", headers=headers)).json()["id"]
            url = f"/v1/conversations/{conversation}/messages"
            async with AsyncExitStack() as held:
                for _ in range(2):
                    await held.enter_async_context(
                        first.state.limiter.tenant_slot(runtime.tenant.id, 2)
                    )
                busy = await client.post(url, json={"text": "hi"}, headers=headers)
                assert busy.status_code == 429
                assert busy.json()["error"]["code"] == "tenant_busy"
                assert busy.headers["Retry-After"] == "1"
            assert (await client.post(url, json={"text": "hi"}, headers=headers)).status_code == 200


async def test_an_unreachable_limits_store_refuses_with_503() -> None:
    """Redis away: requests are refused with 503 and Retry-After, not a bare 500 and not let
    through unlimited."""
    from frontdesk.api.limits import LimitsUnavailableError
    from tests.conftest import free_port

    limiter = Limiter(LimitsSettings(storage_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        for attempt in (
            lambda: limiter.hit_key("k"),
            lambda: limiter.hit_read("k"),
            lambda: limiter.tenant_slot("t", 1).__aenter__(),
        ):
            with pytest.raises(LimitsUnavailableError) as caught:
                await attempt()
            assert caught.value.status_code == 503
            assert caught.value.code == "limits_unavailable"
            assert caught.value.retry_after == 5
    finally:
        await limiter.close()
