"""Shared fixtures: demo workspaces, databases (SQLite always, PostgreSQL when reachable),
an opened runtime, and a live server on loopback.

Tests marked `services` or `browser` skip when PostgreSQL or chromium is absent, except
under CI=true, where they fail instead: CI must exercise them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from frontdesk.embedding import CachingEmbedder, MiniLMEmbedder
from frontdesk.orchestration.runtime import Runtime, open_runtime
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

DEMO = Path(__file__).resolve().parent.parent / "src" / "frontdesk" / "demo" / "workspace"
POSTGRES_ADMIN_URL = os.environ.get(
    "FRONTDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    """A local service (PostgreSQL 5432, Redis 6379) answers on its port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_redis() -> None:
    require(reachable(6379), "Redis is not reachable on 127.0.0.1:6379")


def _postgres_reachable() -> bool:
    return reachable(5432)


def workspace_key(workspace: Path, scope: str = "admin") -> str:
    """An API key of the workspace's default tenant, made straight in its SQLite file (for a
    server started on that workspace)."""
    from frontdesk.storage.api_keys import Scope, create_key

    async def run() -> str:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            tenant = await ensure_tenant(db, "default")
            return (await create_key(db, tenant.id, name="test", scope=Scope(scope))).token
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _admin_async(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _admin(sql: str) -> None:
    asyncio.run(_admin_async(sql))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this test session, or None when unreachable."""
    if not _postgres_reachable():
        yield None
        return
    name = f"frontdesk_test_{uuid.uuid4().hex[:8]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except Exception:
        yield None
        return
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None
) -> Iterator[str]:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    require(postgres_database is not None, "PostgreSQL is not reachable on 127.0.0.1:5432")
    assert postgres_database is not None
    url = postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    asyncio.run(_reset_postgres(url))
    yield url


async def _reset_postgres(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database of its own (modules that test both backends override it)."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'own.db'}")
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def tenant_id(db: Database) -> str:
    return (await ensure_tenant(db, "acme")).id


@pytest.fixture(scope="session")
def embedder() -> CachingEmbedder:
    """One loaded model with a cache for the session: the demo's chunks are embedded once."""
    return CachingEmbedder(MiniLMEmbedder())


@pytest.fixture(scope="session")
def prepared_state(tmp_path_factory: pytest.TempPathFactory, embedder: CachingEmbedder) -> Path:
    """The demo's generated state, built once: trained intent model and a SQLite database
    with the knowledge indexed and embedded. Workspaces start from a copy, so servers and
    CLI runs in tests start as fast as a second `make run` does."""
    root = tmp_path_factory.mktemp("prepared") / "ws"
    shutil.copytree(DEMO, root)

    async def prepare() -> None:
        rt = await open_runtime(root, embedder=embedder)
        await rt.close()

    asyncio.run(prepare())
    return root / ".frontdesk"


@pytest.fixture(scope="session")
def trained_models(prepared_state: Path) -> Path:
    return prepared_state / "models"


@pytest.fixture
def workspace(tmp_path: Path, prepared_state: Path) -> Path:
    """A fresh copy of the demo workspace and its prepared state."""
    return demo_copy(tmp_path / "ws", prepared_state)


def demo_copy(root: Path, prepared_state: Path) -> Path:
    """The demo workspace copied to `root`, with the prepared state (trained, indexed)."""
    shutil.copytree(DEMO, root)
    shutil.copytree(prepared_state, root / ".frontdesk")
    return root


class DemoTemplate:
    """A PostgreSQL database holding what `prepared_state` holds for SQLite (migrated, the demo's
    knowledge indexed and embedded), built on first use; a runtime test on PostgreSQL starts
    from a copy (CREATE DATABASE ... TEMPLATE, ~0.2 s) instead of migrating and ingesting the
    demo again (~2-4 s a test)."""

    def __init__(self, database: str, prepared_state: Path, root: Path, embedder: CachingEmbedder):
        base, _, name = database.rpartition("/")
        self.name = f"{name}_demo"
        self._url = f"{base}/{self.name}".replace("postgresql://", "postgresql+asyncpg://", 1)
        self._prepared_state = prepared_state
        self._root = root
        self._embedder = embedder
        self._built = False

    def ensure(self) -> str:
        """Builds the template once; called in a thread of its own (it runs an event loop)."""
        if not self._built:
            _admin(f'CREATE DATABASE "{self.name}"')
            root = demo_copy(self._root / "ws", self._prepared_state)
            before = os.environ.get("FRONTDESK_DATABASE_URL")
            os.environ["FRONTDESK_DATABASE_URL"] = self._url
            try:
                asyncio.run(self._prepare(root))
            finally:
                if before is None:
                    os.environ.pop("FRONTDESK_DATABASE_URL")
                else:
                    os.environ["FRONTDESK_DATABASE_URL"] = before
            self._built = True
        return self.name

    async def _prepare(self, root: Path) -> None:
        rt = await open_runtime(root, embedder=self._embedder)
        await rt.close()


@pytest.fixture(scope="session")
def postgres_demo_template(
    postgres_database: str | None,
    prepared_state: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: CachingEmbedder,
) -> Iterator[DemoTemplate | None]:
    if postgres_database is None:
        yield None
        return
    template = DemoTemplate(
        postgres_database, prepared_state, tmp_path_factory.mktemp("pg-template"), embedder
    )
    yield template
    _admin(f'DROP DATABASE IF EXISTS "{template.name}" WITH (FORCE)')


async def _copy_of(template: str, database_url: str) -> None:
    """Replace the test's database with a copy of `template`."""
    name = database_url.rpartition("/")[2]
    await _admin_async(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin_async(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


@pytest.fixture
async def runtime_database_url(
    database_url: str, postgres_demo_template: DemoTemplate | None, prepared_state: Path
) -> str:
    """`database_url` holding the demo's prepared state (migrated, knowledge indexed and
    embedded), for tests that open a runtime on the demo: opening it then checks instead of
    migrating and ingesting again."""
    if database_url.startswith("postgresql"):
        assert postgres_demo_template is not None
        await _copy_of(await asyncio.to_thread(postgres_demo_template.ensure), database_url)
    else:
        target = Path(database_url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            source = prepared_state / f"frontdesk.db{suffix}"
            if source.exists():
                shutil.copyfile(source, f"{target}{suffix}")
    return database_url


@pytest.fixture
async def runtime(
    workspace: Path,
    runtime_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    embedder: CachingEmbedder,
) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", runtime_database_url)
    rt = await open_runtime(workspace, embedder=embedder)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def sqlite_runtime(workspace: Path, embedder: CachingEmbedder) -> AsyncIterator[Runtime]:
    rt = await open_runtime(workspace, embedder=embedder)
    try:
        yield rt
    finally:
        await rt.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(workspace: Path) -> Iterator[str]:
    """The real app for `workspace` served by uvicorn on a loopback port, in a background
    thread; yields its base URL."""
    import uvicorn

    from frontdesk.api.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(workspace), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_process(
    workspace: Path, *, ready_within: float = 60
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A real `frontdesk serve` process on a free port, ready; yields it, its port and its
    log file (stdout and stderr). Stopped (SIGTERM, then SIGKILL) afterwards if still up."""
    port = free_port()
    log = workspace / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-w", str(workspace), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        yield process, port, log
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def live_server(workspace: Path) -> Iterator[str]:
    """The demo workspace's app served on loopback (`serving`)."""
    with serving(workspace) as url:
        yield url


# Modules that take minutes on one pytest-xdist worker go first, so that the other workers
# fill in around them instead of the run ending on one of them alone (loadscope hands out
# modules in collection order).
LONGEST_FIRST = ("tests/docs/test_readme.py", "tests/api/test_serve_workers.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
