"""The limiter on its own: in memory, and in Redis (shared by several API processes)."""

from __future__ import annotations

import uuid

import pytest

from frontdesk.api.limits import Limiter, RateLimitedError, storage_url
from frontdesk.config.settings import LimitsSettings
from frontdesk.errors import PayloadTooLargeError
from tests.conftest import require_redis


def test_storage_urls() -> None:
    assert storage_url("memory://") == "async+memory://"
    assert storage_url("redis://127.0.0.1:6379/0") == "async+redis://127.0.0.1:6379/0"


def test_bad_rate_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="is not a rate like"):
        LimitsSettings(per_key="lots")


async def _exercise(limiter: Limiter, ident: str) -> None:
    await limiter.hit_key(ident)
    await limiter.hit_key(ident)
    with pytest.raises(RateLimitedError) as caught:
        await limiter.hit_key(ident)
    assert caught.value.status_code == 429
    assert "the limit is 2 per 1 minute" in caught.value.message
    assert 1 <= caught.value.retry_after <= 60
    await limiter.hit_key(ident + "-other")  # another key has its own budget


async def test_memory_limits() -> None:
    limiter = Limiter(LimitsSettings(per_key="2/minute", max_conversation_messages=4))
    await _exercise(limiter, "k")
    limiter.check_length(2)
    with pytest.raises(PayloadTooLargeError, match="the limit is 4"):
        limiter.check_length(3)
    async with limiter.tenant_slot("t", 1):
        with pytest.raises(RateLimitedError, match="1 messages in progress"):
            async with limiter.tenant_slot("t", 1):
                pass
    async with limiter.tenant_slot("t", 1):  # released again
        pass


@pytest.mark.services
async def test_redis_limits_are_shared_between_processes() -> None:
    require_redis()
    settings = LimitsSettings(storage_url="redis://127.0.0.1:6379/15", per_key="2/minute")
    ident = uuid.uuid4().hex
    first, second = Limiter(settings), Limiter(settings)  # two API processes
    try:
        await first.hit_key(ident)
        await second.hit_key(ident)
        with pytest.raises(RateLimitedError):
            await first.hit_key(ident)
    finally:
        await first.close()
        await second.close()
