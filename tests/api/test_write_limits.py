"""Write budgets: new conversations per API key, and each visitor of a public widget key
(by client address) apart from the key's budget that every visitor shares."""

from __future__ import annotations

import pytest

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from tests.api.conftest import Client


@pytest.fixture(autouse=True)
def _tight_limits(sqlite_runtime: Runtime) -> None:
    # Autouse: set before the `clients` fixture starts the app.
    limits = sqlite_runtime.settings.limits
    limits.per_visitor, limits.conversations_per_key = "3/minute", "4/minute"


async def _headers(runtime: Runtime, scope: Scope) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=scope)).token
    return {"Authorization": f"Bearer {token}"}


async def test_each_visitor_of_a_widget_key_has_a_budget_of_their_own(
    clients: Client, sqlite_runtime: Runtime
) -> None:
    widget = await _headers(sqlite_runtime, Scope.WIDGET)
    async with clients("203.0.113.7") as first, clients("198.51.100.20") as second:
        created = await first.post("/v1/conversations", headers=widget)
        assert created.status_code == 201
        path = f"/v1/conversations/{created.json()['id']}/messages"
        visitor = {**widget, "X-Conversation-Token": created.json()["conversation_token"]}
        for text in ("where is my parcel?", "it is KP-20481736"):
            assert (await first.post(path, json={"text": text}, headers=visitor)).is_success
        refused = await first.post(path, json={"text": "hello?"}, headers=visitor)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert (
            "from your address: the limit is 3 per 1 minute" in refused.json()["error"]["message"]
        )
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        refused = await first.post("/v1/conversations", headers=widget)  # a fresh start: no
        assert refused.status_code == 429

        # Another visitor of the same page is not held back by the first.
        own = await second.post("/v1/conversations", headers=widget)
        assert own.status_code == 201
        reply = await second.post(
            f"/v1/conversations/{own.json()['id']}/messages",
            json={"text": "do you deliver on Sundays?"},
            headers={**widget, "X-Conversation-Token": own.json()["conversation_token"]},
        )
        assert reply.is_success


async def test_service_keys_have_no_visitor_budget_but_new_conversations_are_counted(
    clients: Client, sqlite_runtime: Runtime
) -> None:
    service = await _headers(sqlite_runtime, Scope.SERVICE)  # a back end serving many customers
    async with clients("10.0.0.5") as backend:
        ids = []
        for _ in range(4):
            created = await backend.post("/v1/conversations", headers=service)
            assert created.status_code == 201
            ids.append(created.json()["id"])
        refused = await backend.post("/v1/conversations", headers=service)
        assert refused.status_code == 429
        assert (
            "new conversations for this API key: the limit is 4"
            in refused.json()["error"]["message"]
        )
        # Messages have their own budget (per_key), well past the visitor budget of 3.
        for conversation_id in ids:
            answered = await backend.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"text": "where is my parcel?"},
                headers=service,
            )
            assert answered.is_success
