"""Exactly-once delivery when a server process dies (issue 21, point 4), in process: a turn
is recorded together with its delivery (one transaction), so a process that dies between
the two cannot leave a turn whose retry runs a second one; and a claim held by a dead
process is taken over within seconds (a short lease its holder renews while the turn runs),
not minutes. The real-process version (SIGKILL mid-run) is in test_killed_server.py."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from frontdesk.api.delivery import fingerprint
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import Scope, create_key, verify_key
from frontdesk.storage.conversations import all_messages
from frontdesk.storage.deliveries import DeliveryKey
from frontdesk.storage.models import utcnow
from frontdesk.storage.support_models import MessageDelivery


async def _headers(runtime: Runtime) -> dict[str, str]:
    issued = await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)
    return {"Authorization": f"Bearer {issued.token}"}


async def _customer_messages(runtime: Runtime, conversation_id: str) -> list[str]:
    async with runtime.db.session(runtime.tenant.id) as session:
        messages = await all_messages(session, conversation_id)
    return [m.text for m in messages if m.role == "customer"]


async def _age_claim(runtime: Runtime, key: str, seconds: float) -> None:
    """The claim of `key` last renewed `seconds` ago: its process stopped renewing it then."""
    async with runtime.db.session(runtime.tenant.id) as session:
        await session.execute(
            update(MessageDelivery)
            .where(MessageDelivery.key == key)
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        await session.commit()


async def test_a_turn_recorded_before_the_process_died_is_not_run_again(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await _headers(runtime)
    cid = (await client.post("/v1/conversations", json={}, headers=headers)).json()["id"]
    url = f"/v1/conversations/{cid}/messages"
    body = {"text": "I want a refund for order KP-20481736"}
    keyed = {**headers, "Idempotency-Key": "evt-crash"}

    # The process dies right after the turn's transaction committed: nothing after it runs
    # (no completion of the delivery, no give-back).
    async def died(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    monkeypatch.setattr(deliveries, "complete", died)
    monkeypatch.setattr(deliveries, "give_back", nothing)
    with pytest.raises(RuntimeError, match="died"):  # the ASGI client re-raises it
        await client.post(url, json=body, headers=keyed)
    monkeypatch.undo()
    assert await _customer_messages(runtime, cid) == [body["text"]]  # the turn was stored
    await _age_claim(runtime, "evt-crash", 3600)  # long dead, whatever the lease

    retried = await client.post(url, json=body, headers=keyed)
    assert retried.status_code == 200, retried.text
    assert await _customer_messages(runtime, cid) == [body["text"]]  # not a second turn
    again = await client.post(url, json=body, headers=keyed)
    assert again.json() == retried.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    async with runtime.db.session(runtime.tenant.id) as session:
        stored = await session.scalar(
            select(MessageDelivery).where(MessageDelivery.key == "evt-crash")
        )
    assert stored is not None
    assert (stored.status, stored.conversation_id) == (deliveries.DONE, cid)
    assert stored.response["turn_id"] == retried.json()["turn_id"]


async def test_a_dead_process_claim_is_taken_over_in_seconds(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await _headers(runtime)
    caller = await verify_key(runtime.db, headers["Authorization"].removeprefix("Bearer "))
    assert caller is not None
    cid = (await client.post("/v1/conversations", json={}, headers=headers)).json()["id"]
    url = f"/v1/conversations/{cid}/messages"
    keyed = {**headers, "Idempotency-Key": "evt-dead"}
    body = {"text": "where is my parcel?"}
    # A process claimed the key for this very request, then died (nobody renews its lease).
    key = DeliveryKey(caller.actor, "evt-dead", fingerprint("conversations.messages", cid,
                                                            body["text"]))  # fmt: skip
    assert isinstance(await deliveries.claim(runtime.db, runtime.tenant.id, key), deliveries.Claim)

    busy = await client.post(url, json=body, headers=keyed)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "delivery_in_progress"
    wait = int(busy.headers["Retry-After"])
    assert 1 <= wait <= deliveries.LEASE_S  # seconds, not minutes

    await _age_claim(runtime, "evt-dead", deliveries.LEASE_S + 1)
    answered = await client.post(url, json=body, headers=keyed)
    assert answered.status_code == 200, answered.text
    assert await _customer_messages(runtime, cid) == [body["text"]]


async def test_a_live_claim_is_renewed_and_a_lost_one_records_nothing(runtime: Runtime) -> None:
    db, tenant = runtime.db, runtime.tenant.id
    key = DeliveryKey("key:x", "k-lease")
    first = await deliveries.claim(db, tenant, key)
    assert isinstance(first, deliveries.Claim)
    await _age_claim(runtime, "k-lease", deliveries.LEASE_S - 1)
    assert await deliveries.renew(db, tenant, first) is True  # its holder is alive
    held = await deliveries.claim(db, tenant, key)
    assert isinstance(held, MessageDelivery)  # so nobody takes it over
    assert held.status == deliveries.PROCESSING

    await _age_claim(runtime, "k-lease", deliveries.LEASE_S + 1)  # the holder stalled
    second = await deliveries.claim(db, tenant, key)
    assert isinstance(second, deliveries.Claim)
    assert second != first
    # The stalled holder's turn, finishing now, is not recorded: the key is the second's.
    assert await deliveries.renew(db, tenant, first) is False
    async with db.session(tenant) as session:
        assert await deliveries.mark_recorded(session, first, None, {"turn_id": "t1"}) is False
        assert await deliveries.mark_recorded(session, second, None, {"turn_id": "t2"}) is True
        await session.commit()
    held = await deliveries.claim(db, tenant, key)
    assert isinstance(held, MessageDelivery)
    assert held.status == deliveries.RECORDED


async def test_a_claim_not_given_back_in_an_outage_is_taken_over_at_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by bench/load.py's db_loss: a turn failing because the database went away cannot
    give its key back either, and its retries got 409 until the lease lapsed."""
    db, tenant = runtime.db, runtime.tenant.id
    key = DeliveryKey("key:x", "k-outage")
    claim = await deliveries.claim(db, tenant, key)
    assert isinstance(claim, deliveries.Claim)

    def away(_tenant_id: str) -> None:
        raise OperationalError(
            "DELETE", {}, sqlite3.OperationalError("unable to open database file")
        )

    monkeypatch.setattr(db, "session", away)
    await deliveries.give_back(db, tenant, claim)  # noted, not raised: the turn's error stands
    monkeypatch.undo()
    again = await deliveries.claim(db, tenant, key)  # the database is back
    assert isinstance(again, deliveries.Claim)
    assert again.id != claim.id
