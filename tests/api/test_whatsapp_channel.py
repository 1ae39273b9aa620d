"""WhatsApp intake over real HTTP: notifications signed like Meta signs them, answers sent to
a fake Graph API on a loopback port. SQLite and PostgreSQL (the `runtime` fixture)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as text_sql

from frontdesk.api.limits import RateLimitedError
from frontdesk.api.routes.whatsapp_channel import whatsapp_signature
from frontdesk.config.channel_settings import ChannelSettings, DeliverySettings, WhatsAppSettings
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import all_messages
from frontdesk.storage.models import Conversation, Job
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.tickets import create_ticket
from tests.api.channel_fakes import ChannelClient, FakeApi, channel_client, fake_api
from tests.conftest import require
from tests.speech.samples import DATA, INSTALLED, NOT_INSTALLED, quiet, words

__all__ = ["fake_api"]  # the fixture, imported for the tests below

APP_SECRET = "meta-app-secret-1f2e"
VERIFY = "my-verify-token"
ACCESS = "EAAG-access-token"
NUMBER = "106540352242922"
URL = "/v1/channels/whatsapp/default"
CUSTOMER = "16315551181"


@pytest.fixture
async def whatsapp(runtime: Runtime, fake_api: FakeApi) -> AsyncIterator[ChannelClient]:
    runtime.settings.channels = ChannelSettings(
        whatsapp=WhatsAppSettings(
            app_secret=APP_SECRET,
            verify_token=VERIFY,
            access_token=ACCESS,
            phone_number_id=NUMBER,
            graph_base_url=fake_api.url,
        ),
        delivery=DeliverySettings(attempts=3, backoff_s=0.0),
    )
    async for client in channel_client(runtime):
        yield client


def signed(body: dict[str, Any], *, secret: str = APP_SECRET) -> dict[str, Any]:
    """Request arguments as Meta sends them: the raw body and its HMAC-SHA256."""
    raw = json.dumps(body).encode()
    return {
        "content": raw,
        "headers": {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp_signature(secret, raw),
        },
    }


def notification(
    *messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None, number: str = NUMBER
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": number},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Dana"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text(body: str, *, id: str, sender: str = CUSTOMER) -> dict[str, Any]:
    return {
        "from": sender,
        "id": id,
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": body},
    }


async def _conversations(runtime: Runtime) -> list[Conversation]:
    async with runtime.db.session(runtime.tenant.id) as session:
        rows = await session.scalars(
            select(Conversation)
            .where(Conversation.channel == "whatsapp")
            .order_by(Conversation.created_at)
        )
        return list(rows)


async def _texts(runtime: Runtime, conversation_id: str) -> list[tuple[str, str]]:
    async with runtime.db.session(runtime.tenant.id) as session:
        return [(m.role, m.text) for m in await all_messages(session, conversation_id)]


async def test_the_verification_handshake(whatsapp: ChannelClient, runtime: Runtime) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    response = await whatsapp.http.get(URL, params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"

    wrong = await whatsapp.http.get(URL, params={**params, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_verify_token"
    mode = await whatsapp.http.get(URL, params={**params, "hub.mode": "unsubscribe"})
    assert mode.status_code == 403
    missing = await whatsapp.http.get(URL, params={"hub.challenge": "1"})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "the hub.verify_token parameter is required"
    await ensure_tenant(runtime.db, "acme")
    other = await whatsapp.http.get("/v1/channels/whatsapp/acme", params=params)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "channel_not_configured"


async def test_unsigned_and_forged_notifications_are_refused(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    body = notification(text("refund please", id="wamid.1"))
    good = signed(body)
    missing = await whatsapp.http.post(URL, content=good["content"])
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    forged = await whatsapp.http.post(URL, **signed(body, secret="not-the-app-secret"))
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"
    no_prefix = {
        **good,
        "headers": {"X-Hub-Signature-256": good["headers"]["X-Hub-Signature-256"][7:]},
    }
    assert (await whatsapp.http.post(URL, **no_prefix)).status_code == 401
    await whatsapp.settle()
    assert fake_api.requests == []
    assert await _conversations(whatsapp.runtime) == []


async def test_a_text_is_answered_once_and_the_sender_continues_the_conversation(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    first = notification(text("I want a refund for order KP-20481736", id="wamid.A1"))
    assert (await whatsapp.http.post(URL, **signed(first))).json() == {"ok": True, "messages": 1}
    assert (await whatsapp.http.post(URL, **signed(first))).status_code == 200  # Meta retried
    await whatsapp.settle()
    assert (await whatsapp.http.post(URL, **signed(first))).status_code == 200  # and later
    await whatsapp.settle()

    assert len(fake_api.requests) == 1
    sent = fake_api.requests[0]
    assert sent["path"] == f"{NUMBER}/messages"
    assert sent["auth"] == f"Bearer {ACCESS}"
    payload = sent["json"]
    assert (payload["messaging_product"], payload["to"], payload["type"]) == (
        "whatsapp",
        CUSTOMER,
        "text",
    )
    assert payload["context"] == {"message_id": "wamid.A1"}
    [conversation] = await _conversations(whatsapp.runtime)
    assert conversation.customer_ref == CUSTOMER
    assert await _texts(whatsapp.runtime, conversation.id) == [
        ("customer", "I want a refund for order KP-20481736"),
        ("assistant", payload["text"]["body"]),
    ]

    # The same sender again: the same conversation. Another sender: a conversation of its own.
    await whatsapp.http.post(
        URL, **signed(notification(text("How long will it take?", id="wamid.A2")))
    )
    await whatsapp.http.post(
        URL,
        **signed(notification(text("Where is my parcel?", id="wamid.B1", sender="447700900123"))),
    )
    await whatsapp.settle()
    conversations = await _conversations(whatsapp.runtime)
    assert [c.customer_ref for c in conversations] == [CUSTOMER, "447700900123"]
    assert len(await _texts(whatsapp.runtime, conversations[0].id)) == 4
    # The two senders' replies are posted by separate jobs, in either order.
    assert sorted(r["json"]["to"] for r in fake_api.requests) == sorted(
        [CUSTOMER, CUSTOMER, "447700900123"]
    )
    assert (
        whatsapp.metric("frontdesk_channel_events_total", channel="whatsapp", outcome="duplicate")
        == 2
    )


async def test_status_callbacks_reactions_and_other_numbers_are_ignored(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    statuses = [
        {"id": "wamid.out1", "status": status, "timestamp": "1749416400", "recipient_id": CUSTOMER}
        for status in ("sent", "delivered", "read")
    ]
    reaction = {
        "from": CUSTOMER,
        "id": "wamid.R1",
        "timestamp": "1",
        "type": "reaction",
        "reaction": {"message_id": "wamid.out1", "emoji": "\N{THUMBS UP SIGN}"},
    }
    bodies = [
        notification(statuses=statuses),
        notification(reaction),
        notification(text("for another number", id="wamid.X1"), number="999"),
        {"object": "page", "entry": []},
    ]
    for body in bodies:
        response = await whatsapp.http.post(URL, **signed(body))
        assert response.status_code == 200, response.text
    await whatsapp.settle()
    assert fake_api.requests == []
    assert await _conversations(whatsapp.runtime) == []
    assert (
        whatsapp.metric("frontdesk_channel_events_total", channel="whatsapp", outcome="ignored")
        == 6
    )


async def test_media_gets_one_text_only_reply_and_choices_are_text(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    image = {
        "from": CUSTOMER,
        "id": "wamid.I1",
        "timestamp": "1",
        "type": "image",
        "image": {"mime_type": "image/jpeg", "id": "1479537139650973"},
    }
    await whatsapp.http.post(URL, **signed(notification(image)))
    await whatsapp.http.post(URL, **signed(notification(image)))  # retried
    await whatsapp.settle()
    [notice] = fake_api.requests
    assert "only read text" in notice["json"]["text"]["body"]
    assert await _conversations(whatsapp.runtime) == []  # no turn for an image

    choice = {
        "from": CUSTOMER,
        "id": "wamid.C1",
        "timestamp": "1",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "b1", "title": "Track my parcel"},
        },
    }
    await whatsapp.http.post(URL, **signed(notification(choice)))
    await whatsapp.settle()
    [conversation] = await _conversations(whatsapp.runtime)
    assert (await _texts(whatsapp.runtime, conversation.id))[0] == ("customer", "Track my parcel")

    # With not_text_reply unset, media is skipped without a reply.
    settings = whatsapp.runtime.settings.channels.whatsapp
    assert settings is not None
    settings.not_text_reply = None
    await whatsapp.http.post(URL, **signed(notification({**image, "id": "wamid.I2"})))
    await whatsapp.settle()
    assert len(fake_api.requests) == 2


async def test_the_graph_api_failing_is_retried_then_logged_and_kept(
    whatsapp: ChannelClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.script = [500]  # then success
    await whatsapp.http.post(URL, **signed(notification(text("refund please", id="wamid.1"))))
    await whatsapp.settle()
    assert [r["ok"] for r in fake_api.requests] == [False, True]

    fake_api.script = [502, 429, 500]  # all three attempts
    await whatsapp.http.post(URL, **signed(notification(text("and my invoice?", id="wamid.2"))))
    await whatsapp.settle()
    assert [r["ok"] for r in fake_api.requests] == [False, True, False, False, False]
    metric = whatsapp.metric
    assert metric("frontdesk_channel_posts_total", channel="whatsapp", outcome="retried") == 3
    assert metric("frontdesk_channel_posts_total", channel="whatsapp", outcome="sent") == 1
    assert metric("frontdesk_channel_posts_total", channel="whatsapp", outcome="failed") == 1
    assert any("was not delivered" in r.getMessage() for r in caplog.records)
    [conversation] = await _conversations(whatsapp.runtime)
    texts = await _texts(whatsapp.runtime, conversation.id)
    assert [t for role, t in texts if role == "customer"] == ["refund please", "and my invoice?"]
    assert len(texts) == 4  # the undelivered answer is stored
    async with whatsapp.runtime.db.session(whatsapp.runtime.tenant.id) as session:
        jobs = list(
            await session.scalars(
                select(Job).where(Job.kind == "whatsapp_message").order_by(Job.created_at)
            )
        )
    assert [j.status for j in jobs] == ["done", "failed"]

    # A 4xx other than 429 (a bad token) is not tried again.
    fake_api.script = [401]
    await whatsapp.http.post(URL, **signed(notification(text("hello?", id="wamid.3"))))
    await whatsapp.settle()
    assert len(fake_api.requests) == 6


async def test_an_agents_reply_goes_to_the_sender(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    runtime = whatsapp.runtime
    await whatsapp.http.post(URL, **signed(notification(text("refund please", id="wamid.1"))))
    await whatsapp.settle()
    [conversation] = await _conversations(runtime)
    async with runtime.db.session(runtime.tenant.id) as session:
        ticket = await create_ticket(session, conversation_id=conversation.id, team="billing",
                                     priority="normal", subject="refund", summary={},
                                     due_at=None)  # fmt: skip
        await session.commit()
    assert runtime.desk is not None
    await runtime.desk.take_over(runtime.tenant.id, ticket.id, agent="agent:dana")
    await runtime.desk.reply(runtime.tenant.id, ticket.id, agent="agent:dana", text="Done!")
    last = fake_api.requests[-1]
    assert last["path"] == f"{NUMBER}/messages"
    assert (last["json"]["to"], last["json"]["text"]["body"]) == (CUSTOMER, "Done!")
    assert "context" not in last["json"]


async def test_channel_threads_are_behind_row_level_security(runtime: Runtime) -> None:
    if runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    async with runtime.db.engine.connect() as conn:
        enabled = await conn.scalar(text_sql(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
            "WHERE relname = 'channel_threads'"))  # fmt: skip
        policies = await conn.scalar(text_sql(
            "SELECT count(*) FROM pg_policies WHERE tablename = 'channel_threads'"))  # fmt: skip
    assert enabled is True
    assert policies == 1


def voice_note(media_id: str, *, id: str) -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": id,
        "timestamp": "1749416383",
        "type": "audio",
        "audio": {"mime_type": "audio/ogg; codecs=opus", "id": media_id, "voice": True},
    }


async def test_a_voice_note_is_fetched_transcribed_and_answered(
    whatsapp: ChannelClient, fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(INSTALLED, NOT_INSTALLED)
    fake_api.media["8133841316648"] = (DATA / "refund.wav").read_bytes()
    # The tenant is busy at the first try: the turn waits, the note is not fetched again.
    turn, busy = whatsapp.intake._turn, [True]

    async def busy_once(*args: Any) -> Any:
        if busy.pop() if busy else False:
            raise RateLimitedError("busy", retry_after=1, code="tenant_busy")
        return await turn(*args)

    monkeypatch.setattr(whatsapp.intake, "_turn", busy_once)
    note = voice_note("8133841316648", id="wamid.V1")
    await whatsapp.http.post(URL, **signed(notification(note)))
    await whatsapp.http.post(URL, **signed(notification(note)))  # retried: answered once
    await whatsapp.settle()

    # The media id gives a download URL, which gives the file; both with the access token.
    assert [(d["path"], d["auth"]) for d in fake_api.downloads] == [
        ("8133841316648", f"Bearer {ACCESS}"),
        ("files/8133841316648", f"Bearer {ACCESS}"),
    ]
    [answer] = fake_api.requests
    assert answer["json"]["to"] == CUSTOMER
    assert answer["json"]["context"] == {"message_id": "wamid.V1"}
    [conversation] = await _conversations(whatsapp.runtime)
    said, replied = await _texts(whatsapp.runtime, conversation.id)
    assert said[0] == "customer"
    assert "refund" in words(said[1])  # the transcript is the customer's message
    assert replied == ("assistant", answer["json"]["text"]["body"])
    assert "refund" in replied[1].lower()
    events = "frontdesk_channel_events_total"
    assert whatsapp.metric(events, channel="whatsapp", outcome="transcribed") == 1
    assert whatsapp.metric(events, channel="whatsapp", outcome="answered") == 1


async def test_a_voice_note_without_words_gets_the_text_only_reply(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    require(INSTALLED, NOT_INSTALLED)
    fake_api.media["QUIET1"] = quiet(2.0)
    await whatsapp.http.post(URL, **signed(notification(voice_note("QUIET1", id="wamid.V2"))))
    await whatsapp.settle()
    [notice] = fake_api.requests
    assert "only read text" in notice["json"]["text"]["body"]
    assert await _conversations(whatsapp.runtime) == []
    events = "frontdesk_channel_events_total"
    assert whatsapp.metric(events, channel="whatsapp", outcome="not_transcribed") == 1

    # Media the Graph API does not know: the job fails with the reason, nothing is posted.
    await whatsapp.http.post(URL, **signed(notification(voice_note("GONE", id="wamid.V3"))))
    await whatsapp.settle()
    assert len(fake_api.requests) == 1
    async with whatsapp.runtime.db.session(whatsapp.runtime.tenant.id) as session:
        jobs = list(await session.scalars(select(Job).where(Job.kind == "whatsapp_message")))
    failed = [j for j in jobs if j.status == "failed"]
    assert len(failed) == 1
    assert "WhatsApp Graph API media answered 404" in (failed[0].error or "")


async def test_voice_notes_get_the_text_only_reply_when_not_transcribed(
    whatsapp: ChannelClient, fake_api: FakeApi
) -> None:
    settings = whatsapp.runtime.settings.channels.whatsapp
    assert settings is not None
    settings.transcribe_voice = False
    fake_api.media["8133841316648"] = b"never fetched"
    await whatsapp.http.post(
        URL, **signed(notification(voice_note("8133841316648", id="wamid.V4")))
    )
    await whatsapp.settle()
    [notice] = fake_api.requests
    assert "only read text" in notice["json"]["text"]["body"]
    assert fake_api.downloads == []
