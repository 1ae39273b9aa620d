"""The job runner's hold on its jobs: heartbeats while a job is held, and one taker for an
abandoned job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from frontdesk.config.settings import JobsSettings
from frontdesk.jobs.runner import Interrupted, JobRunner, Work
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


async def test_a_dispatched_job_runs_once_and_a_dead_workers_job_is_sent_again(
    db: Database, tenant_id: str
) -> None:
    sent: list[str] = []

    async def dispatch(job_id: str) -> None:
        sent.append(job_id)

    async def work() -> dict[str, str]:
        return {"ran": "here"}

    def works(job: Interrupted) -> Work:
        return work

    server = JobRunner(db, dispatch=dispatch)
    job_id = await server.submit(tenant_id, "knowledge_reindex", {}, work)
    assert sent == [job_id]
    assert (await _job(db, tenant_id, job_id)).status == "queued"  # not run by the server
    # The same id delivered twice, to two workers at once: one runs it.
    one, other = JobRunner(db), JobRunner(db)
    outcomes = await asyncio.gather(
        one.run_dispatched(job_id, {"knowledge_reindex": works}),
        other.run_dispatched(job_id, {"knowledge_reindex": works}),
    )
    assert sorted(outcomes) == ["ran", "taken"]
    done = await _job(db, tenant_id, job_id)
    assert (done.status, done.attempts, done.result) == ("done", 1, {"ran": "here"})

    # A worker died mid-job: the server's take-over puts it back in the queue and sends it.
    async with db.session(tenant_id) as session:
        dead = Job(kind="knowledge_reindex", status="running", attempts=1, payload={},
                   heartbeat_at=utcnow() - timedelta(minutes=5))  # fmt: skip
        session.add(dead)
        await session.commit()
        dead_id = dead.id
    assert await server.resume({"knowledge_reindex": works}) == 1
    assert sent[-1] == dead_id
    assert (await _job(db, tenant_id, dead_id)).status == "queued"
    assert await one.run_dispatched(dead_id, {"knowledge_reindex": works}) == "ran"
    assert (await _job(db, tenant_id, dead_id)).attempts == 2
    for runner in (server, one, other):
        await runner.drain()
