"""The public widget key the chat page uses. Public by design (it ships in a web page), so it
is kept in the workspace state folder; it can only start conversations and post to them."""

from __future__ import annotations

import os

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key, verify_key


async def ensure_widget_key(runtime: Runtime) -> str:
    path = runtime.workspace.state_dir / "widget-key"
    if path.is_file() and path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written 0644 by an older version
    if path.is_file():
        token = path.read_text().strip()
        key = await verify_key(runtime.db, token)
        if key is not None and key.tenant_id == runtime.tenant.id and key.scope is Scope.WIDGET:
            return token
    issued = await create_key(
        runtime.db, runtime.tenant.id, name="web chat page", scope=Scope.WIDGET
    )
    # Public once served, but a key all the same: the owner's only on disk, like the state.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(issued.token + "\n")
    return issued.token
