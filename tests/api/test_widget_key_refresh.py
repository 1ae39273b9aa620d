"""Revoking the chat page's own widget key (issue 17): the next page load carries a fresh key,
without a restart, and a visitor's conversation goes on under it with its own token. The
revoked key stays refused."""

from __future__ import annotations

import asyncio
import re

import httpx

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key

PAGE_KEY = re.compile(r'data-widget-key="([^"]+)"')


async def _page_key(client: httpx.AsyncClient) -> str:
    page = await client.get("/")
    assert page.status_code == 200
    found = PAGE_KEY.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


async def test_the_page_gets_a_fresh_widget_key_after_its_own_is_revoked(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    issued = await create_key(runtime.db, runtime.tenant.id, name="root", scope=Scope.ADMIN)
    admin = {"Authorization": f"Bearer {issued.token}"}
    old = await _page_key(client)
    assert await _page_key(client) == old  # the same key while it is good
    visitor = {"Authorization": f"Bearer {old}"}
    started = await client.post("/v1/conversations", json={"channel": "web"}, headers=visitor)
    assert started.status_code == 201, started.text
    conversation = started.json()
    token = {"X-Conversation-Token": conversation["conversation_token"]}

    prefix = old.split("_")[1]
    assert (await client.delete(f"/v1/admin/keys/{prefix}", headers=admin)).status_code == 204
    refused = await client.post("/v1/conversations", json={"channel": "web"}, headers=visitor)
    assert refused.status_code == 401

    # Page loads at once (two visitors): one fresh key for both, the only one issued.
    fresh, again = await asyncio.gather(_page_key(client), _page_key(client))
    assert fresh == again != old
    widget_keys = [k for k in (await client.get("/v1/admin/keys", headers=admin)).json()
                   if k["scope"] == "widget" and k["revoked_at"] is None]  # fmt: skip
    assert [k["prefix"] for k in widget_keys] == [fresh.split("_")[1]]
    assert (runtime.workspace.state_dir / "widget-key").read_text().strip() == fresh

    # The visitor's conversation goes on under the fresh key with its own token.
    renewed = {"Authorization": f"Bearer {fresh}", **token}
    reply = await client.post(
        f"/v1/conversations/{conversation['id']}/messages",
        json={"text": "where is my parcel"},
        headers=renewed,
    )
    assert reply.status_code == 200, reply.text
    updates = await client.get(f"/v1/conversations/{conversation['id']}/updates", headers=renewed)
    assert updates.status_code == 200, updates.text
    still = await client.post("/v1/conversations", json={"channel": "web"}, headers=visitor)
    assert still.status_code == 401
