"""An in-process job runner: each job is a row in `jobs` (queued -> running -> done|failed)
and an asyncio task. Callers get the job id at once and poll it; nothing is lost if the
work fails, the error is kept on the row.

A job's process keeps its `heartbeat_at` fresh while it holds the job (queued or running).
A job whose heartbeat stopped (its process died; several processes may share the database) is
taken over by whichever process looks next (the app looks at start-up and every half
`jobs.abandoned_after_s`): the kinds that can be run again are (`resume`, `rerun`; their
payload keeps under `PENDING` what the work needs, dropped once the job ends), the others are
marked failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update

from frontdesk.config.settings import JobsSettings
from frontdesk.storage.db import Database
from frontdesk.storage.models import Job, utcnow

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[dict[str, Any]]]
Dispatch = Callable[[str], Awaitable[None]]  # hands a job id to a worker (Celery)
PENDING = "pending"  # payload key: what only an unfinished job needs (dropped when it ends)
MAX_INTERRUPTIONS = 3  # a job that brought its process down this often is not run again
UNFINISHED = ("queued", "running")


def abandoned(after_s: float) -> ColumnElement[bool]:
    """Unfinished jobs without a heartbeat for `after_s` (none at all: rows from before
    heartbeats)."""
    stale = utcnow() - timedelta(seconds=after_s)
    return Job.status.in_(UNFINISHED) & or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale)


@dataclass(frozen=True)
class Interrupted:
    """A job whose process stopped before finishing it."""

    tenant_id: str
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int


class JobRunner:
    def __init__(
        self,
        db: Database,
        *,
        concurrency: int = 1,
        timing: JobsSettings | None = None,
        dispatch: Dispatch | None = None,
    ) -> None:
        self._db = db
        self.timing = timing or JobsSettings()
        # Set: jobs are handed to workers elsewhere (by id) instead of run here.
        self._dispatch = dispatch
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()  # reruns not started yet
        self._owned: set[str] = set()  # ids of the jobs this runner holds (their heartbeat)
        self._heartbeat: asyncio.Task[None] | None = None

    async def recover(self, *, resumed_elsewhere: Collection[str] = ()) -> int:
        """Mark abandoned jobs as failed, except those of the kinds in `resumed_elsewhere`
        (resumed by `resume` or their owner)."""
        async with self._db.unscoped_session() as session:
            result = await session.execute(
                update(Job)
                .where(self._abandoned(), Job.kind.not_in(resumed_elsewhere))
                .values(status="failed", error="interrupted by a restart", finished_at=utcnow())
            )
            await session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    async def interrupted(self, kinds: Collection[str]) -> list[Interrupted]:
        """The abandoned jobs of `kinds`, oldest first (`take` one before acting on it)."""
        async with self._db.unscoped_session() as session:
            rows = await session.scalars(
                select(Job).where(self._abandoned(), Job.kind.in_(kinds)).order_by(Job.created_at)
            )
            return [Interrupted(j.tenant_id, j.id, j.kind, dict(j.payload), j.attempts)
                    for j in rows]  # fmt: skip

    async def take(self, job: Interrupted) -> bool:
        """Hold an abandoned job (its heartbeat is now this runner's); False when another
        process took it first."""
        async with self._db.unscoped_session() as session:
            result = await session.execute(
                update(Job).where(Job.id == job.id, self._abandoned()).values(heartbeat_at=utcnow())
            )
            await session.commit()
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return False
        self._own(job.id)
        return True

    async def resume(self, works: Mapping[str, Callable[[Interrupted], Work | None]]) -> int:
        """Rerun the interrupted jobs of the kinds in `works` (kind -> the job's work, None
        when it cannot be rebuilt); returns how many were rerun. Call it after `recover`
        with the same kinds left out."""
        rerun = 0
        for job in await self.interrupted(list(works)):
            if not await self.take(job):
                continue
            work = works[job.kind](job) if job.attempts < MAX_INTERRUPTIONS else None
            if work is None:
                why = (f"interrupted {job.attempts} times" if job.attempts >= MAX_INTERRUPTIONS
                       else "it cannot be run again here")  # fmt: skip
                await self.fail(job.tenant_id, job.id, f"interrupted by a restart; {why}")
                continue
            log.info("job %s (%s) interrupted by a restart: running it again", job.id, job.kind)
            if self._dispatch is not None:  # back in the queue, for a worker to claim
                await self._release(job.id, status="queued")
                await self._dispatch(job.id)
            else:
                self.rerun(job.tenant_id, job.id, work)
            rerun += 1
        return rerun

    async def run_dispatched(
        self, job_id: str, works: Mapping[str, Callable[[Interrupted], Work | None]]
    ) -> str:
        """A worker's side of `dispatch`: claim the job (still queued, or abandoned by a
        worker that died) and run it here. Returns what became of it."""
        async with self._db.unscoped_session() as session:
            row = await session.get(Job, job_id)
            if row is None:
                return "gone"
            job = Interrupted(row.tenant_id, row.id, row.kind, dict(row.payload), row.attempts)
            # One claimer: the status changes in the same statement that checks it.
            claimed = await session.execute(
                update(Job)
                .where(Job.id == job_id, or_(Job.status == "queued", self._abandoned()))
                .values(status="running", heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)  # the row above is not reused
            )
            await session.commit()
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            return "taken"  # another worker has it, or it has ended
        self._own(job_id)
        factory = works.get(job.kind)
        work = factory(job) if factory is not None and job.attempts < MAX_INTERRUPTIONS else None
        if work is None:
            why = (f"interrupted {job.attempts} times" if job.attempts >= MAX_INTERRUPTIONS
                   else f"no worker runs {job.kind} jobs")  # fmt: skip
            await self.fail(job.tenant_id, job_id, why)
            return "failed"
        await self._run(job.tenant_id, job_id, work)
        return "ran"

    async def submit(self, tenant_id: str, kind: str, payload: dict[str, Any], work: Work) -> str:
        async with self._db.session(tenant_id) as session:
            job = Job(kind=kind, status="queued", payload=payload, heartbeat_at=utcnow())
            session.add(job)
            await session.commit()
            job_id = job.id
        if self._dispatch is not None:  # the row has what a worker needs to rebuild `work`
            await self._dispatch(job_id)
            return job_id
        self._own(job_id)
        self._start(tenant_id, job_id, work)
        return job_id

    def rerun(self, tenant_id: str, job_id: str, work: Work, *, after_s: float = 0.0) -> None:
        """Run a job `take`n over again under its own id (its attempts go up), after
        `after_s` seconds spent outside the runner's slots. Shutdown (`drain`, `cancel`) does
        not wait for a rerun still waiting: the row stays unfinished, for the next process."""
        if after_s <= 0:
            self._start(tenant_id, job_id, work)
            return

        async def later() -> None:
            await asyncio.sleep(after_s)
            self._start(tenant_id, job_id, work)

        task = asyncio.create_task(later())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)

    async def fail(self, tenant_id: str, job_id: str, error: str) -> None:
        await self._finish(tenant_id, job_id, status="failed", error=error)

    async def _release(self, job_id: str, **values: Any) -> None:
        """Let go of a job this runner took, leaving `values` on its row."""
        self._owned.discard(job_id)
        async with self._db.unscoped_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(**values))
            await session.commit()

    def _abandoned(self) -> ColumnElement[bool]:
        return abandoned(self.timing.abandoned_after_s)

    def _own(self, job_id: str) -> None:
        self._owned.add(job_id)
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        """Keep the held jobs' heartbeats fresh, until the runner holds none."""
        while self._owned:
            await asyncio.sleep(self.timing.heartbeat_s)
            held = list(self._owned)
            try:
                async with self._db.unscoped_session() as session:
                    await session.execute(
                        update(Job)
                        .where(Job.id.in_(held), Job.status.in_(UNFINISHED))
                        .values(heartbeat_at=utcnow())
                    )
                    await session.commit()
            except Exception:  # the next beat tries again (abandoned only after 3 missed)
                log.exception("job heartbeat failed")

    async def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None

    def _start(self, tenant_id: str, job_id: str, work: Work) -> None:
        task = asyncio.create_task(self._run(tenant_id, job_id, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tenant_id: str, job_id: str, work: Work) -> None:
        async with self._slots:
            async with self._db.session(tenant_id) as session:
                job = await session.get(Job, job_id)
                if job is None or job.status not in UNFINISHED:  # another process ended it
                    self._owned.discard(job_id)
                    return
                job.status, job.started_at, job.attempts = "running", utcnow(), job.attempts + 1
                await session.commit()
            try:
                result = await work()
            except Exception as exc:  # the error is kept on the job for the caller to read
                log.exception("job %s failed", job_id)
                await self._finish(tenant_id, job_id, status="failed",
                                   error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                return
            await self._finish(tenant_id, job_id, status="done", result=result)

    async def _finish(self, tenant_id: str, job_id: str, **values: Any) -> None:
        self._owned.discard(job_id)
        async with self._db.session(tenant_id) as session:
            job = await session.get(Job, job_id)
            if job is not None:
                for key, value in values.items():
                    setattr(job, key, value)
                job.finished_at = utcnow()
                if PENDING in job.payload:
                    job.payload = {k: v for k, v in job.payload.items() if k != PENDING}
                await session.commit()

    async def get(self, tenant_id: str, job_id: str) -> Job | None:
        async with self._db.session(tenant_id) as session:
            return await session.scalar(select(Job).where(Job.id == job_id))

    async def cancel(self) -> None:
        """Stop the jobs in flight (shutdown); their heartbeat stops, so the next process
        takes them over."""
        tasks = list(self._tasks) + list(self._waiting)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._stop_heartbeat()

    async def drain(self) -> None:
        """Wait for the jobs in flight (shutdown, tests); reruns still waiting are dropped."""
        for waiting in list(self._waiting):
            waiting.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._stop_heartbeat()
