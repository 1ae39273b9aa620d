"""Uploads are checked for near-duplicates as a folder sync is (issue 18): a page whose text is
already indexed (a copy of an article, a print-all page) is skipped and listed under
`duplicates` with the pages that hold it. An upload never takes out a page indexed before: a
larger page that holds an indexed one, plus text of its own, is indexed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import Document


async def _upload(
    client: httpx.AsyncClient, runtime: Runtime, files: list[tuple[str, bytes]]
) -> dict[str, Any]:
    issued = await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.ADMIN)
    headers = {"Authorization": f"Bearer {issued.token}"}
    body = [("files", (name, data, "text/markdown")) for name, data in files]
    accepted = await client.post("/v1/knowledge/documents", files=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    for _ in range(400):
        job = (await client.get(f"/v1/jobs/{accepted.json()['job_id']}", headers=headers)).json()
        if job["status"] in {"done", "failed"}:
            assert job["status"] == "done", job
            return dict(job["result"])
        await asyncio.sleep(0.05)
    raise AssertionError("job did not finish")


async def test_an_uploaded_copy_of_an_indexed_article_is_skipped(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    article = (runtime.workspace.knowledge_dir / "refund-timelines.md").read_bytes()
    fresh = b"# Depot opening\n\nDepots open at seven on weekdays and close at six on Saturdays.\n"
    result = await _upload(client, runtime, [("refunds copy.md", article), ("depots.md", fresh)])
    assert result["added"] == ["upload/depots.md"]
    [duplicate] = result["duplicates"]
    assert duplicate["source"] == "upload/refunds-copy.md"
    assert duplicate["of"] == ["knowledge/refund-timelines.md"]


async def test_an_upload_never_takes_out_a_page_indexed_before(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    article = (runtime.workspace.knowledge_dir / "refund-timelines.md").read_text()
    bigger = (
        article
        + "\n\n## Refunds to gift cards\n\nA refund to a gift card is added to its balance at"
        " once, and the card's expiry date moves on by a year from the day of the refund.\n"
    ).encode()
    result = await _upload(client, runtime, [("refunds and gift cards.md", bigger)])
    assert result["added"] == ["upload/refunds-and-gift-cards.md"]
    assert result["duplicates"] == []
    async with runtime.db.session(runtime.tenant.id) as session:
        sources = set(await session.scalars(select(Document.source)))
    assert "knowledge/refund-timelines.md" in sources
