"""The troubleshooting chat's console page (`/console/ops/chat`), in-process on SQLite and
PostgreSQL: a question box (a GET form: asking changes nothing), the answer with its root
cause, cited log lines, metric values, atoms and next steps; a setup request shows the
starter configuration; a bad moment is a readable message; agents are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role
from tests.web.test_ops_console import _sign_in


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_the_chat_page_answers_with_its_evidence(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _sign_in(client, runtime, Role.OPERATOR)
    empty = await client.get("/console/ops/chat")
    assert empty.status_code == 200
    assert 'id="question"' in empty.text
    assert 'id="answer"' not in empty.text
    assert 'href="/console/ops/chat"' in (await client.get("/console/ops")).text

    asked = await client.get("/console/ops/chat", params={
        "q": "What failed last night?", "at": "2026-12-06T08:30Z"})  # fmt: skip
    assert asked.status_code == 200
    page = asked.text
    assert 'class="incident" data-root="S07"' in page
    assert "[2026-12-05T22:00:00Z] S07 DEPLOY" in page
    assert "SORT-E17 lane map checksum mismatch" in page
    assert "metric S07 sort_rate = 900" in page
    assert "Roll the firmware back" in page
    assert 'value="What failed last night?"' in page  # the question stays in the box

    quiet = await client.get("/console/ops/chat", params={
        "q": "anything wrong in Connacht today?", "at": "2026-12-02T10:00Z"})  # fmt: skip
    assert "no failures found" in quiet.text
    bad = await client.get("/console/ops/chat", params={"q": "what failed?", "at": "soon"})
    assert bad.status_code == 200
    assert 'class="flash error"' in bad.text
    assert "soon" in bad.text

    setup = await client.get("/console/ops/chat", params={
        "q": "set up a depot in Clifden with cut-off 15:30"})  # fmt: skip
    assert "elements/depots/D31.yaml" in setup.text
    assert "cutoff: &#39;15:30&#39;" in setup.text


async def test_agents_cannot_open_the_chat(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _sign_in(client, runtime, Role.AGENT)
    assert (await client.get("/console/ops/chat")).status_code == 403
