from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from frontdesk.knowledge.ingest import sync_folder
from frontdesk.knowledge.retriever import FullTextRetriever
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.models import Chunk, Document
from frontdesk.storage.tenants import ensure_tenant
from tests.knowledge.test_atoms import ATOM


async def test_sync_adds_skips_replaces_and_removes(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text(ATOM)
    (folder / "plain.txt").write_text("# Opening hours\n\nThe depot opens at eight.\n")
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "kb")
        async with db.session(tenant.id) as session:
            first = await sync_folder(session, folder)
            await session.commit()
        assert sorted(first.added) == ["plain.txt", "refunds.md"]

        async with db.session(tenant.id) as session:
            again = await sync_folder(session, folder)
            await session.commit()
        assert not again.changed
        assert sorted(again.unchanged) == ["plain.txt", "refunds.md"]

        (folder / "refunds.md").write_text(ATOM.replace("5 to 7", "3 to 4"))
        (folder / "plain.txt").unlink()
        (folder / "broken.md").write_text("---\ntitle: [oops\n---\n")
        (folder / "image.png").write_bytes(b"\x89PNG")
        async with db.session(tenant.id) as session:
            report = await sync_folder(session, folder)
            await session.commit()
            docs = list(await session.scalars(select(Document.source)))
            chunk_count = await session.scalar(select(func.count()).select_from(Chunk))
        assert report.updated == ["refunds.md"]
        assert report.removed == ["plain.txt"]
        assert any(e.startswith("broken.md:") for e in report.errors)
        assert any("image.png" in e for e in report.errors)
        assert docs == ["refunds.md"]
        assert chunk_count == 4

        passages = await FullTextRetriever(db).search(tenant.id, "how long for a card refund")
        assert passages
        assert passages[0].title == "Refund timelines"
        assert any("3 to 4" in p.text for p in passages)
        assert not any("5 to 7" in p.text for p in passages)  # the old chunks are gone
    finally:
        await db.dispose()


async def test_bad_file_keeps_its_previous_index(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text(ATOM)
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "kb")
        async with db.session(tenant.id) as session:
            await sync_folder(session, folder)
            await session.commit()
        (folder / "refunds.md").write_text("---\ntype: nonsense\n---\n")
        async with db.session(tenant.id) as session:
            report = await sync_folder(session, folder)
            await session.commit()
        assert report.errors
        assert not report.removed
        passages = await FullTextRetriever(db).search(tenant.id, "refund")
        assert passages  # what was indexed before is still served
    finally:
        await db.dispose()
