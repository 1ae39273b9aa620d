"""Whether the database can be reached, and why not: the driver's connection errors told apart
from every other failure, in words a person can act on.

A lost database is no bug of a request: the API answers 503 `storage_unavailable` with
Retry-After, /readyz says why, and the log has one line when the database goes and one when
it is back (not a traceback per request). Recovery is seen when a new connection opens (the
pool opens one after every failed one) or a health check succeeds."""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # what a 503 tells the client to wait
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN,
}  # fmt: skip
# sqlite3.OperationalError messages meaning the file cannot be used (not a bad statement)
_SQLITE_UNAVAILABLE = {
    "unable to open database file": "cannot open the database file",
    "disk i/o error": "disk I/O error on the database file",
    "database or disk is full": "the disk holding the database is full",
    "attempt to write a readonly database": "the database file is read-only",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, DBAPIError) and isinstance(current.orig, BaseException):
            yield current.orig
        current = current.__cause__ or current.__context__


def cause(exc: BaseException) -> str | None:
    """Why the database cannot be used, when `exc` (or what caused it) says it is a lost or
    refused connection or an unusable database file; None for any other error."""
    for error in _chain(exc):
        words = _words(error)
        if words is not None:
            return words
    return None


def _words(error: BaseException) -> str | None:
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return next((w for m, w in _SQLITE_UNAVAILABLE.items() if message.startswith(m)), None)
    if isinstance(error, PendingRollbackError) and "reconnect" in str(error):
        # the session's connection was lost earlier in its transaction
        return "the connection to the database was lost"
    if isinstance(error, PoolTimeoutError):
        return "no database connection came free in time (the pool is exhausted)"
    if isinstance(error, ConnectionRefusedError):
        return "the database server refused the connection (is it running and reachable?)"
    if isinstance(error, ConnectionError):
        return "the connection to the database was lost"
    if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:
        return f"cannot reach the database server ({error.strerror or error})"
    module = type(error).__module__
    if module.startswith("asyncpg") or module.startswith("psycopg"):
        return _postgres_words(error)
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "the connection to the database was lost"
    return None


def _postgres_words(error: BaseException) -> str | None:
    name = type(error).__name__
    if name in {"ConnectionDoesNotExistError", "ConnectionFailureError"}:
        return "the connection to the database was lost"
    if name == "CannotConnectNowError":
        return "the database server is starting up or shutting down"
    if name == "TooManyConnectionsError":
        return "the database server has too many connections"
    if name in {"AdminShutdownError", "CrashShutdownError"}:
        return "the database server shut down"
    if name == "OperationalError":  # psycopg's connection failures
        return f"cannot reach the database server ({error})"
    if name == "InterfaceError" and "closed" in str(error).lower():
        return "the connection to the database was lost"
    return None


def is_unavailable(exc: BaseException) -> bool:
    """`cause(exc)`, or an error SQLAlchemy itself files under operational or interface
    failures: either way a 503, never a 500."""
    if cause(exc) is not None:
        return True
    return any(isinstance(e, (OperationalError, InterfaceError)) for e in _chain(exc))


class Outage:
    """One database's state as the process last saw it (logged when it changes)."""

    def __init__(self) -> None:
        self.cause: str | None = None
        self.since: float | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> str | None:
        """Note a failure: its cause when it is the database's unavailability (logged once
        per outage), else None (a bug or bad input, for the caller to handle)."""
        words = cause(exc)
        if words is None:
            if not is_unavailable(exc):
                return None
            # Busy or refusing one statement (SQLite's "database is locked"): a 503 with a
            # line of its own, but no outage (nothing would tell when it is over).
            words = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
            log.warning("database error, answered 503: %s", words)
            return words
        if self.since is None:
            self.since = time.monotonic()
            log.error("database unavailable: %s; answering 503 until it is back", words)
        self.cause = words
        return words

    def recovered(self) -> None:
        if self.since is None:
            return
        took = time.monotonic() - self.since
        self.since, self.cause = None, None
        log.warning("database reachable again (after %.1f s)", took)
