"""The HTTP API in-process (httpx ASGI transport) on SQLite and PostgreSQL, and over real
loopback HTTP with uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
async def key(runtime: Runtime) -> str:
    return (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _conversation(client: httpx.AsyncClient, key: str) -> str:
    response = await client.post("/v1/conversations", json={}, headers=_auth(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_conversation_round_trip(client: httpx.AsyncClient, key: str) -> None:
    conversation_id = await _conversation(client, key)
    response = await client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"text": "I want a refund for order KP-20481736"},
        headers=_auth(key),
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["intent"] == "request_refund"
    assert reply["route"]["action"] == "answer"
    assert reply["route"]["team"] == "billing"
    assert reply["citations"]
    assert reply["citations"][0]["source"].endswith(".md")
    assert reply["turn_id"]
    assert reply["answer"]

    transcript = await client.get(f"/v1/conversations/{conversation_id}", headers=_auth(key))
    assert transcript.status_code == 200
    body = transcript.json()
    assert [m["role"] for m in body["messages"]] == ["customer", "assistant"]
    assert body["turns"][0]["id"] == reply["turn_id"]
    assert "respond" in body["turns"][0]["stage_ms"]


async def test_api_key_header_alternative(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/v1/conversations", headers={"X-API-Key": key})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "an API key is required"),
        ({"Authorization": "Bearer fd_nope_nope"}, "not valid"),
        ({"Authorization": "Basic abc"}, "use 'Authorization: Bearer"),
    ],
)
async def test_unauthorized(client: httpx.AsyncClient, headers: dict[str, str], message: str
                            ) -> None:  # fmt: skip
    response = await client.post("/v1/conversations", json={}, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert message in error["message"]


async def test_errors_are_json_with_stable_codes(client: httpx.AsyncClient, key: str) -> None:
    conversation_id = await _conversation(client, key)
    url = f"/v1/conversations/{conversation_id}/messages"
    cases = [
        (await client.post(url, content=b"{not json", headers={**_auth(key),
         "Content-Type": "application/json"}), 400, "malformed_json"),
        (await client.post(url, json={}, headers=_auth(key)), 422, "invalid_request"),
        (await client.post(url, json={"text": ""}, headers=_auth(key)), 422, "invalid_request"),
        (await client.post(url, json={"text": "hi", "extra": 1}, headers=_auth(key)), 422,
         "invalid_request"),
        (await client.post(url, json={"text": 5}, headers=_auth(key)), 422, "invalid_request"),
        (await client.post(url, json=["text"], headers=_auth(key)), 422, "invalid_request"),
        (await client.post("/v1/conversations", json={"channel": "fax"}, headers=_auth(key)),
         422, "invalid_request"),
        (await client.post(url, json={"text": "x" * 5000}, headers=_auth(key)), 413,
         "message_too_long"),
        (await client.post(url, content=b"x" * 70_000, headers=_auth(key)), 413,
         "payload_too_large"),
        (await client.post("/v1/conversations/nope/messages", json={"text": "hi"},
         headers=_auth(key)), 404, "not_found"),
        (await client.get("/v1/conversations/nope", headers=_auth(key)), 404, "not_found"),
        (await client.get("/v1/nothing-here"), 404, "not_found"),
        (await client.delete(url, headers=_auth(key)), 405, "method_not_allowed"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, (code, response.text)
        body = response.json()
        assert body["error"]["code"] == code
        assert body["error"]["message"]


async def test_oversized_body_without_content_length_is_refused(
    client: httpx.AsyncClient, key: str
) -> None:
    async def stream() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    conversation_id = await _conversation(client, key)
    response = await client.post(
        f"/v1/conversations/{conversation_id}/messages", content=stream(), headers=_auth(key)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_public_widget_key_cannot_read_transcripts(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    widget = (await create_key(runtime.db, runtime.tenant.id, name="w", scope=Scope.WIDGET)).token
    started = (await client.post("/v1/conversations", json={}, headers=_auth(widget))).json()
    conversation_id, token = started["id"], started["conversation_token"]
    visitor = {**_auth(widget), "X-Conversation-Token": token}
    posted = await client.post(f"/v1/conversations/{conversation_id}/messages",
                               json={"text": "hello"}, headers=visitor)  # fmt: skip
    assert posted.status_code == 200
    response = await client.get(f"/v1/conversations/{conversation_id}", headers=_auth(widget))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_another_tenants_conversation_is_not_found(
    client: httpx.AsyncClient, key: str, runtime: Runtime
) -> None:
    other = await ensure_tenant(runtime.db, "other")
    other_key = (await create_key(runtime.db, other.id, name="o", scope=Scope.SERVICE)).token
    conversation_id = await _conversation(client, key)
    await client.post(f"/v1/conversations/{conversation_id}/messages",
                      json={"text": "hello"}, headers=_auth(key))  # fmt: skip

    for response in (
        await client.get(f"/v1/conversations/{conversation_id}", headers=_auth(other_key)),
        await client.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"text": "hi"},
            headers=_auth(other_key),
        ),
    ):
        assert response.status_code == 404
        assert conversation_id not in response.text or "not found" in response.text
        assert "hello" not in response.text


async def test_health_readiness_metrics_and_docs(client: httpx.AsyncClient, key: str) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "intent_model": "ok",
        "embeddings": "ok",
        "voice": "ok",  # the demo turns voice on; the model itself loads on first use
    }
    conversation_id = await _conversation(client, key)
    await client.post(f"/v1/conversations/{conversation_id}/messages",
                      json={"text": "hello"}, headers=_auth(key))  # fmt: skip
    metrics = (await client.get("/metrics")).text
    assert 'frontdesk_turns_total{action="answer",outcome="ok"} 1.0' in metrics
    assert 'frontdesk_stage_seconds_count{stage="understand"} 1.0' in metrics
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/conversations/{conversation_id}/messages" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_chat_page_carries_a_widget_key(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "Kestrel Parcel support" in page.text
    assert 'data-widget-key="fd_' in page.text
    assert (await client.get("/static/chat.js")).status_code == 200


def test_real_http_on_loopback(live_server: str) -> None:
    """The same flow over a real socket, served by uvicorn."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        page = http.get("/")
        widget_key = page.text.split('data-widget-key="', 1)[1].split('"', 1)[0]
        headers = _auth(widget_key)
        conversation = http.post("/v1/conversations", json={"channel": "web"}, headers=headers)
        assert conversation.status_code == 201
        reply = http.post(
            f"/v1/conversations/{conversation.json()['id']}/messages",
            json={"text": "my parcel KP-55120934 arrived damaged, the vase is broken"},
            headers={**headers, "X-Conversation-Token": conversation.json()["conversation_token"]},
        )
        assert reply.status_code == 200
        assert reply.json()["intent"] == "damaged_goods"
        assert reply.json()["citations"]
