from __future__ import annotations

from sqlalchemy import inspect

from frontdesk.storage import migrate
from frontdesk.storage.db import Database

TABLES = {
    "tenants", "api_keys", "conversations", "messages", "turns", "tickets",
    "documents", "chunks", "jobs", "audit_log", "knowledge_index",
}  # fmt: skip


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == migrate.head_revision()
        assert await _tables(db) >= TABLES

        await migrate.downgrade(db, "base")
        assert await migrate.current_revision(db) is None
        assert not (TABLES & await _tables(db))

        await migrate.upgrade(db)
        assert await _tables(db) >= TABLES
    finally:
        await db.dispose()


async def test_sqlite_uses_wal(tmp_path: object) -> None:
    from pathlib import Path

    from sqlalchemy import text

    db = Database(f"sqlite:///{Path(str(tmp_path)) / 'wal.db'}")
    try:
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert mode == "wal"
    finally:
        await db.dispose()
