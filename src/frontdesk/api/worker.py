"""Celery workers for the app's jobs, when `jobs.broker_url` is set: the API process records a
job's row (with everything its work needs) and sends only the job id; a worker
(`frontdesk worker -w DIR`, any number, on any machine that reaches the database, the broker
and the workspace folder) claims the row and runs the same work the API process would have
run (`app.resumable_jobs`).

Delivery is at least once: tasks are acknowledged after they ran (`task_acks_late`) and given
back if the worker dies (`task_reject_on_worker_lost`); a repeated id finds the job claimed or
ended and does nothing. A job whose worker died without the broker noticing is found by the
API processes' usual take-over (heartbeat silent for `jobs.abandoned_after_s`) and sent again.

Each worker process keeps one event loop and one runtime (opened on its first task).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown

from frontdesk.api.app import resumable_jobs
from frontdesk.config.settings import JobsSettings
from frontdesk.jobs import JobRunner
from frontdesk.jobs.runner import Dispatch
from frontdesk.orchestration.runtime import Runtime, open_runtime

log = logging.getLogger(__name__)

TASK = "frontdesk.run_job"
QUEUE = "frontdesk-jobs"


def celery_app(broker_url: str) -> Celery:
    app = Celery("frontdesk", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a long retrain does not hold other jobs back
        task_default_queue=QUEUE,
        task_ignore_result=True,  # the result is on the job row
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK)(run_job)
    return app


def celery_dispatch(settings: JobsSettings) -> Dispatch:
    """How the API process hands a job to the workers."""
    assert settings.broker_url is not None
    app = celery_app(settings.broker_url)

    async def dispatch(job_id: str) -> None:
        await asyncio.to_thread(app.send_task, TASK, args=[job_id], queue=QUEUE)

    return dispatch


class _Process:
    """This worker process's event loop, runtime and runner."""

    loop: asyncio.AbstractEventLoop | None = None
    runtime: Runtime | None = None
    runner: JobRunner | None = None


def run_job(job_id: str) -> str:
    """The Celery task: claim and run one job here; returns what became of it."""
    if _Process.loop is None:
        _Process.loop = asyncio.new_event_loop()
    return _Process.loop.run_until_complete(_run(job_id))


async def _run(job_id: str) -> str:
    if _Process.runtime is None:
        workspace = os.environ.get("FRONTDESK_WORKSPACE", ".")
        _Process.runtime = await open_runtime(workspace)
        _Process.runner = JobRunner(_Process.runtime.db, timing=_Process.runtime.settings.jobs)
    runtime, runner = _Process.runtime, _Process.runner
    assert runner is not None
    outcome = await runner.run_dispatched(job_id, resumable_jobs(runtime))
    await runner.drain()  # stops the heartbeat until the next task
    log.info("job %s: %s", job_id, outcome)
    return outcome


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _close(**_: Any) -> None:
    if _Process.loop is not None and _Process.runtime is not None:
        _Process.loop.run_until_complete(_Process.runtime.close())
        _Process.runtime = None


def app_from_env() -> Celery:
    """For `celery -A frontdesk.api.worker:app_from_env`: the workspace's broker."""
    from frontdesk.config.workspace import Workspace, load_settings

    settings = load_settings(Workspace.at(os.environ.get("FRONTDESK_WORKSPACE", ".")))
    if settings.jobs.broker_url is None:
        raise SystemExit(
            "jobs.broker_url is not set in frontdesk.yaml: there is nothing to work on"
        )
    return celery_app(settings.jobs.broker_url)
