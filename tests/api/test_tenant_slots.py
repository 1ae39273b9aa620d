"""Per-tenant concurrency: counted per process in memory, shared by all processes in Redis
(a lease per slot, so a crashed process's slots come free)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from frontdesk.api.limits import Limiter, RateLimitedError
from frontdesk.api.tenant_slots import KEY_PREFIX, LocalSlots, RedisSlots, slots_for
from frontdesk.config.settings import LimitsSettings
from frontdesk.errors import ConfigError
from tests.conftest import require

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def test_storage_picks_the_slots() -> None:
    assert isinstance(slots_for("memory://", lease_s=30), LocalSlots)
    assert isinstance(slots_for("async+memory://", lease_s=30), LocalSlots)
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


@pytest.fixture
async def two_processes() -> AsyncIterator[tuple[Limiter, Limiter]]:
    require(_redis_up(), "Redis is not reachable on 127.0.0.1:6379")
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
async def test_a_long_turn_keeps_its_slot(two_processes: tuple[Limiter, Limiter]) -> None:
    first, second = two_processes
    tenant = uuid.uuid4().hex
    async with first.tenant_slot(tenant, 1):
        for _ in range(4):  # 1.6 s in all: past two and a half leases of 0.6 s
            await asyncio.sleep(0.4)
            await _refused(second, tenant, 1)
    async with second.tenant_slot(tenant, 1):
        pass


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
