"""Memory and language through HTTP, on SQLite and PostgreSQL (the demo workspace, the real
app over ASGI): a Spanish customer is routed with a Spanish reply and the language is recorded
on the turn, the conversation and the profile; the customer profile carries the name given,
facts and contacts across conversations and greets by name; the running summary and the
profile reach the hand-off; the privacy export, erasure and retention purge include profiles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import Conversation, Ticket, Turn, utcnow


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.ADMIN)).token
    return {"Authorization": f"Bearer {token}"}


async def _start(client: httpx.AsyncClient, headers: dict[str, str], ref: str) -> str:
    created = await client.post("/v1/conversations", json={"customer_ref": ref}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _say(
    client: httpx.AsyncClient, headers: dict[str, str], conversation: str, text: str
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/conversations/{conversation}/messages", json={"text": text}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _profile(runtime: Runtime, ref: str) -> Any:
    from frontdesk.storage.models import CustomerProfile

    async with runtime.db.session(runtime.tenant.id) as session:
        return await session.scalar(
            select(CustomerProfile).where(CustomerProfile.customer_ref == ref)
        )


async def test_a_spanish_customer_is_routed_with_a_spanish_reply(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    conversation = await _start(client, admin, "cliente-9")
    reply = await _say(
        client, admin, conversation,
        "Hola, mi paquete no ha llegado todavía y necesito ayuda, por favor",
    )  # fmt: skip
    assert reply["route"]["action"] == "handoff"
    assert reply["route"]["team"] == "review"
    assert "language" in reply["route"]["rule"]
    answer = reply["answer"]
    assert "equipo" in answer, answer
    assert "referencia" in answer, answer
    assert "within" not in answer, answer  # the reply time is in Spanish too
    async with runtime.db.session(runtime.tenant.id) as session:
        turn = await session.scalar(select(Turn).where(Turn.conversation_id == conversation))
        assert turn is not None
        assert turn.language == "es"
        stored = await session.get(Conversation, conversation)
        assert stored is not None
        assert stored.language == "es"
    profile = await _profile(runtime, "cliente-9")
    assert profile is not None
    assert profile.language == "es"

    # English is answered as before, and recorded as English.
    english = await _start(client, admin, "cust-en")
    answered = await _say(client, admin, english, "How long does a refund take to arrive?")
    assert answered["route"]["action"] == "answer"
    async with runtime.db.session(runtime.tenant.id) as session:
        turn = await session.scalar(select(Turn).where(Turn.conversation_id == english))
        assert turn is not None
        assert turn.language == "en"


async def test_the_profile_follows_the_customer_across_conversations(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    first = await _start(client, admin, "cust-501")
    await _say(client, admin, first, "Hi, my name is Maria and my parcel KP-20481736 is late")
    profile = await _profile(runtime, "cust-501")
    assert profile is not None
    assert profile.display_name == "Maria"
    assert profile.facts.get("order_id") == "KP-20481736"
    assert profile.contacts == 1
    assert profile.last_channel == "api"
    assert profile.language == "en"
    async with runtime.db.session(runtime.tenant.id) as session:
        stored = await session.get(Conversation, first)
        assert stored is not None
        assert stored.summary
        assert "KP-20481736" in stored.summary
        assert "late_delivery" in stored.summary or "lost_parcel" in stored.summary

    second = await _start(client, admin, "cust-501")
    hello = await _say(client, admin, second, "hello")
    assert "Maria" in hello["answer"]  # greeted by name on a new conversation
    again = await _say(client, admin, second, "thanks")
    assert "Maria" not in again["answer"]  # only the first reply greets
    profile = await _profile(runtime, "cust-501")
    assert profile.contacts == 2


async def test_names_are_not_kept_when_the_workspace_says_so(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    runtime.settings.memory.remember_names = False
    first = await _start(client, admin, "cust-502")
    await _say(client, admin, first, "Hi, my name is Maria and my parcel KP-20481736 is late")
    profile = await _profile(runtime, "cust-502")
    assert profile is not None
    assert profile.display_name is None
    assert profile.facts.get("order_id") == "KP-20481736"  # facts are still remembered
    second = await _start(client, admin, "cust-502")
    assert "Maria" not in (await _say(client, admin, second, "hello"))["answer"]


async def test_the_hand_off_carries_the_running_summary_and_the_profile(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    conversation = await _start(client, admin, "cust-502")
    await _say(client, admin, conversation, "my name is Tom, I want a refund for KP-20481736")
    await _say(client, admin, conversation, "I want to speak to a real person")
    async with runtime.db.session(runtime.tenant.id) as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.conversation_id == conversation))
    assert ticket is not None
    summary = ticket.summary
    assert "request_refund" in summary["conversation_summary"]
    assert "KP-20481736" in summary["conversation_summary"]
    # The name stays on the profile: a ticket's summary goes to webhooks and mirrors, and
    # stored text is redacted of names (tests/orchestration/test_pii_seeded.py).
    assert summary["customer"]["named"] is True
    assert "Tom" not in str(summary["customer"])
    assert summary["customer"]["contacts"] == 1


async def test_privacy_export_erasure_and_purge_include_the_profile(
    client: httpx.AsyncClient, admin: dict[str, str], runtime: Runtime
) -> None:
    conversation = await _start(client, admin, "cust-503")
    await _say(client, admin, conversation, "Hello, my name is Ines, where is KP-20481736?")
    exported = await client.get("/v1/admin/customers/cust-503/export", headers=admin)
    assert exported.status_code == 200
    profile = exported.json()["profile"]
    assert profile["display_name"] == "Ines"
    assert profile["facts"]["order_id"] == "KP-20481736"
    assert (await client.delete("/v1/admin/customers/cust-503", headers=admin)).status_code == 204
    assert await _profile(runtime, "cust-503") is None

    old = await _start(client, admin, "cust-504")
    await _say(client, admin, old, "my name is Olga and my parcel is late")
    assert await _profile(runtime, "cust-504") is not None
    async with runtime.db.session(runtime.tenant.id) as session:
        from frontdesk.storage.models import CustomerProfile

        aged = utcnow() - timedelta(days=40)
        await session.execute(update(Conversation).values(updated_at=aged))
        await session.execute(update(CustomerProfile).values(updated_at=aged, last_contact_at=aged))
        await session.commit()
    runtime.settings.privacy.retention_days = 30
    job = (await client.post("/v1/admin/retention/purge", headers=admin)).json()["job_id"]
    for _ in range(100):
        status = (await client.get(f"/v1/jobs/{job}", headers=admin)).json()
        if status["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "done", status
    assert await _profile(runtime, "cust-504") is None


async def test_the_transcript_shows_the_summary_and_the_languages(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    conversation = await _start(client, admin, "cust-505")
    await _say(client, admin, conversation, "my parcel KP-20481736 is late, where is it?")
    await _say(client, admin, conversation, "Hallo, ich möchte mit einem Menschen sprechen")
    transcript = (await client.get(f"/v1/conversations/{conversation}", headers=admin)).json()
    assert transcript["conversation"]["language"] == "de"
    assert [turn["language"] for turn in transcript["turns"]] == ["en", "de"]
    assert "KP-20481736" in transcript["conversation"]["summary"]
