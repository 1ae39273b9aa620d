"""WhatsApp intake: the WhatsApp Cloud API webhook of a Meta app, answered to the sender.

Set the app's callback URL to `https://<host>/v1/channels/whatsapp/<tenant>`, with the
tenant's verify token, and subscribe the `messages` field. Meta first calls it with
`GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...` and expects the challenge
back. Every notification after that is a POST signed with the app secret:
`X-Hub-Signature-256: sha256=` + HMAC-SHA256(app secret, raw body).

Each text message in `entry[].changes[].value.messages[]` becomes a job and the webhook
answers 200 at once (Meta retries a webhook that fails or is slow); the message id (`wamid.`)
is the idempotency key, so a retried notification is answered once. One sender (`wa_id`) on
one business number is one conversation. A button or list choice is its text. A voice note
or audio file is fetched from the Graph API (`GET /{media-id}`, then its short-lived URL, both
with the access token) and transcribed in the background job, then answered like text
(`transcribe_voice`). Images, stickers, locations..., and audio that cannot be transcribed,
get one "text only" reply (`not_text_reply`; set it to null to skip them, logged and counted).
Reactions, Meta's system notices and status callbacks (sent, delivered, read, failed) are
acknowledged and ignored. The answer goes out through the Graph API
(`POST {graph_base_url}/{phone_number_id}/messages`) as a reply to the customer's message.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from frontdesk.config.channel_settings import ChannelSettings, WhatsAppSettings
from frontdesk.errors import InvalidRequestError, PermissionDeniedError
from frontdesk.storage.models import Tenant
from frontdesk.types import Channel

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 413, 422)
}
router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=ERRORS)
MAX_TEXT = 4096  # WhatsApp's limit for a text message body
# Not a customer writing to us: a reaction to a message, Meta's notices (a number change),
# a type this API version cannot show.
SKIPPED_TYPES = {"reaction", "system", "unsupported", "ephemeral", "request_welcome"}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WhatsAppText(_Loose):
    body: str = ""


class WhatsAppChoice(_Loose):
    title: str = ""


class WhatsAppInteractive(_Loose):
    button_reply: WhatsAppChoice | None = None
    list_reply: WhatsAppChoice | None = None


class WhatsAppButton(_Loose):
    text: str = ""


class WhatsAppMedia(_Loose):
    id: str = ""
    mime_type: str = ""


class WhatsAppMessage(_Loose):
    id: str
    sender: str = Field(alias="from")  # the customer's wa_id
    type: str
    text: WhatsAppText | None = None
    interactive: WhatsAppInteractive | None = None
    button: WhatsAppButton | None = None
    audio: WhatsAppMedia | None = None  # a voice note (`voice: true`) or an audio file

    def words(self) -> str:
        """What the customer wrote or chose; "" when the message carries no text."""
        if self.type == "text" and self.text is not None:
            return self.text.body.strip()
        if self.type == "button" and self.button is not None:
            return self.button.text.strip()
        if self.type == "interactive" and self.interactive is not None:
            choice = self.interactive.button_reply or self.interactive.list_reply
            return choice.title.strip() if choice else ""
        return ""


class WhatsAppMetadata(_Loose):
    phone_number_id: str = ""


class WhatsAppValue(_Loose):
    metadata: WhatsAppMetadata = WhatsAppMetadata()
    messages: list[WhatsAppMessage] = []
    statuses: list[dict[str, Any]] = []


class WhatsAppChange(_Loose):
    field: str = ""
    value: WhatsAppValue = WhatsAppValue()


class WhatsAppEntry(_Loose):
    changes: list[WhatsAppChange] = []


class WhatsAppNotification(_Loose):
    object: str = ""
    entry: list[WhatsAppEntry] = []


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac_sha256_hex(app_secret, body)


@router.get("/whatsapp/{tenant}", response_class=PlainTextResponse)
async def whatsapp_verify(
    tenant: str,
    runtime: RuntimeDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: the challenge back when the verify token is right."""
    given = require_credential(verify_token, "the hub.verify_token parameter")
    owner, channels = await configured_tenant(runtime, tenant, Channel.WHATSAPP)
    settings = channels.whatsapp
    assert settings is not None
    expected = secret_or_404(settings.verify_token_value(), owner, Channel.WHATSAPP, "verify_token")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise PermissionDeniedError(
            "hub.verify_token is not this tenant's WhatsApp verify token",
            code="invalid_verify_token",
        )
    if mode != "subscribe":
        raise PermissionDeniedError(f"hub.mode {mode!r} is not 'subscribe'", code="invalid_mode")
    return PlainTextResponse(challenge)


@router.post("/whatsapp/{tenant}")
async def whatsapp_notification(
    tenant: str,
    request: Request,
    runtime: RuntimeDep,
    intake: IntakeDep,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """WhatsApp Cloud API notifications (signed with the Meta app's secret)."""
    signature = require_credential(x_hub_signature_256, "the X-Hub-Signature-256 header")
    owner, channels = await configured_tenant(runtime, tenant, Channel.WHATSAPP)
    settings = channels.whatsapp
    assert settings is not None
    secret = secret_or_404(settings.app_secret_value(), owner, Channel.WHATSAPP, "app_secret")
    body = await request.body()
    check_signature(whatsapp_signature(secret, body), signature)
    token = secret_or_404(settings.access_token_value(), owner, Channel.WHATSAPP, "access_token")
    try:
        notification = WhatsAppNotification.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise InvalidRequestError(
            f"not a WhatsApp notification: {exc}", code="invalid_event"
        ) from None
    if notification.object != "whatsapp_business_account":
        intake.ignored(Channel.WHATSAPP, f"object {notification.object!r}")
        return {"ok": True}
    taken = 0
    for entry in notification.entry:
        for change in entry.changes:
            if change.field != "messages":
                intake.ignored(Channel.WHATSAPP, f"field {change.field!r}")
                continue
            for _ in change.value.statuses:  # sent / delivered / read / failed of our answers
                intake.ignored(Channel.WHATSAPP, "a status callback")
            for message in change.value.messages:
                inbound = _inbound(message, change.value.metadata, settings, intake)
                if inbound is not None:
                    send = _sender(
                        intake,
                        settings,
                        token,
                        channels.delivery.timeout_s,
                        to=message.sender,
                        reply_to=message.id,
                    )
                    await intake.accept(owner, inbound, send, channels.delivery)
                    taken += 1
    return {"ok": True, "messages": taken}


def _inbound(
    message: WhatsAppMessage,
    metadata: WhatsAppMetadata,
    settings: WhatsAppSettings,
    intake: ChannelIntake,
) -> Inbound | None:
    if metadata.phone_number_id != settings.phone_number_id:
        # The app may serve several numbers; we can only answer from the configured one.
        log.warning(
            "whatsapp: message %s is for number %s, not the configured %s",
            message.id,
            metadata.phone_number_id,
            settings.phone_number_id,
        )
        intake.ignored(Channel.WHATSAPP, "another phone number")
        return None
    if message.type in SKIPPED_TYPES:
        intake.ignored(Channel.WHATSAPP, f"a {message.type} message")
        return None
    text, notice = message.words(), False
    # A voice note is transcribed in the background job (`not_text_reply` if it cannot be).
    audio = message.audio if message.type == "audio" and settings.transcribe_voice else None
    voice = audio.id if audio else ""
    if not text and not voice:
        if settings.not_text_reply is None:
            log.info("whatsapp: %s message %s skipped (text only)", message.type, message.id)
            intake.ignored(Channel.WHATSAPP, f"a {message.type} message (text only)")
            return None
        text, notice = settings.not_text_reply, True
    return Inbound(
        channel=Channel.WHATSAPP,
        delivery_key=f"whatsapp:{message.id}",
        thread_key=f"{settings.phone_number_id}:{message.sender}",
        user=message.sender,
        text=text,
        notice=notice,
        audio_id=voice or None,
        fallback_reply=settings.not_text_reply if voice else None,
    )


def _sender(
    intake: ChannelIntake,
    settings: WhatsAppSettings,
    token: str,
    timeout_s: float,
    *,
    to: str,
    reply_to: str | None,
) -> Send:
    url = f"{settings.graph_base_url.rstrip('/')}/{settings.phone_number_id}/messages"

    async def send(text: str) -> None:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": text[:MAX_TEXT]},
        }
        if reply_to:  # shown as a reply to the customer's message
            payload["context"] = {"message_id": reply_to}
        response = await intake.client.post(
            url, headers={"Authorization": f"Bearer {token}"}, json=payload, timeout=timeout_s
        )
        raise_for_post(response, "WhatsApp Graph API")

    return send


def whatsapp_media(intake: ChannelIntake) -> MediaReader:
    """A voice note's bytes: the media id gives a short-lived URL (Graph API), which gives the
    file; both need the access token. Larger than `server.max_upload_bytes` is refused."""
    limit = intake.runtime.settings.server.max_upload_bytes

    async def read(tenant: Tenant, channels: ChannelSettings, media_id: str) -> bytes:
        settings = channels.whatsapp
        assert settings is not None
        token = secret_or_404(
            settings.access_token_value(), tenant, Channel.WHATSAPP, "access_token"
        )
        auth = {"Authorization": f"Bearer {token}"}
        timeout = channels.delivery.timeout_s
        found = await intake.client.get(
            f"{settings.graph_base_url.rstrip('/')}/{media_id}", headers=auth, timeout=timeout
        )
        raise_for_post(found, "WhatsApp Graph API media")
        url = str(found.json().get("url") or "")
        if not url.startswith(("https://", "http://")):
            raise PostFailed(f"WhatsApp media {media_id}: no download URL", retryable=False)
        return await download(intake.client, url, auth, timeout, limit, "WhatsApp media download")

    return read


def whatsapp_outbound(intake: ChannelIntake) -> Outbound:
    """For agents' replies: the sender a conversation came from (`phone_number_id:wa_id`).
    WhatsApp takes free text only within 24 hours of the customer's last message; later the
    Graph API refuses it (a template message would be needed) and the agent sees the error."""

    def outbound(tenant: Tenant, channels: ChannelSettings, thread_key: str) -> Send:
        settings = channels.whatsapp
        assert settings is not None
        token = secret_or_404(
            settings.access_token_value(), tenant, Channel.WHATSAPP, "access_token"
        )
        _number, wa_id = thread_key.split(":", 1)
        return _sender(
            intake, settings, token, channels.delivery.timeout_s, to=wa_id, reply_to=None
        )

    return outbound
