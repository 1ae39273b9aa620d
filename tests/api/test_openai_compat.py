"""The OpenAI-compatible endpoint, called by the real `openai` client over loopback HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import openai
import pytest

from frontdesk.api.app import create_app
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import all_messages, create_conversation, get_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

REFUND = "I want a refund for order KP-20481736"


def _key(workspace: Path, scope: Scope = Scope.SERVICE) -> str:
    """A key of the served workspace's tenant, written to its database beside the server."""
    settings = load_settings(Workspace.at(workspace))

    async def issue() -> str:
        db = Database(settings.resolved_database_url(workspace))
        try:
            tenant = await ensure_tenant(db, settings.tenant)
            return (await create_key(db, tenant.id, name="openai", scope=scope)).token
        finally:
            await db.dispose()

    return asyncio.run(issue())


def _transcript(workspace: Path, conversation_id: str) -> list[tuple[str, str]]:
    settings = load_settings(Workspace.at(workspace))

    async def read() -> list[tuple[str, str]]:
        db = Database(settings.resolved_database_url(workspace))
        try:
            tenant = await ensure_tenant(db, settings.tenant)
            async with db.session(tenant.id) as session:
                conversation = await get_conversation(session, conversation_id)
                assert conversation is not None
                assert conversation.channel == "openai"
                return [(m.role, m.text) for m in await all_messages(session, conversation_id)]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_the_openai_client_chats_with_frontdesk(live_server: str, workspace: Path) -> None:
    client = openai.OpenAI(base_url=live_server + "/v1", api_key=_key(workspace), max_retries=0)
    first = client.chat.completions.create(
        model="gpt-4o-mini",  # accepted and ignored: the operator's configuration decides
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": REFUND},
        ],
        temperature=0.2,
    )
    answer = first.choices[0].message.content
    assert answer
    assert first.choices[0].finish_reason == "stop"
    assert first.model == "gpt-4o-mini"
    assert first.id.startswith("chatcmpl-")
    extra = first.model_extra or {}
    assert extra["frontdesk"]["intent"] == "request_refund"
    assert extra["frontdesk"]["citations"]
    conversation_id = extra["conversation_id"]

    follow_up = client.chat.completions.create(
        model="frontdesk",
        messages=[
            {"role": "user", "content": REFUND},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": [{"type": "text", "text": "How long does it take?"}]},
        ],
        extra_body={"conversation_id": conversation_id},
    )
    assert (follow_up.model_extra or {})["conversation_id"] == conversation_id
    customer = [
        text for role, text in _transcript(workspace, conversation_id) if role == "customer"
    ]
    assert customer == [REFUND, "How long does it take?"]  # earlier messages not replayed

    chunks = list(
        client.chat.completions.create(
            model="frontdesk", messages=[{"role": "user", "content": REFUND}], stream=True
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer  # the same question in a new conversation, the same answer
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_openai_clients_get_clear_errors(live_server: str, workspace: Path) -> None:
    client = openai.OpenAI(base_url=live_server + "/v1", api_key=_key(workspace), max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as bad_role:
        client.chat.completions.create(
            model="frontdesk", messages=[{"role": "assistant", "content": "hello"}]
        )
    assert bad_role.value.body["code"] == "no_user_message"  # type: ignore[index]
    with pytest.raises(openai.UnprocessableEntityError) as image:
        client.chat.completions.create(
            model="frontdesk",
            messages=[{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}],
        )  # fmt: skip
    assert image.value.body["code"] == "unsupported_content"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="frontdesk",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"conversation_id": "no-such-conversation"},
        )
    widget = openai.OpenAI(
        base_url=live_server + "/v1", api_key=_key(workspace, Scope.WIDGET), max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError):
        widget.chat.completions.create(
            model="frontdesk", messages=[{"role": "user", "content": "hi"}]
        )
    anonymous = openai.OpenAI(base_url=live_server + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.chat.completions.create(
            model="frontdesk", messages=[{"role": "user", "content": "hi"}]
        )


async def test_another_tenants_conversation_is_not_found(sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    other = await ensure_tenant(runtime.db, "tenant-b")
    async with runtime.db.session(other.id) as session:
        theirs = await create_conversation(session, channel="api")
        await session.commit()
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post(
                "/v1/chat/completions",
                json={
                    "messages": [{"role": "user", "content": "hi"}],
                    "conversation_id": theirs.id,
                },
                headers={"Authorization": f"Bearer {token}"},
            )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    async with runtime.db.session(other.id) as session:
        assert await all_messages(session, theirs.id) == []
