"""The agent console in-process: sign-in and roles, queues, the conversation view with its
summary and trace, take over / reply / hand back / close, corrections, approvals, admin."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from frontdesk.api.app import create_app
from frontdesk.embedding import CachingEmbedder
from frontdesk.orchestration.runtime import Runtime, open_runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import Message, Ticket
from frontdesk.storage.support_models import TrainingExample
from frontdesk.storage.users import Role, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def app_client(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def users(sqlite_runtime: Runtime) -> None:
    db, tenant = sqlite_runtime.db, sqlite_runtime.tenant.id
    await create_user(db, tenant, email="ana@kestrel.test", password=PASSWORD, role=Role.AGENT)
    await create_user(db, tenant, email="root@kestrel.test", password=PASSWORD, role=Role.ADMIN)


async def _sign_in(client: httpx.AsyncClient, email: str = "ana@kestrel.test") -> str:
    response = await client.post("/console/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    page = await client.get("/console")
    assert page.status_code == 200
    match = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


async def _customer(client: httpx.AsyncClient, rt: Runtime) -> tuple[str, dict[str, str]]:
    key = (await create_key(rt.db, rt.tenant.id, name="w", scope=Scope.WIDGET)).token
    headers = {"Authorization": f"Bearer {key}"}
    created = await client.post("/v1/conversations", json={"channel": "web"}, headers=headers)
    headers["X-Conversation-Token"] = created.json()["conversation_token"]  # this visitor's
    return created.json()["id"], headers


async def _say(client: httpx.AsyncClient, conversation: str, headers: dict[str, str],
               text: str) -> dict[str, object]:  # fmt: skip
    response = await client.post(f"/v1/conversations/{conversation}/messages",
                                 json={"text": text}, headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()
    return reply


async def test_pages_need_a_signed_in_agent(app_client: httpx.AsyncClient, users: None) -> None:
    response = await app_client.get("/console")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert (await app_client.get("/console/events")).status_code == 401
    login = {"email": "ana@kestrel.test", "password": "nope"}
    wrong = await app_client.post("/console/login", data=login)
    assert wrong.status_code == 401
    assert "Wrong e-mail or password" in wrong.text
    await _sign_in(app_client)
    cookie = app_client.cookies.get("frontdesk_console")
    assert cookie
    admin = await app_client.get("/console/admin")
    assert admin.status_code == 403
    assert admin.json()["error"]["code"] == "forbidden"


async def test_forms_need_the_csrf_token(
    app_client: httpx.AsyncClient, users: None, sqlite_runtime: Runtime
) -> None:
    await _sign_in(app_client)
    response = await app_client.post("/console/logout", data={"csrf": "forged"})
    assert response.status_code == 403


async def test_hand_off_take_over_reply_hand_back(
    app_client: httpx.AsyncClient, users: None, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    conversation, headers = await _customer(app_client, rt)
    await _say(app_client, conversation, headers, "my parcel never arrived")
    handed = await _say(app_client, conversation, headers, "can I speak to a real person please")
    assert handed["route"]["action"] == "handoff"  # type: ignore[index]
    assert "Customer Support team" in str(handed["answer"])
    assert "reference" in str(handed["answer"]).lower()

    csrf = await _sign_in(app_client)
    queues = await app_client.get("/console")
    assert 'data-team="support"' in queues.text
    assert "can I speak to a real person" in queues.text
    async with rt.db.session(rt.tenant.id) as session:
        ticket = await session.scalar(select(Ticket))
    assert ticket is not None
    assert ticket.summary["transcript"][0]["text"] == "my parcel never arrived"

    page = await app_client.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200
    assert "customer asks for a human" in page.text  # the rule that fired, in the trace
    assert "human_requested" in page.text
    assert "Take over" in page.text
    # The sentiment trend reads as scores over the turns, not a Python list.
    trend = ticket.summary["sentiment"]["trend"]
    shown = " → ".join(f"{score:+.2f}" for score in trend)
    assert f'<dd class="sentiment">{shown} <span class="muted">(' in page.text
    assert str(trend) not in page.text
    assert f'class="nlu-model">{rt.assistant.deps.classifier.version}<' in page.text  # type: ignore[attr-defined]

    took = await app_client.post(f"/console/tickets/{ticket.id}/take", data={"csrf": csrf})
    assert took.status_code == 303
    assert "notice=" in took.headers["location"]
    # While an agent owns the conversation, the bot is silent.
    silent = await _say(app_client, conversation, headers, "hello? anyone there?")
    assert silent["answer"] == ""
    await app_client.post(f"/console/tickets/{ticket.id}/reply",
                          data={"csrf": csrf, "text": "Hi, I'm Ana. Looking now."})  # fmt: skip
    seen = await app_client.get(f"/v1/conversations/{conversation}/updates?after=4",
                                headers=headers)  # fmt: skip
    assert seen.status_code == 200
    assert seen.json()["status"] == "agent"
    roles = [(m["role"], m["text"]) for m in seen.json()["messages"]]
    assert ("agent", "Hi, I'm Ana. Looking now.") in roles
    assert ("customer", "hello? anyone there?") in roles
    assert not any(role == "assistant" for role, _ in roles[-3:])

    notes = {"csrf": csrf, "notes": "Parcel is at the Leeds depot"}
    back = await app_client.post(f"/console/tickets/{ticket.id}/hand-back", data=notes)
    assert back.status_code == 303
    resumed = await _say(app_client, conversation, headers, "thanks, when will it arrive?")
    assert resumed["answer"]
    updates = (await app_client.get(f"/v1/conversations/{conversation}/updates",
                                    headers=headers)).json()  # fmt: skip
    assert not any(m["role"] == "note" for m in updates["messages"])  # notes stay internal
    async with rt.db.session(rt.tenant.id) as session:
        notes = list(await session.scalars(select(Message).where(Message.role == "note")))
    assert "Leeds depot" in notes[0].text

    refused = await app_client.post(f"/console/tickets/{ticket.id}/reply",
                                    data={"csrf": csrf, "text": "late"})  # fmt: skip
    assert "error=" in refused.headers["location"]

    closed = await app_client.post(f"/console/tickets/{ticket.id}/close",
                                   data={"csrf": csrf, "note": "Redelivery booked"})  # fmt: skip
    assert "notice=Ticket%20closed" in closed.headers["location"]
    again = await app_client.post(f"/console/tickets/{ticket.id}/close", data={"csrf": csrf})
    assert "already%20closed" in again.headers["location"]
    async with rt.db.session(rt.tenant.id) as session:
        ticket = await session.get(Ticket, ticket.id)
    assert ticket is not None
    assert ticket.status == "closed"


async def test_relabel_stores_a_training_example(
    app_client: httpx.AsyncClient, users: None, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    conversation, headers = await _customer(app_client, rt)
    reply = await _say(app_client, conversation, headers, "my box turned up crushed KP-20481736")
    csrf = await _sign_in(app_client)
    turn = reply["turn_id"]
    bad = await app_client.post(f"/console/turns/{turn}/relabel",
                                data={"csrf": csrf, "intent": "no_such_intent"})  # fmt: skip
    assert "unknown+intent" in bad.headers["location"] or "unknown%20intent" in bad.headers[
        "location"]  # fmt: skip
    good = await app_client.post(
        f"/console/turns/{turn}/relabel",
        data={"csrf": csrf, "intent": "damaged_goods", "entities": "order_id=KP-20481736",
              "back": f"/console/conversations/{conversation}"},
    )  # fmt: skip
    assert good.headers["location"].startswith(f"/console/conversations/{conversation}?notice=")
    async with rt.db.session(rt.tenant.id) as session:
        [example] = list(await session.scalars(select(TrainingExample)))
    assert (example.intent, example.created_by) == ("damaged_goods", "ana@kestrel.test")
    assert example.entities[0]["start"] == example.text.index("KP-20481736")
    page = await app_client.get(f"/console/conversations/{conversation}")
    assert "relabelled damaged_goods" in page.text


async def test_refund_above_the_limit_waits_for_an_agent(
    app_client: httpx.AsyncClient, users: None, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    conversation, headers = await _customer(app_client, rt)
    reply = await _say(app_client, conversation, headers,
                       "I want a refund of £80 for order KP-20481736")  # fmt: skip
    assert reply["route"]["tool"] == "refund_request", reply  # type: ignore[index]
    assert "approve" in str(reply["answer"])
    csrf = await _sign_in(app_client)
    queues = await app_client.get("/console")
    call_id = re.search(r'data-call="([0-9a-f]+)"', queues.text)
    assert call_id
    approved = await app_client.post(f"/console/tool-calls/{call_id.group(1)}/approve",
                                     data={"csrf": csrf})  # fmt: skip
    assert "refund_request%3A%20ok" in approved.headers["location"]
    updates = (await app_client.get(f"/v1/conversations/{conversation}/updates",
                                    headers=headers)).json()  # fmt: skip
    assert "has been submitted" in updates["messages"][-1]["text"]


async def test_admin_sees_dead_letters_and_retrain_button(
    app_client: httpx.AsyncClient, users: None
) -> None:
    await _sign_in(app_client, "root@kestrel.test")
    page = await app_client.get("/console/admin")
    assert page.status_code == 200
    assert "No dead letters." in page.text
    assert 'id="retrain"' in page.text


async def test_admin_retrain_button_runs_the_gate_and_shows_why(
    app_client: httpx.AsyncClient, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frontdesk.orchestration import retrain as retrain_module

    async def kept(runtime: Runtime, **_: object) -> retrain_module.RetrainReport:
        return retrain_module.RetrainReport(
            promoted=False, candidate="v2", current="v1", corrections=1,
            reasons=["golden_accuracy would drop 12.5% (0.8000 -> 0.7000); the limit is 5%"],
        )  # fmt: skip

    monkeypatch.setattr(retrain_module, "retrain", kept)
    csrf = await _sign_in(app_client, "root@kestrel.test")
    started = await app_client.post("/console/admin/retrain", data={"csrf": csrf})
    assert "notice=Retraining%20started" in started.headers["location"]
    app = app_client._transport.app  # type: ignore[attr-defined]
    await app.state.jobs.drain()
    page = await app_client.get("/console/admin")
    assert "kept the current model" in page.text
    assert "golden_accuracy would drop 12.5%" in page.text
    agent_csrf = await _sign_in(app_client)  # agents may not retrain
    refused = await app_client.post("/console/admin/retrain", data={"csrf": agent_csrf})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_dead_letters_are_listed_for_admins_and_can_be_sent_again(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, embedder: CachingEmbedder
) -> None:
    # Port 9 (discard) on loopback: nothing listens, every attempt fails at once.
    monkeypatch.setenv("FRONTDESK_HANDOFF", json.dumps({
        "webhooks": [{"url": "http://127.0.0.1:9/hooks", "secret": "s"}],
        "delivery_attempts": 1,
    }))  # fmt: skip
    rt = await open_runtime(workspace, embedder=embedder, sync=False)
    try:
        app = create_app(runtime=rt)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                await create_user(rt.db, rt.tenant.id, email="root@kestrel.test",
                                  password=PASSWORD, role=Role.ADMIN)  # fmt: skip
                conversation, headers = await _customer(client, rt)
                await _say(client, conversation, headers, "I want to speak to a real person")
                assert rt.desk is not None
                assert rt.desk.dispatcher is not None
                await rt.desk.dispatcher.drain()
                csrf = await _sign_in(client, "root@kestrel.test")
                page = await client.get("/console/admin")
                assert "ticket.created" in page.text
                assert "http://127.0.0.1:9/hooks" in page.text
                delivery = re.search(r'data-delivery="([0-9a-f]+)"', page.text)
                assert delivery
                again = await client.post(
                    f"/console/admin/deliveries/{delivery.group(1)}/redeliver", data={"csrf": csrf}
                )
                assert "notice=Sent%20again" in again.headers["location"]
                await rt.desk.dispatcher.drain()
    finally:
        await rt.close()


async def test_a_slot_taken_from_the_profile_is_marked(
    app_client: httpx.AsyncClient, users: None, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    key = (await create_key(rt.db, rt.tenant.id, name="s", scope=Scope.SERVICE)).token
    headers = {"Authorization": f"Bearer {key}"}
    for text in ("my parcel KP-20481736 is late", "I'd like a refund please"):
        created = await app_client.post(
            "/v1/conversations", json={"customer_ref": "cust-console-1"}, headers=headers
        )
        conversation = created.json()["id"]
        await _say(app_client, conversation, headers, text)
    await _sign_in(app_client)
    page = await app_client.get(f"/console/conversations/{conversation}")
    assert '<dd class="requested-slot">amount</dd>' in page.text
    assert 'order_id=KP-20481736</code> <span class="muted">(from the profile)' in page.text
