"""Idempotency keys are scoped: a key is the caller's own (per API key or signed-in user) and
bound to the request it came with (route, conversation, body). The same key with another
request is 422 `idempotency_key_reused`, never a replay of another request's answer and never
a 500; channels' own message ids (e-mail Message-ID, Slack event id...) live in a namespace no
`Idempotency-Key` header can write, so nobody can pre-claim a real message. SQLite and
PostgreSQL (the `client` fixture): the keys' uniqueness is the database's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.config.channel_settings import ChannelSettings, DeliverySettings, SlackSettings
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import all_messages, get_conversation
from frontdesk.storage.deliveries import DeliveryKey
from tests.api.channel_fakes import ChannelClient, FakeApi, channel_client, fake_api
from tests.api.test_email_channel import mail
from tests.api.test_slack_channel import SECRET, TOKEN, URL, message, signed

__all__ = ["fake_api"]  # the fixture, imported for the Slack test below

REUSED = "idempotency_key_reused"


async def _bearer(runtime: Runtime, scope: Scope) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=scope)).token
    return {"Authorization": f"Bearer {token}"}


async def _customer_texts(runtime: Runtime, conversation_id: str) -> list[str]:
    async with runtime.db.session(runtime.tenant.id) as session:
        return [
            m.text for m in await all_messages(session, conversation_id) if m.role == "customer"
        ]


async def test_a_key_replays_only_its_own_request(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """key x endpoint x conversation x principal: only the same principal, route, conversation
    and body get the first answer back; every other combination is refused or is its own."""
    service, other_service = (
        await _bearer(runtime, Scope.SERVICE),
        await _bearer(runtime, Scope.SERVICE),
    )
    one, two = [(await client.post("/v1/conversations", headers=service)).json()["id"]
                for _ in range(2)]  # fmt: skip
    keyed = {**service, "Idempotency-Key": "evt-1"}
    body = {"text": "Where is my parcel KP-20481736?"}
    first = await client.post(f"/v1/conversations/{one}/messages", json=body, headers=keyed)
    assert first.status_code == 200, first.text
    again = await client.post(f"/v1/conversations/{one}/messages", json=body, headers=keyed)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()

    refused = [
        # another conversation (or one that does not exist), same body
        await client.post(f"/v1/conversations/{two}/messages", json=body, headers=keyed),
        await client.post(
            f"/v1/conversations/{uuid.uuid4().hex}/messages", json=body, headers=keyed
        ),
        # same conversation, another message
        await client.post(
            f"/v1/conversations/{one}/messages", json={"text": "hello"}, headers=keyed
        ),
        # another route (it was a 500 with a traceback)
        await client.post(
            "/v1/chat/completions",
            headers=keyed,
            json={"messages": [{"role": "user", "content": body["text"]}], "conversation_id": one},
        ),
    ]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == REUSED
        assert first.json()["turn_id"] not in response.text
        assert "Idempotent-Replayed" not in response.headers
    assert await _customer_texts(runtime, one) == [body["text"]]  # none of them ran a turn
    assert await _customer_texts(runtime, two) == []

    # Another caller's "evt-1" is its own delivery: answered, not replayed.
    theirs = await client.post(f"/v1/conversations/{one}/messages", json=body,
                               headers={**other_service, "Idempotency-Key": "evt-1"})  # fmt: skip
    assert theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["turn_id"] != first.json()["turn_id"]


async def test_a_visitor_cannot_get_another_visitors_answer_with_their_key(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The finding: visitor 2 sent visitor 1's Idempotency-Key to another conversation and got
    visitor 1's answer and conversation id, with `Idempotent-Replayed: true`."""
    widget = await _bearer(runtime, Scope.WIDGET)  # public: both visitors have it
    started = [(await client.post("/v1/conversations", headers=widget)).json() for _ in range(2)]
    (mine, my_headers), (theirs, their_headers) = [
        (s["id"], {**widget, "X-Conversation-Token": s["conversation_token"]}) for s in started
    ]
    body = {"text": "I want a refund for order KP-20481736"}
    first = await client.post(f"/v1/conversations/{mine}/messages", json=body,
                              headers={**my_headers, "Idempotency-Key": "k1"})  # fmt: skip
    assert first.status_code == 200, first.text
    for conversation, headers, status, code in [
        (theirs, their_headers, 422, REUSED),  # their own conversation
        (uuid.uuid4().hex, their_headers, 403, "conversation_token_invalid"),  # a made-up id
        (mine, their_headers, 403, "conversation_token_invalid"),  # visitor 1's own
    ]:
        response = await client.post(f"/v1/conversations/{conversation}/messages", json=body,
                                     headers={**headers, "Idempotency-Key": "k1"})  # fmt: skip
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        if conversation != mine:  # (the id it was asked about is named in the refusal)
            assert mine not in response.text
        assert first.json()["turn_id"] not in response.text
        assert first.json()["answer"] not in response.text


async def test_channel_message_ids_cannot_be_pre_claimed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """An API caller who sends `Idempotency-Key: email:<Message-ID>` first does not turn the
    real mail into a 500 (nor into a replay of its own answer), nor pull the reply to that mail
    into its own conversation."""
    service = await _bearer(runtime, Scope.SERVICE)
    decoy = (await client.post("/v1/conversations", headers=service)).json()["id"]
    for message_id in ("<m1@example.com>", "<earlier@example.com>"):
        pre_claim = {**service, "Idempotency-Key": f"email:{message_id}"}
        claimed = await client.post(f"/v1/conversations/{decoy}/messages", json={"text": "hi"},
                                    headers=pre_claim)  # fmt: skip
        assert claimed.status_code == 200

    gateway = {**service, "Content-Type": "message/rfc822"}
    real = mail("I want a refund for order KP-20481736.", message_id="<m1@example.com>")
    answered = await client.post("/v1/channels/email", content=real, headers=gateway)
    assert answered.status_code == 200, answered.text
    assert "Idempotent-Replayed" not in answered.headers
    assert answered.json()["conversation_id"] != decoy
    again = await client.post("/v1/channels/email", content=real, headers=gateway)
    assert again.headers.get("Idempotent-Replayed") == "true"  # the gateway's own retry
    assert again.json() == answered.json()

    # The same Message-ID from another sender is another mail: refused, never answered with
    # the first sender's reply.
    forged = real.replace(b"Dana@Example.com", b"eve@example.org")
    refused = await client.post("/v1/channels/email", content=forged, headers=gateway)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == REUSED
    assert answered.json()["reply"]["turn_id"] not in refused.text

    # A reply to a mail whose id an API caller had claimed is not threaded into its conversation.
    reply = mail("Any news?", message_id="<m2@example.com>", in_reply_to="<earlier@example.com>")
    threaded = await client.post("/v1/channels/email", content=reply, headers=gateway)
    assert threaded.status_code == 200
    assert threaded.json()["conversation_id"] != decoy
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await get_conversation(session, threaded.json()["conversation_id"])
    assert conversation is not None
    assert conversation.channel == "email"


async def test_a_claim_for_another_request_is_never_taken_over(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Even once abandoned (its process died), a claim is taken over by the same request
    only: another request with the key is told the key is used."""
    db, tenant = runtime.db, runtime.tenant.id
    held = DeliveryKey("key:a", "k", request="first")
    claimed = deliveries.Claim
    assert isinstance(await deliveries.claim(db, tenant, held), claimed)
    other = await deliveries.claim(db, tenant, DeliveryKey("key:a", "k", request="second"),
                                   stale_after_s=0)  # fmt: skip
    assert not isinstance(other, claimed)
    assert other.request_hash == "first"
    assert isinstance(
        await deliveries.claim(db, tenant, DeliveryKey("key:b", "k", request="second")), claimed
    )
    assert isinstance(await deliveries.claim(db, tenant, DeliveryKey(deliveries.CHANNEL, "k")),
                      claimed)  # fmt: skip
    assert isinstance(await deliveries.claim(db, tenant, held, stale_after_s=0), claimed)


@pytest.fixture
async def slack(runtime: Runtime, fake_api: FakeApi) -> AsyncIterator[ChannelClient]:
    runtime.settings.channels = ChannelSettings(
        slack=SlackSettings(signing_secret=SECRET, bot_token=TOKEN, api_base_url=fake_api.url),
        delivery=DeliverySettings(attempts=1, backoff_s=0.0),
    )
    async for client in channel_client(runtime):
        yield client


async def test_a_slack_event_id_cannot_be_pre_claimed(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    """It was silently dropped when an API caller had sent its id as an Idempotency-Key."""
    service = await _bearer(slack.runtime, Scope.SERVICE)
    decoy = (await slack.http.post("/v1/conversations", headers=service)).json()["id"]
    pre_claim = {**service, "Idempotency-Key": "slack:Ev1"}
    claimed = await slack.http.post(f"/v1/conversations/{decoy}/messages", json={"text": "hi"},
                                    headers=pre_claim)  # fmt: skip
    assert claimed.status_code == 200
    event = message("Where is my parcel KP-20481736?", event_id="Ev1", ts="1700000000.000100")
    assert (await slack.http.post(URL, **signed(event))).status_code == 200
    await slack.settle()
    assert len(fake_api.delivered) == 1  # answered in the thread
    assert (await slack.http.post(URL, **signed(event, retry=1))).status_code == 200
    await slack.settle()
    assert len(fake_api.delivered) == 1  # Slack's retry is answered once
