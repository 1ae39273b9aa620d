"""Tenant isolation: every endpoint that takes an id is called with another tenant's ids and
must answer 404 with none of that tenant's data; listings must not show it either. Runs on
SQLite and PostgreSQL (where row-level security is the second wall)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import add_message, create_conversation
from frontdesk.storage.models import Document, Job, Message
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user

SECRET = "tenant-b-secret-text 7f3a"


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def _other_tenant(runtime: Runtime) -> dict[str, str]:
    """Tenant B with one of everything; returns its ids by path parameter name."""
    b = await ensure_tenant(runtime.db, "tenant-b")
    async with runtime.db.session(b.id) as session:
        conversation = await create_conversation(session, channel="api", customer_ref="cust-b")
        await add_message(session, conversation, role="customer", text=SECRET, turn_id=None)
        document = Document(source="b/doc.md", title=SECRET, content_hash="x" * 64)
        job = Job(kind="knowledge_upload", status="done", result={"note": SECRET})
        session.add_all([document, job])
        await session.commit()
        ids = {
            "conversation_id": conversation.id,
            "document_id": document.id,
            "job_id": job.id,
            "customer_ref": "cust-b",
            "tenant_id": b.id,
        }
    await create_user(runtime.db, b.id, email="b@tenant-b.example", password="b password 123",
                      role=Role.ADMIN)  # fmt: skip
    return ids


async def test_other_tenants_ids_are_not_found(client: httpx.AsyncClient, runtime: Runtime) -> None:
    theirs = await _other_tenant(runtime)
    mine = {"Authorization": "Bearer " + (await create_key(
        runtime.db, runtime.tenant.id, name="a", scope=Scope.ADMIN)).token}  # fmt: skip
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    called = []
    for route, operations in paths.items():
        params = re.findall(r"{(\w+)}", route)
        if not params:
            continue
        # A parameter this matrix has no tenant-B object for gets an id that exists nowhere
        # (still must be 404); add an object of that kind to `_other_tenant` to cover it.
        values = {p: theirs.get(p, uuid.uuid4().hex) for p in params}
        path = route.format(**values)
        for method in operations:
            if route.endswith("/updates"):  # a server-sent event stream: checked by its status
                async with client.stream(method.upper(), path, headers=mine) as response:
                    assert response.status_code == 404, (method, route)
                called.append((method, route))
                continue
            kwargs: dict[str, object] = {"headers": mine}
            if method == "post":
                kwargs["json"] = {"text": "hello"}
            response = await client.request(method.upper(), path, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 404, (method, route, response.text)
            assert response.json()["error"]["code"] == "not_found"
            assert SECRET not in response.text
            assert "cust-b" not in response.text or "customer" in response.text
            called.append((method, route))
    assert len(called) >= 7

    # Listings and searches show nothing of tenant B.
    for path in ("/v1/knowledge/documents", "/v1/admin/users", "/v1/admin/audit",
                 "/v1/knowledge/search?q=tenant-b-secret-text"):  # fmt: skip
        response = await client.get(path, headers=mine)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
        assert "tenant-b.example" not in response.text, path
        assert theirs["document_id"] not in response.text, path

    # Nothing of tenant B was changed or deleted by the attempts.
    async with runtime.db.session(theirs["tenant_id"]) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        assert await session.get(Document, theirs["document_id"]) is not None
