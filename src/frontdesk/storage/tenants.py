"""Tenants are the one table outside tenant scope; managed through unscoped sessions."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.storage.db import Database
from frontdesk.storage.models import Tenant


async def ensure_tenant(db: Database, slug: str, name: str | None = None) -> Tenant:
    async with db.unscoped_session() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            tenant = Tenant(slug=slug, name=name or slug)
            session.add(tenant)
            await session.commit()
        return tenant


async def find_tenant(db: Database, slug: str) -> Tenant | None:
    async with db.unscoped_session() as session:
        return await session.scalar(select(Tenant).where(Tenant.slug == slug))
