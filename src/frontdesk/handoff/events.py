"""Live updates for the console: a publish/subscribe hub, per tenant.

The console's server-sent events stream subscribes here; hand-off actions and new messages
publish after their transaction commits. `EventHub` reaches the subscribers of this process
only. `RedisEventHub` goes through Redis pub/sub, so a console page connected to one process
sees what happens on every process that shares the Redis (`serve --workers N`, replicas): it
is used when `limits.storage_url` is Redis, the store the processes already share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

Event = dict[str, Any]
CHANNEL_PREFIX = "frontdesk:events:"


class EventHub:
    def __init__(self, *, queue_size: int = 100) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}
        self._queue_size = queue_size

    def publish(self, tenant_id: str, event: Event) -> None:
        self._deliver(tenant_id, event)

    def _deliver(self, tenant_id: str, event: Event) -> None:
        for queue in list(self._subscribers.get(tenant_id, ())):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled client misses events
                queue.put_nowait(event)

    def subscribers(self, tenant_id: str) -> int:
        return len(self._subscribers.get(tenant_id, ()))

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(tenant_id, set()).add(queue)
        try:
            await self._subscribed()
            yield queue
        finally:
            self._subscribers[tenant_id].discard(queue)
            if not self._subscribers[tenant_id]:
                del self._subscribers[tenant_id]

    async def _subscribed(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisEventHub(EventHub):
    """Events go out through Redis (one channel per tenant) and come back, to this process's
    subscribers too, through one pattern subscription per process. Published events keep
    their order: one sender sends them one after another. If Redis is away, events are lost
    (the console's periodic refresh still shows the change) and the log says so once."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        queue_size: int = 100,
        client: Redis | None = None,
    ) -> None:
        super().__init__(queue_size=queue_size)
        # The installation's channels (`namespace`): another installation publishing to the
        # same Redis, with the same tenant ids (a copy of the database), is not heard.
        self.prefix = f"{CHANNEL_PREFIX}{namespace}:" if namespace else CHANNEL_PREFIX
        if client is None:
            from redis.asyncio import Redis

            client = Redis.from_url(url, socket_connect_timeout=2.0)
        self._redis = client
        self._outgoing: asyncio.Queue[tuple[str, str]] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._failing = False

    def publish(self, tenant_id: str, event: Event) -> None:
        if self._outgoing is None:
            self._outgoing = asyncio.Queue(1000)
            self._sender = asyncio.create_task(self._send())
        payload = json.dumps(event, default=str, separators=(",", ":"))
        try:
            self._outgoing.put_nowait((self.prefix + tenant_id, payload))
        except asyncio.QueueFull:  # Redis too slow or away: the console refresh catches up
            self._state(False, "the outgoing queue is full")

    async def _send(self) -> None:
        assert self._outgoing is not None
        while True:
            channel, payload = await self._outgoing.get()
            try:
                await self._redis.publish(channel, payload)
                self._state(True)
            except Exception as exc:
                self._state(False, f"{type(exc).__name__}: {exc}")

    def _state(self, ok: bool, why: str = "") -> None:
        """One log line when live updates stop reaching Redis and one when they are back."""
        if ok and self._failing:
            log.info("console live updates reach Redis again")
        elif not ok and not self._failing:
            log.warning("console live updates are not reaching Redis (%s); pages refresh "
                        "on their heartbeat instead", why)  # fmt: skip
        self._failing = not ok

    async def _subscribed(self) -> None:
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.create_task(self._listen())
        # What is published from now on is seen (or, with Redis away, not for long).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout=2.0)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self._listening.set()
                if self._failing:
                    self._state(True)
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    tenant_id = channel.removeprefix(self.prefix)
                    if tenant_id in self._subscribers:
                        self._deliver(tenant_id, json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._state(False, f"{type(exc).__name__}: {exc}")
                self._listening.clear()
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        for task in (self._sender, self._listener):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._sender, self._listener) if t is not None), return_exceptions=True
        )
        await self._redis.aclose()


def event_hub(limits_storage_url: str, namespace: str = "") -> EventHub:
    """Redis pub/sub when the limits are in Redis (several processes share it), on the
    installation's `namespace` of channels, else this process's own hub."""
    url = limits_storage_url.removeprefix("async+")
    scheme = url.split("://", 1)[0]
    if scheme in {"redis", "rediss", "redis+unix"}:
        return RedisEventHub(url.replace("redis+unix://", "unix://", 1), namespace=namespace)
    return EventHub()
