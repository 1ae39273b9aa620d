"""Server-sent events on the message endpoint (`?stream=true` or `Accept: text/event-stream`),
as the API and the web page receive streamed answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step
from tests.llm.test_pipeline import QUESTION, use_provider


@pytest.fixture
async def client(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def headers(sqlite_runtime: Runtime) -> dict[str, str]:
    issued = await create_key(
        sqlite_runtime.db, sqlite_runtime.tenant.id, name="t", scope=Scope.SERVICE
    )
    return {"Authorization": f"Bearer {issued.token}"}


def events(body: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


async def _conversation(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.post("/v1/conversations", json={}, headers=headers)).json()["id"])


@pytest.mark.parametrize("how", ["query", "accept"])
async def test_extractive_reply_streams_then_ends_with_the_reply(
    client: httpx.AsyncClient, headers: dict[str, str], how: str
) -> None:
    cid = await _conversation(client, headers)
    url = f"/v1/conversations/{cid}/messages"
    extra = {"Accept": "text/event-stream"} if how == "accept" else {}
    response = await client.post(
        url + ("?stream=true" if how == "query" else ""),
        json={"text": QUESTION},
        headers={**headers, **extra},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    got = events(response.text)
    names = [name for name, _ in got]
    # Whole sentences as the output screen passes them, then the rest, then the reply.
    assert names[-1] == "reply"
    assert names[:-1] == ["delta"] * (len(names) - 1)
    assert len(names) >= 2
    reply = got[-1][1]
    assert reply["intent"] == "request_refund"
    assert reply["citations"]
    assert "".join(data["text"] for _, data in got[:-1]) == reply["answer"]


async def test_provider_pieces_stream_and_the_transcript_shows_usage(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sqlite_runtime: Runtime,
    models: Models,
    fake: FakeProvider,
) -> None:
    use_provider(sqlite_runtime, models)
    fake.default = Step(echo=True, prompt_tokens=800, completion_tokens=25)
    cid = await _conversation(client, headers)
    response = await client.post(
        f"/v1/conversations/{cid}/messages?stream=true", json={"text": QUESTION}, headers=headers
    )
    got = events(response.text)
    deltas = [data["text"] for name, data in got if name == "delta"]
    assert len(deltas) >= 3  # sentence by sentence, as the output screen passed them
    assert got[-1][0] == "reply"
    assert "".join(deltas) == got[-1][1]["answer"]  # type: ignore[index]
    transcript = (await client.get(f"/v1/conversations/{cid}", headers=headers)).json()
    turn = transcript["turns"][0]
    assert (turn["model"], turn["prompt_tokens"], turn["completion_tokens"]) == (
        "openai:gpt-test",
        800,
        25,
    )
    assert turn["cost"] == pytest.approx((800 * 2.0 + 25 * 8.0) / 1e6)
    assert turn["note"] is None


async def test_a_stalled_provider_is_reset_and_the_answer_falls_back(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sqlite_runtime: Runtime,
    models: Models,
    fake: FakeProvider,
) -> None:
    service = use_provider(sqlite_runtime, models)
    service.router.models["openai:gpt-test"] = models("openai", stream_idle_s=0.2)
    fake.default = Step(text="Refunds are always paid in cash within one hour", stall_after=3)
    cid = await _conversation(client, headers)
    response = await client.post(
        f"/v1/conversations/{cid}/messages?stream=true", json={"text": QUESTION}, headers=headers
    )
    got = events(response.text)
    names = [name for name, _ in got]
    assert "reset" in names
    assert names[-1] == "reply"
    # The stalled words never reached the client: no sentence of them had ended.
    assert "cash" not in "".join(str(data) for name, data in got if name == "delta")
    reply = got[-1][1]
    assert "cash" not in str(reply["answer"])
    assert reply["citations"]
    transcript = (await client.get(f"/v1/conversations/{cid}", headers=headers)).json()
    assert transcript["turns"][0]["model"] == "extractive"
    assert "stalled" in transcript["turns"][0]["note"]


async def test_errors_before_the_stream_are_plain_json(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/conversations/nope/messages?stream=true", json={"text": "hi"}, headers=headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
