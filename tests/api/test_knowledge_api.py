"""Knowledge over HTTP: uploads as jobs, listing, deletion, re-indexing, search."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.storage.tenants import ensure_tenant
from tests.knowledge.files import docx_bytes, pdf_bytes
from tests.knowledge.test_atoms import ATOM


async def _key(runtime: Runtime, scope: Scope, tenant_id: str | None = None) -> dict[str, str]:
    issued = await create_key(runtime.db, tenant_id or runtime.tenant.id, name="t", scope=scope)
    return {"Authorization": f"Bearer {issued.token}"}


async def _wait(client: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        job = (await client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
        if job["status"] in {"done", "failed"}:
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError("job did not finish")


async def test_upload_list_search_delete(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await _key(runtime, Scope.ADMIN)
    files = [
        (
            "files",
            (
                "returns guide.pdf",
                pdf_bytes(["Returns guide", "Unwanted zebra mugs can be returned within 30 days."]),
                "application/pdf",
            ),
        ),
        (
            "files",
            (
                "insurance.docx",
                docx_bytes(
                    "Parcel insurance",
                    [("Cover", "Kestrel Protect covers walrus figurines up to 1000 pounds.")],
                ),
                "application/octet-stream",
            ),
        ),
        ("files", ("broken.pdf", b"%PDF-1.4 broken", "application/pdf")),
        ("files", ("blob.md", b"\x00\x01\x02binary", "text/markdown")),
    ]
    accepted = await client.post("/v1/knowledge/documents", files=files, headers=admin)
    assert accepted.status_code == 202, accepted.text
    job = await _wait(client, accepted.json()["job_id"], admin)
    assert job["status"] == "done", job
    assert sorted(job["result"]["added"]) == ["upload/insurance.docx", "upload/returns-guide.pdf"]
    assert len(job["result"]["errors"]) == 2
    assert job["result"]["embedded"] > 0

    listed = (await client.get("/v1/knowledge/documents", headers=admin)).json()
    sources = {d["source"]: d for d in listed["documents"]}
    assert "upload/returns-guide.pdf" in sources
    assert any(s.startswith("knowledge/") for s in sources)  # the workspace's atoms
    pdf = sources["upload/returns-guide.pdf"]
    assert pdf["chunks"] >= 1
    assert pdf["type"] == "document"

    found = await client.get("/v1/knowledge/search", params={"q": "zebra mugs"}, headers=admin)
    assert found.status_code == 200
    assert found.json()["passages"][0]["source"] == "upload/returns-guide.pdf"

    # The assistant's retrieval sees the upload: it is among the turn's passages.
    conversation = (await client.post("/v1/conversations", headers=admin)).json()["id"]
    reply = await client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"text": "are walrus figurines covered by parcel insurance"},
        headers=admin,
    )
    async with runtime.db.session(runtime.tenant.id) as session:
        turn = await session.get(TurnRow, reply.json()["turn_id"])
    assert turn is not None
    assert any(p["title"] == "Parcel insurance" for p in turn.passages), turn.passages

    deleted = await client.delete(f"/v1/knowledge/documents/{pdf['id']}", headers=admin)
    assert deleted.status_code == 204
    again = await client.get("/v1/knowledge/search", params={"q": "zebra mugs"}, headers=admin)
    assert all(p["source"] != "upload/returns-guide.pdf" for p in again.json()["passages"])
    missing = await client.delete(f"/v1/knowledge/documents/{pdf['id']}", headers=admin)
    assert missing.status_code == 404


async def test_reupload_of_unchanged_file_does_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await _key(runtime, Scope.ADMIN)
    body = [("files", ("note.txt", b"Depots close at six on Saturdays.", "text/plain"))]
    first = await _wait(
        client,
        (await client.post("/v1/knowledge/documents", files=body, headers=admin)).json()["job_id"],
        admin,
    )
    second = await _wait(
        client,
        (await client.post("/v1/knowledge/documents", files=body, headers=admin)).json()["job_id"],
        admin,
    )
    assert first["result"]["added"] == ["upload/note.txt"]
    assert second["result"]["unchanged"] == ["upload/note.txt"]
    changed = [("files", ("note.txt", b"Depots close at five on Saturdays.", "text/plain"))]
    third = await _wait(
        client,
        (await client.post("/v1/knowledge/documents", files=changed, headers=admin)).json()[
            "job_id"
        ],
        admin,
    )
    assert third["result"]["updated"] == ["upload/note.txt"]


async def test_reindex_picks_up_workspace_changes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await _key(runtime, Scope.ADMIN)
    (runtime.workspace.knowledge_dir / "business-hours.md").unlink()
    job = await _wait(
        client, (await client.post("/v1/knowledge/reindex", headers=admin)).json()["job_id"], admin
    )
    assert job["result"]["removed"] == ["knowledge/business-hours.md"]


async def test_scopes_limits_and_tenants(client: httpx.AsyncClient, runtime: Runtime) -> None:
    service = await _key(runtime, Scope.SERVICE)
    widget = await _key(runtime, Scope.WIDGET)
    body = [("files", ("a.txt", b"text", "text/plain"))]
    assert (
        await client.post("/v1/knowledge/documents", files=body, headers=service)
    ).status_code == 403
    assert (await client.get("/v1/knowledge/documents", headers=widget)).status_code == 403
    assert (
        await client.get("/v1/knowledge/search", params={"q": "x"}, headers=service)
    ).status_code == 200

    admin = await _key(runtime, Scope.ADMIN)
    too_big = [("files", ("big.txt", b"x" * (11 * 1024 * 1024), "text/plain"))]
    response = await client.post("/v1/knowledge/documents", files=too_big, headers=admin)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    nameless = [("files", ("...", b"text", "text/plain"))]
    response = await client.post("/v1/knowledge/documents", files=nameless, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_file"

    other = await ensure_tenant(runtime.db, "other")
    other_admin = await _key(runtime, Scope.ADMIN, other.id)
    mine = (await client.get("/v1/knowledge/documents", headers=admin)).json()["documents"]
    theirs = (await client.get("/v1/knowledge/documents", headers=other_admin)).json()
    assert theirs["count"] == 0
    stolen = await client.delete(f"/v1/knowledge/documents/{mine[0]['id']}", headers=other_admin)
    assert stolen.status_code == 404
    job = (await client.post("/v1/knowledge/documents", files=body, headers=admin)).json()
    assert (await client.get(f"/v1/jobs/{job['job_id']}", headers=other_admin)).status_code == 404


async def test_a_bad_file_in_a_batch_is_reported_per_file(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await _key(runtime, Scope.ADMIN)
    atom = ATOM.replace("version: 2", "version: 1.10")
    recipe = atom.replace("type: faq", "type: recipe")
    odd_date = atom.replace("created: 2026-01-05", "created: 2026-02-30")
    batch = [
        ("files", ("refunds.md", atom.encode(), "text/markdown")),
        ("files", ("depot.txt", b"The ostrich depot opens at eight.", "text/plain")),
        ("files", ("recipe.md", recipe.encode(), "text/markdown")),
        ("files", ("odd-date.md", odd_date.encode(), "text/markdown")),
        ("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream")),
    ]
    accepted = await client.post("/v1/knowledge/documents", files=batch, headers=admin)
    assert accepted.status_code == 202, accepted.text
    job = await _wait(client, accepted.json()["job_id"], admin)
    assert job["status"] == "done", job
    result = job["result"]
    assert sorted(result["added"]) == ["upload/depot.txt", "upload/refunds.md"]
    assert result["indexed"] == 2
    rejected = {r["source"]: (r["line"], r["code"], r["kept_previous"]) for r in result["rejected"]}
    assert rejected == {
        "upload/recipe.md": (4, "invalid_metadata", False),
        "upload/odd-date.md": (5, "invalid_metadata", False),
        "upload/tool.exe": (None, "unsupported_type", False),
    }
    assert all(r["message"] for r in result["rejected"])
    assert len(result["errors"]) == 3  # the same, one line each

    listed = (await client.get("/v1/knowledge/documents", headers=admin)).json()
    versions = {d["source"]: d["version"] for d in listed["documents"]}
    assert versions["upload/refunds.md"] == "1.10"  # as written, not 1.1
    found = await client.get("/v1/knowledge/search", params={"q": "ostrich depot"}, headers=admin)
    assert found.json()["passages"][0]["source"] == "upload/depot.txt"

    # The good atom uploaded again, broken: rejected, and the earlier upload stays indexed.
    broken = [("files", ("refunds.md", b"---\ntitle: [oops\n---\n", "text/markdown"))]
    again = await _wait(
        client,
        (await client.post("/v1/knowledge/documents", files=broken, headers=admin)).json()[
            "job_id"
        ],
        admin,
    )
    assert again["status"] == "done"
    [rejection] = again["result"]["rejected"]
    assert (rejection["code"], rejection["kept_previous"]) == ("invalid_front_matter", True)
    listed = (await client.get("/v1/knowledge/documents", headers=admin)).json()
    assert "upload/refunds.md" in {d["source"] for d in listed["documents"]}
