"""The console's live updates without a browser: a signed-in agent's server-sent event stream
on a real server receives the new ticket and the customer's messages as they happen."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user

PASSWORD = "correct horse battery"


def _agent_and_key(workspace: Path) -> str:
    async def run() -> str:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            tenant = await ensure_tenant(db, "default")
            await create_user(db, tenant.id, email="ana@kestrel.test", password=PASSWORD,
                              role=Role.AGENT)  # fmt: skip
            return (await create_key(db, tenant.id, name="t", scope=Scope.SERVICE)).token
        finally:
            await db.dispose()

    return asyncio.run(run())


def _events(lines: Iterator[str], within_s: float = 30) -> Iterator[tuple[str, dict[str, object]]]:
    """Parsed events; gives up (heartbeats keep the stream open) after `within_s`."""
    deadline = time.monotonic() + within_s
    name = ""
    for line in lines:
        assert time.monotonic() < deadline, "the expected events did not arrive"
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            yield name, json.loads(line.removeprefix("data: "))
            name = ""


def test_agents_stream_shows_the_hand_off_and_messages_live(
    live_server: str, workspace: Path
) -> None:
    token = _agent_and_key(workspace)
    customer = httpx.Client(base_url=live_server, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    with httpx.Client(base_url=live_server, timeout=30) as agent, customer:
        login = {"email": "ana@kestrel.test", "password": PASSWORD}
        signed_in = agent.post("/console/login", data=login)
        assert signed_in.status_code == 303
        with agent.stream("GET", "/console/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"  # subscribed: what happens now is streamed
            conversation = customer.post("/v1/conversations", json={"channel": "web"}).json()["id"]
            reply = customer.post(f"/v1/conversations/{conversation}/messages",
                                  json={"text": "I want to speak to a real person"})  # fmt: skip
            assert reply.json()["route"]["action"] == "handoff"
            seen: list[tuple[str, dict[str, object]]] = []
            for name, data in _events(lines):
                seen.append((name, data))
                if name == "message" and data["role"] == "assistant":
                    break
    kinds = [(name, data.get("role")) for name, data in seen]
    assert kinds == [("ticket.created", None), ("message", "customer"), ("message", "assistant")]
    ticket = seen[0][1]["ticket"]
    assert isinstance(ticket, dict)
    assert (ticket["team"], ticket["conversation_id"]) == ("support", conversation)
    assert "summary" not in ticket  # the stream says what changed; pages fetch the rest
    assert seen[1][1]["text"] == "I want to speak to a real person"
