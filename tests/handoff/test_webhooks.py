"""Outbound events: HMAC-SHA256 signatures, retries with backoff, dead letters, redelivery,
and the Zendesk-style mirror, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from frontdesk.config.handoff_settings import HandoffSettings, WebhookEndpoint
from frontdesk.errors import ConflictError
from frontdesk.handoff.desk import Desk
from frontdesk.handoff.webhooks import SIGNATURE_HEADER, WebhookDispatcher, sign, verify
from frontdesk.handoff.zendesk import ZendeskMirror
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Ticket
from tests.handoff.fake_server import Seen, serve

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "whsec_test"
AUTH = "Basic " + base64.b64encode(b"agent@kestrel.test/token:secret").decode()


class Clock:
    """Time that moves only when the dispatcher sleeps, so backoff is observable."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += timedelta(seconds=seconds)


def _dispatcher(db: Database, url: str, clock: Clock, **settings: Any) -> WebhookDispatcher:
    config = HandoffSettings(
        webhooks=[WebhookEndpoint(url=url, secret=SECRET)],  # type: ignore[arg-type]
        backoff_s=2, backoff_max_s=10, **settings,
    )  # fmt: skip
    return WebhookDispatcher(db, config, client=httpx.AsyncClient(), clock=clock,
                             sleep=clock.sleep)  # fmt: skip


async def _hand_off(db: Database, tenant_id: str, desk: Desk) -> str:
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="web")
        ticket = await desk.hand_off(session, conversation, team="support", priority="high",
                                     subject="Lost parcel KP-20481739",
                                     summary={"intent": "lost_parcel", "transcript": []},
                                     now=NOW, sla_minutes=60)  # fmt: skip
        await session.commit()
        await desk.flush(tenant_id, session)
        return ticket.id


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"type":"ticket.created"}'
    header = sign(SECRET, body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, body, header, now=1_700_000_100)
    assert not verify(SECRET, body + b" ", header, now=1_700_000_100)  # body changed
    assert not verify("other", body, header, now=1_700_000_100)  # wrong secret
    assert not verify(SECRET, body, header, now=1_700_001_000)  # replayed too late
    assert not verify(SECRET, body, "garbage", now=1_700_000_000)


async def test_signed_delivery_of_ticket_events(db: Database, tenant_id: str) -> None:
    clock = Clock()
    with serve(lambda seen: (204, None)) as server:
        dispatcher = _dispatcher(db, server.url + "/hooks", clock)
        desk = Desk(db, dispatcher=dispatcher, clock=clock)
        ticket_id = await _hand_off(db, tenant_id, desk)
        await desk.take_over(tenant_id, ticket_id, agent="ana")
        await desk.close(tenant_id, ticket_id, agent="ana")
        await dispatcher.drain()
    types = [r.headers["X-Frontdesk-Event"] for r in server.requests]
    assert sorted(types) == ["ticket.closed", "ticket.created", "ticket.updated"]
    for seen in server.requests:
        assert seen.path == "/hooks"
        header = seen.headers[SIGNATURE_HEADER]
        assert verify(SECRET, seen.body, header, now=int(NOW.timestamp()))
        payload = seen.json()
        assert payload["ticket"]["id"] == ticket_id
        assert payload["ticket"]["summary"]["intent"] == "lost_parcel"
    deliveries = await dispatcher.list(tenant_id)
    assert {d.status for d in deliveries} == {"delivered"}
    assert all(d.attempts == 1 for d in deliveries)


async def test_retries_with_backoff_then_succeeds(db: Database, tenant_id: str) -> None:
    clock = Clock()
    answers = iter([500, 503, 200])
    with serve(lambda seen: (next(answers), None)) as server:
        dispatcher = _dispatcher(db, server.url, clock)
        await _hand_off(db, tenant_id, Desk(db, dispatcher=dispatcher, clock=clock))
        await dispatcher.drain()
    assert len(server.requests) == 3
    assert clock.sleeps == [2.0, 4.0]  # exponential backoff between attempts
    [delivery] = await dispatcher.list(tenant_id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)


async def test_dead_letter_after_the_last_attempt_and_redelivery(
    db: Database, tenant_id: str
) -> None:
    clock = Clock()
    healthy = False

    def handler(seen: Seen) -> tuple[int, dict[str, Any] | None]:
        return (200, None) if healthy else (500, {"error": "down"})

    with serve(handler) as server:
        dispatcher = _dispatcher(db, server.url, clock, delivery_attempts=4)
        await _hand_off(db, tenant_id, Desk(db, dispatcher=dispatcher, clock=clock))
        await dispatcher.drain()
        assert clock.sleeps == [2.0, 4.0, 8.0]
        [dead] = await dispatcher.list(tenant_id, status="dead")
        assert dead.attempts == 4
        assert "HTTP 500" in (dead.last_error or "")
        healthy = True
        await dispatcher.redeliver(tenant_id, dead.id)
        await dispatcher.drain()
        with pytest.raises(ConflictError, match="delivered, not dead"):
            await dispatcher.redeliver(tenant_id, dead.id)
    [delivery] = await dispatcher.list(tenant_id)
    assert delivery.status == "delivered"
    assert len(server.requests) == 5


async def test_gone_is_permanent_and_unreachable_is_retried(db: Database, tenant_id: str) -> None:
    clock = Clock()
    with serve(lambda seen: (410, None)) as server:
        dispatcher = _dispatcher(db, server.url, clock)
        await _hand_off(db, tenant_id, Desk(db, dispatcher=dispatcher, clock=clock))
        await dispatcher.drain()
    [dead] = await dispatcher.list(tenant_id)
    assert (dead.status, dead.attempts) == ("dead", 1)

    closed_port = server.url  # the server is gone now: connection refused
    dispatcher = _dispatcher(db, closed_port, clock, delivery_attempts=2)
    await _hand_off(db, tenant_id, Desk(db, dispatcher=dispatcher, clock=clock))
    await dispatcher.drain()
    latest = (await dispatcher.list(tenant_id, status="dead"))[0]
    assert latest.attempts == 2
    assert "ConnectError" in (latest.last_error or "")


async def test_pending_deliveries_resume_after_a_restart(db: Database, tenant_id: str) -> None:
    clock = Clock()
    with serve(lambda seen: (200, None)) as server:
        first = _dispatcher(db, server.url, clock)
        desk = Desk(db, dispatcher=first, clock=clock)
        async with db.session(tenant_id) as session:
            conversation = await create_conversation(session, channel="web")
            await desk.hand_off(session, conversation, team="support", priority="low",
                                subject="s", summary={}, now=NOW, sla_minutes=5)  # fmt: skip
            await session.commit()  # crash here: committed, never kicked
        second = _dispatcher(db, server.url, clock)
        assert await second.resume() == 1
        await second.drain()
    assert len(server.requests) == 1


async def test_zendesk_mirror_creates_comments_and_solves(db: Database, tenant_id: str) -> None:
    clock = Clock()
    tickets: dict[int, dict[str, Any]] = {}

    def zendesk(seen: Seen) -> tuple[int, dict[str, Any] | None]:
        if (
            seen.headers.get("Authorization")
            != "Basic YWdlbnRAa2VzdHJlbC50ZXN0L3Rva2VuOnNlY3JldA=="
        ):
            return 401, {"error": "Couldn't authenticate you"}
        if seen.method == "POST" and seen.path == "/api/v2/tickets.json":
            ticket = seen.json()["ticket"]
            number = 1000 + len(tickets)
            tickets[number] = {
                **ticket,
                "id": number,
                "status": "new",
                "comments": [ticket["comment"]],
            }
            return 201, {"ticket": tickets[number]}
        if seen.method == "PUT" and seen.path.startswith("/api/v2/tickets/"):
            number = int(seen.path.split("/")[-1].removesuffix(".json"))
            update = seen.json()["ticket"]
            if "comment" in update:
                tickets[number]["comments"].append(update["comment"])
            tickets[number]["status"] = update.get("status", tickets[number]["status"])
            return 200, {"ticket": tickets[number]}
        if seen.method == "GET":
            found = [t for t in tickets.values() if t["external_id"] in seen.path]
            return 200, {"tickets": found}
        return 404, None

    with serve(zendesk) as server:
        mirror = ZendeskMirror(server.url, "agent@kestrel.test", "secret",
                               client=httpx.AsyncClient())  # fmt: skip
        config = HandoffSettings(backoff_s=1)
        desk = Desk(db, clock=clock)
        dispatcher = WebhookDispatcher(db, config, mirror=mirror, clock=clock, sleep=clock.sleep,
                                       on_external_id=desk.set_external_id)  # fmt: skip
        desk.dispatcher = dispatcher
        ticket_id = await _hand_off(db, tenant_id, desk)
        await dispatcher.drain()
        await desk.take_over(tenant_id, ticket_id, agent="ana")
        await desk.reply(tenant_id, ticket_id, agent="ana", text="We've found your parcel.")
        await desk.close(tenant_id, ticket_id, agent="ana")
        await dispatcher.drain()

        bad = ZendeskMirror(server.url, "agent@kestrel.test", "wrong", client=httpx.AsyncClient())
        bad_dispatcher = WebhookDispatcher(db, config, mirror=bad, clock=clock, sleep=clock.sleep)
        await _hand_off(db, tenant_id, Desk(db, dispatcher=bad_dispatcher, clock=clock))
        await bad_dispatcher.drain()

    [mirrored] = tickets.values()
    assert mirrored["external_id"] == ticket_id
    assert mirrored["priority"] == "high"
    assert mirrored["tags"] == ["frontdesk", "support"]
    assert "Intent: lost_parcel" in mirrored["comments"][0]["body"]
    assert [c["body"] for c in mirrored["comments"][1:]] == [
        "Taken over by ana",
        "We've found your parcel.",
    ]
    assert mirrored["comments"][2]["public"] is True
    assert mirrored["status"] == "solved"
    async with db.session(tenant_id) as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket is not None
    assert ticket.external_id == "1000"
    dead = await bad_dispatcher.list(tenant_id, status="dead")
    assert dead
    assert "HTTP 401" in (dead[0].last_error or "")
    assert json.loads(server.requests[0].body)["ticket"]["subject"] == "Lost parcel KP-20481739"
