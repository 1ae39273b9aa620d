"""Live updates for the console: an in-process publish/subscribe hub, per tenant.

The console's server-sent events stream subscribes here; hand-off actions and new messages
publish after their transaction commits. One process only: with several API replicas the
console still refreshes on its periodic heartbeat, just later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]


class EventHub:
    def __init__(self, *, queue_size: int = 100) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}
        self._queue_size = queue_size

    def publish(self, tenant_id: str, event: Event) -> None:
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
            yield queue
        finally:
            self._subscribers[tenant_id].discard(queue)
