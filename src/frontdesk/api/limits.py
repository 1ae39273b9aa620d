"""Request limits: rates per API key and per conversation (the `limits` library, in memory
or in Redis so several API processes share them), conversation length, and how many
messages one tenant may have in flight at once.

A refused request gets 429 (or 413 for a conversation that is full) with the limit in the
message and a `Retry-After` header in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from frontdesk.config.settings import LimitsSettings
from frontdesk.errors import FrontdeskError, PayloadTooLargeError


class RateLimitedError(FrontdeskError):
    code = "rate_limited"
    status_code = 429

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


def storage_url(url: str) -> str:
    """`memory://` or `redis://host:port/db` as the async storage the limiter needs."""
    return url if url.startswith("async+") else f"async+{url}"


class Limiter:
    def __init__(self, settings: LimitsSettings) -> None:
        self.settings = settings
        url = storage_url(settings.storage_url)
        options = {"implementation": "redispy"} if "redis" in url.split("://")[0] else {}
        self._storage = storage_from_string(url, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self.per_key = parse_many(settings.per_key)
        self.per_conversation = parse_many(settings.per_conversation)
        self._busy: dict[str, int] = {}

    async def hit_key(self, key_id: str) -> None:
        await self._hit(self.per_key, "key", key_id, "API key")

    async def hit_conversation(self, conversation_id: str) -> None:
        await self._hit(self.per_conversation, "conversation", conversation_id, "conversation")

    async def _hit(self, items: list[RateLimitItem], namespace: str, ident: str, what: str) -> None:
        for item in items:
            if not await self._limiter.hit(item, namespace, ident):
                stats = await self._limiter.get_window_stats(item, namespace, ident)
                wait = math.ceil(stats.reset_time - time.time())
                raise RateLimitedError(
                    f"too many messages for this {what}: the limit is {item}; "
                    f"retry in {max(1, wait)} s",
                    retry_after=wait,
                )

    def check_length(self, stored_messages: int) -> None:
        limit = self.settings.max_conversation_messages
        if stored_messages + 2 > limit:  # the message and its reply
            raise PayloadTooLargeError(
                f"this conversation has {stored_messages} messages; the limit is {limit}. "
                "Please start a new conversation.",
                code="conversation_too_long",
            )

    @asynccontextmanager
    async def tenant_slot(self, tenant_id: str, limit: int) -> AsyncIterator[None]:
        """At most `limit` messages of one tenant handled at once in this process; a request
        over it is refused at once rather than queued behind a slow model."""
        if self._busy.get(tenant_id, 0) >= limit:
            raise RateLimitedError(
                f"this tenant already has {limit} messages in progress (the limit); "
                "retry in a moment",
                retry_after=1,
                code="tenant_busy",
            )
        self._busy[tenant_id] = self._busy.get(tenant_id, 0) + 1
        try:
            yield
        finally:
            self._busy[tenant_id] -= 1
            if not self._busy[tenant_id]:
                del self._busy[tenant_id]

    async def close(self) -> None:
        """Close a Redis connection pool (memory storage has nothing to close)."""
        bridge = getattr(self._storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    async def reset(self) -> None:
        """Forget every counter (tests; an operator lifting a block)."""
        await self._limiter.storage.reset()
