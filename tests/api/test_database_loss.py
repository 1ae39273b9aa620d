"""Database loss is a 503, never a 500 or a dropped connection (issue 21, point 5).

PostgreSQL: a real `frontdesk serve` process reaches the database through a TCP proxy the
test cuts mid-run (every connection reset, new ones refused) and then restores. Every
response is a 2xx or a 503 `storage_unavailable` with Retry-After, none is cut off, /readyz
says in words what is wrong, the server recovers without a restart, and its log has one line
when the database goes and one when it comes back (no traceback per request).

SQLite: the database file becomes unreachable (its folder moved away, the pool's open
connections dropped), then comes back."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from tests.conftest import POSTGRES_ADMIN_URL, serve_process
from tests.tcp_proxy import tcp_proxy


class _Traffic:
    """Clients in a thread of their own: create a conversation, send it messages, read its
    transcript, over and over, keeping every outcome (a status, or `dropped`)."""

    def __init__(self, url: str, token: str, clients: int = 4) -> None:
        self.url, self.token, self.clients = url, token, clients
        self.outcomes: list[tuple[float, str, str]] = []  # (when, route, status or dropped)
        self.bad_503s: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            await asyncio.gather(*(self._client(http, n) for n in range(self.clients)))

    async def _call(self, http: httpx.AsyncClient, route: str, method: str, path: str,
                    **kwargs: object) -> httpx.Response | None:  # fmt: skip
        try:
            response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            self.outcomes.append((time.monotonic(), route, f"dropped: {exc!r}"))
            return None
        self.outcomes.append((time.monotonic(), route, str(response.status_code)))
        if response.status_code == 503:
            body = response.json()
            if (body.get("error", {}).get("code") != "storage_unavailable"
                    or "Retry-After" not in response.headers):  # fmt: skip
                self.bad_503s.append(f"{route}: {response.text[:200]} {response.headers}")
        return response

    async def _client(self, http: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            created = await self._call(http, "create", "POST", "/v1/conversations", json={})
            if created is None or created.status_code != 201:
                await asyncio.sleep(0.1)
                continue
            cid = created.json()["id"]
            for m in range(2):
                await self._call(http, "message", "POST", f"/v1/conversations/{cid}/messages",
                                 json={"text": f"where is my parcel? ({n}/{i}/{m})"})  # fmt: skip
            await self._call(http, "transcript", "GET", f"/v1/conversations/{cid}")


def _until(condition: object, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.services)], indirect=True
)
def test_postgresql_dropped_mid_run_gives_503s_and_recovers_without_restart(
    workspace: Path, runtime_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_port = int(POSTGRES_ADMIN_URL.rsplit(":", 1)[1].split("/")[0])
    with tcp_proxy(pg_port) as proxy:
        name = runtime_database_url.rsplit("/", 1)[1]
        monkeypatch.setenv(
            "FRONTDESK_DATABASE_URL",
            f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}",
        )
        with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
            config.write(
                "limits:\n  per_key: 100000/minute\n  per_conversation: 100000/minute\n"
                "  conversations_per_key: 100000/minute\n  reads_per_key: 100000/minute\n"
            )
        token = workspace_key_pg(workspace, runtime_database_url)
        with serve_process(workspace, ready_within=240) as (process, port, log):
            url = f"http://127.0.0.1:{port}"
            traffic = _Traffic(url, token)
            traffic.thread.start()
            _until(lambda: Counter(o[2] for o in traffic.outcomes)["200"] >= 4, 60, "no answers")

            proxy.drop()  # the database's host is gone: connections reset, new ones refused
            dropped_at = time.monotonic()
            _until(lambda: any(o[2] == "503" and o[0] > dropped_at for o in traffic.outcomes),
                   30, "no 503 while the database was away")  # fmt: skip
            ready = httpx.get(url + "/readyz", timeout=30)
            assert ready.status_code == 503
            cause = ready.json()["checks"]["database"]
            assert cause.startswith("unavailable: ")
            assert "refused" in cause or "lost" in cause or "reach" in cause, cause
            time.sleep(2)

            proxy.restore()
            restored_at = time.monotonic()
            _until(lambda: httpx.get(url + "/readyz", timeout=30).status_code == 200, 30,
                   "/readyz did not recover")  # fmt: skip
            _until(lambda: any(o[1] == "message" and o[2] == "200" and o[0] > restored_at
                               for o in traffic.outcomes), 30,
                   "no message answered after the database came back")  # fmt: skip
            traffic.stop.set()
            traffic.thread.join(timeout=60)
            assert process.poll() is None  # recovered without a restart
        logged = log.read_text()

    statuses = Counter(o[2] for o in traffic.outcomes)
    assert set(statuses) <= {"200", "201", "503"}, statuses
    assert traffic.bad_503s == []
    assert "Traceback" not in logged, logged[-4000:]
    lines = logged.splitlines()
    assert len([x for x in lines if "database unavailable" in x]) == 1, logged[-4000:]
    assert len([x for x in lines if "database reachable again" in x]) == 1, logged[-4000:]


def workspace_key_pg(workspace: Path, database_url: str) -> str:
    """An API key made in the PostgreSQL database the server will use."""
    before = os.environ.get("FRONTDESK_DATABASE_URL")
    os.environ["FRONTDESK_DATABASE_URL"] = database_url
    try:
        return _key(database_url)
    finally:
        if before is None:
            os.environ.pop("FRONTDESK_DATABASE_URL")
        else:
            os.environ["FRONTDESK_DATABASE_URL"] = before


def _key(database_url: str) -> str:
    from frontdesk.storage.db import Database
    from frontdesk.storage.tenants import ensure_tenant

    async def run() -> str:
        db = Database(database_url)
        try:
            tenant = await ensure_tenant(db, "default")
            return (await create_key(db, tenant.id, name="test", scope=Scope.SERVICE)).token
        finally:
            await db.dispose()

    return asyncio.run(run())


async def test_sqlite_file_unreachable_gives_503s_and_recovers(
    sqlite_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = sqlite_runtime
    issued = await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)
    headers = {"Authorization": f"Bearer {issued.token}"}
    app = create_app(runtime=runtime)
    state = runtime.workspace.state_dir
    away = state.with_name(state.name + "-away")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            cid = (await http.post("/v1/conversations", json={}, headers=headers)).json()["id"]
            url = f"/v1/conversations/{cid}/messages"
            assert (await http.post(url, json={"text": "hi"}, headers=headers)).status_code == 200

            shutil.move(state, away)  # the volume holding the database is gone
            await runtime.db.engine.dispose()  # and the pool's connections with it
            try:
                for _ in range(3):
                    refused = await http.post(url, json={"text": "hi"}, headers=headers)
                    assert refused.status_code == 503, refused.text
                    assert refused.json()["error"]["code"] == "storage_unavailable"
                    assert int(refused.headers["Retry-After"]) >= 1
                read = await http.get(f"/v1/conversations/{cid}", headers=headers)
                assert read.status_code == 503
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert "cannot open the database file" in ready.json()["checks"]["database"]
            finally:
                shutil.move(away, state)
            answered = await http.post(url, json={"text": "hi again"}, headers=headers)
            assert answered.status_code == 200
            assert (await http.get("/readyz")).status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "database unavailable" in m]) == 1, messages
    assert len([m for m in messages if "database reachable again" in m]) == 1, messages
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
