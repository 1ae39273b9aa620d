"""E-mail intake: raw mail in, an answer out ready to send; threads and repeats handled."""

from __future__ import annotations

from email.message import EmailMessage

import httpx
import pytest

from frontdesk.api.routes.email_channel import new_text, parse_email
from frontdesk.errors import InvalidRequestError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import all_messages, create_conversation, get_conversation
from frontdesk.storage.tenants import ensure_tenant


def mail(text: str, *, message_id: str, subject: str = "Refund", html: bool = False,
         in_reply_to: str = "", references: str = "") -> bytes:  # fmt: skip
    message = EmailMessage()
    message["From"] = "Dana Customer <Dana@Example.com>"
    message["To"] = "support@kestrel.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    if html:
        message.set_content(text, subtype="html")
    else:
        message.set_content(text)
    return bytes(message)


@pytest.fixture
async def mail_client(client: httpx.AsyncClient, runtime: Runtime) -> httpx.AsyncClient:
    token = (await create_key(runtime.db, runtime.tenant.id, name="mail",
                              scope=Scope.SERVICE)).token  # fmt: skip
    client.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"})
    return client


async def _customer_texts(runtime: Runtime, conversation_id: str) -> list[str]:
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await get_conversation(session, conversation_id)
        assert conversation is not None
        assert (conversation.channel, conversation.customer_ref) == ("email", "dana@example.com")
        return [
            m.text for m in await all_messages(session, conversation_id) if m.role == "customer"
        ]


async def test_a_mail_thread_is_one_conversation_and_repeats_are_answered_once(
    mail_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = mail(
        "I want a refund for order KP-20481736.\n\n-- \nDana\n", message_id="<m1@example.com>"
    )
    response = await mail_client.post("/v1/channels/email", content=first)
    assert response.status_code == 200, response.text
    body = response.json()
    cid = body["conversation_id"]
    assert body["reply"]["intent"] == "request_refund"
    out = body["email"]
    assert (out["to"], out["subject"], out["in_reply_to"]) == (
        "dana@example.com", "Re: Refund", "<m1@example.com>")  # fmt: skip
    assert out["references"] == "<m1@example.com>"
    # The answer's [n] markers are listed under it: a mail reader shows no citations.
    citations = body["reply"]["citations"]
    assert citations
    assert out["text"].startswith(body["reply"]["answer"] + "\n\nSources:\n")
    for citation in citations:
        assert f"[{citation['n']}]" in body["reply"]["answer"]
        assert f"\n[{citation['n']}] {citation['title']}" in out["text"]

    again = await mail_client.post("/v1/channels/email", content=first)  # the gateway retried
    assert again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"

    # The customer answers our reply: In-Reply-To names our Message-ID.
    answer = mail("How long will it take?\n\nOn Mon, 23 Nov 2026, Kestrel wrote:\n> Only the "
                  "account that paid...\n", message_id="<m2@example.com>", subject="Re: Refund",
                  in_reply_to=out["message_id"],
                  references=f"<m1@example.com> {out['message_id']}")  # fmt: skip
    second = await mail_client.post("/v1/channels/email", content=answer)
    assert second.json()["conversation_id"] == cid
    assert (
        second.json()["email"]["references"]
        == f"<m1@example.com> {out['message_id']} <m2@example.com>"
    )
    # A reply to the customer's own first mail (another client) finds the thread too.
    third = await mail_client.post("/v1/channels/email", content=mail(
        "Also, is there a fee?", message_id="<m3@example.com>",
        in_reply_to="<m1@example.com>"))  # fmt: skip
    assert third.json()["conversation_id"] == cid
    texts = await _customer_texts(runtime, cid)
    assert texts == ["I want a refund for order KP-20481736.", "How long will it take?",
                     "Also, is there a fee?"]  # fmt: skip


async def test_another_tenants_conversation_is_not_continued(
    mail_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    other = await ensure_tenant(runtime.db, "tenant-b")
    async with runtime.db.session(other.id) as session:
        theirs = await create_conversation(session, channel="email")
        await session.commit()
    forged = f"<frontdesk.{theirs.id}.{'0' * 32}@tenant-b.frontdesk.invalid>"
    response = await mail_client.post("/v1/channels/email", content=mail(
        "where is my parcel?", message_id="<x1@example.com>", in_reply_to=forged))  # fmt: skip
    assert response.status_code == 200
    assert response.json()["conversation_id"] != theirs.id
    async with runtime.db.session(other.id) as session:
        assert await all_messages(session, theirs.id) == []


async def test_bad_mail_gets_a_clear_error(mail_client: httpx.AsyncClient) -> None:
    response = await mail_client.post("/v1/channels/email", content=b"just some text, no headers")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_email"
    empty = mail("> only quoted text\n", message_id="<e1@example.com>", subject="")
    response = await mail_client.post("/v1/channels/email", content=empty)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "empty_message"


def test_html_mail_and_quoted_history() -> None:
    html = "<html><body><p>My parcel <b>KP-20481736</b> is late.</p></body></html>"
    parsed = parse_email(mail(html, message_id="<h1@example.com>", html=True))
    assert "My parcel **KP-20481736** is late." in parsed.text
    assert parsed.sender == "dana@example.com"
    assert new_text("Thanks!\n-----Original Message-----\nFrom: us\nold text") == "Thanks!"
    assert new_text("Yes please\n> earlier\n> more\nBest") == "Yes please\nBest"
    with pytest.raises(InvalidRequestError):
        parse_email(b"From: a@b.c\n\nno message id")
