"""Slack intake over real HTTP: events signed like Slack signs them, answers posted to a fake
Slack Web API on a loopback port. SQLite and PostgreSQL (the `runtime` fixture)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.api.routes.slack_channel import plain_text, slack_signature
from frontdesk.config.channel_settings import ChannelSettings, DeliverySettings, SlackSettings
from frontdesk.config.settings import TenantOverrides
from frontdesk.errors import FrontdeskError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import all_messages, get_conversation
from frontdesk.storage.models import Conversation, Job
from frontdesk.storage.support_models import ChannelThread
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.tickets import create_ticket
from tests.api.channel_fakes import ChannelClient, FakeApi, channel_client, fake_api
from tests.conftest import require
from tests.speech.samples import DATA, INSTALLED, NOT_INSTALLED, words

__all__ = ["fake_api"]  # the fixture, imported for the tests below

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
BOT = "U0BOT"
URL = "/v1/channels/slack/default/events"


@pytest.fixture
async def slack(runtime: Runtime, fake_api: FakeApi) -> AsyncIterator[ChannelClient]:
    runtime.settings.channels = ChannelSettings(
        slack=SlackSettings(signing_secret=SECRET, bot_token=TOKEN, api_base_url=fake_api.url),
        delivery=DeliverySettings(attempts=3, backoff_s=0.0),
    )
    async for client in channel_client(runtime):
        yield client


def signed(
    body: dict[str, Any], *, secret: str = SECRET, at: float | None = None, retry: int | None = None
) -> dict[str, Any]:
    """Request arguments exactly as Slack sends them: raw JSON body, timestamp, signature."""
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(secret, timestamp, raw),
    }
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return {"content": raw, "headers": headers}


def message(
    text: str,
    *,
    event_id: str,
    ts: str,
    thread_ts: str | None = None,
    user: str = "U0CUSTOMER",
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": "D0DIRECT",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {
        "token": "legacy-unused",
        "team_id": "T0TEAM",
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": "T0TEAM", "user_id": BOT, "is_bot": True}],
    }


async def _conversations(runtime: Runtime, tenant_id: str | None = None) -> list[Conversation]:
    async with runtime.db.session(tenant_id or runtime.tenant.id) as session:
        return list(
            await session.scalars(select(Conversation).where(Conversation.channel == "slack"))
        )


async def _texts(runtime: Runtime, conversation_id: str) -> list[tuple[str, str]]:
    async with runtime.db.session(runtime.tenant.id) as session:
        return [(m.role, m.text) for m in await all_messages(session, conversation_id)]


async def test_url_verification_answers_the_challenge(slack: ChannelClient) -> None:
    body = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    response = await slack.http.post(URL, **signed(body))
    assert response.status_code == 200
    assert response.json() == {"challenge": body["challenge"]}
    # The Request URL is set before the app is installed, so before there is a bot token.
    settings = slack.runtime.settings.channels.slack
    assert settings is not None
    settings.bot_token = None
    assert (await slack.http.post(URL, **signed(body))).json() == {"challenge": body["challenge"]}
    message_without_token = await slack.http.post(
        URL, **signed(message("hi", event_id="Ev1", ts="1.1"))
    )
    assert message_without_token.status_code == 404
    assert message_without_token.json()["error"]["code"] == "channel_not_configured"


async def test_unsigned_forged_and_stale_requests_are_refused(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    body = message("refund please", event_id="Ev0FORGED", ts="1700000000.000100")
    good = signed(body)
    missing = await slack.http.post(URL, content=good["content"])
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.json()["error"]["message"] == "the X-Slack-Signature header is required"

    forged = await slack.http.post(URL, **signed(body, secret="not-the-secret"))
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"

    tampered = {**good, "content": good["content"].replace(b"refund", b"refunD")}
    assert (await slack.http.post(URL, **tampered)).json()["error"]["code"] == "invalid_signature"

    stale = await slack.http.post(URL, **signed(body, at=time.time() - 6 * 60))
    assert stale.status_code == 401
    assert stale.json()["error"]["code"] == "stale_request"
    junk_time = signed(body)
    junk_time["headers"]["X-Slack-Request-Timestamp"] = "yesterday"
    assert (await slack.http.post(URL, **junk_time)).status_code == 401

    await slack.settle()
    assert fake_api.requests == []
    assert await _conversations(slack.runtime) == []


async def test_a_message_is_answered_in_its_thread_and_a_retry_is_answered_once(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    first = message(
        "I want a refund for order KP-20481736", event_id="Ev01", ts="1700000000.000100"
    )
    started = time.monotonic()
    response = await slack.http.post(URL, **signed(first))
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 3  # acknowledged before the turn has run
    # Slack retries while the first delivery is still being answered, and again later.
    assert (await slack.http.post(URL, **signed(first, retry=1))).status_code == 200
    await slack.settle()
    assert (await slack.http.post(URL, **signed(first, retry=2))).status_code == 200
    await slack.settle()

    assert len(fake_api.requests) == 1
    post = fake_api.requests[0]
    assert post["path"] == "chat.postMessage"
    assert post["auth"] == f"Bearer {TOKEN}"
    assert post["json"]["channel"] == "D0DIRECT"
    assert post["json"]["thread_ts"] == "1700000000.000100"  # in the message's thread
    [conversation] = await _conversations(slack.runtime)
    assert conversation.customer_ref == "U0CUSTOMER"
    texts = await _texts(slack.runtime, conversation.id)
    assert texts == [
        ("customer", "I want a refund for order KP-20481736"),
        ("assistant", post["json"]["text"]),
    ]
    assert "refund" in post["json"]["text"].lower()
    assert slack.metric("frontdesk_channel_events_total", channel="slack", outcome="answered") == 1
    assert slack.metric("frontdesk_channel_events_total", channel="slack", outcome="duplicate") == 2
    assert slack.metric("frontdesk_channel_posts_total", channel="slack", outcome="sent") == 1


async def test_a_thread_continues_its_conversation(slack: ChannelClient, fake_api: FakeApi) -> None:
    top = "1700000000.000100"
    await slack.http.post(
        URL, **signed(message("Where is my parcel KP-20481736?", event_id="Ev01", ts=top))
    )
    await slack.settle()
    # The customer answers in the thread; a mention of the bot is not part of the question.
    await slack.http.post(
        URL,
        **signed(
            message(
                f"<@{BOT}> and when will it arrive?",
                event_id="Ev02",
                ts="1700000050.000200",
                thread_ts=top,
            )
        ),
    )
    await slack.settle()
    [conversation] = await _conversations(slack.runtime)
    texts = await _texts(slack.runtime, conversation.id)
    assert [role for role, _ in texts] == ["customer", "assistant"] * 2
    assert texts[2] == ("customer", "and when will it arrive?")
    assert [r["json"]["thread_ts"] for r in fake_api.requests] == [top, top]

    # A new top-level message is a new thread, so a new conversation.
    await slack.http.post(
        URL,
        **signed(message("How do I reset my password?", event_id="Ev03", ts="1700000100.000300")),
    )
    await slack.settle()
    assert len(await _conversations(slack.runtime)) == 2
    assert fake_api.requests[-1]["json"]["thread_ts"] == "1700000100.000300"
    async with slack.runtime.db.session(slack.runtime.tenant.id) as session:
        keys = set(await session.scalars(select(ChannelThread.thread_key)))
    assert keys == {f"T0TEAM:D0DIRECT:{top}", "T0TEAM:D0DIRECT:1700000100.000300"}


async def test_bots_edits_and_other_events_are_ignored(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    ignored = [
        message("our own answer", event_id="Ev1", ts="1.1", bot_id="B0OURS", user=BOT),
        message("from our bot user", event_id="Ev2", ts="1.2", user=BOT),
        message(
            "another bot",
            event_id="Ev3",
            ts="1.3",
            bot_id="B0OTHER",
            user="U0OTHERBOT",
            subtype="bot_message",
        ),
        message("edited", event_id="Ev4", ts="1.4", subtype="message_changed"),
        message("", event_id="Ev5", ts="1.5", subtype="channel_join"),
        message(f"<@{BOT}>", event_id="Ev6", ts="1.6"),  # only a mention: nothing to answer
        {**message("x", event_id="Ev7", ts="1.7"), "event": {"type": "reaction_added"}},
    ]
    for body in ignored:
        response = await slack.http.post(URL, **signed(body))
        assert response.status_code == 200, response.text
    await slack.settle()
    assert fake_api.requests == []
    assert await _conversations(slack.runtime) == []
    assert slack.metric("frontdesk_channel_events_total", channel="slack", outcome="ignored") == 7


async def test_a_channel_not_configured_for_the_tenant_is_404(
    slack: ChannelClient, runtime: Runtime, fake_api: FakeApi
) -> None:
    body = signed(message("hello", event_id="Ev1", ts="1.1"))
    # The workspace's settings are the workspace tenant's only: another tenant has no Slack.
    await ensure_tenant(runtime.db, "acme")
    for slug in ("acme", "nosuchtenant"):
        response = await slack.http.post(f"/v1/channels/slack/{slug}/events", **body)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "channel_not_configured"

    # Configured for acme with acme's own secret: the workspace tenant's secret is refused
    # there, acme's is answered in acme's data.
    runtime.settings.tenants["acme"] = TenantOverrides(
        channels=ChannelSettings(
            slack=SlackSettings(
                signing_secret="acme-secret", bot_token="xoxb-acme", api_base_url=fake_api.url
            )
        )
    )
    acme_url = "/v1/channels/slack/acme/events"
    assert (await slack.http.post(acme_url, **body)).status_code == 401
    accepted = await slack.http.post(
        acme_url, **signed(message("hello", event_id="Ev1", ts="1.1"), secret="acme-secret")
    )
    assert accepted.status_code == 200
    await slack.settle()
    acme = await ensure_tenant(runtime.db, "acme")
    assert len(await _conversations(runtime, acme.id)) == 1
    assert await _conversations(runtime) == []
    assert [r["auth"] for r in fake_api.requests] == ["Bearer xoxb-acme"]

    runtime.settings.channels = ChannelSettings()  # the workspace tenant without Slack
    assert (await slack.http.post(URL, **body)).status_code == 404


async def test_a_failed_post_is_retried(slack: ChannelClient, fake_api: FakeApi) -> None:
    fake_api.script = [500, {"ok": False, "error": "ratelimited"}]  # then success
    await slack.http.post(URL, **signed(message("refund please", event_id="Ev1", ts="1.1")))
    await slack.settle()
    assert [r["ok"] for r in fake_api.requests] == [False, False, True]
    assert len({r["json"]["text"] for r in fake_api.requests}) == 1
    assert slack.metric("frontdesk_channel_posts_total", channel="slack", outcome="retried") == 2
    assert slack.metric("frontdesk_channel_posts_total", channel="slack", outcome="sent") == 1


async def test_a_post_that_keeps_failing_is_logged_counted_and_kept(
    slack: ChannelClient, fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.script = [503, 503, 503]  # every attempt (3)
    await slack.http.post(URL, **signed(message("refund please", event_id="Ev1", ts="1.1")))
    await slack.settle()
    assert len(fake_api.requests) == 3
    assert fake_api.delivered == []
    assert slack.metric("frontdesk_channel_posts_total", channel="slack", outcome="failed") == 1
    assert any("was not delivered" in r.getMessage() for r in caplog.records)
    runtime = slack.runtime
    [conversation] = await _conversations(runtime)
    texts = await _texts(runtime, conversation.id)
    assert [role for role, _ in texts] == ["customer", "assistant"]  # nothing lost
    async with runtime.db.session(runtime.tenant.id) as session:
        [job] = list(await session.scalars(select(Job).where(Job.kind == "slack_message")))
    assert job.status == "failed"
    assert "503" in (job.error or "")
    assert job.payload == {"delivery_key": "slack:Ev1"}  # no customer text on the job row

    # Slack's retry of the event does not run the turn again (it was answered and stored).
    await slack.http.post(
        URL, **signed(message("refund please", event_id="Ev1", ts="1.1"), retry=1)
    )
    await slack.settle()
    assert len(await _texts(runtime, conversation.id)) == 2


async def test_a_permanent_slack_error_is_not_retried(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    fake_api.script = [{"ok": False, "error": "channel_not_found"}]
    await slack.http.post(URL, **signed(message("refund please", event_id="Ev1", ts="1.1")))
    await slack.settle()
    assert len(fake_api.requests) == 1
    assert slack.metric("frontdesk_channel_posts_total", channel="slack", outcome="failed") == 1


async def test_the_conversation_of_an_erased_thread_starts_again(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    runtime = slack.runtime
    await slack.http.post(URL, **signed(message("refund please", event_id="Ev1", ts="1.1")))
    await slack.settle()
    [first] = await _conversations(runtime)
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await get_conversation(session, first.id)
        await session.delete(conversation)
        await session.commit()
        assert list(await session.scalars(select(ChannelThread))) == []  # went with it
    await slack.http.post(
        URL, **signed(message("still there?", event_id="Ev2", ts="1.2", thread_ts="1.1"))
    )
    await slack.settle()
    [second] = await _conversations(runtime)
    assert second.id != first.id
    assert len(fake_api.delivered) == 2


def test_plain_text_drops_mentions_of_the_bot_and_slack_escapes() -> None:
    assert plain_text(f"<@{BOT}> is 3 &lt; 4 &amp; 5 &gt; 2?", {BOT}) == "is 3 < 4 & 5 > 2?"
    assert plain_text("ask <@U0OTHER>", {BOT}) == "ask <@U0OTHER>"


async def test_malformed_events_are_422(slack: ChannelClient) -> None:
    raw = b"not json"
    timestamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SECRET, timestamp, raw),
    }
    response = await slack.http.post(URL, content=raw, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_event"


async def test_an_agents_reply_goes_to_the_slack_thread(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    runtime = slack.runtime
    await slack.http.post(URL, **signed(message("refund please", event_id="Ev1", ts="1.1")))
    await slack.settle()
    [conversation] = await _conversations(runtime)
    async with runtime.db.session(runtime.tenant.id) as session:
        ticket = await create_ticket(session, conversation_id=conversation.id, team="billing",
                                     priority="normal", subject="refund", summary={},
                                     due_at=None)  # fmt: skip
        await session.commit()
    assert runtime.desk is not None
    await runtime.desk.take_over(runtime.tenant.id, ticket.id, agent="agent:dana")
    await runtime.desk.reply(runtime.tenant.id, ticket.id, agent="agent:dana",
                             text="Dana here: your refund is on its way.")  # fmt: skip
    last = fake_api.requests[-1]["json"]
    assert last == {"channel": "D0DIRECT", "thread_ts": "1.1",
                    "text": "Dana here: your refund is on its way."}  # fmt: skip

    # While the agent owns the conversation the bot stays silent: nothing is posted for it.
    posts = len(fake_api.requests)
    await slack.http.post(URL, **signed(message("thanks, how long?", event_id="Ev2", ts="1.2",
                                                thread_ts="1.1")))  # fmt: skip
    await slack.settle()
    assert len(fake_api.requests) == posts
    assert (await _texts(runtime, conversation.id))[-1] == ("customer", "thanks, how long?")
    assert slack.metric("frontdesk_channel_events_total", channel="slack", outcome="silent") == 1

    fake_api.script = [{"ok": False, "error": "not_in_channel"}]
    with pytest.raises(FrontdeskError) as refused:
        await runtime.desk.reply(runtime.tenant.id, ticket.id, agent="agent:dana", text="More?")
    assert refused.value.code == "channel_unavailable"  # the console shows it to the agent


def _clip(url: str) -> dict[str, Any]:
    return {"id": "F0CLIP", "mimetype": "audio/webm", "subtype": "slack_audio",
            "url_private_download": url}  # fmt: skip


async def test_an_audio_clip_is_downloaded_transcribed_and_answered(
    slack: ChannelClient, fake_api: FakeApi
) -> None:
    require(INSTALLED, NOT_INSTALLED)
    fake_api.media["F0CLIP"] = (DATA / "refund.wav").read_bytes()
    clip = message("", event_id="EvClip", ts="1700000300.000100", subtype="file_share",
                   files=[_clip(f"{fake_api.url}/files/F0CLIP")])  # fmt: skip
    assert (await slack.http.post(URL, **signed(clip))).status_code == 200
    await slack.settle()
    assert fake_api.downloads == [{"path": "files/F0CLIP", "auth": f"Bearer {TOKEN}"}]
    [post] = fake_api.requests
    assert post["json"]["thread_ts"] == "1700000300.000100"
    [conversation] = await _conversations(slack.runtime)
    said, replied = await _texts(slack.runtime, conversation.id)
    assert said[0] == "customer"
    assert "refund" in words(said[1])
    assert replied == ("assistant", post["json"]["text"])
    assert slack.metric("frontdesk_channel_events_total", channel="slack",
                        outcome="transcribed") == 1  # fmt: skip

    # A file URL on another host is not fetched with the bot token: the job fails, nothing
    # is posted.
    elsewhere = message("", event_id="EvElsewhere", ts="1700000301.000100", subtype="file_share",
                        files=[_clip("https://attacker.example/files/F0CLIP")])  # fmt: skip
    assert (await slack.http.post(URL, **signed(elsewhere))).status_code == 200
    await slack.settle()
    assert len(fake_api.downloads) == 1
    assert len(fake_api.requests) == 1
    async with slack.runtime.db.session(slack.runtime.tenant.id) as session:
        failed = list(await session.scalars(select(Job).where(Job.status == "failed")))
    assert len(failed) == 1
    assert "unexpected host: attacker.example" in (failed[0].error or "")
