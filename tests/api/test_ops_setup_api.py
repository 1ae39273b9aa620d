"""POST /v1/ops/setup over HTTP (SQLite and PostgreSQL): a starter configuration from a
description, as JSON or a zip, or proposed to the target as a change plan that an operator
approves and applies; a description it cannot read is 422 with nothing stored."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.ops_models import ChangePlan
from frontdesk.storage.users import Role
from tests.api.test_ops_api import _key, _session
from tests.ops.conftest import tree_bytes

DESCRIPTION = "two depots in Tralee and Mallow, cut-off 16:45, 800 parcels an hour, DPD only"


def _target(runtime: Runtime) -> Path:
    return runtime.workspace.root / "ops" / "target"


async def _plans(runtime: Runtime) -> int:
    async with runtime.db.session(runtime.tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(ChangePlan)) or 0)


async def test_setup_json_zip_and_proposal(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    before = tree_bytes(_target(runtime))

    shown = await client.post("/v1/ops/setup", json={"description": DESCRIPTION},
                              headers=operator)  # fmt: skip
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["plan"] is None
    depots = [e for e in body["elements"] if e["kind"] == "depot"]
    assert [d["config"]["city"] for d in depots] == ["Tralee", "Mallow"]
    assert all(d["config"]["capacity_per_hour"] == 800 for d in depots)
    assert yaml.safe_load(body["files"]["elements/depots/D31.yaml"])["cutoff"] == "16:45"
    assert any(a["field"] == "schedule" for a in body["assumed"])
    assert "assumed" in body["answer"].lower()
    assert await _plans(runtime) == 0  # shown only

    archive = await client.post(
        "/v1/ops/setup", json={"description": DESCRIPTION, "format": "zip"}, headers=operator
    )
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert {"SETUP.md", "elements/depots/D32.yaml"} <= set(opened.namelist())

    proposed = await client.post(
        "/v1/ops/setup", json={"description": DESCRIPTION, "propose": True}, headers=operator
    )
    assert proposed.status_code == 200, proposed.text
    plan = proposed.json()["plan"]
    assert plan["status"] == "planned"
    assert plan["elements"] == ["D31", "D32"]  # C-DPD exists and is not changed
    assert tree_bytes(_target(runtime)) == before  # proposed, never written straight in

    url = f"/v1/ops/plans/{plan['id']}"
    approver = await _session(client, runtime, Role.ADMIN)  # four eyes: not the proposer
    assert (await client.post(f"{url}/approve", headers=approver)).status_code == 200
    applied = (await client.post(f"{url}/apply", headers=operator)).json()
    assert applied["status"] == "applied", applied
    assert (_target(runtime) / "elements/depots/D32.yaml").is_file()
    rolled = (await client.post(f"{url}/rollback", headers=operator)).json()
    assert rolled["status"] == "rolled_back"
    assert tree_bytes(_target(runtime)) == before


async def test_setup_refusals(client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    unclear = await client.post(
        "/v1/ops/setup", json={"description": "make it nice", "propose": True}, headers=operator
    )
    assert unclear.status_code == 422
    assert unclear.json()["error"]["code"] == "description_not_understood"
    assert "depot" in unclear.json()["error"]["message"]
    assert await _plans(runtime) == 0  # nothing stored

    extra = await client.post("/v1/ops/setup", json={"description": "x", "size": 1},
                              headers=operator)  # fmt: skip
    assert extra.status_code == 422
    assert extra.json()["error"]["code"]
    wrong = await client.post(
        "/v1/ops/setup", json={"description": DESCRIPTION, "format": "tar"}, headers=operator
    )
    assert wrong.status_code == 422
    agent = await _session(client, runtime, Role.AGENT)
    refused = await client.post("/v1/ops/setup", json={"description": DESCRIPTION},
                                headers=agent)  # fmt: skip
    assert refused.status_code == 403
    widget = await _key(runtime, Scope.WIDGET)
    by_widget = await client.post("/v1/ops/setup", json={"description": DESCRIPTION},
                                  headers=widget)  # fmt: skip
    assert by_widget.status_code == 403


async def test_ops_chat_recognises_a_setup_request(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    operator = await _session(client, runtime, Role.OPERATOR)
    body = {"question": "Please set up a depot in Clifden with cut-off 15:30"}
    response = await client.post("/v1/ops/chat", json=body, headers=operator)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["kind"] == "setup"
    assert "elements/depots/D31.yaml" in view["files"]
    assert "frontdesk ops setup --propose" in view["answer"] or "propose" in view["answer"]
    assert await _plans(runtime) == 0
