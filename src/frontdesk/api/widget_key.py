"""The public widget key the chat page uses. Public by design (it ships in a web page), so it
is kept in the workspace state folder; it can only start conversations and post to them.

Each page load checks that the key is still good: when an admin revokes it (it leaked into
someone's abuse script, say), the next page carries a fresh one, without a restart. Pages
already open get it the same way when their next call is refused (static/chat.js). Processes
of one workspace (`serve --workers`) share the key: a revoked key is replaced once, by the
first to ask (the database allows one replacement per key), and the others read its
replacement from the state folder."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import (
    Scope,
    create_key,
    replace_key,
    replacement_of,
    revoke_key,
    verify_key,
)

PAGE_KEY_NAME = "web chat page"
# How long a process that lost the race for a revoked key's replacement waits for the
# winner to write the new key to the state folder (milliseconds, normally).
WAIT_FOR_OTHER_S = 10.0


async def _usable(runtime: Runtime, token: str) -> bool:
    # Read only (touch=False): a public page's loads must not each write to the database.
    key = await verify_key(runtime.db, token, touch=False)
    return key is not None and key.tenant_id == runtime.tenant.id and key.scope is Scope.WIDGET


async def ensure_widget_key(runtime: Runtime) -> str:
    path = runtime.workspace.state_dir / "widget-key"
    if path.is_file() and path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written 0644 by an older version
    old: str | None = None
    if path.is_file():
        token = path.read_text().strip()
        if token and await _usable(runtime, token):  # this process's, or one another made
            return token
        old = token or None
    tenant = runtime.tenant.id
    if old is None:
        issued = await create_key(runtime.db, tenant, name=PAGE_KEY_NAME, scope=Scope.WIDGET)
        _write_key(path, issued.token)
        return issued.token
    while True:
        replacement = await replace_key(
            runtime.db, tenant, old, name=PAGE_KEY_NAME, scope=Scope.WIDGET
        )
        if replacement is not None:
            _write_key(path, replacement.token)
            return replacement.token
        # Another process replaced the revoked key first (one replacement per key, a unique
        # column): its key is in the file as soon as that process has written it.
        theirs = await _written_by_another(runtime, path, old)
        if theirs is not None:
            return theirs
        # It never was (that process stopped in between): nobody holds the replacement's
        # secret, so it is revoked and replaced in turn.
        orphan = await replacement_of(runtime.db, tenant, old)
        if orphan is not None:
            await revoke_key(runtime.db, tenant, orphan.id)
            old = orphan.id


async def _written_by_another(runtime: Runtime, path: Path, old: str | None) -> str | None:
    deadline = time.monotonic() + WAIT_FOR_OTHER_S
    while time.monotonic() < deadline:
        token = _read_key(path)
        if token and token != old and await _usable(runtime, token):
            return token
        await asyncio.sleep(0.05)
    return None


def _read_key(path: Path) -> str:
    return path.read_text().strip() if path.is_file() else ""


def _write_key(path: Path, token: str) -> None:
    # Public once served, but a key all the same: the owner's only on disk, like the state.
    # Written aside and renamed, so a process reading it never sees half a key.
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    handle = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(token + "\n")
    os.replace(part, path)


class PageKey:
    """The chat page's widget key for this process: checked on each use, replaced (once, by
    one caller while the others wait) when it has been revoked."""

    def __init__(self, runtime: Runtime, token: str) -> None:
        self.runtime = runtime
        self.token = token
        self._renewing = asyncio.Lock()

    async def current(self) -> str:
        token = self.token
        if await _usable(self.runtime, token):
            return token
        async with self._renewing:
            if self.token == token:  # nobody renewed it while this one waited
                self.token = await ensure_widget_key(self.runtime)
            return self.token
