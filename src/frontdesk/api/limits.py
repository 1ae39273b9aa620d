"""Request limits: rates per API key, per conversation and per visitor of a public widget
key (the `limits` library, in memory or in Redis so several API processes share them), new
conversations and reads per API key, conversation length,
and how many messages one tenant may have in flight at once (`tenant_slots`).

A refused request gets 429 (or 413 for a conversation that is full) with the limit in the
message and a `Retry-After` header in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from frontdesk.api.tenant_slots import REDIS_TIMEOUTS, TenantSlots, slots_for
from frontdesk.config.settings import LimitsSettings
from frontdesk.errors import FrontdeskError, PayloadTooLargeError, StorageUnavailableError

log = logging.getLogger(__name__)


class RateLimitedError(FrontdeskError):
    code = "rate_limited"
    status_code = 429

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class LimitsUnavailableError(StorageUnavailableError):
    """The limits' store (Redis) did not answer. Requests are refused, not let through
    unlimited: a 503 the client retries beats a tenant running past its limits."""

    code = "limits_unavailable"
    retry_after = 5

    @classmethod
    def wrapping(cls, exc: Exception) -> LimitsUnavailableError:
        log.warning("the limits store did not answer: %s: %s", type(exc).__name__, exc)
        return cls("the rate-limit store is not reachable; retry in a few seconds")


def storage_url(url: str) -> str:
    """`memory://` or `redis://host:port/db` as the async storage the limiter needs."""
    return url if url.startswith("async+") else f"async+{url}"


class Limiter:
    """`namespace`: the installation's (`LimitsSettings.redis_namespace`): in a Redis shared
    with other installations, its counters and slots are its own."""

    def __init__(self, settings: LimitsSettings, *, namespace: str = "") -> None:
        self.settings = settings
        url = storage_url(settings.storage_url)
        options: dict[str, str | float] = {}
        if "redis" in url.split("://")[0]:
            options = {"implementation": "redispy", **REDIS_TIMEOUTS}
            if namespace:  # reset() too clears this installation's counters only
                options["key_prefix"] = f"frontdesk:limits:{namespace}"
        self._storage = storage_from_string(url, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self.per_key = parse_many(settings.per_key)
        self.per_conversation = parse_many(settings.per_conversation)
        self.reads_per_key = parse_many(settings.reads_per_key)
        self.sign_ins = parse_many(settings.sign_ins_per_account)
        self.sign_ins_total = parse_many(settings.sign_ins_per_account_total)
        self.conversations_per_key = parse_many(settings.conversations_per_key)
        self.per_visitor = parse_many(settings.per_visitor)
        self.ops_per_key = parse_many(settings.ops_per_key)
        self._slots: TenantSlots = slots_for(
            settings.storage_url, lease_s=settings.tenant_slot_lease_s, namespace=namespace
        )

    async def hit_key(self, key_id: str) -> None:
        await self._hit(self.per_key, "key", key_id, "messages for this API key")

    async def hit_conversation(self, conversation_id: str) -> None:
        await self._hit(
            self.per_conversation, "conversation", conversation_id, "messages for this conversation"
        )

    async def hit_new_conversation(self, key_id: str) -> None:
        await self._hit(
            self.conversations_per_key, "new-conversation", key_id,
            "new conversations for this API key",
        )  # fmt: skip

    async def hit_visitor(self, key_id: str, address: str) -> None:
        """A write (new conversation or message) by one visitor of a public widget key."""
        await self._hit(
            self.per_visitor, "visitor", f"{key_id}:{address}",
            "messages and new conversations from your address",
        )  # fmt: skip

    async def hit_ops(self, ident: str) -> None:
        """One write to the operations assistant (chat, setup, a plan or a step of one)."""
        await self._hit(self.ops_per_key, "ops", ident, "operations requests for this key")

    async def hit_read(self, ident: str) -> None:
        """One read (a GET) by an API key; a budget of its own, apart from messages."""
        await self._hit(self.reads_per_key, "read", ident, "reads for this API key")

    async def hit_sign_in(self, tenant: str, email: str, address: str) -> None:
        """One sign-in attempt (API or console) for an account: password guessing. Counted
        per account and address, so guesses from one place do not lock the agent out
        elsewhere, and per account from everywhere (a looser cap on distributed guessing)."""
        account = f"{tenant}:{email.strip().lower()}"
        await self._hit(
            self.sign_ins, "sign-in", f"{account}:{address}",
            "sign-in attempts for this account from your address",
        )  # fmt: skip
        await self._hit(
            self.sign_ins_total, "sign-in-total", account,
            "sign-in attempts for this account",
        )  # fmt: skip

    async def _hit(self, items: list[RateLimitItem], namespace: str, ident: str, what: str) -> None:
        for item in items:
            try:
                if await self._limiter.hit(item, namespace, ident):
                    continue
                stats = await self._limiter.get_window_stats(item, namespace, ident)
            except Exception as exc:  # Redis away, or any failure of the store
                raise LimitsUnavailableError.wrapping(exc) from exc
            wait = math.ceil(stats.reset_time - time.time())
            raise RateLimitedError(
                f"too many {what}: the limit is {item}; retry in {max(1, wait)} s",
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
        """At most `limit` messages of one tenant handled at once (in this process with
        memory storage, across all processes with Redis); a request over it is refused at
        once rather than queued behind a slow model."""
        try:
            holder = await self._slots.take(tenant_id, limit)
        except Exception as exc:
            raise LimitsUnavailableError.wrapping(exc) from exc
        if holder is None:
            raise RateLimitedError(
                f"this tenant already has {limit} messages in progress (the limit); "
                "retry in a moment",
                retry_after=1,
                code="tenant_busy",
            )
        keeper = self._slots.keep(tenant_id, holder)  # renews a Redis lease during long turns
        try:
            yield
        finally:
            if keeper is not None:
                keeper.cancel()
            # Shielded: a cancelled request (client gone) still gives its slot back.
            await asyncio.shield(self._give_back(tenant_id, holder))

    async def _give_back(self, tenant_id: str, holder: str) -> None:
        try:
            await self._slots.give_back(tenant_id, holder)
        except Exception as exc:  # the lease frees the slot in Redis a little later
            log.warning("could not give a tenant slot back: %s", type(exc).__name__)

    async def close(self) -> None:
        """Close a Redis connection pool (memory storage has nothing to close)."""
        bridge = getattr(self._storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
        await self._slots.close()

    async def reset(self) -> None:
        """Forget every counter (tests; an operator lifting a block)."""
        await self._limiter.storage.reset()
