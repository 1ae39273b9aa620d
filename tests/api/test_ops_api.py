"""The operations assistant's bulk changes over HTTP (/v1/ops), on SQLite and PostgreSQL: an
operator plans a change in words, approves it (a person, audited), applies it all or nothing
and rolls it back to the exact bytes; refusals carry their codes; operators see no
conversations and agents no plans."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import AuditLog
from frontdesk.storage.users import Role, create_user
from tests.ops.conftest import tree_bytes

PASSWORD = "operator password 1"
LEINSTER = "Move the cut-off to 18:30 for every depot in Leinster except D07"


async def _session(client: httpx.AsyncClient, runtime: Runtime, role: Role) -> dict[str, str]:
    email = f"{role.value}@kestrel.example"
    await create_user(runtime.db, runtime.tenant.id, email=email, password=PASSWORD, role=role)
    body = {"tenant": runtime.settings.tenant, "email": email, "password": PASSWORD}
    token = (await client.post("/v1/auth/login", json=body)).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def _key(runtime: Runtime, scope: Scope) -> dict[str, str]:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=scope)).token
    return {"Authorization": f"Bearer {token}"}


def _target(runtime: Runtime) -> Path:
    return runtime.workspace.root / "ops" / "target"


async def test_plan_approve_apply_rollback(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    admin_key = await _key(runtime, Scope.ADMIN)
    before = tree_bytes(_target(runtime))

    made = await client.post("/v1/ops/plans", json={"request": LEINSTER}, headers=operator)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["status"] == "planned"
    assert plan["elements"] == ["D01", "D02", "D03", "D04", "D05", "D06", "D08", "D09",
                                "D10", "D11", "D12"]  # fmt: skip
    assert plan["selector"]["except"] == ["D07"]
    assert plan["patches"]["D10"] == [{"op": "replace", "path": "/cutoff", "value": "18:30"}]
    assert plan["validation"]["D01"] == []
    assert "--- a/depots/D10\n+++ b/depots/D10\n" in plan["diff"]
    assert "-cutoff: '17:00'\n+cutoff: '18:30'\n" in plan["diff"]
    url = f"/v1/ops/plans/{plan['id']}"

    early = await client.post(f"{url}/apply", headers=operator)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "plan_planned")
    by_key = await client.post(f"{url}/approve", headers=admin_key)
    assert (by_key.status_code, by_key.json()["error"]["code"]) == (403, "approval_needs_a_person")
    own = await client.post(f"{url}/approve", headers=operator)  # four eyes: not the planner
    assert (own.status_code, own.json()["error"]["code"]) == (409, "approval_needs_another_person")
    approver = await _session(client, runtime, Role.ADMIN)
    approved = await client.post(f"{url}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"].startswith("user:")
    assert tree_bytes(_target(runtime)) == before  # approval writes nothing

    applied = (await client.post(f"{url}/apply", headers=operator)).json()
    assert applied["status"] == "applied", applied
    assert applied["results"]["D12"]["status"] == "applied"
    assert set(applied["results"]) == set(plan["elements"])
    d12 = _target(runtime) / "elements" / "depots" / "D12.yaml"
    assert "cutoff: '18:30'" in d12.read_text()
    again = await client.post(f"{url}/apply", headers=operator)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "plan_applied")

    rolled = (await client.post(f"{url}/rollback", headers=operator)).json()
    assert rolled["status"] == "rolled_back"
    assert rolled["rollback_version"] == applied["applied_version"] + 1
    assert tree_bytes(_target(runtime)) == before

    listed = (await client.get("/v1/ops/plans", headers=admin_key)).json()
    assert [p["id"] for p in listed] == [plan["id"]]
    async with runtime.db.session(runtime.tenant.id) as session:
        actions = list(await session.scalars(
            select(AuditLog.action).where(AuditLog.target == plan["id"])))  # fmt: skip
    assert {"ops.plan.create", "ops.plan.approve", "ops.plan.apply",
            "ops.plan.rollback"} <= set(actions)  # fmt: skip


async def test_refusals_have_codes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    before = tree_bytes(_target(runtime))

    async def plan(request: str) -> httpx.Response:
        return await client.post("/v1/ops/plans", json={"request": request}, headers=operator)

    nothing = (await plan("Change the cut-off for all depots in Ulster to 17:00")).json()
    assert (nothing["status"], nothing["refusal_code"]) == ("refused", "selector_empty")
    refused = await client.post(f"/v1/ops/plans/{nothing['id']}/approve", headers=operator)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "plan_refused")

    invalid = (await plan("set the cut-off to 25:00 for depots in Munster")).json()
    assert (invalid["status"], invalid["refusal_code"]) == ("refused", "plan_invalid")
    assert invalid["validation"]["D13"][0].startswith("/cutoff: '25:00' does not match")

    same = (await plan("set the cut-off of D01 to 17:30")).json()
    assert (same["status"], same["refusal_code"]) == ("refused", "no_change")

    unclear = await plan("make everything faster")
    assert unclear.status_code == 422
    assert unclear.json()["error"]["code"] == "request_not_understood"

    # An element edited by hand after the plan was made: the plan is refused at apply.
    stale = (await plan("disable depot D14")).json()
    approver = await _session(client, runtime, Role.ADMIN)
    await client.post(f"/v1/ops/plans/{stale['id']}/approve", headers=approver)
    d14 = _target(runtime) / "elements" / "depots" / "D14.yaml"
    d14.write_text(d14.read_text().replace("capacity_per_hour: 1500", "capacity_per_hour: 1600"))
    edited = tree_bytes(_target(runtime))
    moved = await client.post(f"/v1/ops/plans/{stale['id']}/apply", headers=operator)
    assert (moved.status_code, moved.json()["error"]["code"]) == (409, "element_changed")
    shown = (await client.get(f"/v1/ops/plans/{stale['id']}", headers=operator)).json()
    assert (shown["status"], shown["refusal_code"]) == ("refused", "element_changed")
    assert shown["results"]["D14"]["status"] == "not_applied"
    assert tree_bytes(_target(runtime)) == edited != before


async def test_roles(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    agent = await _session(client, runtime, Role.AGENT)
    service = await _key(runtime, Scope.SERVICE)
    for who in (agent, service):
        response = await client.get("/v1/ops/plans", headers=who)
        assert response.status_code == 403
    me = (await client.get("/v1/auth/me", headers=operator)).json()
    assert me["scope"] == "operator"
    conversation = (await client.post("/v1/conversations", headers=service)).json()["id"]
    refused = [
        ("get", f"/v1/conversations/{conversation}"),
        ("post", "/v1/conversations"),
        ("get", "/v1/admin/users"),
        ("get", "/v1/knowledge/documents"),
    ]
    for method, path in refused:
        response = await client.request(method.upper(), path, headers=operator)
        assert response.status_code == 403, (method, path, response.text)
    elements = (await client.get("/v1/ops/elements?kind=sorter", headers=operator)).json()
    assert [e["id"] for e in elements] == [f"S{n:02d}" for n in range(1, 11)]


async def test_events_and_metrics(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    window = {"start": "2026-12-05T20:00:00Z", "end": "2026-12-06T08:00:00Z"}
    errors = await client.get("/v1/ops/events", headers=operator,
                              params={**window, "min_severity": "error"})  # fmt: skip
    assert errors.status_code == 200, errors.text
    assert {(e["element"], e["code"]) for e in errors.json()} == {("S07", "SORT-E17")}
    assert errors.json()[0]["ts"] == "2026-12-05T22:04:00Z"
    deploy = await client.get("/v1/ops/events", headers=operator,
                              params={**window, "element": ["S07", "D14"], "limit": 1})  # fmt: skip
    assert [e["code"] for e in deploy.json()] == ["DEPLOY"]
    metrics = await client.get("/v1/ops/metrics", headers=operator, params={
        "start": "2026-12-03T17:00", "end": "2026-12-03T18:00", "element": "D05"})  # fmt: skip
    assert [m["values"]["parcels_in"] for m in metrics.json()] == [2140.0]
    backwards = await client.get("/v1/ops/events", headers=operator,
                                 params={"start": "2026-12-06", "end": "2026-12-05"})  # fmt: skip
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "invalid_window")
