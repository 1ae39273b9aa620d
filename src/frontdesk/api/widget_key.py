"""The public widget key the chat page uses. Public by design (it ships in a web page), so it
is kept in the workspace state folder; it can only start conversations and post to them."""

from __future__ import annotations

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key, verify_key


async def ensure_widget_key(runtime: Runtime) -> str:
    path = runtime.workspace.state_dir / "widget-key"
    if path.is_file():
        token = path.read_text().strip()
        key = await verify_key(runtime.db, token)
        if key is not None and key.tenant_id == runtime.tenant.id and key.scope is Scope.WIDGET:
            return token
    issued = await create_key(
        runtime.db, runtime.tenant.id, name="web chat page", scope=Scope.WIDGET
    )
    path.write_text(issued.token + "\n")
    return issued.token
