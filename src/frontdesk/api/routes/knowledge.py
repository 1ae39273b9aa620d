"""The knowledge base over HTTP: upload, list, delete, re-index (as jobs), and search."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile, status
from pydantic import BaseModel
from sqlalchemy import delete, func, select

from frontdesk.api.deps import CurrentKey, JobsDep, RuntimeDep, require_scope
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import InvalidRequestError, NotFoundError
from frontdesk.jobs.runner import PENDING, Interrupted, Work
from frontdesk.knowledge.ingest import (
    IngestError,
    SyncReport,
    ingest_source,
    read_changed,
    refresh_index,
    skip_duplicate_uploads,
)
from frontdesk.orchestration.runtime import Runtime, sync_knowledge
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.audit import audit
from frontdesk.storage.models import Chunk, Document
from frontdesk.types import Passage

router = APIRouter(
    prefix="/v1/knowledge",
    tags=["knowledge"],
    responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422)},
)

UPLOAD_PREFIX = "upload/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class JobAccepted(BaseModel):
    job_id: str
    status: str = "queued"


class DocumentPublic(BaseModel):
    id: str
    source: str
    title: str
    type: str
    tags: list[str]
    version: str
    chunks: int
    quarantined: int  # passages the knowledge screen holds back (never used in answers)
    updated_at: datetime


class DocumentsPublic(BaseModel):
    documents: list[DocumentPublic]
    count: int


class SearchPublic(BaseModel):
    query: str
    passages: list[Passage]


def safe_name(filename: str | None) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("-", base).strip(".-")
    if not cleaned:
        raise InvalidRequestError("every uploaded file needs a file name", code="invalid_file")
    return cleaned[:200]


@router.post("/documents", status_code=status.HTTP_202_ACCEPTED)
async def upload(
    runtime: RuntimeDep,
    jobs: JobsDep,
    key: CurrentKey,
    files: Annotated[list[UploadFile], File(description="Markdown, text, HTML, PDF or DOCX.")],
) -> JobAccepted:
    """Index uploaded files as a job: poll `GET /v1/jobs/{job_id}` for the outcome.

    HTML, PDF and DOCX files are read in worker processes, off the server's event loop, within
    `knowledge.parsing`'s limits; a file over one is rejected with the code `too_large`,
    `decompression_bomb`, `unsafe_xml` or `parse_timeout`.

    The job's result lists the files `added`, `updated`, `unchanged` and `rejected`; a rejected
    file does not stop the others. Each rejection has `source`, `line` (or null), a stable
    `code` (`unsupported_type`, `unreadable_file`, `empty_file`, `invalid_front_matter`,
    `invalid_metadata`), a `message` and `kept_previous` (an earlier upload of the same name
    stays indexed). `quarantined` lists the passages the knowledge screen held back (indexed,
    never retrieved or quoted): `source`, `line`, `code` (`reader_instruction`,
    `secret_request`, `hidden_text`) and `message`."""
    require_scope(key, Scope.ADMIN)
    received = [(UPLOAD_PREFIX + safe_name(f.filename), await f.read()) for f in files]
    sources = [source for source, _ in received]
    # The files stay on the job row until it ends, so a restart can index them again.
    pending = {
        "actor": f"key:{key.id}",
        "files": [[s, base64.b64encode(data).decode("ascii")] for s, data in received],
    }
    job_id = await jobs.submit(
        key.tenant_id,
        "knowledge_upload",
        {"sources": sources, PENDING: pending},
        upload_work(runtime, key.tenant_id, received, actor=f"key:{key.id}"),
    )
    return JobAccepted(job_id=job_id)


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
async def reindex(runtime: RuntimeDep, jobs: JobsDep, key: CurrentKey) -> JobAccepted:
    """Re-read the workspace's knowledge folder (its own tenant) and embed what is missing."""
    require_scope(key, Scope.ADMIN)
    work = reindex_work(runtime, key.tenant_id)
    return JobAccepted(job_id=await jobs.submit(key.tenant_id, "knowledge_reindex", {}, work))


def upload_work(
    runtime: Runtime, tenant_id: str, received: list[tuple[str, bytes]], *, actor: str
) -> Work:
    knowledge = runtime.settings.knowledge

    async def work() -> dict[str, Any]:
        report = SyncReport()
        async with runtime.db.session(tenant_id) as session:
            # Every file is read before anything is written (see read_changed).
            read = await read_changed(session, received, runtime.parser)
            for (source, data), ready in zip(received, read, strict=True):
                try:
                    outcome = await ingest_source(
                        session,
                        source,
                        data,
                        max_words=knowledge.chunk_words,
                        overlap_words=knowledge.overlap_words,
                        merge_words=knowledge.merge_words,
                        quarantined=report.quarantined,
                        parser=runtime.parser,  # off the event loop, within its limits
                        read=ready,
                    )
                except IngestError as exc:  # the good files of the batch are indexed all the same
                    report.rejected.append(exc.rejection())
                    continue
                getattr(report, outcome).append(source)
            await skip_duplicate_uploads(session, report)
            report.embedded = await refresh_index(session, runtime.embedder, changed=report.changed)
            audit(session, actor=actor, action="knowledge.upload",
                  detail={"sources": [s for s, _ in received]})  # fmt: skip
            await session.commit()
        return report.as_dict()

    return work


def resumed_upload(runtime: Runtime, job: Interrupted) -> Work | None:
    """An interrupted upload's work, from the files its row kept (None for a row without)."""
    pending = job.payload.get(PENDING)
    if not isinstance(pending, dict):
        return None
    received = [(str(s), base64.b64decode(data)) for s, data in pending["files"]]
    return upload_work(runtime, job.tenant_id, received, actor=str(pending["actor"]))


def reindex_work(runtime: Runtime, tenant_id: str) -> Work:
    """The workspace's tenant re-reads the knowledge folder; another embeds what is missing."""

    async def work() -> dict[str, Any]:
        if tenant_id == runtime.tenant.id:
            report = await sync_knowledge(
                runtime.db,
                tenant_id,
                runtime.workspace,
                runtime.settings,
                embedder=runtime.embedder,
                parser=runtime.parser,
            )
            return report.as_dict()
        async with runtime.db.session(tenant_id) as session:
            embedded = await refresh_index(session, runtime.embedder, changed=False)
            await session.commit()
        return {"embedded": embedded}

    return work


@router.get("/documents")
async def list_documents(runtime: RuntimeDep, key: CurrentKey) -> DocumentsPublic:
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    async with runtime.db.session(key.tenant_id) as session:
        counts = {
            row[0]: (row[1], row[2])
            for row in await session.execute(
                select(Chunk.document_id, func.count(), func.count(Chunk.quarantine)).group_by(
                    Chunk.document_id
                )
            )
        }
        documents = list(await session.scalars(select(Document).order_by(Document.source)))
    items = [
        DocumentPublic(
            id=d.id,
            source=d.source,
            title=d.title,
            type=d.doc_type,
            tags=list(d.tags),
            version=d.version,
            chunks=int(counts.get(d.id, (0, 0))[0]),
            quarantined=int(counts.get(d.id, (0, 0))[1]),
            updated_at=d.updated_at,
        )
        for d in documents
    ]
    return DocumentsPublic(documents=items, count=len(items))


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: str, runtime: RuntimeDep, key: CurrentKey) -> Response:
    require_scope(key, Scope.ADMIN)
    async with runtime.db.session(key.tenant_id) as session:
        document = await session.get(Document, document_id)
        if document is None:
            raise NotFoundError(f"document {document_id} not found")
        source = document.source
        await session.execute(delete(Chunk).where(Chunk.document_id == document_id))
        await session.delete(document)
        await refresh_index(session, None, changed=True)
        audit(
            session,
            actor=f"key:{key.id}",
            action="knowledge.delete",
            target=document_id,
            detail={"source": source},
        )
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/search")
async def search(
    runtime: RuntimeDep,
    key: CurrentKey,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="The query.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    doc_type: Annotated[list[str] | None, Query(alias="type")] = None,
    tag: Annotated[list[str] | None, Query()] = None,
) -> SearchPublic:
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    retriever = runtime.assistant.deps.retriever
    passages = await retriever.search(
        key.tenant_id, q, limit=limit, doc_types=doc_type or (), tags=tag or ()
    )
    return SearchPublic(query=q, passages=passages)
