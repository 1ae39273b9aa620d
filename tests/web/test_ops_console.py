"""The console's Operations pages in-process (SQLite and PostgreSQL): an operator signs in to
them (not to the agents' queues), makes a plan, reads its diff, approves, applies and rolls it
back with the forms; agents are refused; a refused plan shows why and offers no approval."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role, create_user
from tests.ops.conftest import tree_bytes

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def _sign_in(client: httpx.AsyncClient, runtime: Runtime, role: Role) -> httpx.Response:
    email = f"{role.value}@kestrel.test"
    await create_user(runtime.db, runtime.tenant.id, email=email, password=PASSWORD, role=role)
    return await client.post("/console/login", data={"email": email, "password": PASSWORD})


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


async def test_operator_plans_approves_applies_and_rolls_back(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    target = runtime.workspace.root / "ops" / "target"
    before = tree_bytes(target)
    signed_in = await _sign_in(client, runtime, Role.OPERATOR)
    assert signed_in.headers["location"] == "/console/ops"
    assert (await client.get("/console")).status_code == 403  # not the agents' queues
    page = await client.get("/console/ops")
    assert page.status_code == 200
    assert "No plans yet." in page.text
    csrf = _csrf(page)

    made = await client.post("/console/ops/plans", data={
        "csrf": csrf, "text": "set capacity to 1400 for all Munster depots"})  # fmt: skip
    assert made.status_code == 303
    plan_url = made.headers["location"]
    assert plan_url.startswith("/console/ops/plans/")
    plan = await client.get(plan_url)
    assert 'data-status="planned"' in plan.text
    assert "10 elements: D13 D14 D15 D16 D17 D18 D19 D20 D21 D22" in plan.text
    assert '<span class="del">-capacity_per_hour: 1500</span>' in plan.text
    assert '<span class="add">+capacity_per_hour: 1400</span>' in plan.text
    own = await client.post(f"{plan_url}/approve", data={"csrf": csrf})  # four eyes
    refused_own = await client.get(own.headers["location"])
    assert "another operator or admin approves it" in refused_own.text
    await _sign_in(client, runtime, Role.ADMIN)  # another person approves and applies
    csrf = _csrf(await client.get(plan_url))

    for step, notice in (("approve", "Approved"), ("apply", "Applied as version 1"),
                         ("rollback", "Rolled back")):  # fmt: skip
        done = await client.post(f"{plan_url}/{step}", data={"csrf": csrf})
        assert done.status_code == 303
        assert "notice=" in done.headers["location"], done.headers["location"]
        shown = await client.get(done.headers["location"])
        assert notice in shown.text
    assert tree_bytes(target) == before
    again = await client.post(f"{plan_url}/apply", data={"csrf": csrf})
    assert "error=" in again.headers["location"]  # rolled back: nothing to apply

    refused = await client.post("/console/ops/plans", data={
        "csrf": csrf, "text": "set the cut-off to 25:00 for depots in Munster"})  # fmt: skip
    shown = await client.get(refused.headers["location"])
    assert "plan_invalid" in shown.text
    assert 'id="approve"' not in shown.text
    unclear = await client.post("/console/ops/plans", data={"csrf": csrf, "text": "hm"})
    assert "error=" in unclear.headers["location"]
    stale = await client.post(f"{plan_url}/approve", data={"csrf": "nope"})
    assert stale.status_code == 403


async def test_agents_cannot_open_operations(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _sign_in(client, runtime, Role.AGENT)
    assert (await client.get("/console/ops")).status_code == 403
    queues = await client.get("/console")
    assert "/console/ops" not in queues.text
