"""An in-process job runner: each job is a row in `jobs` (queued -> running -> done|failed)
and an asyncio task. Callers get the job id at once and poll it; nothing is lost if the
work fails, the error is kept on the row. Jobs left `running` by a crashed process are
marked failed at start-up so they do not look alive forever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update

from frontdesk.storage.db import Database
from frontdesk.storage.models import Job, utcnow

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[dict[str, Any]]]


class JobRunner:
    def __init__(self, db: Database, *, concurrency: int = 1) -> None:
        self._db = db
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def recover(self) -> int:
        """Mark jobs a previous process left queued or running as failed."""
        async with self._db.unscoped_session() as session:
            result = await session.execute(
                update(Job)
                .where(Job.status.in_(["queued", "running"]))
                .values(status="failed", error="interrupted by a restart", finished_at=utcnow())
            )
            await session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    async def submit(self, tenant_id: str, kind: str, payload: dict[str, Any], work: Work) -> str:
        async with self._db.session(tenant_id) as session:
            job = Job(kind=kind, status="queued", payload=payload)
            session.add(job)
            await session.commit()
            job_id = job.id
        task = asyncio.create_task(self._run(tenant_id, job_id, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def _run(self, tenant_id: str, job_id: str, work: Work) -> None:
        async with self._slots:
            await self._update(tenant_id, job_id, status="running", started_at=utcnow(), attempts=1)
            try:
                result = await work()
            except Exception as exc:  # the error is kept on the job for the caller to read
                log.exception("job %s failed", job_id)
                await self._update(
                    tenant_id,
                    job_id,
                    status="failed",
                    finished_at=utcnow(),
                    error=f"{type(exc).__name__}: {exc}",
                )
                return
            await self._update(
                tenant_id, job_id, status="done", finished_at=utcnow(), result=result
            )

    async def _update(self, tenant_id: str, job_id: str, **values: Any) -> None:
        async with self._db.session(tenant_id) as session:
            job = await session.get(Job, job_id)
            if job is not None:
                for key, value in values.items():
                    setattr(job, key, value)
                await session.commit()

    async def get(self, tenant_id: str, job_id: str) -> Job | None:
        async with self._db.session(tenant_id) as session:
            return await session.scalar(select(Job).where(Job.id == job_id))

    async def cancel(self) -> None:
        """Stop the jobs in flight (shutdown); `recover` marks them failed at the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait for the jobs in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
