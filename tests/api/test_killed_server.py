"""A real `frontdesk serve` process killed with SIGKILL while it posts an answer to Slack: the
next server process on the same workspace posts it, once the killed one's job heartbeat has
gone silent. Real processes, real HTTP on loopback, a fake Slack Web API, SQLite."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from frontdesk.storage.db import Database
from frontdesk.storage.models import Job
from tests.api.channel_fakes import FakeApi, fake_api
from tests.api.test_slack_channel import SECRET, TOKEN, URL, message, signed
from tests.conftest import demo_copy, free_port

__all__ = ["fake_api"]  # the fixture, imported for the test below


def _workspace(root: Path, prepared_state: Path, slack_api: str) -> Path:
    demo_copy(root, prepared_state)
    with (root / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(f"""
jobs:
  heartbeat_s: 0.5
  abandoned_after_s: 2
channels:
  slack:
    signing_secret: {SECRET}
    bot_token: {TOKEN}
    api_base_url: {slack_api}
  delivery:
    attempts: 1
    timeout_s: 60
""")
    return root


@contextmanager
def _server(workspace: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`frontdesk serve` in its own process, ready; killed (if still alive) on the way out."""
    port = free_port()
    env = {**os.environ, "FRONTDESK_SERVER__PORT": str(port)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-w", str(workspace)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not get ready"
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _until(condition: object, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _jobs(workspace: Path) -> list[Job]:
    async def read() -> list[Job]:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            async with db.unscoped_session() as session:
                return list(await session.scalars(select(Job).where(Job.kind == "slack_message")))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_an_answer_cut_off_by_sigkill_is_posted_by_the_next_server(
    tmp_path: Path, prepared_state: Path, fake_api: FakeApi
) -> None:
    workspace = _workspace(tmp_path / "ws", prepared_state, fake_api.url)
    log = tmp_path / "servers.log"
    fake_api.script = ["hang"]  # the first post never gets its answer
    event = message("I want a refund for order KP-20481736", event_id="EvKill", ts="1700000200.1")

    with _server(workspace, log) as (url, first):
        accepted = httpx.post(url + URL, **signed(event), timeout=10)
        assert accepted.status_code == 200, accepted.text
        _until(lambda: fake_api.requests, 60, "the answer was never posted")
        first.kill()  # mid-post: the turn is done, its answer not delivered
        first.wait(timeout=30)
    [hung] = fake_api.requests
    assert hung.get("hung") is True
    [job] = _jobs(workspace)
    assert (job.status, job.attempts) == ("running", 1)

    with _server(workspace, log):
        _until(lambda: fake_api.delivered, 60, "the next server did not post the answer")
        _until(lambda: _jobs(workspace)[0].status == "done", 30, "the job did not finish")

    [post] = fake_api.delivered
    assert post["json"]["thread_ts"] == "1700000200.1"
    assert post["json"]["text"] == hung["json"]["text"]  # the stored answer, not a new turn
    [job] = _jobs(workspace)
    assert (job.status, job.attempts, job.error) == ("done", 2, None)
    assert job.result is not None
    assert job.result["posted"] is True
