"""A message delivered twice with the same Idempotency-Key is answered once."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import Scope, create_key, verify_key
from frontdesk.storage.conversations import all_messages
from frontdesk.storage.deliveries import DeliveryKey
from frontdesk.storage.privacy import delete_conversations
from frontdesk.storage.support_models import MessageDelivery
from frontdesk.storage.tenants import ensure_tenant


async def _headers(runtime: Runtime, tenant_id: str | None = None) -> dict[str, str]:
    issued = await create_key(
        runtime.db, tenant_id or runtime.tenant.id, name="t", scope=Scope.SERVICE
    )
    return {"Authorization": f"Bearer {issued.token}"}


async def _customer_messages(runtime: Runtime, conversation_id: str) -> list[str]:
    async with runtime.db.session(runtime.tenant.id) as session:
        messages = await all_messages(session, conversation_id)
    return [m.text for m in messages if m.role == "customer"]


async def test_a_repeated_delivery_gets_the_first_reply(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await _headers(runtime)
    cid = (await client.post("/v1/conversations", json={}, headers=headers)).json()["id"]
    url = f"/v1/conversations/{cid}/messages"
    body = {"text": "I want a refund for order KP-20481736"}
    first = await client.post(url, json=body, headers={**headers, "Idempotency-Key": "evt-1"})
    again = await client.post(url, json=body, headers={**headers, "Idempotency-Key": "evt-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _customer_messages(runtime, cid) == [body["text"]]

    other = await client.post(url, json=body, headers={**headers, "Idempotency-Key": "evt-2"})
    assert other.json()["turn_id"] != first.json()["turn_id"]
    assert len(await _customer_messages(runtime, cid)) == 2

    # Keys belong to a tenant: another tenant's "evt-1" is its own delivery.
    b = await ensure_tenant(runtime.db, "tenant-b")
    b_headers = await _headers(runtime, b.id)
    b_cid = (await client.post("/v1/conversations", json={}, headers=b_headers)).json()["id"]
    theirs = await client.post(f"/v1/conversations/{b_cid}/messages", json=body,
                               headers={**b_headers, "Idempotency-Key": "evt-1"})  # fmt: skip
    assert theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["conversation_id"] == b_cid


async def test_a_refused_delivery_gives_its_key_back_and_errors_are_clear(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await _headers(runtime)
    cid = (await client.post("/v1/conversations", json={}, headers=headers)).json()["id"]
    url = f"/v1/conversations/{cid}/messages"
    keyed = {**headers, "Idempotency-Key": "evt-9"}
    too_long = await client.post(url, json={"text": "x" * 5000}, headers=keyed)
    assert too_long.status_code == 413
    retried = await client.post(url, json={"text": "where is my parcel?"}, headers=keyed)
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers

    streamed = await client.post(url + "?stream=true", json={"text": "hi"}, headers=keyed)
    assert streamed.status_code == 422
    assert streamed.json()["error"]["code"] == "idempotency_with_stream"
    long_key = await client.post(url, json={"text": "hi"},
                                 headers={**headers, "Idempotency-Key": "k" * 201})  # fmt: skip
    assert long_key.status_code == 422
    assert long_key.json()["error"]["code"] == "invalid_idempotency_key"

    # While the first delivery is still being answered, a repeat is told to retry.
    caller = await verify_key(runtime.db, headers["Authorization"].removeprefix("Bearer "))
    assert caller is not None  # keys are the caller's: claimed in its namespace
    assert isinstance(await deliveries.claim(runtime.db, runtime.tenant.id,
                                             DeliveryKey(caller.actor, "evt-busy")),
                      deliveries.Claim)  # fmt: skip
    busy = await client.post(url, json={"text": "hi"},
                             headers={**headers, "Idempotency-Key": "evt-busy"})  # fmt: skip
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "delivery_in_progress"
    assert await _customer_messages(runtime, cid) == ["where is my parcel?"]


async def test_chat_completions_are_idempotent_too(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = {**await _headers(runtime), "Idempotency-Key": "chat-1"}
    body = {"messages": [{"role": "user", "content": "Where is my parcel KP-20481736?"}]}
    first = await client.post("/v1/chat/completions", json=body, headers=headers)
    again = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    cid = first.json()["conversation_id"]
    assert len(await _customer_messages(runtime, cid)) == 1


async def test_claims_are_decided_by_the_database_and_erased_with_conversations(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    db, tenant, k = runtime.db, runtime.tenant.id, DeliveryKey("key:x", "k")
    claim = await deliveries.claim(db, tenant, k)
    assert isinstance(claim, deliveries.Claim)
    held = await deliveries.claim(db, tenant, k)
    assert isinstance(held, MessageDelivery)
    assert held.status == deliveries.PROCESSING
    await deliveries.give_back(db, tenant, claim)
    assert isinstance(await deliveries.claim(db, tenant, k), deliveries.Claim)  # free again
    # A claim whose process died is taken over once it is stale, by one claimant only.
    assert isinstance(await deliveries.claim(db, tenant, k, stale_after_s=3600), MessageDelivery)
    assert isinstance(await deliveries.claim(db, tenant, k, stale_after_s=0), deliveries.Claim)
    assert isinstance(await deliveries.claim(db, tenant, k, stale_after_s=3600), MessageDelivery)

    headers = {**await _headers(runtime), "Idempotency-Key": "evt-erase"}
    cid = (await client.post("/v1/conversations", json={}, headers=headers)).json()["id"]
    await client.post(f"/v1/conversations/{cid}/messages", json={"text": "hi"}, headers=headers)
    async with db.session(tenant) as session:
        stored = await session.scalar(
            select(MessageDelivery).where(MessageDelivery.key == "evt-erase")
        )
        assert stored is not None
        assert (stored.status, stored.conversation_id) == (deliveries.DONE, cid)
        await delete_conversations(session, [cid])
        await session.commit()
    async with db.session(tenant) as session:
        gone = await session.scalar(
            select(MessageDelivery).where(MessageDelivery.key == "evt-erase")
        )
    assert gone is None
