"""A request still running when `frontdesk serve`'s shutdown grace period (5 s) ends: the
client gets 503 `shutting_down` with Retry-After (not uvicorn's bare 500), the log says so in
one line (no traceback), and a client that sends the same message again with its
Idempotency-Key to the restarted server gets it answered once: nothing lost, nothing doubled.
Real `frontdesk serve` processes, SQLite, the model a fake provider on loopback that is slow
the first time."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

import httpx
from sqlalchemy import select

from frontdesk.storage.db import Database
from frontdesk.storage.models import Message, Turn
from tests.conftest import serve_process, workspace_key
from tests.llm.conftest import fake, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider, Step

TEXT = "I want a refund for order KP-20481736"


def _use_the_fake(workspace: Path, fake: FakeProvider) -> None:  # noqa: F811
    config = workspace / "frontdesk.yaml"
    text = config.read_text(encoding="utf-8")
    assert "llm:\n  answer_model: extractive" in text
    config.write_text(
        text.replace(
            "llm:\n  answer_model: extractive",
            "llm:\n"
            "  models: {answer: [openai:gpt-test]}\n"
            f"  providers: {{openai: {{base_url: '{fake.url}/v1', api_key: test-key, "
            "timeout_s: 60}}\n"
            "  retries: 0\n"
            "  turn_timeout_s: 60\n",
        ),
        encoding="utf-8",
    )


def _stored(workspace: Path) -> tuple[list[str], int]:
    async def read() -> tuple[list[str], int]:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            async with db.unscoped_session() as session:
                texts = list(
                    await session.scalars(select(Message.text).where(Message.role == "customer"))
                )
                return texts, len(list(await session.scalars(select(Turn.id))))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_request_past_the_grace_period_gets_503_and_its_retry_is_answered_once(
    workspace: Path,
    fake: FakeProvider,  # noqa: F811
) -> None:
    _use_the_fake(workspace, fake)
    token = workspace_key(workspace, "service")
    headers = {"Authorization": f"Bearer {token}"}
    fake.then(Step(echo=True, delay=40))  # far past the 5 s grace period
    fake.default = Step(echo=True)
    outcome: list[httpx.Response | BaseException] = []

    with serve_process(workspace, ready_within=150) as (process, port, log):
        url = f"http://127.0.0.1:{port}"
        created = httpx.post(url + "/v1/conversations", json={}, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        cid = created.json()["id"]

        def send() -> None:
            try:
                outcome.append(httpx.post(
                    f"{url}/v1/conversations/{cid}/messages", json={"text": TEXT},
                    headers={**headers, "Idempotency-Key": "shutdown-1"}, timeout=60,
                ))  # fmt: skip
            except BaseException as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        for _ in range(300):  # the turn is waiting on the model
            if fake.requests:
                break
            sender.join(0.1)
        assert fake.requests, log.read_text()[-3000:]
        process.send_signal(signal.SIGTERM)
        sender.join(30)
        # uvicorn ends by raising the signal it caught again, once its shutdown is done
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    [cut] = outcome
    assert isinstance(cut, httpx.Response), cut
    assert cut.status_code == 503, cut.text
    assert cut.json()["error"]["code"] == "shutting_down"
    assert int(cut.headers["Retry-After"]) >= 1
    text = log.read_text()
    assert "Traceback" not in text
    assert "Exception in ASGI application" not in text
    said = [line for line in text.splitlines() if "shutting_down" in line]
    assert len(said) == 1, said

    with serve_process(workspace, ready_within=150) as (_, port, _log):
        again = httpx.post(
            f"http://127.0.0.1:{port}/v1/conversations/{cid}/messages", json={"text": TEXT},
            headers={**headers, "Idempotency-Key": "shutdown-1"}, timeout=60,
        )  # fmt: skip
        assert again.status_code == 200, again.text
        assert again.json()["answer"]
        # The cut-off turn stored nothing and gave its claim back: this is its first answer.
        assert "Idempotent-Replayed" not in again.headers
    texts, turns = _stored(workspace)
    assert (texts.count(TEXT), turns) == (1, 1)  # nothing lost, nothing doubled
