"""Input no database keeps (NUL characters, values longer than their column) is refused at
the edge with 422 and a code, on every route, on SQLite and PostgreSQL (issue 17, point 5:
PostgreSQL answered these with 500 or a 503 a retrying client never got past)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from frontdesk.api.app import create_app
from frontdesk.api.channel_intake import Inbound, storable
from frontdesk.api.input_hygiene import PARAM_COLUMNS, RequestBody
from frontdesk.api.routes.email_channel import decode_unknown
from frontdesk.errors import InvalidRequestError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import all_messages, get_conversation
from frontdesk.storage.fields import check_storable, column_length, fit, scrub, unstorable
from frontdesk.storage.models import Conversation
from frontdesk.types import Channel
from tests.conftest import DEMO

CHARS = "invalid_characters"
LONG = "value_too_long"
ID_33 = "a" * 33  # ids are String(32)
JSON = {"Content-Type": "application/json"}


async def test_bad_input_is_a_422_with_a_code_on_every_route(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = (await create_key(runtime.db, runtime.tenant.id, name="a", scope=Scope.ADMIN)).token
    client.headers["Authorization"] = f"Bearer {admin}"
    conversation = (await client.post("/v1/conversations", json={})).json()["id"]
    login = {"tenant": "default", "email": "agent@example.com", "password": "secret"}
    chat = {"messages": [{"role": "user", "content": "where is my parcel"}]}
    user = {"email": "new@example.com", "password": "a long password"}
    # fmt: off
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/auth/login", {"json": login | {"email": "agent\x00@example.com"}}, CHARS),
        ("POST", "/v1/auth/login", {"json": login | {"tenant": "def\x00ault"}}, CHARS),
        ("POST", "/v1/auth/login", {"json": login | {"email": "a" * 321}}, LONG),
        ("POST", "/v1/conversations", {"json": {"customer_ref": "cust\x00omer"}}, CHARS),
        ("POST", "/v1/conversations", {"json": {"customer_ref": "c" * 201}}, LONG),
        ("POST", "/v1/conversations", {"content": b'{"customer_ref": "a\\ud800"}',
                                       "headers": JSON}, CHARS),
        ("POST", f"/v1/conversations/{conversation}/messages", {"json": {"text": "hi\x00"}}, CHARS),
        ("POST", "/v1/conversations/ab%00cd/messages", {"json": {"text": "hi"}}, CHARS),
        ("GET", "/v1/conversations/ab%00cd", {}, CHARS),
        ("GET", f"/v1/conversations/{ID_33}", {}, LONG),
        ("GET", "/v1/conversations/ab%00cd/updates", {}, CHARS),
        ("GET", f"/v1/conversations/{ID_33}/updates", {}, LONG),
        ("GET", "/v1/jobs/ab%00cd", {}, CHARS),
        ("GET", f"/v1/jobs/{ID_33}", {}, LONG),
        ("GET", "/v1/admin/customers/cust%00omer/export", {}, CHARS),
        ("GET", f"/v1/admin/customers/{'c' * 201}/export", {}, LONG),
        ("DELETE", "/v1/admin/customers/cust%00omer", {}, CHARS),
        ("POST", "/v1/admin/users", {"json": user | {"email": "new\x00@example.com"}}, CHARS),
        ("POST", "/v1/admin/users", {"json": user | {"name": "Ne\x00w"}}, CHARS),
        ("POST", "/v1/admin/users", {"json": user | {"name": "n" * 201}}, LONG),
        ("GET", "/v1/knowledge/search?q=refund%00", {}, CHARS),
        ("GET", "/v1/knowledge/search?q=refund&tag=a%00", {}, CHARS),
        ("DELETE", "/v1/knowledge/documents/ab%00cd", {}, CHARS),
        ("DELETE", f"/v1/knowledge/documents/{ID_33}", {}, LONG),
        ("POST", "/v1/chat/completions",
         {"json": {"messages": [{"role": "user", "content": "hi\x00"}]}}, CHARS),
        ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi\x00"}]}]}}, CHARS),
        ("POST", "/v1/chat/completions", {"json": chat | {"user": "u\x00"}}, CHARS),
        ("POST", "/v1/chat/completions", {"json": chat | {"user": "u" * 201}}, LONG),
        ("POST", "/v1/chat/completions", {"json": chat | {"conversation_id": "c\x00"}}, CHARS),
        ("POST", "/v1/chat/completions", {"json": chat | {"conversation_id": ID_33}}, LONG),
        ("POST", "/v1/chat/completions", {"json": chat | {"model": "m\x00"}}, CHARS),
        ("POST", "/v1/channels/voice?conversation_id=ab%00cd", {"content": b"RIFF"}, CHARS),
        ("POST", f"/v1/channels/voice?conversation_id={ID_33}", {"content": b"RIFF"}, LONG),
        ("POST", "/v1/channels/email?x=%00", {"content": b"From: a@b.c\r\n\r\nhi"}, CHARS),
        ("POST", "/v1/channels/slack/def%00ault/events", {"json": {}}, CHARS),
        ("POST", f"/v1/channels/slack/{'t' * 65}/events", {"json": {}}, LONG),
        ("GET", "/v1/channels/whatsapp/default?hub.challenge=%00", {}, CHARS),
        ("POST", "/v1/channels/whatsapp/def%00ault", {"json": {}}, CHARS),
        ("POST", "/console/login", {"data": {"email": "agent\x00@example.com",
                                             "password": "x"}}, CHARS),
        ("POST", "/console/login", {"data": {"email": "a" * 321, "password": "x"}}, LONG),
        ("POST", "/console/tickets/ab%00cd/reply", {"data": {"text": "hi"}}, CHARS),
        ("POST", f"/console/tickets/{ID_33}/take", {}, LONG),
        ("GET", "/static/chat%00.js", {}, CHARS),
    ]
    # fmt: on
    wrong = []
    for method, url, request, code in cases:
        try:
            response = await client.request(method, url, **request)
            got: object = (response.status_code, response.json()["error"]["code"])
        except Exception as exc:  # an unhandled error reaches the ASGI client as itself
            got = repr(exc)[:200]
        if got != (422, code):
            wrong.append((method, url, request, got))
    assert wrong == []
    # (One runtime per database for all of these: its start is most of the cost.)
    await _a_refused_message_is_not_stored_and_the_next_is_answered(client, conversation)
    await _mail_is_cleaned_and_answered(client, runtime)


async def _a_refused_message_is_not_stored_and_the_next_is_answered(
    client: httpx.AsyncClient, conversation: str
) -> None:
    """A retrying client is told what is wrong (it got 503 `storage_unavailable` before)."""
    url = f"/v1/conversations/{conversation}/messages"
    refused = await client.post(url, json={"text": "where is my parcel\x00"})
    assert refused.json()["error"] == {
        "code": CHARS,
        "message": "text: contains a NUL character (U+0000), which cannot be stored",
    }
    assert (await client.post(url, json={"text": "where is my parcel"})).status_code == 200
    transcript = (await client.get(f"/v1/conversations/{conversation}")).json()
    assert [m["text"] for m in transcript["messages"] if m["role"] == "customer"] == [
        "where is my parcel"
    ]


async def _mail_is_cleaned_and_answered(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """A mail gateway cannot show its sender a 422: what storage cannot keep is cleaned."""
    sender = "d" * 290 + "@example.com"  # From was a 500 on PostgreSQL (varchar(200))
    raw = (
        f"From: {sender}\r\nTo: support@kestrel.example\r\nSubject: Refund\x00 please\r\n"
        "Message-ID: <nul\x00@example.com>\r\nReferences: <earlier\x00@example.com>\r\n\r\n"
        "I want a refund\x00 for order KP-20481736\r\n"
    ).encode()
    unknown = (  # an unknown charset was a 500 on both databases
        b"From: dana@example.com\r\nMessage-ID: <charset@example.com>\r\nSubject: Refund\r\n"
        b"Content-Type: text/plain; charset=unknown-8bit\r\n\r\n"
        b"Je voudrais \xeatre rembours\xe9 pour la commande KP-20481736, s'il vous pla\xeet\r\n"
    )
    headers = {"Content-Type": "message/rfc822"}
    stored = {}
    for mail in (raw, unknown):
        response = await client.post("/v1/channels/email", content=mail, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        async with runtime.db.session(runtime.tenant.id) as session:
            conversation = await get_conversation(session, body["conversation_id"])
            assert conversation is not None
            texts = [m.text for m in await all_messages(session, conversation.id)]
        stored[mail] = (body["email"]["to"], conversation.customer_ref, texts[0])
    assert stored[raw] == (sender, fit(sender, Conversation.customer_ref),
                           "I want a refund for order KP-20481736")  # fmt: skip
    # Its non-ASCII letters are a best guess (charset_normalizer's); the rest is intact.
    text = stored[unknown][2]
    assert text.startswith("Je voudrais ")
    assert "pour la commande KP-20481736" in text


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI keeps routers nested
        if included is not None:
            yield from _routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def _params(dependant: Any, kind: str) -> Iterator[Any]:
    yield from getattr(dependant, kind)
    for sub in dependant.dependencies:
        yield from _params(sub, kind)


def test_every_route_checks_what_it_takes() -> None:
    """A new route cannot leave its input unchecked: every JSON body is a RequestBody, every
    form field a StoredText, every path parameter is named in PARAM_COLUMNS."""
    routes = list(_routes(create_app(DEMO).router.routes))
    assert any(r.path.startswith("/console/") for r in routes)  # the console is mounted
    unchecked = []
    for route in routes:
        for param in _params(route.dependant, "path_params"):
            if param.name not in PARAM_COLUMNS:
                unchecked.append((route.path, param.name, "path parameter"))
        for param in _params(route.dependant, "body_params"):
            info = param.field_info
            models = [t for t in getattr(info.annotation, "__args__", (info.annotation,))
                      if isinstance(t, type) and issubclass(t, BaseModel)]  # fmt: skip
            if models:
                if not all(issubclass(m, RequestBody) for m in models):
                    unchecked.append((route.path, param.name, "body"))
            elif info.annotation is str:
                if not any(getattr(m, "func", None) is check_storable for m in info.metadata):
                    unchecked.append((route.path, param.name, "form field"))
            elif "UploadFile" not in str(info.annotation):
                unchecked.append((route.path, param.name, str(info.annotation)))
    assert unchecked == [], unchecked


def test_column_lengths_come_from_the_models_and_fit_keeps_long_values_apart() -> None:
    assert column_length(Conversation.customer_ref) == 200
    assert unstorable("ok é 😀") is None
    assert unstorable("a\x00b") == "a NUL character (U+0000)"
    assert unstorable("a\udc80") == "an unpaired surrogate (U+DC80)"
    assert scrub("a\x00b\udc80") == "ab\ufffd"
    one, two = (
        fit("x" * 250 + "1", Conversation.customer_ref),
        fit("x" * 250 + "2", Conversation.customer_ref),
    )
    assert len(one) == len(two) == 200
    assert one != two
    assert one.startswith("x" * 150)
    assert fit("dana@example.com\x00", Conversation.customer_ref) == "dana@example.com"


def test_push_channels_clean_the_words_and_refuse_ids_no_column_keeps() -> None:
    """Slack and WhatsApp both go through `ChannelIntake.accept`, which applies this first."""
    inbound = Inbound(Channel.SLACK, "slack:Ev01", "T0:D0:1700000000.0001", "U0CUSTOMER",
                      "I want a refund\x00 for order KP-20481736")  # fmt: skip
    assert storable(inbound).text == "I want a refund for order KP-20481736"
    for field, value in (("delivery_key", "slack:Ev\x00"), ("thread_key", "T" * 201),
                         ("user", "U" * 201)):  # fmt: skip
        with pytest.raises(InvalidRequestError) as refused:
            storable(Inbound(**{**inbound.__dict__, field: value}))
        assert refused.value.code == "invalid_event"


def test_text_in_an_unknown_charset_is_decoded_by_a_best_guess() -> None:
    assert decode_unknown("café ✓".encode()) == "café ✓"
    assert decode_unknown("Grüße aus München, wir wünschen".encode("latin-1")) == (
        "Grüße aus München, wir wünschen"
    )
