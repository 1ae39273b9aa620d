"""`frontdesk serve --workers 2` as real processes on loopback, with the local Redis: many
keep-alive connections are spread over both workers, a rate limit and tenant slots hold
across them, a console subscribed on one worker sees a turn handled by the other, and SIGTERM
stops them all. Without Redis, start-up refuses with the setting's name."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from frontdesk.config.settings import LimitsSettings
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.db import Database, normalise_url
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user
from tests.conftest import demo_copy, free_port, require_redis

REDIS = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery"
WORKER = "x-frontdesk-worker"


def _db(workspace: Path) -> Database:
    return Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")


def _key(workspace: Path) -> str:
    async def run() -> str:
        db = _db(workspace)
        try:
            tenant = await ensure_tenant(db, "default")
            return (await create_key(db, tenant.id, name="t", scope=Scope.SERVICE)).token
        finally:
            await db.dispose()

    return asyncio.run(run())


def _tenant_id(workspace: Path) -> str:
    async def run() -> str:
        db = _db(workspace)
        try:
            return (await ensure_tenant(db, "default")).id
        finally:
            await db.dispose()

    return asyncio.run(run())


def _agent(workspace: Path, email: str) -> None:
    async def run() -> None:
        db = _db(workspace)
        try:
            tenant = await ensure_tenant(db, "default")
            await create_user(db, tenant.id, email=email, password=PASSWORD, role=Role.AGENT)
        finally:
            await db.dispose()

    asyncio.run(run())


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path, ws: Path):
        self.process, self.url, self.log, self.workspace = process, url, log, ws

    def worker_pids(self) -> dict[int, int]:
        """Each worker's process id (the latest one started for each number)."""
        started = re.findall(r"worker (\d) started \[(\d+)\]", self.log.read_text())
        return {int(worker): int(pid) for worker, pid in started}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, prepared_state: Path) -> Iterator[Served]:
    require_redis()
    workspace = demo_copy(tmp_path_factory.mktemp("workers") / "ws", prepared_state)
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(f"\nlimits:\n  storage_url: {REDIS}\n  per_key: 6/minute\n")
    port = free_port()
    log = workspace / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-w", str(workspace), "--port",
             str(port), "--workers", "2"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # each worker loads its own models
        while log.read_text().count("Application startup complete") < 2:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.3)
        yield Served(process, f"http://127.0.0.1:{port}", log, workspace)
    finally:
        if process.poll() is None:
            process.kill()  # the parent only: its workers are reaped below
            process.wait()
        for pid in re.findall(r"worker \d started \[(\d+)\]", log.read_text()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _client_on(served: Served, worker: str, **kwargs: object) -> httpx.Client:
    """A client whose (keep-alive) connection the kernel gave to `worker`: new connections
    are tried until one lands there."""
    for _ in range(60):
        client = httpx.Client(base_url=served.url, timeout=60, **kwargs)  # type: ignore[arg-type]
        if client.get("/healthz").headers[WORKER] == worker:
            return client
        client.close()
    raise AssertionError(f"no connection reached worker {worker} in 60 tries")


def test_keep_alive_connections_spread_over_both_workers(served: Served) -> None:
    async def run() -> Counter[str]:
        served_by: Counter[str] = Counter()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=served.url, limits=limits, timeout=60) as http:

            async def connection() -> None:
                for _ in range(4):
                    served_by[(await http.get("/healthz")).headers[WORKER]] += 1

            await asyncio.gather(*(connection() for _ in range(64)))
        return served_by

    served_by = asyncio.run(run())
    assert sum(served_by.values()) == 256
    assert set(served_by) == {"0", "1"}
    # The kernel hashes each connection: no worker gets (nearly) all of them. A 64-connection
    # binomial split below 12 of 64 has odds of about 1 in 10^7.
    assert min(served_by.values()) >= 12 * 4, served_by
    # The access log says which process answered, too.
    pids = Counter(
        line.split("]")[0].lstrip("[")
        for line in served.log.read_text().splitlines()
        if '"GET /healthz' in line
    )
    assert {int(pid) for pid in pids} == set(served.worker_pids().values())


def test_a_rate_limit_holds_across_workers(served: Served) -> None:
    headers = {"Authorization": f"Bearer {_key(served.workspace)}"}
    clients = [_client_on(served, w, headers=headers) for w in ("0", "1")]
    try:
        outcomes: Counter[tuple[str, int]] = Counter()
        for i in range(12):  # per_key is 6/minute: alternately on each worker
            client = clients[i % 2]
            created = client.post("/v1/conversations", json={})
            assert created.status_code == 201
            sent = client.post(f"/v1/conversations/{created.json()['id']}/messages",
                               json={"text": "Where is my parcel?"})  # fmt: skip
            outcomes[(sent.headers[WORKER], sent.status_code)] += 1
            if sent.status_code == 429:
                assert sent.json()["error"]["code"] == "rate_limited"
    finally:
        for client in clients:
            client.close()
    # Counted per worker, both would have let 6 through (12 in all).
    assert sum(n for (_, status), n in outcomes.items() if status == 200) == 6, outcomes
    assert sum(n for (_, status), n in outcomes.items() if status == 429) == 6, outcomes
    assert {w for w, _ in outcomes} == {"0", "1"}


def test_tenant_slots_are_the_same_on_both_workers(served: Served) -> None:
    import redis

    # The installation's slots: under its namespace, derived from its database URL.
    database = (served.workspace / ".frontdesk" / "frontdesk.db").resolve()
    namespace = LimitsSettings().redis_namespace(normalise_url(f"sqlite+aiosqlite:///{database}"))
    key = f"frontdesk:tenant-slots:{namespace}:{_tenant_id(served.workspace)}"
    store = redis.Redis.from_url(REDIS)
    headers = {"Authorization": f"Bearer {_key(served.workspace)}"}
    clients = [_client_on(served, w, headers=headers) for w in ("0", "1")]
    try:
        conversation = clients[0].post("/v1/conversations", json={}).json()["id"]
        # The tenant's 8 slots (limits.tenant_concurrency) held elsewhere, far into the future.
        store.zadd(key, {uuid.uuid4().hex: time.time() * 1000 + 600_000 for _ in range(8)})
        for client in clients:
            busy = client.post(f"/v1/conversations/{conversation}/messages",
                               json={"text": "hello"})  # fmt: skip
            assert busy.status_code == 429, busy.text
            assert busy.json()["error"]["code"] == "tenant_busy"
        store.delete(key)
        freed = clients[1].post(f"/v1/conversations/{conversation}/messages",
                                json={"text": "hello"})  # fmt: skip
        assert freed.status_code == 200
    finally:
        store.delete(key)
        store.close()
        for client in clients:
            client.close()


def test_a_console_on_one_worker_sees_a_turn_on_the_other(served: Served) -> None:
    _agent(served.workspace, "ana@kestrel.test")
    agent = _client_on(served, "0")
    customer = _client_on(
        served, "1", headers={"Authorization": f"Bearer {_key(served.workspace)}"}
    )
    try:
        login = {"email": "ana@kestrel.test", "password": PASSWORD}
        signed_in = agent.post("/console/login", data=login)
        assert signed_in.status_code == 303
        assert signed_in.headers[WORKER] == "0"
        with agent.stream("GET", "/console/events") as stream:
            assert stream.status_code == 200
            assert stream.headers[WORKER] == "0"
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            conversation = customer.post("/v1/conversations", json={}).json()["id"]
            sent = customer.post(f"/v1/conversations/{conversation}/messages",
                                 json={"text": "Where is my parcel KP-1?"})  # fmt: skip
            assert sent.status_code == 200
            assert sent.headers[WORKER] == "1"
            deadline = time.monotonic() + 30
            name = ""
            for line in lines:
                assert time.monotonic() < deadline, "worker 1's turn never reached worker 0"
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "message":
                    data = json.loads(line.removeprefix("data: "))
                    if data["conversation_id"] == conversation and data["role"] == "customer":
                        assert data["text"] == "Where is my parcel KP-1?"
                        break
    finally:
        agent.close()
        customer.close()


def test_metrics_from_either_worker_cover_both(served: Served) -> None:
    # The tests above ran turns on both workers; a scrape answered by one has both. Each worker
    # publishes its exposition every 5 s and when scraped, so another worker's figures may be
    # a few seconds old: a scrape is retried for up to 15 s until both workers' turns show.
    for worker in ("1", "0"):
        deadline = time.monotonic() + 15
        while True:
            client = _client_on(served, worker)
            try:
                scraped = client.get("/metrics")
            finally:
                client.close()
            assert scraped.status_code == 200
            assert scraped.headers[WORKER] == worker
            turns = [line for line in scraped.text.splitlines()
                     if line.startswith("frontdesk_turns_total{")]  # fmt: skip
            both = all(any(f'worker="{w}"' in line for line in turns) for w in ("0", "1"))
            if both or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert both, turns
        assert scraped.text.count("# TYPE frontdesk_turns_total counter") == 1


def test_a_killed_worker_is_started_again_on_its_socket(served: Served) -> None:
    killed = served.worker_pids()[1]
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 300
    while served.log.read_text().count("Application startup complete") < 3:
        assert served.process.poll() is None, served.log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the worker was not started again"
        time.sleep(0.3)
    assert f"worker 1 [{killed}] exited with code -9; starting another" in served.log.read_text()
    assert served.worker_pids()[1] != killed
    client = _client_on(served, "1")  # its socket is served again
    try:
        assert client.get("/readyz").status_code == 200
    finally:
        client.close()


def test_sigterm_stops_every_worker(served: Served) -> None:
    pids = set(served.worker_pids().values())
    assert len(pids) == 2
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    for pid in pids:  # the workers are gone too, not orphaned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    logged = served.log.read_text()
    assert logged.count("Application shutdown complete") == 2
    assert "all 2 workers stopped" in logged
    assert "Traceback" not in logged


def _serve(workspace: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "serve", "-w", str(workspace), "--port",
         str(free_port()), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_several_workers_without_redis_refuse_to_start(
    tmp_path: Path, prepared_state: Path
) -> None:
    workspace = demo_copy(tmp_path / "ws", prepared_state)
    refused = _serve(workspace, "--workers", "2")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr + refused.stdout
    message = " ".join((refused.stderr + refused.stdout).split())
    assert "server.workers is 2, but limits.storage_url is 'memory://'" in message
    assert "Set limits.storage_url to a Redis" in message
    # server.workers (here from the environment) asks for it too, and a Redis that does not
    # answer is named at once, before any model loads.
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(f"\nlimits:\n  storage_url: redis://127.0.0.1:{free_port()}/0\n")
    unreachable = _serve(workspace, env={"FRONTDESK_SERVER__WORKERS": "3"})
    assert unreachable.returncode == 1
    message = " ".join((unreachable.stderr + unreachable.stdout).split())
    assert "limits.storage_url redis://127.0.0.1:" in message
    assert "Redis does not answer" in message
