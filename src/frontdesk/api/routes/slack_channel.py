"""Slack intake: the Events API webhook of a Slack app, answered in the message's thread.

Set the app's Request URL to `https://<host>/v1/channels/slack/<tenant>/events` and subscribe
it to the `message.*` events of the conversations it should answer (`message.im` for direct
messages, `message.channels` for public channels); the bot token needs `chat:write`.

Every request is checked against the tenant's signing secret: `X-Slack-Signature` is
`v0=` + HMAC-SHA256(secret, `v0:<X-Slack-Request-Timestamp>:<raw body>`), and a timestamp
more than five minutes off is refused, so a captured request cannot be replayed later.
The `url_verification` handshake is answered with its challenge. A message is taken as a job
and acknowledged at once (Slack wants a 200 within 3 seconds and retries otherwise, with
`X-Slack-Retry-Num`); the event id is the idempotency key, so a retry is answered once. One
Slack thread is one conversation: a top-level message starts a thread (our answer goes in it)
and later messages in the thread continue the conversation. An audio clip or audio file sent
without text is downloaded (`url_private_download`, with the bot token; `files:read`) and
transcribed in the background job, then answered like text (`transcribe_voice`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import replace
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from frontdesk.api.channel_intake import (
    ChannelIntake,
    Inbound,
    IntakeDep,
    MediaReader,
    Outbound,
    PostFailed,
    Send,
    check_signature,
    configured_tenant,
    download,
    hmac_sha256_hex,
    raise_for_post,
    require_credential,
    secret_or_404,
)
from frontdesk.api.deps import RuntimeDep
from frontdesk.api.schemas import ErrorResponse
from frontdesk.config.channel_settings import NOT_TEXT_REPLY, ChannelSettings, SlackSettings
from frontdesk.errors import AuthenticationError, InvalidRequestError
from frontdesk.storage.models import Tenant
from frontdesk.types import Channel

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 413, 422)
}
router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=ERRORS)

# Message subtypes that are a person writing: a thread reply also sent to the channel, and a
# file shared with a comment (its text is answered). Every other subtype is not new customer
# text: edits and deletions of earlier messages, joins, topic changes, other bots' posts.
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share"}
SLACK_FILES_HOST = "files.slack.com"
RETRYABLE_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class SlackFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = ""
    mimetype: str = ""
    subtype: str | None = None  # "slack_audio" for a recorded clip
    url_private_download: str | None = None


class SlackMessageEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    subtype: str | None = None
    channel: str | None = None
    user: str | None = None
    bot_id: str | None = None
    text: str = ""
    ts: str | None = None
    thread_ts: str | None = None
    files: list[SlackFile] = []

    def audio(self) -> SlackFile | None:
        """The first audio clip or audio file that can be downloaded."""
        for file in self.files:
            audio = file.mimetype.startswith("audio/") or file.subtype == "slack_audio"
            if audio and file.url_private_download:
                return file
        return None


class SlackAuthorization(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str | None = None
    is_bot: bool = False


class SlackEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    challenge: str | None = None
    team_id: str = ""
    event_id: str | None = None
    event: SlackMessageEvent | None = None
    authorizations: list[SlackAuthorization] = []


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac_sha256_hex(secret, f"v0:{timestamp}:".encode() + body)


def verify_slack_request(
    settings: SlackSettings, secret: str, body: bytes, timestamp: str, signature: str, *, now: float
) -> None:
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise AuthenticationError(
            "X-Slack-Request-Timestamp is not a Unix time", code="invalid_signature"
        ) from None
    if abs(now - sent_at) > settings.max_clock_skew_s:
        raise AuthenticationError(
            f"the request is {int(now - sent_at)} s old; more than "
            f"{settings.max_clock_skew_s} s apart from our clock is refused (a replay, or a "
            "clock to set right)",
            code="stale_request",
        )
    check_signature(slack_signature(secret, timestamp, body), signature)


def bot_users(envelope: SlackEnvelope, settings: SlackSettings) -> set[str]:
    ours = {a.user_id for a in envelope.authorizations if a.is_bot and a.user_id}
    return ours | ({settings.bot_user_id} if settings.bot_user_id else set())


def plain_text(text: str, bots: set[str]) -> str:
    """The customer's words: mentions of our bot (`<@U123>`, how a channel asks it) removed,
    Slack's escapes of `&`, `<`, `>` undone."""
    for bot in bots:
        text = re.sub(rf"<@{re.escape(bot)}(\|[^>]*)?>", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def why_ignored(envelope: SlackEnvelope, settings: SlackSettings) -> str | None:
    """Why an event is not a customer message to answer; None when it is one."""
    event = envelope.event
    if envelope.type != "event_callback" or event is None:
        return f"{envelope.type} is not an event callback"
    if event.type != "message":
        return f"{event.type} events are not answered"
    if event.subtype not in ANSWERED_SUBTYPES:
        return f"message subtype {event.subtype}"
    # Our own answers come back to us as message events (with a bot_id): answering them would
    # loop for ever. Other bots are not customers either.
    if event.bot_id:
        return "a bot's message"
    if event.user in bot_users(envelope, settings):
        return "our own bot user's message"
    if not (event.user and event.channel and event.ts):
        return "a message without user, channel or ts"
    if not event.text.strip() and not (settings.transcribe_voice and event.audio()):
        return "a message without text"
    if not envelope.event_id:
        return "an event without event_id"
    return None


@router.post("/slack/{tenant}/events")
async def slack_events(
    tenant: str,
    request: Request,
    runtime: RuntimeDep,
    intake: IntakeDep,
    x_slack_signature: Annotated[str | None, Header()] = None,
    x_slack_request_timestamp: Annotated[str | None, Header()] = None,
    x_slack_retry_num: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Slack's Events API (signed with the tenant's Slack signing secret)."""
    signature = require_credential(x_slack_signature, "the X-Slack-Signature header")
    timestamp = require_credential(
        x_slack_request_timestamp, "the X-Slack-Request-Timestamp header"
    )
    owner, channels = await configured_tenant(runtime, tenant, Channel.SLACK)
    settings = channels.slack
    assert settings is not None
    secret = secret_or_404(settings.signing_secret_value(), owner, Channel.SLACK, "signing_secret")
    body = await request.body()
    verify_slack_request(settings, secret, body, timestamp, signature, now=time.time())
    try:
        envelope = SlackEnvelope.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise InvalidRequestError(f"not a Slack event: {exc}", code="invalid_event") from None
    if envelope.type == "url_verification":  # Slack sends it before the app is installed,
        return {"challenge": envelope.challenge or ""}  # so before there is a bot token
    token = secret_or_404(settings.bot_token_value(), owner, Channel.SLACK, "bot_token")
    why = why_ignored(envelope, settings)
    if why is not None:
        intake.ignored(Channel.SLACK, why)
        return {"ok": True}
    event = envelope.event
    assert event is not None
    assert event.channel
    assert event.ts
    assert event.user
    thread_ts = event.thread_ts or event.ts  # a top-level message starts its own thread
    if x_slack_retry_num:
        log.info("slack: retry %s of %s", x_slack_retry_num, envelope.event_id)
    channel_id = event.channel
    send = slack_sender(intake, settings, token, channels.delivery.timeout_s, channel_id, thread_ts)

    inbound = Inbound(
        channel=Channel.SLACK,
        delivery_key=f"slack:{envelope.event_id}",
        thread_key=f"{envelope.team_id}:{channel_id}:{thread_ts}",
        user=event.user,
        text=plain_text(event.text, bot_users(envelope, settings)),
    )
    clip = event.audio()
    if not inbound.text and clip is not None and settings.transcribe_voice:
        inbound = replace(inbound, audio_id=clip.url_private_download,
                          fallback_reply=NOT_TEXT_REPLY)  # fmt: skip
    if not inbound.text and inbound.audio_id is None:
        intake.ignored(Channel.SLACK, "only a mention of the bot")
        return {"ok": True}
    await intake.accept(owner, inbound, send, channels.delivery)
    return {"ok": True}


def slack_sender(
    intake: ChannelIntake,
    settings: SlackSettings,
    token: str,
    timeout_s: float,
    channel_id: str,
    thread_ts: str,
) -> Send:
    """Posts text in a Slack thread (`chat.postMessage`)."""

    async def send(text: str) -> None:
        response = await intake.client.post(
            f"{settings.api_base_url.rstrip('/')}/chat.postMessage",
            headers={"Authorization": f"Bearer {token}"},
            json={"channel": channel_id, "thread_ts": thread_ts, "text": text},
            timeout=timeout_s,
        )
        raise_for_post(response, "Slack chat.postMessage")
        answer = response.json()
        if not answer.get("ok"):  # Slack's errors come with HTTP 200
            error = str(answer.get("error", "unknown"))
            raise PostFailed(
                f"Slack chat.postMessage: {error}", retryable=error in RETRYABLE_ERRORS
            )

    return send


def slack_files(intake: ChannelIntake) -> MediaReader:
    """An audio file's bytes from its `url_private_download` (with the bot token), only from
    Slack's file host or the configured API's own host; larger than `server.max_upload_bytes`
    is refused."""
    limit = intake.runtime.settings.server.max_upload_bytes

    async def read(tenant: Tenant, channels: ChannelSettings, url: str) -> bytes:
        settings = channels.slack
        assert settings is not None
        token = secret_or_404(settings.bot_token_value(), tenant, Channel.SLACK, "bot_token")
        api = httpx.URL(settings.api_base_url)
        where = httpx.URL(url)
        if (where.scheme, where.host) not in {("https", SLACK_FILES_HOST), (api.scheme, api.host)}:
            raise PostFailed(f"Slack file URL on an unexpected host: {where.host}", retryable=False)
        auth = {"Authorization": f"Bearer {token}"}
        timeout = channels.delivery.timeout_s
        return await download(intake.client, url, auth, timeout, limit, "Slack file download")

    return read


def slack_outbound(intake: ChannelIntake) -> Outbound:
    """For agents' replies: the thread a conversation came from (`team:channel:thread_ts`)."""

    def outbound(tenant: Tenant, channels: ChannelSettings, thread_key: str) -> Send:
        settings = channels.slack
        assert settings is not None
        token = secret_or_404(settings.bot_token_value(), tenant, Channel.SLACK, "bot_token")
        _team, channel_id, thread_ts = thread_key.split(":", 2)
        return slack_sender(
            intake, settings, token, channels.delivery.timeout_s, channel_id, thread_ts
        )

    return outbound
