"""The console's learning-loop page: model versions with their gate decisions, promote and
roll back; corrections with who/when/why, disabled and deleted (audited); a note (why) saved
with a correction."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from frontdesk.api.app import create_app
from frontdesk.nlu.model_store import ModelStore
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import AuditLog
from frontdesk.storage.support_models import TrainingExample
from frontdesk.storage.users import Role, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def http(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    rt = sqlite_runtime
    await create_user(rt.db, rt.tenant.id, email="ana@kestrel.test", password=PASSWORD,
                      role=Role.AGENT)  # fmt: skip
    await create_user(rt.db, rt.tenant.id, email="root@kestrel.test", password=PASSWORD,
                      role=Role.ADMIN)  # fmt: skip
    app = create_app(runtime=rt)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _sign_in(http: httpx.AsyncClient, email: str) -> str:
    signed = await http.post("/console/login", data={"email": email, "password": PASSWORD})
    assert signed.status_code == 303, signed.text
    match = re.search(r'data-csrf="([0-9a-f]+)"', (await http.get("/console")).text)
    assert match
    return match.group(1)


async def test_corrections_with_why_disabled_deleted_and_models_rolled_back(
    http: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    key = (await create_key(rt.db, rt.tenant.id, name="w", scope=Scope.WIDGET)).token
    auth = {"Authorization": f"Bearer {key}"}
    conversation = (await http.post("/v1/conversations", json={}, headers=auth)).json()
    headers = {**auth, "X-Conversation-Token": conversation.get("conversation_token", "")}
    reply = await http.post(f"/v1/conversations/{conversation['id']}/messages",
                            json={"text": "the van never came"}, headers=headers)  # fmt: skip
    assert reply.status_code == 200, reply.text
    csrf = await _sign_in(http, "ana@kestrel.test")
    saved = await http.post(f"/console/turns/{reply.json()['turn_id']}/relabel",
                            data={"csrf": csrf, "intent": "late_delivery",
                                  "note": "a no-show, not a lost parcel"})  # fmt: skip
    assert "Saved" in saved.headers["location"]
    refused = await http.get("/console/admin/learning")
    assert refused.status_code == 403  # agents may not

    csrf = await _sign_in(http, "root@kestrel.test")
    page = await http.get("/console/admin/learning")
    assert page.status_code == 200
    assert "a no-show, not a lost parcel" in page.text
    async with rt.db.session(rt.tenant.id) as session:
        [row] = list(await session.scalars(select(TrainingExample)))
    disabled = await http.post(f"/console/admin/corrections/{row.id}/disable",
                               data={"csrf": csrf})  # fmt: skip
    assert "disabled" in disabled.headers["location"]
    page = await http.get("/console/admin/learning")
    assert f'class="correction disabled" data-correction="{row.id}"' in page.text
    gone = await http.post(f"/console/admin/corrections/{row.id}/delete", data={"csrf": csrf})
    assert "deleted" in gone.headers["location"]
    assert "No corrections yet." in (await http.get("/console/admin/learning")).text

    store = ModelStore(rt.workspace.state_dir / "models" / "nlu")
    first = store.active_version()
    assert first is not None
    second = f"{first}-copy"
    shutil.copytree(store.root / first, store.root / second)
    promoted = await http.post(f"/console/admin/models/{second}/promote", data={"csrf": csrf})
    assert "new%20baseline" in promoted.headers["location"]
    page = await http.get("/console/admin/learning")
    assert f"Roll back to {first}" in page.text
    back = await http.post("/console/admin/models/rollback", data={"csrf": csrf})
    assert "Rolled%20back" in back.headers["location"]
    assert store.active_version() == first
    async with rt.db.session(rt.tenant.id) as session:
        actions = [a.action for a in await session.scalars(
            select(AuditLog).order_by(AuditLog.created_at))]  # fmt: skip
    learning = [a for a in actions if a.startswith(("correction.", "nlu.model."))]
    assert learning == ["correction.create", "correction.disable", "correction.delete",
                        "nlu.model.promote", "nlu.model.rollback"]  # fmt: skip
