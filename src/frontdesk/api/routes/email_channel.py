"""E-mail intake: an inbound-mail webhook that takes the raw message (RFC 5322, as mail
gateways forward it) and answers it through the full pipeline.

The message's own `Message-ID` is its idempotency key, so a gateway that delivers the same
mail twice gets the first answer back. A reply continues its conversation: frontdesk's answers
carry a `Message-ID` naming the conversation, and the customer's mail client puts it in
`In-Reply-To`/`References`; the ids of the customer's earlier mails there are found too.
Quoted history ("On ... wrote:", "> " lines) and signatures are cut, HTML-only mail is turned
into text. The answer comes back as an e-mail ready for the gateway to send (recipient,
subject, threading headers, text); frontdesk does not speak SMTP itself.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import parseaddr

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from frontdesk.api.delivery import REPLAYED, channel_delivery, channel_key, once, take_turn
from frontdesk.api.deps import CurrentKey, LimiterDep, RuntimeDep, require_scope
from frontdesk.api.routes.conversations import public_reply
from frontdesk.api.schemas import ErrorResponse, ReplyPublic
from frontdesk.errors import InvalidRequestError
from frontdesk.guard.pii import redact
from frontdesk.knowledge.converters import ConversionError, convert
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import deliveries
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.conversations import get_conversation
from frontdesk.storage.fields import fit, scrub
from frontdesk.storage.models import Conversation
from frontdesk.storage.support_models import MessageDelivery
from frontdesk.types import Channel, Citation

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 409, 413, 422, 429)
}
router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=ERRORS)
_OURS = re.compile(r"^<frontdesk\.([0-9a-f]{32})\.[0-9a-f]{32}@")
_QUOTE_START = re.compile(
    r"^(On .{4,200} wrote:|-----Original Message-----|From: .+|_{5,})\s*$", re.IGNORECASE
)


class OutboundEmail(BaseModel):
    to: str
    subject: str
    message_id: str
    in_reply_to: str
    references: str
    text: str


class EmailReply(BaseModel):
    conversation_id: str
    reply: ReplyPublic
    email: OutboundEmail


class InboundEmail(BaseModel):
    message_id: str
    sender: str
    subject: str
    text: str
    thread: list[str]  # ids of the mails this one answers, newest first


def parse_email(raw: bytes) -> InboundEmail:
    """The mail's parts, cleaned rather than refused (a gateway cannot show its sender a
    422): characters no database keeps (NUL, undecodable bytes) removed or replaced, text in
    an unknown charset decoded by a best guess. Over-long headers are fitted where stored."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = scrub(str(message.get("Message-ID") or "")).strip()
    sender = scrub(parseaddr(str(message.get("From") or ""))[1]).strip().lower()
    if not message_id or "@" not in sender:
        raise InvalidRequestError(
            "not an e-mail: a raw RFC 5322 message with From and Message-ID is expected",
            code="invalid_email",
        )
    subject = scrub(str(message.get("Subject") or "")).strip()
    thread = scrub(str(message.get("References") or "")).split()
    thread += scrub(str(message.get("In-Reply-To") or "")).split()
    text = scrub(new_text(_body(message)))
    if not text:
        text = re.sub(r"^(re|aw|fwd?):\s*", "", subject, flags=re.IGNORECASE).strip()
    if not text:
        raise InvalidRequestError("the e-mail has no text", code="empty_message")
    return InboundEmail(message_id=message_id, sender=sender, subject=subject, text=text,
                        thread=list(dict.fromkeys(reversed(thread))))  # fmt: skip


def _body(message: email.message.Message) -> str:
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    try:
        content = str(part.get_content())
    except LookupError:  # a charset Python does not know: "unknown-8bit", "x-user-defined"...
        payload = part.get_payload(decode=True)
        content = decode_unknown(payload if isinstance(payload, bytes) else b"")
    if part.get_content_subtype() == "html":
        try:
            return convert("mail.html", content.encode())
        except ConversionError:
            return ""
    return content


def decode_unknown(data: bytes) -> str:
    """Text whose charset is unknown: UTF-8 when it is that, else charset_normalizer's best
    guess (when installed), else Latin-1 (every byte is a character: nothing is lost)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - it comes with requests, which most installs have
        return data.decode("latin-1")
    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("latin-1")


def new_text(body: str) -> str:
    """What the customer wrote in this mail: quoted history and the signature cut off."""
    kept = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()) or line.rstrip() == "--":
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


@router.post("/email", response_model=EmailReply)
async def inbound_email(
    request: Request, runtime: RuntimeDep, key: CurrentKey, limiter: LimiterDep
) -> EmailReply | JSONResponse:
    """The raw e-mail as the request body (`Content-Type: message/rfc822`)."""
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    mail = parse_email(await request.body())

    async def answer() -> EmailReply:
        reply = await take_turn(
            runtime,
            key,
            limiter,
            mail.text,
            conversation_id=await _thread_conversation(runtime, key.tenant_id, mail.thread),
            channel=Channel.EMAIL,
            customer_ref=fit(mail.sender, Conversation.customer_ref),  # the reply has it whole
        )
        conversation_id = reply.conversation_id
        domain = f"{key.tenant_slug or 'mail'}.frontdesk.invalid"
        # Stored with the reply (message_deliveries) and sent back: personal data out of it.
        subject = redact(mail.subject).text or "Your message"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        return EmailReply(
            conversation_id=conversation_id,
            reply=public_reply(reply),
            email=OutboundEmail(
                to=mail.sender,
                subject=subject,
                message_id=f"<frontdesk.{conversation_id}.{reply.turn_id}@{domain}>",
                in_reply_to=mail.message_id,
                references=" ".join([*reversed(mail.thread), mail.message_id]),
                text=email_text(reply.text, reply.citations),
            ),
        )

    # The sender is part of the request: one Message-ID sent again from another address is
    # another mail (or a forgery), never answered with the first sender's reply.
    delivery = channel_delivery(channel_key(Channel.EMAIL, mail.message_id), "channels.email",
                                mail.sender)  # fmt: skip
    result, replayed = await once(runtime, key, delivery, answer, EmailReply)
    if replayed:
        return JSONResponse(result.model_dump(mode="json"), headers=REPLAYED)
    return result


def email_text(answer: str, citations: Sequence[Citation]) -> str:
    """The answer as a mail's body: the `[n]` markers it carries are listed under it, since a
    mail reader shows no links (the chat page and the API show the citations beside it)."""
    if not citations:
        return answer
    lines = [f"[{c.n}] {c.title}" for c in citations]  # the article, not the operator's file
    return answer.rstrip() + "\n\nSources:\n" + "\n".join(lines)


async def _thread_conversation(runtime: Runtime, tenant_id: str, thread: list[str]
                               ) -> str | None:  # fmt: skip
    """The conversation an answered mail belongs to: named in one of our own Message-IDs, or
    the one an earlier mail of the thread started (this tenant's only)."""
    async with runtime.db.session(tenant_id) as session:
        for message_id in thread:
            ours = _OURS.match(message_id)
            if ours and await get_conversation(session, ours.group(1)) is not None:
                return ours.group(1)
        if not thread:
            return None
        earlier = await session.scalar(
            select(MessageDelivery.conversation_id)
            .where(MessageDelivery.namespace == deliveries.CHANNEL)
            .where(MessageDelivery.key.in_([channel_key(Channel.EMAIL, m) for m in thread]))
            .where(MessageDelivery.conversation_id.is_not(None))
            .order_by(MessageDelivery.created_at.desc())
        )
        return earlier
