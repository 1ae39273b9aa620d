"""How long the server stops answering while an uploaded DOCX is read (issue 17, point 4).

    .venv/bin/python bench/upload_stall.py [--paragraphs 5000 100000] [--relaxed] [--out FILE]

Opens the demo workspace (a copy, SQLite) in this process and, for each count, posts one
DOCX of that many one-word paragraphs (about 45 KB for 100,000) to `POST
/v1/knowledge/documents` over an in-process ASGI client, while a task asks `GET /healthz`
every 50 ms until the upload's job ends, timing each answer and the gaps between answers.
`--relaxed` raises `knowledge.parsing`'s ratio and paragraph limits (via the environment),
so the file is not refused from its zip directory but read in full, until the time limit
(`knowledge.parsing.timeout_s`, 30 s) kills its reader. Code without those settings ignores
the variables, so the same command measures the code before them.
Prints a table and writes JSON (default bench/results/upload_stall.json).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"


def paragraphs_docx(count: int) -> bytes:
    from docx import Document

    template = io.BytesIO()
    Document().save(template)
    source = zipfile.ZipFile(template)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                head, _, tail = data.partition(b"<w:body>")
                end = tail[tail.index(b"<w:sectPr") :]
                data = head + b"<w:body>" + b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * count + end
            package.writestr(info.filename, data)
    return out.getvalue()


async def upload(client: Any, admin: dict[str, str], document: bytes) -> dict[str, Any]:
    """One upload, with /healthz asked every 50 ms by a task of its own while its job runs."""
    done = asyncio.Event()
    answered: list[float] = []  # when each /healthz answer came
    waits: list[float] = []

    async def ask_health() -> None:
        while not done.is_set():
            asked = time.perf_counter()
            await client.get("/healthz")
            answered.append(time.perf_counter())
            waits.append(answered[-1] - asked)
            await asyncio.sleep(0.05)

    health = asyncio.create_task(ask_health())
    await asyncio.sleep(0.2)
    files = [("files", ("manual.docx", document, "application/octet-stream"))]
    started = time.perf_counter()
    accepted = await client.post("/v1/knowledge/documents", files=files, headers=admin)
    posted = time.perf_counter() - started  # in process: the request's own work is on the loop
    job_url = f"/v1/jobs/{accepted.json()['job_id']}"
    job_reads: list[float] = []
    while True:
        asked = time.perf_counter()
        job = (await client.get(job_url, headers=admin)).json()
        job_reads.append(time.perf_counter() - asked)
        if job["status"] in {"done", "failed"}:
            break
        await asyncio.sleep(0.05)
    took = time.perf_counter() - started
    done.set()
    await health
    result = job.get("result") or {}
    outcome = (
        "indexed"
        if result.get("added")
        else ",".join(r["code"] for r in result.get("rejected", [])) or job.get("error", "")
    )
    gaps = [b - a for a, b in itertools.pairwise(answered)]
    return {
        "job_status": job["status"],
        "outcome": outcome,
        "job_seconds": round(took, 2),
        "healthz_asked": len(waits),
        "healthz_max_s": round(max(waits), 3),
        "healthz_p50_s": round(statistics.median(waits), 4),
        # A frozen loop also delays the asking: the longest time between two answers (asked
        # 50 ms apart) is the stall that no request could have avoided.
        "healthz_longest_gap_s": round(max(gaps, default=0.0), 3),
        "job_read_max_s": round(max(job_reads), 3),
        "upload_post_s": round(posted, 3),
    }


async def measure(workspace: Path, documents: list[bytes]) -> list[dict[str, Any]]:
    import httpx

    from frontdesk.api.app import create_app
    from frontdesk.orchestration.runtime import open_runtime
    from frontdesk.storage.api_keys import Scope, create_key

    runtime = await open_runtime(workspace)
    try:
        issued = await create_key(runtime.db, runtime.tenant.id, name="bench", scope=Scope.ADMIN)
        admin = {"Authorization": f"Bearer {issued.token}"}
        app = create_app(runtime=runtime)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                return [await upload(client, admin, document) for document in documents]
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--relaxed", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "upload_stall.json"
    )
    args = parser.parse_args()
    if args.relaxed:
        os.environ["FRONTDESK_KNOWLEDGE__PARSING__MAX_COMPRESSION_RATIO"] = "100000"
        os.environ["FRONTDESK_KNOWLEDGE__PARSING__MAX_PARAGRAPHS"] = "10000000"
    documents = [paragraphs_docx(count) for count in args.paragraphs]
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        measured = asyncio.run(measure(workspace, documents))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    rows = []
    for count, document, figures in zip(args.paragraphs, documents, measured, strict=True):
        rows.append({
            "paragraphs": count,
            "docx_bytes": len(document),
            "relaxed_limits": args.relaxed,
            "code": str(Path(sys.modules["frontdesk"].__file__ or "").parent),
            "repo_head": commit,  # the working tree may differ: see "code"
            "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(),
            **figures,
        })  # fmt: skip
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    for key in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{row[key]!s:>12}" for row in rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(args.out.read_text()) if args.out.is_file() else []
    args.out.write_text(json.dumps([*runs, *rows], indent=2) + "\n")


if __name__ == "__main__":
    main()
