"""How many messages of one tenant are being handled at once: counted in this process
(memory storage), or in Redis when several API processes share the limits.

In Redis each tenant has a sorted set of slot holders, scored by when their lease ends.
Taking a slot first drops the holders whose lease has ended, so slots held by a process
that crashed come free after one lease; a live holder renews its lease while its turn runs.
Taking and renewing are Lua scripts, so two processes can never both take the last slot,
and they read the Redis server's clock, so the API hosts' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Protocol

from frontdesk.errors import ConfigError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

KEY_PREFIX = "frontdesk:tenant-slots:"
# A Redis that is down or unreachable fails the request within seconds (503), rather than
# after the operating system's TCP timeout of minutes.
REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}

# KEYS[1]: the tenant's holders. ARGV: limit, holder id, lease in ms. Returns 1 if taken.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1]: the tenant's holders. ARGV: holder id, lease in ms. Returns 0 if the holder is
# gone (its lease ended and another process dropped it): the slot is lost, not re-taken.
_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class TenantSlots(Protocol):
    async def take(self, tenant_id: str, limit: int) -> str | None:
        """A holder id for a free slot, or None when the tenant's `limit` slots are taken."""
        ...

    async def give_back(self, tenant_id: str, holder: str) -> None: ...

    def keep(self, tenant_id: str, holder: str) -> asyncio.Task[None] | None:
        """A task that renews the holder's lease until cancelled (None: nothing expires)."""
        ...

    async def close(self) -> None: ...


class LocalSlots:
    """Counted in this process: each API process allows the tenant's full limit."""

    def __init__(self) -> None:
        self._busy: dict[str, int] = {}

    async def take(self, tenant_id: str, limit: int) -> str | None:
        if self._busy.get(tenant_id, 0) >= limit:
            return None
        self._busy[tenant_id] = self._busy.get(tenant_id, 0) + 1
        return uuid.uuid4().hex

    async def give_back(self, tenant_id: str, holder: str) -> None:
        self._busy[tenant_id] -= 1
        if not self._busy[tenant_id]:
            del self._busy[tenant_id]

    def keep(self, tenant_id: str, holder: str) -> asyncio.Task[None] | None:
        return None

    async def close(self) -> None:
        return None


class RedisSlots:
    """Shared by every API process that uses the same Redis database."""

    def __init__(
        self, url: str, *, lease_s: float, namespace: str = "", client: Redis | None = None
    ) -> None:
        if client is None:
            from redis.asyncio import Redis

            client = Redis.from_url(
                url,
                socket_connect_timeout=REDIS_TIMEOUTS["socket_connect_timeout"],
                socket_timeout=REDIS_TIMEOUTS["socket_timeout"],
            )
        self._redis = client
        # One installation's slots apart from another's on the same Redis (`namespace`).
        self.prefix = f"{KEY_PREFIX}{namespace}:" if namespace else KEY_PREFIX
        self.lease_ms = max(1, round(lease_s * 1000))
        self._take = self._redis.register_script(_TAKE)
        self._renew = self._redis.register_script(_RENEW)

    async def take(self, tenant_id: str, limit: int) -> str | None:
        holder = uuid.uuid4().hex
        key = self.prefix + tenant_id
        taken = await self._take(keys=[key], args=[limit, holder, self.lease_ms])
        return holder if taken == 1 else None

    async def renew(self, tenant_id: str, holder: str) -> bool:
        kept = await self._renew(keys=[self.prefix + tenant_id], args=[holder, self.lease_ms])
        return bool(kept == 1)

    async def give_back(self, tenant_id: str, holder: str) -> None:
        await self._redis.zrem(self.prefix + tenant_id, holder)

    def keep(self, tenant_id: str, holder: str) -> asyncio.Task[None]:
        return asyncio.create_task(self._keep(tenant_id, holder))

    async def _keep(self, tenant_id: str, holder: str) -> None:
        # Three renewals per lease: one that fails (Redis briefly away) leaves time for more.
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                if not await self.renew(tenant_id, holder):
                    log.warning("tenant %s lost a concurrency slot whose lease ran out", tenant_id)
                    return
            except Exception as exc:  # the turn goes on; the lease covers a short outage
                log.warning("could not renew a tenant slot in Redis: %s", type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


def slots_for(storage_url: str, *, lease_s: float, namespace: str = "") -> TenantSlots:
    """In-process slots for `memory://`; Redis slots for the `limits` library's `redis://`,
    `rediss://` and `redis+unix://` URLs, under the installation's `namespace`."""
    url = storage_url.removeprefix("async+")
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return LocalSlots()
    if scheme in {"redis", "rediss", "redis+unix"}:
        # redis-py calls a Unix socket URL unix://, as `limits` does internally.
        return RedisSlots(
            url.replace("redis+unix://", "unix://", 1), lease_s=lease_s, namespace=namespace
        )
    raise ConfigError(
        f"limits.storage_url {storage_url!r}: tenant concurrency can be shared through "
        "redis://, rediss:// or redis+unix:// URLs, or counted per process with memory://"
    )
