"""Outbound ticket events: signed webhooks and the help-desk mirror, retried with backoff.

Events are written to `webhook_deliveries` in the same transaction as the ticket change
(an outbox), then delivered by the in-process job runner. A failed attempt is retried with
exponential backoff; after the last attempt the delivery is `dead` and listed for admins,
who can send it again. Pending deliveries survive a restart (`resume`).

Signature: `X-Frontdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
the same scheme Stripe uses, so receivers can reject replays by the timestamp.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.config.handoff_settings import HandoffSettings, WebhookEndpoint
from frontdesk.errors import ConflictError, NotFoundError
from frontdesk.jobs import JobRunner
from frontdesk.outbound import AddressPolicy, AddressRefused, configured_hosts, guarded_client
from frontdesk.storage.db import Database
from frontdesk.storage.support_models import WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Frontdesk-Signature"
MIRROR_PREFIX = "mirror:"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: int, tolerance_s: int = 300) -> bool:
    """For receivers (and tests): the signature matches and is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mirror(Protocol):
    """An external help desk that mirrors our tickets (see `zendesk.ZendeskMirror`)."""

    name: str

    async def apply(self, tenant_id: str, event: dict[str, Any]) -> str | None:
        """Apply one ticket event; return the external ticket id when it is new."""
        ...


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        settings: HandoffSettings,
        *,
        client: httpx.AsyncClient | None = None,
        runner: JobRunner | None = None,
        mirror: Mirror | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_external_id: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.client = client or guarded_client(
            AddressPolicy(configured_hosts(e.url for e in settings.webhooks)),
            timeout=settings.timeout_s,
        )
        self.runner = runner or JobRunner(db, concurrency=2)
        self.mirror = mirror
        self.clock = clock
        self.sleep = sleep
        self.on_external_id = on_external_id

    # -- the outbox -------------------------------------------------------------------------

    def targets(self, event_type: str) -> list[str]:
        urls = [e.url for e in self.settings.webhooks if event_type in e.events]
        if self.mirror is not None:
            urls.append(MIRROR_PREFIX + self.mirror.name)
        return urls

    async def enqueue(self, session: AsyncSession, event: dict[str, Any]) -> list[str]:
        """Add one delivery per subscribed endpoint, in the caller's transaction."""
        ids = []
        for target in self.targets(event["type"]):
            delivery = WebhookDelivery(endpoint=target, event=event["type"], payload=event,
                                       status="pending", next_attempt_at=self.clock())  # fmt: skip
            session.add(delivery)
            await session.flush()
            ids.append(delivery.id)
        return ids

    async def kick(self, tenant_id: str, delivery_ids: list[str]) -> list[str]:
        """Deliver in the background, as jobs. Returns the job ids."""
        jobs = []
        for delivery_id in delivery_ids:
            jobs.append(
                await self.runner.submit(
                    tenant_id,
                    "webhook_delivery",
                    {"delivery_id": delivery_id},
                    lambda d=delivery_id: self.deliver(tenant_id, d),  # type: ignore[misc]
                )
            )
        return jobs

    async def resume(self) -> int:
        """Restart deliveries a previous process left pending."""
        async with self.db.unscoped_session() as session:
            rows = list(
                await session.execute(
                    select(WebhookDelivery.tenant_id, WebhookDelivery.id).where(
                        WebhookDelivery.status == "pending"
                    )
                )
            )
        for tenant_id, delivery_id in rows:
            await self.kick(tenant_id, [delivery_id])
        return len(rows)

    # -- delivering ---------------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        return float(min(self.settings.backoff_s * 2 ** (attempt - 1), self.settings.backoff_max_s))

    async def deliver(self, tenant_id: str, delivery_id: str) -> dict[str, Any]:
        """Attempt a delivery until it succeeds or runs out of attempts."""
        while True:
            async with self.db.session(tenant_id) as session:
                delivery = await session.get(WebhookDelivery, delivery_id)
                if delivery is None or delivery.status != "pending":
                    return {"status": delivery.status if delivery else "missing"}
                wait = 0.0
                if delivery.next_attempt_at is not None:
                    due = delivery.next_attempt_at
                    if due.tzinfo is None:
                        due = due.replace(tzinfo=UTC)
                    wait = (due - self.clock()).total_seconds()
            if wait > 0:
                await self.sleep(wait)
            outcome = await self._attempt(tenant_id, delivery)
            async with self.db.session(tenant_id) as session:
                row = await session.get(WebhookDelivery, delivery_id)
                assert row is not None
                row.attempts += 1
                now = self.clock()
                if outcome is None:
                    row.status, row.delivered_at, row.last_error = "delivered", now, None
                else:
                    row.last_error = str(outcome)[:2000]
                    if outcome.permanent or row.attempts >= self.settings.delivery_attempts:
                        row.status = "dead"
                        log.warning(
                            "webhook %s to %s is dead: %s", row.event, row.endpoint, outcome
                        )
                    else:
                        row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
                await session.commit()
                if row.status != "pending":
                    return {"status": row.status, "attempts": row.attempts}

    async def _attempt(self, tenant_id: str, delivery: WebhookDelivery) -> DeliveryFailed | None:
        try:
            if delivery.endpoint.startswith(MIRROR_PREFIX):
                await self._mirror(tenant_id, delivery)
            else:
                await self._post(delivery)
        except DeliveryFailed as exc:
            return exc
        except AddressRefused as exc:  # the address policy said no: a retry will not change it
            return DeliveryFailed(str(exc), permanent=True)
        except (httpx.HTTPError, OSError) as exc:
            return DeliveryFailed(f"{type(exc).__name__}: {exc}")
        return None

    def _endpoint(self, url: str) -> WebhookEndpoint | None:
        return next((e for e in self.settings.webhooks if e.url == url), None)

    async def _post(self, delivery: WebhookDelivery) -> None:
        endpoint = self._endpoint(delivery.endpoint)
        if endpoint is None:
            raise DeliveryFailed("the endpoint is no longer configured", permanent=True)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "frontdesk-webhooks",
            "X-Frontdesk-Event": delivery.event,
            "X-Frontdesk-Delivery": delivery.id,
        }
        secret = endpoint.secret_value()
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body, int(self.clock().timestamp()))
        response = await self.client.post(endpoint.url, content=body, headers=headers)
        if response.status_code >= 300:
            raise DeliveryFailed(
                f"HTTP {response.status_code}: {response.text[:200]}",
                permanent=response.status_code == 410,  # the receiver says: stop sending
            )

    async def _mirror(self, tenant_id: str, delivery: WebhookDelivery) -> None:
        if self.mirror is None:
            raise DeliveryFailed("no help-desk mirror is configured", permanent=True)
        external = await self.mirror.apply(tenant_id, delivery.payload)
        if external and self.on_external_id is not None:
            await self.on_external_id(tenant_id, delivery.payload["ticket"]["id"], external)

    # -- admin --------------------------------------------------------------------------------

    async def list(self, tenant_id: str, *, status: str | None = None) -> list[WebhookDelivery]:
        async with self.db.session(tenant_id) as session:
            query = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc())
            if status:
                query = query.where(WebhookDelivery.status == status)
            return list(await session.scalars(query.limit(200)))

    async def redeliver(self, tenant_id: str, delivery_id: str) -> str:
        """Send a dead delivery again (admin), with a fresh set of attempts."""
        async with self.db.session(tenant_id) as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                raise NotFoundError(f"delivery {delivery_id} not found")
            if delivery.status != "dead":
                raise ConflictError(f"delivery {delivery_id[:8]} is {delivery.status}, not dead")
            delivery.status, delivery.attempts = "pending", 0
            delivery.next_attempt_at = self.clock()
            await session.commit()
        jobs = await self.kick(tenant_id, [delivery_id])
        return jobs[0]

    async def drain(self) -> None:
        await self.runner.drain()

    async def close(self, *, grace_s: float = 5.0) -> None:
        """Shutdown: let deliveries in flight finish briefly, then stop; the ones still
        pending are resumed by the next process."""
        try:
            await asyncio.wait_for(asyncio.shield(self.runner.drain()), timeout=grace_s)
        except TimeoutError:
            await self.runner.cancel()
