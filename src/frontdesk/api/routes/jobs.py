"""Background jobs: poll one for its status and result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from frontdesk.api.deps import CurrentKey, JobsDep, require_scope
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import NotFoundError
from frontdesk.storage.api_keys import Scope

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404)},
)


class JobPublic(BaseModel):
    id: str
    kind: str
    status: str
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@router.get("/{job_id}")
async def get_job(job_id: str, jobs: JobsDep, key: CurrentKey) -> JobPublic:
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    job = await jobs.get(key.tenant_id, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        result=job.result,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
