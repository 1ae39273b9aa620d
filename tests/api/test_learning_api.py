"""The learning loop over the admin API: model versions (list, show, promote, roll back,
retrain as a job with the gate's report), corrections (list, disable, enable, delete, export
as YAML); admin keys only, every change audited, bad input a JSON error with a code."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from frontdesk.api.app import create_app
from frontdesk.nlu.model_store import HotIntentClassifier, ModelStore
from frontdesk.orchestration import retrain as retrain_module
from frontdesk.orchestration.learning import RetrainReport
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import AuditLog
from frontdesk.storage.support_models import TrainingExample


@pytest.fixture
async def http(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _headers(rt: Runtime, scope: Scope = Scope.ADMIN) -> dict[str, str]:
    key = await create_key(rt.db, rt.tenant.id, name="t", scope=scope)
    return {"Authorization": f"Bearer {key.token}"}


async def _actions(rt: Runtime) -> list[tuple[str, str | None]]:
    async with rt.db.session(rt.tenant.id) as session:
        rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
        return [(r.action, r.target) for r in rows]


async def test_models_promote_and_roll_back(
    http: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    admin = await _headers(rt)
    store = ModelStore(rt.workspace.state_dir / "models" / "nlu")
    first = store.active_version()
    assert first is not None
    second = f"{first}-copy"
    shutil.copytree(store.root / first, store.root / second)

    listed = (await http.get("/v1/admin/models", headers=admin)).json()
    assert (listed["active"], listed["baseline"]) == (first, first)
    assert [v["version"] for v in listed["versions"]] == [second, first]
    active = (await http.get("/v1/admin/models/active", headers=admin)).json()
    assert active["version"] == first
    assert active["metrics"]["held_out_accuracy"] > 0
    missing = await http.get("/v1/admin/models/nope", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"

    classifier = rt.assistant.deps.classifier
    assert isinstance(classifier, HotIntentClassifier)
    classifier.hot.interval = 0  # the running server looks at the pointer on every message
    promoted = await http.post(f"/v1/admin/models/{second}/promote", headers=admin)
    assert promoted.json() == {"active": second, "replaced": first}
    assert store.baseline_version() == second
    classifier.predict("hello")
    assert classifier.version == second
    back = await http.post("/v1/admin/models/rollback", headers=admin, json={})
    assert back.json() == {"active": first, "replaced": second}
    classifier.predict("hello")
    assert classifier.version == first  # the rollback serves at once
    nowhere = await http.post("/v1/admin/models/rollback", headers=admin, json={})
    assert nowhere.status_code == 422
    assert nowhere.json()["error"]["code"] == "no_previous_model"
    unknown = await http.post("/v1/admin/models/rollback", headers=admin, json={"to": "x"})
    assert unknown.status_code == 404
    assert (await _actions(rt))[-2:] == [("nlu.model.promote", second),
                                         ("nlu.model.rollback", first)]  # fmt: skip
    agent = await _headers(rt, Scope.SERVICE)
    refused = await http.post("/v1/admin/models/rollback", headers=agent, json={})
    assert refused.status_code == 403


async def test_retrain_job_reports_the_gate(
    http: httpx.AsyncClient, sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def kept(runtime: Runtime, **options: object) -> RetrainReport:
        assert options == {"actor": options["actor"], "trigger": "api"}
        return RetrainReport(promoted=False, candidate="v2", current="v1", baseline="v1",
                             reasons=["golden set: intent request_refund loses 1"])  # fmt: skip

    monkeypatch.setattr(retrain_module, "retrain", kept)
    admin = await _headers(sqlite_runtime)
    started = await http.post("/v1/admin/models/retrain", headers=admin)
    assert started.status_code == 202
    app = http._transport.app  # type: ignore[attr-defined]
    await app.state.jobs.drain()
    job = (await http.get(f"/v1/jobs/{started.json()['job_id']}", headers=admin)).json()
    assert job["result"]["promoted"] is False
    assert job["result"]["reasons"] == ["golden set: intent request_refund loses 1"]


async def test_corrections_lifecycle(http: httpx.AsyncClient, sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    admin = await _headers(rt)
    async with rt.db.session(rt.tenant.id) as session:
        good = TrainingExample(text="the van never came", intent="late_delivery", entities=[],
                               created_by="ana", note="no-show, not lost")  # fmt: skip
        bad = TrainingExample(text="hello there", intent="billing_issue", entities=[],
                              created_by="mallory")  # fmt: skip
        session.add_all([good, bad])
        await session.commit()
    disabled = await http.post(f"/v1/admin/corrections/{bad.id}/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False
    listed = (await http.get("/v1/admin/corrections", headers=admin)).json()
    assert {(c["text"], c["enabled"]) for c in listed} == {("the van never came", True),
                                                           ("hello there", False)}  # fmt: skip
    exported = await http.get("/v1/admin/corrections/export", headers=admin)
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "- intent: late_delivery\n  examples: |\n" in exported.text
    assert "no-show, not lost" in exported.text
    assert "hello there" not in exported.text
    wrong = await http.post(f"/v1/admin/corrections/{bad.id}/explode", headers=admin)
    assert wrong.status_code == 422
    gone = await http.delete(f"/v1/admin/corrections/{bad.id}", headers=admin)
    assert gone.status_code == 204
    again = await http.delete(f"/v1/admin/corrections/{bad.id}", headers=admin)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "correction_not_found"
    actions = await _actions(rt)
    assert ("correction.disable", bad.id) in actions
    assert ("correction.delete", bad.id) in actions
    assert ("correction.export", None) in actions


async def test_another_tenants_admin_can_neither_see_nor_change_the_workspace_model(
    http: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    """The model is served to every tenant and holds the workspace tenant's corrections."""
    from frontdesk.storage.tenants import ensure_tenant

    rt = sqlite_runtime
    store = ModelStore(rt.workspace.state_dir / "models" / "nlu")
    first = store.active_version()
    assert first is not None
    shutil.copytree(store.root / first, store.root / f"{first}-copy")
    other = await ensure_tenant(rt.db, "other")
    key = await create_key(rt.db, other.id, name="o", scope=Scope.ADMIN)
    headers = {"Authorization": f"Bearer {key.token}"}
    calls = [
        ("GET", "/v1/admin/models", None),
        ("GET", "/v1/admin/models/active", None),
        ("POST", f"/v1/admin/models/{first}-copy/promote", None),
        ("POST", "/v1/admin/models/rollback", {}),
        ("POST", "/v1/admin/models/retrain", None),
    ]
    for method, path, body in calls:
        response = await http.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "workspace_tenant_only", path
    assert store.active_version() == first
    # Its own corrections are still its own to list.
    listed = await http.get("/v1/admin/corrections", headers=headers)
    assert listed.status_code == 200, listed.text
