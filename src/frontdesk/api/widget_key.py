"""The public widget key the chat page uses. Public by design (it ships in a web page), so it
is kept in the workspace state folder; it can only start conversations and post to them.

Each page load checks that the key is still good: when an admin revokes it (it leaked into
someone's abuse script, say), the next page carries a fresh one, without a restart. Pages
already open get it the same way when their next call is refused (static/chat.js)."""

from __future__ import annotations

import asyncio
import os

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key, verify_key


async def _usable(runtime: Runtime, token: str) -> bool:
    # Read only (touch=False): a public page's loads must not each write to the database.
    key = await verify_key(runtime.db, token, touch=False)
    return key is not None and key.tenant_id == runtime.tenant.id and key.scope is Scope.WIDGET


async def ensure_widget_key(runtime: Runtime) -> str:
    path = runtime.workspace.state_dir / "widget-key"
    if path.is_file() and path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written 0644 by an older version
    if path.is_file():
        token = path.read_text().strip()
        if await _usable(runtime, token):  # this process's, or one another process made
            return token
    issued = await create_key(
        runtime.db, runtime.tenant.id, name="web chat page", scope=Scope.WIDGET
    )
    # Public once served, but a key all the same: the owner's only on disk, like the state.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(issued.token + "\n")
    return issued.token


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
