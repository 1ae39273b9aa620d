"""Forms prefilled from the customer profile, through HTTP on SQLite and PostgreSQL (issue 19,
point 3: "not asking again for known facts"). A returning customer's known order id is not
asked for again: the reply says which one it uses and that they may say it is another, and
"no, it's ..." replaces it, before or after the task ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def headers(runtime: Runtime) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    return {"Authorization": f"Bearer {token}"}


class Chat:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], id_: str) -> None:
        self.client, self.headers, self.id = client, headers, id_

    @classmethod
    async def start(cls, client: httpx.AsyncClient, headers: dict[str, str], ref: str | None
                    ) -> Chat:  # fmt: skip
        body = {"customer_ref": ref} if ref else {}
        created = await client.post("/v1/conversations", json=body, headers=headers)
        assert created.status_code == 201, created.text
        return cls(client, headers, str(created.json()["id"]))

    async def say(self, text: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/conversations/{self.id}/messages", json={"text": text}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def _slot(reply: dict[str, Any], name: str) -> str | None:
    slot = (reply["dialogue_state"] or {}).get("slots", {}).get(name)
    return None if slot is None else str(slot["value"])


async def test_a_known_order_id_is_not_asked_again_and_can_be_corrected(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    earlier = await Chat.start(client, headers, "cust-prefill-1")
    looked_up = await earlier.say("my parcel KP-20481736 is late")
    assert looked_up["route"]["action"] == "tool"

    chat = await Chat.start(client, headers, "cust-prefill-1")
    refund = await chat.say("I'd like a refund please")
    assert refund["route"]["action"] == "clarify"
    active = refund["dialogue_state"]["active"]
    assert active["form"] == "refund_form"
    assert active["requested_slot"] == "amount"  # the order number is not asked for
    assert active["slots"]["order_id"]["value"] == "KP-20481736"
    assert "KP-20481736 from earlier" in refund["answer"], refund["answer"]
    assert "How much should we refund" in refund["answer"]

    corrected = await chat.say("no, it's KP-20481737")
    assert corrected["route"]["action"] == "clarify"
    assert corrected["dialogue_state"]["active"]["requested_slot"] == "amount"
    assert _slot(corrected, "order_id") == "KP-20481737"
    done = await chat.say("25 pounds")
    assert done["route"]["action"] == "tool"
    assert done["route"]["tool"] == "refund_request"
    assert _slot(done, "order_id") == "KP-20481737"


async def test_a_lookup_runs_with_the_known_order_id_and_reruns_when_corrected(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime
) -> None:
    earlier = await Chat.start(client, headers, "cust-prefill-2")
    await earlier.say("Hi, my parcel KP-20481736 is late")

    chat = await Chat.start(client, headers, "cust-prefill-2")
    lookup = await chat.say("My parcel still hasn't arrived")
    assert lookup["route"]["action"] == "tool"
    assert lookup["route"]["tool"] == "parcel_status"
    assert "Parcel KP-20481736" in lookup["answer"], lookup["answer"]
    assert "KP-20481736 from earlier" in lookup["answer"]
    assert lookup["dialogue_state"]["active"] is None  # done: nothing is pending
    # The task has finished; "no, it's ..." runs it again with the other number.
    again = await chat.say("no, it's KP-20481737")
    assert again["route"]["action"] == "tool"
    assert again["route"]["tool"] == "parcel_status"
    assert "Parcel KP-20481737" in again["answer"], again["answer"]
    assert "from earlier" not in again["answer"]
    assert _slot(again, "order_id") == "KP-20481737"

    # Without a profile (no customer_ref), or with prefill switched off, it asks.
    anonymous = await Chat.start(client, headers, None)
    asked = await anonymous.say("My parcel still hasn't arrived")
    assert asked["route"]["action"] == "clarify"
    assert asked["dialogue_state"]["active"]["requested_slot"] == "order_id"
    runtime.settings.memory.prefill_forms = False
    off = await Chat.start(client, headers, "cust-prefill-2")
    asked = await off.say("My parcel still hasn't arrived")
    assert asked["route"]["action"] == "clarify"
    assert asked["dialogue_state"]["active"]["requested_slot"] == "order_id"
