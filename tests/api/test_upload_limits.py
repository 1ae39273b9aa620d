"""Uploads of hostile files over HTTP (issue 17, point 4): the batch's good files are indexed,
each bad one is rejected with its code, and the server keeps answering while a slow file is
read (its reader is killed at the time limit)."""

from __future__ import annotations

import asyncio
import time

import httpx

from frontdesk.api.app import create_app
from frontdesk.config.settings import ParsingSettings
from frontdesk.knowledge.parsing import DocumentParser
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from tests.knowledge.files import docx_bytes, entity_bomb_docx, paragraphs_docx


async def test_a_batch_with_bomb_files_indexes_the_good_ones_and_the_loop_keeps_answering(
    sqlite_runtime: Runtime,
) -> None:
    runtime = sqlite_runtime
    assert runtime.parser is not None
    runtime.parser.close()
    # The 100,000-paragraph file past the ratio and paragraph limits, so that it is read
    # (slowly: over 10 s) until the time limit kills its reader.
    runtime.parser = DocumentParser(
        ParsingSettings(timeout_s=2.0, max_compression_ratio=10_000, max_paragraphs=1_000_000)
    )
    issued = await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.ADMIN)
    admin = {"Authorization": f"Bearer {issued.token}"}
    good = docx_bytes("Walrus insurance", [("Cover", "Kestrel Protect covers walrus figurines.")])
    batch = [
        ("files", ("ostrich.txt", b"The ostrich depot opens at eight.", "text/plain")),
        ("files", ("walrus.docx", good, "application/octet-stream")),
        ("files", ("laughs.docx", entity_bomb_docx(), "application/octet-stream")),
        ("files", ("slow.docx", paragraphs_docx(100_000), "application/octet-stream")),
    ]
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            accepted = await client.post("/v1/knowledge/documents", files=batch, headers=admin)
            assert accepted.status_code == 202, accepted.text
            job_url = f"/v1/jobs/{accepted.json()['job_id']}"
            started, waits = time.perf_counter(), []
            while time.perf_counter() - started < 120:
                asked = time.perf_counter()
                assert (await client.get("/healthz")).status_code == 200
                waits.append(time.perf_counter() - asked)
                # An authenticated request writes (the key's last use): the job must not hold
                # SQLite's write lock while it reads a file.
                asked = time.perf_counter()
                job = (await client.get(job_url, headers=admin)).json()
                waits.append(time.perf_counter() - asked)
                if job["status"] in {"done", "failed"}:
                    break
                await asyncio.sleep(0.05)
            took = time.perf_counter() - started
            found = await client.get("/v1/knowledge/search", params={"q": "walrus figurines"},
                                     headers=admin)  # fmt: skip

    assert job["status"] == "done", job
    result = job["result"]
    assert sorted(result["added"]) == ["upload/ostrich.txt", "upload/walrus.docx"]
    codes = {r["source"]: r["code"] for r in result["rejected"]}
    assert codes == {"upload/laughs.docx": "unsafe_xml", "upload/slow.docx": "parse_timeout"}
    assert found.json()["passages"][0]["source"] == "upload/walrus.docx"
    # The slow file was read for its 2 s while /healthz and the job were asked every 50 ms.
    assert took >= 2.0
    assert len(waits) >= 20
    assert max(waits) < 1.0, sorted(waits)[-5:]
