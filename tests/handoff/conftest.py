from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tools.db'}")
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def tenant_id(db: Database) -> str:
    return (await ensure_tenant(db, "acme")).id
