"""The job runner's hold on its jobs: heartbeats while a job is held, and one taker for an
abandoned job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from frontdesk.config.settings import JobsSettings
from frontdesk.jobs.runner import Interrupted, JobRunner
from frontdesk.storage.db import Database
from frontdesk.storage.models import Job, utcnow


async def _job(db: Database, tenant_id: str, job_id: str) -> Job:
    async with db.session(tenant_id) as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_a_held_job_keeps_its_heartbeat_fresh(db: Database, tenant_id: str) -> None:
    jobs = JobRunner(db, timing=JobsSettings(heartbeat_s=0.05, abandoned_after_s=60))
    release = asyncio.Event()

    async def work() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    job_id = await jobs.submit(tenant_id, "knowledge_reindex", {}, work)
    first = (await _job(db, tenant_id, job_id)).heartbeat_at
    assert first is not None
    await asyncio.sleep(0.3)
    later = (await _job(db, tenant_id, job_id)).heartbeat_at
    assert later is not None
    assert later > first
    assert await jobs.interrupted(["knowledge_reindex"]) == []  # held: not abandoned
    release.set()
    await jobs.drain()
    done = await _job(db, tenant_id, job_id)
    assert done.status == "done"
    assert jobs._heartbeat is None  # drained: no beating task left behind


async def test_an_abandoned_job_is_taken_by_one_process_only(db: Database, tenant_id: str) -> None:
    async with db.session(tenant_id) as session:
        job = Job(kind="knowledge_reindex", status="running", attempts=1, payload={},
                  heartbeat_at=utcnow() - timedelta(minutes=5))  # fmt: skip
        session.add(job)
        await session.commit()
        job_id = job.id
    one, other = JobRunner(db), JobRunner(db)
    [found] = await one.interrupted(["knowledge_reindex"])
    assert found == Interrupted(tenant_id, job_id, "knowledge_reindex", {}, 1)
    taken = await asyncio.gather(one.take(found), other.take(found))
    assert sorted(taken) == [False, True]
    assert await one.interrupted(["knowledge_reindex"]) == []  # its heartbeat is fresh again
    await one.drain()
    await other.drain()


def test_the_abandon_time_leaves_room_for_missed_beats() -> None:
    with pytest.raises(ValueError, match=r"at least 3 x jobs\.heartbeat_s"):
        JobsSettings(heartbeat_s=30, abandoned_after_s=60)
