"""Answer right, or say so and hand off, over real HTTP (uvicorn on loopback) on SQLite and
PostgreSQL: a question the help articles answer gets an answer with its citation; one they do
not answer gets no quoted passage, a plain "I don't have that information", a ticket for the
team that owns the topic, and the reason in the route and the stored decision."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from frontdesk.storage import migrate
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from tests.conftest import serving


def _service_key(url: str) -> str:
    async def make() -> str:
        db = Database(url)
        try:
            await migrate.upgrade(db)
            tenant = await ensure_tenant(db, "default")
            return (await create_key(db, tenant.id, name="test", scope=Scope.SERVICE)).token
        finally:
            await db.dispose()

    return asyncio.run(make())


def test_answered_or_abstained_and_handed_off(
    workspace: Path, runtime_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", runtime_database_url)
    headers = {"Authorization": f"Bearer {_service_key(runtime_database_url)}"}
    with serving(workspace) as url, httpx.Client(base_url=url, timeout=60) as http:
        conversation = http.post("/v1/conversations", json={}, headers=headers).json()["id"]

        def say(text: str) -> dict[str, object]:
            response = http.post(
                f"/v1/conversations/{conversation}/messages", json={"text": text}, headers=headers
            )
            assert response.status_code == 200, response.text
            reply: dict[str, object] = response.json()
            return reply

        answered = say("Where can I download a VAT invoice for my parcels?")
        assert answered["citations"], answered
        assert "Download PDF" in str(answered["answer"])
        assert answered["ticket_id"] is None

        abstained = say("Can you ship my horse to Ireland?")
        route = abstained["route"]
        assert isinstance(route, dict)
        assert route["action"] == "handoff"
        assert route["team"] == "support"  # the team of the rule that would have answered
        assert route["rule"] == "built-in: the knowledge base does not answer this"
        assert "never mentions 'horse'" in route["reason"]
        assert abstained["citations"] == []
        assert "I don't have that information" in str(abstained["answer"])
        assert abstained["ticket_id"]

        transcript = http.get(f"/v1/conversations/{conversation}", headers=headers).json()
        judged = transcript["turns"][-1]["answerability"]
        assert judged["answerable"] is False
        assert judged["score"] < 0.5
        assert "horse" in judged["reason"]
        assert transcript["turns"][0]["answerability"]["answerable"] is True
