"""What the push channels (Slack, WhatsApp) share: the webhook's tenant and signature checks,
and answering in the background.

Their webhooks carry no API key. The URL names the tenant (`/v1/channels/<channel>/<tenant>`)
and the request is signed with that tenant's secret for the channel; a tenant without the
channel configured is 404. Slack wants its 200 within 3 seconds and Meta retries slow
webhooks, so a message is only recorded as a job before the webhook answers; the turn and the
post back run in the background:

- the channel's message id is the idempotency key (`message_deliveries`, like every other way
  in), so a retried delivery is answered once;
- the turn goes through `take_turn` (size, rate limits, conversation length, the tenant's
  slot). With no API key, the per-key rate limit counts per channel user (`slack:U123`,
  `whatsapp:<wa_id>`): one customer flooding is refused, others are not;
- the answer is posted back with retries (tenacity, exponential backoff) on network errors,
  5xx and 429; a post that still fails is logged, counted in `frontdesk_channel_posts_total`
  and left on the job row as the job's error. The customer message and the answer are stored
  by the turn either way;
- neither platform resends an event it had its 200 for, so a message whose process died
  before its answer went out is resumed by the next process (`resume`): the job row keeps,
  until the job ends, what the turn needs (the text with personal data redacted, as it is
  stored anyway). A turn already completed is not run again: its stored answer is posted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy import select
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

from frontdesk.api.delivery import channel_delivery, once, take_turn
from frontdesk.api.limits import Limiter
from frontdesk.config.channel_settings import ChannelSettings, DeliverySettings
from frontdesk.errors import (
    AuthenticationError,
    ConflictError,
    FrontdeskError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
)
from frontdesk.guard.pii import redact
from frontdesk.jobs import JobRunner
from frontdesk.jobs.runner import MAX_INTERRUPTIONS, PENDING, Interrupted
from frontdesk.orchestration.runtime import Runtime
from frontdesk.speech.errors import VoiceUnavailableError
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import Scope, VerifiedKey
from frontdesk.storage.channel_threads import restart_thread, thread_conversation
from frontdesk.storage.deliveries import DeliveryKey
from frontdesk.storage.fields import column_length, scrub, unstorable
from frontdesk.storage.models import Conversation, Tenant
from frontdesk.storage.support_models import ChannelThread, MessageDelivery
from frontdesk.storage.tenants import find_tenant
from frontdesk.types import Channel

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
Outbound = Callable[[Tenant, ChannelSettings, str], Send]  # (tenant, its settings, thread key)
MediaReader = Callable[[Tenant, ChannelSettings, str], Awaitable[bytes]]  # (..., media id)
# A voice message that cannot become text gets the channel's fallback reply instead.
UNTRANSCRIBABLE = {"invalid_audio", "no_speech", "audio_too_long", "voice_unavailable",
                   "payload_too_large"}  # fmt: skip
PUSH_CHANNELS = (Channel.SLACK, Channel.WHATSAPP)
MESSAGE_JOBS = tuple(f"{c.value}_message" for c in PUSH_CHANNELS)
TENANT_BUSY_WAIT_S = 60.0  # a background turn waits for the tenant's slot this long at most


def hmac_sha256_hex(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def check_signature(expected: str, given: str) -> None:
    """Constant-time: how much of a forged signature matched must not show in the timing."""
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise AuthenticationError(
            "the request signature does not match: check the channel's signing secret",
            code="invalid_signature",
        )


def require_credential(value: str | None, what: str) -> str:
    """A webhook without its signature (or verify token) has no credentials at all: 401
    `unauthorized`, like a /v1 call without an API key."""
    if not value:
        raise AuthenticationError(f"{what} is required")
    return value


async def configured_tenant(
    runtime: Runtime, slug: str, channel: Channel
) -> tuple[Tenant, ChannelSettings]:
    """The tenant a webhook URL names, when it has `channel` configured; else 404."""
    settings = runtime.settings.channels_for(slug)
    configured = settings is not None and getattr(settings, channel.value) is not None
    tenant = await find_tenant(runtime.db, slug) if configured else None
    if settings is None or tenant is None:
        raise NotFoundError(
            f"{channel.value} is not configured for tenant {slug!r}: set "
            f"tenants.{slug}.channels.{channel.value} (or channels.{channel.value} for the "
            "workspace's own tenant) in frontdesk.yaml",
            code="channel_not_configured",
        )
    return tenant, settings


def secret_or_404(value: str | None, tenant: Tenant, channel: Channel, name: str) -> str:
    """A channel whose secret is not set (nor its variable) cannot check anything: it is
    treated as not configured, and the log names what is missing."""
    if value:
        return value
    log.error(
        "%s for tenant %s: %s is not set (nor its *_env variable)", channel.value, tenant.slug, name
    )
    raise NotFoundError(
        f"{channel.value} for tenant {tenant.slug!r} has no {name}", code="channel_not_configured"
    )


class PostFailed(Exception):
    """The channel's API refused or failed to take the answer."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def raise_for_post(response: httpx.Response, api: str) -> None:
    """5xx and 429 are worth another attempt; other 4xx are not (bad token, unknown channel)."""
    if response.is_success:
        return
    retryable = response.status_code >= 500 or response.status_code == 429
    raise PostFailed(
        f"{api} answered {response.status_code}: {response.text[:300]}", retryable=retryable
    )


async def download(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    timeout_s: float,
    limit: int,
    api: str,
) -> bytes:
    """A channel's media file, refused past `limit` bytes (`server.max_upload_bytes`)."""
    async with client.stream("GET", url, headers=headers, timeout=timeout_s,
                             follow_redirects=True) as response:  # fmt: skip
        if not response.is_success:
            await response.aread()
            raise_for_post(response, api)
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > limit:
                raise PayloadTooLargeError(
                    f"the voice message is over {limit} bytes (server.max_upload_bytes)",
                    code="payload_too_large",
                )
    return bytes(data)


class ChannelAnswer(BaseModel):
    """What one channel message got (stored with its delivery key, so a retry posts nothing)."""

    conversation_id: str | None = None
    turn_id: str | None = None
    text: str


@dataclass(frozen=True)
class Inbound:
    """One customer message from a push channel."""

    channel: Channel
    delivery_key: str  # the channel's id for this message, e.g. "slack:Ev0123"
    thread_key: str  # which conversation it continues
    user: str  # the channel's user id: the conversation's customer_ref and the rate-limit key
    text: str
    notice: bool = False  # `text` is our own notice to send (no turn), e.g. "text only"
    audio_id: str | None = None  # a voice message to fetch and transcribe first (media id)
    fallback_reply: str | None = None  # sent when the voice message cannot be transcribed


def _delivery(inbound: Inbound) -> DeliveryKey:
    """The message's id in the channels' own namespace (no API caller's key can claim it);
    the same id from another thread or user is another message, never answered with this
    one's reply. (The text is left out: a resumed job has only its redacted copy.)"""
    return channel_delivery(inbound.delivery_key, inbound.channel.value,
                            inbound.thread_key, inbound.user)  # fmt: skip


def storable(inbound: Inbound) -> Inbound:
    """The message as storage can keep it. The customer's words are cleaned (NULs removed): a
    platform cannot show its user a 422. The platform's own ids (message, thread, user) are
    used as they are to answer, so one that no column keeps is refused (422 `invalid_event`,
    which the platform's webhook log shows) rather than changed."""
    ids = (("message id", inbound.delivery_key, MessageDelivery.key),
           ("thread", inbound.thread_key, ChannelThread.thread_key),
           ("user id", inbound.user, Conversation.customer_ref))  # fmt: skip
    for name, value, column in ids:
        problem = unstorable(value)
        if problem is None and len(value) > column_length(column):
            problem = f"{len(value)} characters, more than the {column_length(column)} kept"
        if problem is not None:
            raise InvalidRequestError(
                f"{inbound.channel.value} event: its {name} has {problem}", code="invalid_event"
            )
    return replace(inbound, text=scrub(inbound.text))


def channel_identity(tenant: Tenant, channel: Channel, user: str) -> VerifiedKey:
    """Webhooks carry no API key: the caller take_turn rate-limits is the channel's user."""
    return VerifiedKey(
        id=f"{channel.value}:{user}",
        tenant_id=tenant.id,
        scope=Scope.SERVICE,
        name=channel.value,
        kind="channel",
        tenant_slug=tenant.slug,
    )


class ChannelIntake:
    """One per app: the channel jobs in flight, the HTTP client that posts answers back."""

    def __init__(
        self,
        runtime: Runtime,
        limiter: Limiter,
        *,
        client: httpx.AsyncClient | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.limiter = limiter
        self.client = client or httpx.AsyncClient(timeout=10.0)
        # How each channel's voice messages are read (set by the app: `push_channels`).
        self.media_readers: dict[Channel, MediaReader] = {}
        # Its own runner: a knowledge re-index on the app's runner must not hold up answers.
        self.runner = JobRunner(
            runtime.db,
            concurrency=concurrency or runtime.settings.limits.tenant_concurrency,
            timing=runtime.settings.jobs,
        )

    async def accept(
        self, tenant: Tenant, inbound: Inbound, send: Send, delivery: DeliverySettings
    ) -> str | None:
        """Queue the message as a job and return its id; None for a repeat of a message
        already taken (its first delivery answers it, or has answered it)."""
        inbound = storable(inbound)
        if await deliveries.seen(self.runtime.db, tenant.id, _delivery(inbound)):
            self._count(inbound.channel, "duplicate")
            log.info(
                "%s: %s delivered again; answered once", inbound.channel.value, inbound.delivery_key
            )
            return None
        pending = {
            "thread_key": inbound.thread_key,
            "user": inbound.user,
            "text": redact(inbound.text).text,  # the customer's: stored only as the turn would
            "notice": inbound.notice,
            "audio_id": inbound.audio_id,
            "fallback_reply": inbound.fallback_reply,
        }
        return await self.runner.submit(
            tenant.id,
            f"{inbound.channel.value}_message",
            {"delivery_key": inbound.delivery_key, PENDING: pending},
            lambda: self._answer(tenant, inbound, send, delivery),
        )

    async def resume(self, outbounds: dict[Channel, Outbound]) -> int:
        """Answer the messages a process that died had accepted but not finished (start-up,
        then now and then). Returns how many were resumed."""
        resumed = 0
        for job in await self.runner.interrupted(MESSAGE_JOBS):
            if not await self.runner.take(job):  # another process took it first
                continue
            why = await self._resume(job, outbounds)
            if why is None:
                resumed += 1
                continue
            log.error("%s: job %s not resumed: %s", job.kind, job.id, why)
            await self.runner.fail(job.tenant_id, job.id, f"interrupted by a restart; {why}")
        return resumed

    async def _resume(self, job: Interrupted, outbounds: dict[Channel, Outbound]) -> str | None:
        """Rerun one interrupted message job; the reason when it cannot be."""
        if job.attempts >= MAX_INTERRUPTIONS:
            return f"interrupted {job.attempts} times"
        pending = job.payload.get(PENDING)
        if not isinstance(pending, dict):
            return "accepted by a version that kept no text to resume from"
        channel = Channel(job.kind.removesuffix("_message"))
        async with self.runtime.db.unscoped_session() as session:
            tenant = await session.get(Tenant, job.tenant_id)
        channels = self.runtime.settings.channels_for(tenant.slug) if tenant else None
        if tenant is None or channels is None or getattr(channels, channel.value) is None:
            return f"{channel.value} is no longer configured for this tenant"
        inbound = Inbound(
            channel=channel,
            delivery_key=str(job.payload["delivery_key"]),
            thread_key=str(pending["thread_key"]),
            user=str(pending["user"]),
            text=str(pending["text"]),
            notice=bool(pending.get("notice")),
            audio_id=pending.get("audio_id"),
            fallback_reply=pending.get("fallback_reply"),
        )
        try:
            send = outbounds[channel](tenant, channels, inbound.thread_key)
        except FrontdeskError as exc:  # e.g. the bot token was removed
            return exc.message
        # The process that died may still hold the message's claim: start once it counts as
        # abandoned, not in a slot meanwhile (a claim held by a live process is its to answer).
        delay = await deliveries.seconds_until_abandoned(
            self.runtime.db, tenant.id, _delivery(inbound)
        )
        self._count(channel, "resumed")
        self.runner.rerun(
            tenant.id,
            job.id,
            lambda: self._answer(tenant, inbound, send, channels.delivery, resumed=True),
            after_s=delay,
        )
        return None

    def ignored(self, channel: Channel, why: str) -> None:
        self._count(channel, "ignored")
        log.debug("%s: event ignored (%s)", channel.value, why)

    async def _answer(
        self,
        tenant: Tenant,
        inbound: Inbound,
        send: Send,
        delivery: DeliverySettings,
        *,
        resumed: bool = False,
    ) -> dict[str, Any]:
        identity = channel_identity(tenant, inbound.channel, inbound.user)
        heard: list[str] = []  # the transcript, kept across the busy-tenant retries below

        async def produce() -> ChannelAnswer:
            if inbound.notice:
                return ChannelAnswer(text=inbound.text)
            if inbound.audio_id is None:
                return await self._turn(identity, inbound)
            try:
                spoken = heard[0] if heard else await self._transcribed(tenant, inbound)
                heard[:] = [spoken]
            except FrontdeskError as exc:
                if exc.code not in UNTRANSCRIBABLE or inbound.fallback_reply is None:
                    raise
                log.info("%s: %s not transcribed (%s); sending the fallback reply",
                         inbound.channel.value, inbound.delivery_key, exc.code)  # fmt: skip
                self._count(inbound.channel, "not_transcribed")
                return ChannelAnswer(text=inbound.fallback_reply)
            return await self._turn(identity, replace(inbound, text=spoken, audio_id=None))

        try:
            async for attempt in AsyncRetrying(
                # The tenant's slot or the transcription queue is full: wait, the webhook has gone.
                retry=retry_if_exception(
                    lambda e: getattr(e, "code", "") in ("tenant_busy", "voice_busy")
                ),
                wait=wait_fixed(1.0),
                stop=stop_after_delay(TENANT_BUSY_WAIT_S),
                reraise=True,
            ):
                with attempt:  # the tenant's slot is full: wait for it, the webhook has gone
                    answer, replayed = await once(
                        self.runtime, identity, _delivery(inbound), produce, ChannelAnswer
                    )
        except ConflictError:  # another job holds this message (a concurrent retry)
            self._count(inbound.channel, "duplicate")
            return {"skipped": "being answered by another delivery"}
        except FrontdeskError as exc:  # refused: rate limit, too long, tenant busy too long
            self._count(inbound.channel, "refused")
            log.warning(
                "%s: %s not answered: %s (%s)",
                inbound.channel.value,
                inbound.delivery_key,
                exc.message,
                exc.code,
            )
            raise
        except Exception:  # the job runner logs it and keeps it on the job row
            self._count(inbound.channel, "failed")
            raise
        if replayed and not resumed:
            self._count(inbound.channel, "duplicate")
            return {"skipped": "answered before", "conversation_id": answer.conversation_id}
        # (resumed and replayed: the turn ran before the restart; its answer may not have
        # gone out, so it is posted now. At worst the customer sees it twice.)
        if not answer.text.strip():  # an agent owns the conversation: the bot stays silent
            self._count(inbound.channel, "silent")
            return {
                "conversation_id": answer.conversation_id,
                "turn_id": answer.turn_id,
                "posted": False,
            }
        self._count(inbound.channel, "notice" if inbound.notice else "answered")
        await self.post(
            inbound.channel,
            send,
            answer.text,
            delivery,
            what=f"{inbound.delivery_key} (conversation {answer.conversation_id})",
        )
        return {
            "conversation_id": answer.conversation_id,
            "turn_id": answer.turn_id,
            "posted": True,
        }

    async def _transcribed(self, tenant: Tenant, inbound: Inbound) -> str:
        """The words of a voice message (fetched through its channel, then transcribed)."""
        transcriber = self.runtime.transcriber
        if transcriber is None:
            raise VoiceUnavailableError("voice intake is off in this workspace (voice.enabled)")
        channels = self.runtime.settings.channels_for(tenant.slug)
        reader = self.media_readers.get(inbound.channel)
        if channels is None or reader is None or inbound.audio_id is None:
            raise VoiceUnavailableError(f"{inbound.channel.value} voice messages are not read")
        audio = await reader(tenant, channels, inbound.audio_id)
        transcript = await transcriber.transcribe(audio)
        self._count(inbound.channel, "transcribed")
        return transcript.text

    async def _turn(self, identity: VerifiedKey, inbound: Inbound) -> ChannelAnswer:
        db, tenant_id = self.runtime.db, identity.tenant_id
        where = {
            "channel": inbound.channel.value,
            "thread_key": inbound.thread_key,
            "customer_ref": inbound.user,
        }
        conversation_id = await thread_conversation(db, tenant_id, **where)
        try:
            reply = await take_turn(
                self.runtime,
                identity,
                self.limiter,
                inbound.text,
                conversation_id=conversation_id,
                channel=inbound.channel,
            )
        except FrontdeskError as exc:
            if exc.code != "conversation_too_long":
                raise
            # A long-lived thread (a WhatsApp number writes for years) goes on in a new
            # conversation instead of being refused for ever.
            conversation_id = await restart_thread(db, tenant_id, **where)
            reply = await take_turn(
                self.runtime,
                identity,
                self.limiter,
                inbound.text,
                conversation_id=conversation_id,
                channel=inbound.channel,
            )
        return ChannelAnswer(
            conversation_id=reply.conversation_id, turn_id=reply.turn_id, text=reply.text
        )

    async def post(
        self, channel: Channel, send: Send, text: str, delivery: DeliverySettings, *, what: str
    ) -> None:
        """`send(text)` with retries; a post that still fails is logged, counted and raised
        (the job keeps it as its error)."""

        def retrying(state: RetryCallState) -> None:
            self._posts(channel, "retried")
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s: posting the answer to %s failed (attempt %d): %s",
                channel.value,
                what,
                state.attempt_number,
                error,
            )

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(
                    lambda e: (
                        isinstance(e, httpx.TransportError)
                        or (isinstance(e, PostFailed) and e.retryable)
                    )
                ),
                wait=wait_exponential(multiplier=delivery.backoff_s, max=delivery.backoff_max_s),
                stop=stop_after_attempt(delivery.attempts),
                before_sleep=retrying,
                reraise=True,
            ):
                with attempt:
                    await send(text)
        except Exception as exc:
            self._posts(channel, "failed")
            log.error(
                "%s: the answer to %s was not delivered: %s (it is stored in the conversation)",
                channel.value,
                what,
                exc,
            )
            raise
        self._posts(channel, "sent")

    def _count(self, channel: Channel, outcome: str) -> None:
        self.runtime.metrics.channel_events.labels(channel.value, outcome).inc()

    def _posts(self, channel: Channel, outcome: str) -> None:
        self.runtime.metrics.channel_posts.labels(channel.value, outcome).inc()

    async def drain(self) -> None:
        """Wait for the messages in flight (shutdown, tests)."""
        await self.runner.drain()

    async def close(self) -> None:
        await self.runner.drain()
        await self.client.aclose()


class PushChannel:
    """The desk's way out on Slack or WhatsApp (`interfaces.Channel`): an agent's reply from
    the console reaches the thread or chat the conversation came from."""

    def __init__(self, intake: ChannelIntake, channel: Channel, outbound: Outbound) -> None:
        self.intake = intake
        self.channel = channel
        self.outbound = outbound

    async def send_text(self, conversation_id: str, text: str) -> None:
        runtime = self.intake.runtime
        # The desk names only the conversation; ids are unique across tenants, and the row
        # found names its tenant, whose own settings are used.
        async with runtime.db.unscoped_session() as session:
            found = (
                await session.execute(
                    select(ChannelThread.thread_key, Tenant)
                    .join(Tenant, Tenant.id == ChannelThread.tenant_id)
                    .where(
                        ChannelThread.conversation_id == conversation_id,
                        ChannelThread.channel == self.channel.value,
                    )
                )
            ).first()
        if found is None:
            raise NotFoundError(
                f"conversation {conversation_id} has no {self.channel.value} thread",
                code="channel_thread_not_found",
            )
        thread_key, tenant = found
        channels = runtime.settings.channels_for(tenant.slug)
        if channels is None or getattr(channels, self.channel.value) is None:
            raise NotFoundError(
                f"{self.channel.value} is no longer configured for tenant {tenant.slug!r}",
                code="channel_not_configured",
            )
        send = self.outbound(tenant, channels, thread_key)
        await self.intake.post(
            self.channel,
            send,
            text,
            channels.delivery,
            what=f"an agent's reply in conversation {conversation_id}",
        )


def get_intake(request: Request) -> ChannelIntake:
    intake: ChannelIntake = request.app.state.channels
    return intake


IntakeDep = Annotated[ChannelIntake, Depends(get_intake)]
