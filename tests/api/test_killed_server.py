"""A real `frontdesk serve` process killed with SIGKILL while it posts an answer to Slack: the
next server process on the same workspace posts it, once the killed one's job heartbeat has
gone silent. Real processes, real HTTP on loopback, a fake Slack Web API, SQLite."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from frontdesk.storage.db import Database
from frontdesk.storage.models import Job, Message, Turn
from tests.api.channel_fakes import FakeApi, fake_api
from tests.api.test_slack_channel import SECRET, TOKEN, URL, message, signed
from tests.conftest import demo_copy, free_port, workspace_key

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
def _server(
    workspace: Path, log: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`frontdesk serve` in its own process, ready; killed (if still alive) on the way out."""
    port = port or free_port()
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


CONVERSATIONS, MESSAGES = 6, 8


class _Load:
    """Clients of a server that gets killed: one message in flight per conversation, each
    with its own Idempotency-Key, retried with the same key (connection refused or cut,
    409 being answered, 503) until answered. Runs in a thread with its own event loop."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.answered: dict[str, float] = {}  # key -> when its 200 came
        self.retried: set[str] = set()  # keys sent more than once
        self.failures: list[str] = []
        self.deadline = time.monotonic() + 120  # cut short after the restart
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            ids = [(await http.post("/v1/conversations", json={})).json()["id"]
                   for _ in range(CONVERSATIONS)]  # fmt: skip
            await asyncio.gather(*(self._conversation(http, c, cid) for c, cid in enumerate(ids)))

    async def _conversation(self, http: httpx.AsyncClient, c: int, cid: str) -> None:
        for i in range(MESSAGES):
            key = f"c{c}-m{i}"
            body = {"text": f"Where is my parcel KP-204817{c}{i}? ({key})"}
            tries = 0
            while time.monotonic() < self.deadline:
                tries += 1
                try:
                    sent = await http.post(f"/v1/conversations/{cid}/messages", json=body,
                                           headers={"Idempotency-Key": key})  # fmt: skip
                except httpx.TransportError:
                    sent = None
                if sent is not None and sent.status_code == 200:
                    self.answered[key] = time.monotonic()
                    break
                if sent is not None and sent.status_code not in (409, 503):
                    self.failures.append(f"{key}: {sent.status_code} {sent.text[:200]}")
                    return
                await asyncio.sleep(0.2)
            if tries > 1:
                self.retried.add(key)


def _customer_messages(workspace: Path) -> tuple[list[str], int]:
    async def read() -> tuple[list[str], int]:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            async with db.unscoped_session() as session:
                texts = list(
                    await session.scalars(select(Message.text).where(Message.role == "customer"))
                )
                turns = len(list(await session.scalars(select(Turn.id))))
                return texts, turns
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_keyed_messages_cut_off_by_sigkill_are_answered_once_after_the_restart(
    tmp_path: Path, prepared_state: Path
) -> None:
    """Issue 21, point 4: SIGKILL mid-run, clients retrying with the same keys: no message
    lost, none answered twice (one customer message and one turn each), and every retried
    message answered within 15 s of the restart (the dead process's claims lapse in
    seconds, not minutes)."""
    workspace = demo_copy(tmp_path / "ws", prepared_state)
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write("limits:\n  per_key: 10000/minute\n  per_conversation: 10000/minute\n")
    token = workspace_key(workspace, "service")
    log = tmp_path / "servers.log"
    port = free_port()
    with _server(workspace, log, port) as (url, first):
        load = _Load(url, token)
        load.thread.start()
        _until(lambda: len(load.answered) >= 10 or load.failures, 60, "no answers before the kill")
        first.kill()  # mid-run: turns in flight, some perhaps committed and not yet answered
        first.wait(timeout=30)
    in_flight = CONVERSATIONS * MESSAGES - len(load.answered)
    with _server(workspace, log, port):
        restarted = time.monotonic()
        load.deadline = restarted + 30  # twice the target: a miss fails fast
        load.thread.join(timeout=60)
    assert not load.thread.is_alive(), "the clients did not finish"
    assert load.failures == []
    keys = {f"c{c}-m{i}" for c in range(CONVERSATIONS) for i in range(MESSAGES)}
    assert set(load.answered) == keys  # none lost
    texts, turns = _customer_messages(workspace)
    doubled = {t for t in texts if texts.count(t) > 1}
    assert doubled == set()
    assert (len(texts), turns) == (len(keys), len(keys))
    assert in_flight > 0  # the kill did cut messages off
    assert load.retried
    late = {k: round(load.answered[k] - restarted, 1) for k in load.retried
            if load.answered[k] - restarted > 15}  # fmt: skip
    assert late == {}, f"answered later than 15 s after the restart: {late}"
