"""The database handle: one async engine and tenant-scoped sessions. SQLite or PostgreSQL."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from frontdesk.errors import ConfigError
from frontdesk.storage import rls, scoping
from frontdesk.storage.outage import Outage


class TenantSession(Session):
    """The sync session behind every AsyncSession we hand out; carries the scoping hooks."""


scoping.install(TenantSession)


@event.listens_for(TenantSession, "after_begin")
def _rls_tenant(session: Session, _transaction: Any, connection: Any) -> None:
    """PostgreSQL row-level security reads the tenant from this transaction-local setting."""
    if connection.dialect.name != "postgresql":
        return
    value = rls.ALL_TENANTS if session.info.get(scoping.UNSCOPED_KEY) else None
    value = value or session.info.get(scoping.TENANT_KEY)
    if value is not None:
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": rls.SETTING, "value": value}
        )


SUPPORTED = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalise_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"database_url {url!r} is not a valid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ConfigError(
            f"database_url: unsupported database {backend!r}; expected sqlite or postgresql"
        )
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=SUPPORTED[backend])
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout_s: float | None = None,
    ) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": 30}
            private_sqlite_files(make_url(self.url).database)
        else:
            kwargs["pool_pre_ping"] = True
            # None keeps SQLAlchemy's defaults (5 + 10 overflow, 30 s); see DatabaseSettings.
            for name, value in (
                ("pool_size", pool_size),
                ("max_overflow", max_overflow),
                ("pool_timeout", pool_timeout_s),
            ):
                if value is not None:
                    kwargs[name] = value
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # Short writes that commit on their own while a turn holds its connection (a tool
        # call's record, a budget's monthly reload) take this small pool instead: a turn
        # waiting for a second connection of the turns' pool could starve it (issue 21).
        # Its holders never wait for the turns' pool, so the two cannot wait on each other.
        # (PostgreSQL only: SQLite keeps one engine, as an in-memory database is per engine.)
        self.side_engine: AsyncEngine = self.engine
        if self.dialect == "postgresql":
            side = {**kwargs, "pool_size": 2, "max_overflow": 8}
            side.pop("pool_timeout", None)
            self.side_engine = create_async_engine(self.url, **side)
        else:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.outage = Outage()
        for engine in {self.engine, self.side_engine}:
            # A connection opened is the database back (the pool opens one after each it lost).
            event.listen(engine.sync_engine, "connect", lambda *_: self.outage.recovered())
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TenantSession
        )
        self._side_sessions = async_sessionmaker(
            self.side_engine, expire_on_commit=False, sync_session_class=TenantSession
        )
        self._reader: Engine | None = None
        self._reader_lock = threading.Lock()

    def session(self, tenant_id: str) -> AsyncSession:
        """A session that can only see and write rows of `tenant_id`."""
        session = self._sessions()
        session.info[scoping.TENANT_KEY] = tenant_id
        return session

    def side_session(self, tenant_id: str) -> AsyncSession:
        """`session`, on the small pool of short writes that commit apart from a turn's
        transaction while the turn holds its connection: never held across a wait for the
        turns' pool."""
        session = self._side_sessions()
        session.info[scoping.TENANT_KEY] = tenant_id
        return session

    def unscoped_session(self) -> AsyncSession:
        """For cross-tenant system work only: API key lookup, tenant management."""
        session = self._sessions()
        session.info[scoping.UNSCOPED_KEY] = True
        return session

    def read_row(self, statement: Executable) -> Row[Any] | None:
        """The first row of a small read on a plain sqlite3 connection, on the calling thread
        (SQLite files only; None otherwise). For one-row indexed reads on the search path,
        where aiosqlite's thread hops take ~1 ms and the query itself 0.05. ORM scoping
        hooks do not run here: the caller writes the tenant filter into the statement."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        with self._reader_lock:
            if self._reader is None:
                self._reader = create_engine(f"sqlite:///{database}", poolclass=StaticPool,
                                             connect_args={"check_same_thread": False,
                                                           "timeout": 30})  # fmt: skip
            with self._reader.connect() as connection:
                return connection.execute(statement).first()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.side_engine is not self.engine:
            await self.side_engine.dispose()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.dispose()
                self._reader = None


def private_sqlite_files(database: str | None) -> None:
    """The database file readable by its owner only (0600), created so before SQLite opens
    it: SQLite gives its -wal and -shm files the database file's permissions. Files a
    default umask left readable by all (0644) are tightened."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = path.with_name(path.name + suffix)
        if part.is_file() and part.stat().st_mode & 0o077:
            part.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
