"""The retention purge: conversations older than their tenant's retention period are
deleted, each tenant's run recorded as a `retention_purge` job. Runs on a timer in the API
process (`privacy.purge_interval_s`) and on demand (`POST /v1/admin/retention/purge`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from frontdesk.config.settings import Settings
from frontdesk.jobs.runner import JobRunner, Work
from frontdesk.storage.db import Database
from frontdesk.storage.models import Tenant
from frontdesk.storage.privacy import purge_expired

log = logging.getLogger(__name__)


def purge_work(
    db: Database, settings: Settings, tenant_id: str, *, now: datetime | None = None
) -> Work:
    """One tenant's purge; its retention period is the one configured when it runs."""

    async def work() -> dict[str, Any]:
        async with db.unscoped_session() as session:
            tenant = await session.get(Tenant, tenant_id)
        days = settings.retention_days_for(tenant.slug) if tenant is not None else None
        if days is None:
            return {"purged": 0, "retention_days": None}
        async with db.session(tenant_id) as session:
            purged = await purge_expired(session, days, now=now)
            await session.commit()
        return {"purged": purged, "retention_days": days}

    return work


async def submit_purges(
    db: Database, jobs: JobRunner, settings: Settings, *, now: datetime | None = None
) -> list[str]:
    """One purge job per tenant that has a retention period; returns the job ids."""
    async with db.unscoped_session() as session:
        tenants = [(t.id, t.slug) for t in await session.scalars(select(Tenant))]
    job_ids = []
    for tenant_id, slug in tenants:
        days = settings.retention_days_for(slug)
        if days is not None:
            work = purge_work(db, settings, tenant_id, now=now)
            job_ids.append(await jobs.submit(tenant_id, "retention_purge", {"days": days}, work))
    return job_ids


async def retention_loop(db: Database, jobs: JobRunner, settings: Settings) -> None:
    """Forever: purge, then sleep the interval. Cancel the task to stop it."""
    while True:
        try:
            await submit_purges(db, jobs, settings)
        except Exception:  # a failed round is logged; the next one tries again
            log.exception("retention purge round failed")
        await asyncio.sleep(settings.privacy.purge_interval_s)
