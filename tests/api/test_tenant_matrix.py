"""Tenant isolation: every endpoint that takes an id, in the JSON API and in the agent console,
is called with another tenant's ids and must answer 404 (a console form: its "not found"
message) with none of that tenant's data; listings must not show it either, and nothing of
it may change. Runs on SQLite and on PostgreSQL, there as an ordinary role so that row-level
security stands as the second wall behind the data layer's scoping.

The routes are read from the app itself, so an endpoint added later is in the matrix without
an edit here; one whose parameter has no tenant-B object below still gets an id that exists
nowhere (and must still be 404), and `test_every_parameter_has_a_tenant_b_object` fails until
`_other_tenant` makes one of that kind.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import event, func, select, text

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import add_message, add_turn, create_conversation
from frontdesk.storage.models import ApiKey, Document, Job, Message, Ticket
from frontdesk.storage.ops_models import ChangePlan
from frontdesk.storage.security_models import User
from frontdesk.storage.support_models import ToolCallRecord, TrainingExample, WebhookDelivery
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.tickets import create_ticket
from frontdesk.storage.users import Role, create_user, login
from frontdesk.web.routes import router as console_router

SECRET = "tenant-b-secret-text 7f3a"
PASSWORD = "a password 123"
# Path parameters that are not ids: the value to call them with.
FIXED = {"decision": "approve", "change": "disable"}
# Model versions belong to the workspace, not to a tenant: an unknown one is not found.
WORKSPACE_PARAMS = {"version": "20990101-000000-none"}


APP_ROLE = "frontdesk_matrix_app"


async def _as_ordinary_role(runtime: Runtime) -> None:
    """On PostgreSQL, serve the matrix as a role that is not a superuser (the test database's
    owner is one, and superusers skip row-level security), so both walls stand during it."""
    engine = runtime.db.engine
    async with engine.begin() as conn:
        await conn.execute(text(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))  # fmt: skip
        await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
        await conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        await conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))

    def set_role(dbapi_connection: Any, _record: Any) -> None:
        # On the raw asyncpg connection, outside the adapter's transaction: a SET inside a
        # transaction that is rolled back (as the pool does on check-in) would be undone.
        dbapi_connection.run_async(lambda raw: raw.execute(f"SET ROLE {APP_ROLE}"))

    event.listen(engine.sync_engine, "connect", set_role)
    await engine.dispose()  # pooled connections were opened as the owner
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == APP_ROLE


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    if runtime.db.engine.dialect.name == "postgresql":
        await _as_ordinary_role(runtime)
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
        turn = await add_turn(session, conversation_id=conversation.id, channel="api",
                              intent="track_parcel", confidence=0.9)  # fmt: skip
        ticket = await create_ticket(session, conversation_id=conversation.id, team="support",
                                     priority="normal", subject=SECRET,
                                     summary={"text": SECRET}, due_at=None)  # fmt: skip
        call = ToolCallRecord(conversation_id=conversation.id, turn_id=turn.id, tool="refund",
                              arguments={"note": SECRET}, idempotency_key="b-1",
                              status="pending_approval")  # fmt: skip
        delivery = WebhookDelivery(endpoint="https://hooks.tenant-b.example/x", event="ticket",
                                   payload={"note": SECRET}, status="dead")  # fmt: skip
        document = Document(source="b/doc.md", title=SECRET, content_hash="x" * 64)
        job = Job(kind="knowledge_upload", status="done", result={"note": SECRET})
        correction = TrainingExample(turn_id=turn.id, text=SECRET, intent="track_parcel",
                                     created_by="b@tenant-b.example")  # fmt: skip
        plan = ChangePlan(target="folder:ops/target", request=SECRET, status="approved",
                          created_by="user:b", patches={"D01": []})  # fmt: skip
        session.add_all([call, delivery, document, job, correction, plan])
        await session.commit()
        ids = {
            "conversation_id": conversation.id,
            "turn_id": turn.id,
            "ticket_id": ticket.id,
            "call_id": call.id,
            "delivery_id": delivery.id,
            "document_id": document.id,
            "job_id": job.id,
            "correction_id": correction.id,
            "plan_id": plan.id,
            "customer_ref": "cust-b",
            "tenant_id": b.id,
            "tenant": "tenant-b",  # the slug in the Slack/WhatsApp webhook URLs
        }
    user = await create_user(runtime.db, b.id, email="b@tenant-b.example", password=PASSWORD,
                             role=Role.ADMIN)  # fmt: skip
    ids["user_id"] = user.id
    ids["key_id"] = (await create_key(runtime.db, b.id, name="b", scope=Scope.ADMIN)).id
    return ids


def _api_routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method, route) for route, operations in paths.items() for method in operations]


def _console_routes() -> list[tuple[str, str]]:
    return [
        (method.lower(), route.path)
        for route in console_router.routes
        for method in sorted(getattr(route, "methods", None) or ())
        if method != "HEAD"
    ]


def _fill(route: str, theirs: dict[str, str]) -> str:
    params = re.findall(r"{(\w+)}", route)
    fixed = FIXED | WORKSPACE_PARAMS
    return route.format(**{p: fixed.get(p) or theirs.get(p, uuid.uuid4().hex) for p in params})


async def test_every_parameter_has_a_tenant_b_object(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    theirs = await _other_tenant(runtime)
    routes = _api_routes(client) + _console_routes()
    params = {p for _, route in routes for p in re.findall(r"{(\w+)}", route)}
    assert params - set(theirs) - set(FIXED) - set(WORKSPACE_PARAMS) == set(), (
        "add these to _other_tenant"
    )


async def test_other_tenants_ids_are_not_found(client: httpx.AsyncClient, runtime: Runtime) -> None:
    theirs = await _other_tenant(runtime)
    if runtime.db.engine.dialect.name == "postgresql":
        async with runtime.db.engine.connect() as conn:  # no tenant set: the policies hide all
            assert await conn.scalar(text("SELECT current_user")) == APP_ROLE
            assert await conn.scalar(text("SELECT count(*) FROM messages")) == 0
    mine = {"Authorization": "Bearer " + (await create_key(
        runtime.db, runtime.tenant.id, name="a", scope=Scope.ADMIN)).token}  # fmt: skip
    called = []
    for method, route in _api_routes(client):
        if "{" not in route:
            continue
        if "{tenant}" in route:  # webhooks take no API key: the URL's tenant checks its own
            continue  # channel secret (tests/api/test_slack_channel.py, test_whatsapp_channel.py)
        path = _fill(route, theirs)
        if route.endswith("/updates"):  # a server-sent event stream: checked by its status
            async with client.stream(method.upper(), path, headers=mine) as response:
                assert response.status_code == 404, (method, route)
            called.append((method, route))
            continue
        kwargs: dict[str, Any] = {"headers": mine}
        if method == "post":  # a rotation's body has only its grace (unknown fields: 422)
            kwargs["json"] = {} if route.endswith("/rotate") else {"text": "hello"}
        response = await client.request(method.upper(), path, **kwargs)
        assert response.status_code == 404, (method, route, response.text)
        # `not_found`, or the kind's own (`correction_not_found`, `model_not_found`)
        assert response.json()["error"]["code"].endswith("not_found"), (route, response.text)
        assert SECRET not in response.text
        called.append((method, route))
    assert len(called) >= 7

    # Listings and searches show nothing of tenant B.
    for path in ("/v1/knowledge/documents", "/v1/admin/users", "/v1/admin/audit",
                 "/v1/knowledge/search?q=tenant-b-secret-text", "/v1/ops/plans"):  # fmt: skip
        response = await client.get(path, headers=mine)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
        assert "tenant-b.example" not in response.text, path
        assert theirs["document_id"] not in response.text, path

    await _assert_untouched(runtime, theirs)


async def test_console_with_other_tenants_ids(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """An admin of this console's tenant, signed in, opens and acts on tenant B's objects."""
    theirs = await _other_tenant(runtime)
    await create_user(runtime.db, runtime.tenant.id, email="root@a.example", password=PASSWORD,
                      role=Role.ADMIN)  # fmt: skip
    signed_in = await client.post(
        "/console/login", data={"email": "root@a.example", "password": PASSWORD}
    )
    assert signed_in.status_code == 303, signed_in.text
    page = await client.get("/console")
    match = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert page.status_code == 200
    assert match
    form = {"csrf": match.group(1), "intent": runtime.training_data.intents[0], "text": "hi",
            "notes": "", "note": "", "entities": ""}  # fmt: skip

    called = []
    for method, route in _console_routes():
        if "{" not in route:
            continue
        path = _fill(route, theirs)
        if method == "get":
            response = await client.get(path)
            assert response.status_code == 404, (route, response.text)
        else:
            response = await client.post(path, data=form)
            # A form action answers 404, or sends the agent back with its refusal ("not found";
            # "no webhooks are configured" where the demo has none); either way nothing changes.
            location = unquote(response.headers.get("location", ""))
            assert response.status_code == 404 or (
                response.status_code == 303 and "?error=" in location
            ), (route, response.status_code, location)
            assert theirs["ticket_id"] not in location
        assert SECRET not in response.text, route
        called.append((method, route))
    assert len(called) >= 7, called

    # The console's own lists show nothing of tenant B.
    for path in ("/console", "/console/admin"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
        assert not any(theirs[k] in response.text for k in ("ticket_id", "call_id", "delivery_id"))

    # Tenant B's own admin cannot use this tenant's console with a valid session of theirs.
    issued = await login(runtime.db, "tenant-b", "b@tenant-b.example", PASSWORD)
    assert issued is not None
    client.cookies.set("frontdesk_console", issued.token, path="/console")
    other = await client.get(f"/console/conversations/{theirs['conversation_id']}")
    assert other.status_code == 403
    assert SECRET not in other.text

    await _assert_untouched(runtime, theirs)


async def _assert_untouched(runtime: Runtime, theirs: dict[str, str]) -> None:
    """Nothing of tenant B was changed or deleted by the attempts."""
    async with runtime.db.session(theirs["tenant_id"]) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        assert await session.get(Document, theirs["document_id"]) is not None
        ticket = await session.get(Ticket, theirs["ticket_id"])
        assert ticket is not None
        assert (ticket.status, ticket.assignee) == ("open", None)
        call = await session.get(ToolCallRecord, theirs["call_id"])
        assert call is not None
        assert call.status == "pending_approval"
        delivery = await session.get(WebhookDelivery, theirs["delivery_id"])
        assert delivery is not None
        assert delivery.status == "dead"
        correction = await session.get(TrainingExample, theirs["correction_id"])
        assert correction is not None
        assert correction.disabled_at is None
        plan = await session.get(ChangePlan, theirs["plan_id"])
        assert plan is not None
        assert plan.status == "approved"
        user = await session.get(User, theirs["user_id"])
        assert user is not None
        assert user.disabled_at is None
        key = await session.get(ApiKey, theirs["key_id"])
        assert key is not None
        assert key.revoked_at is None
    async with runtime.db.session(runtime.tenant.id) as session:
        assert await session.scalar(select(func.count()).select_from(TrainingExample)) == 0
