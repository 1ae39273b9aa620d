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
        assert not any("image.png" in e for e in report.errors)  # not a document: not read
        assert report.not_read == [("image.png", ".png")]
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
        # Front matter only is not a document when first seen, but an indexed file turned
        # into one is a file broken by an edit: rejected, its earlier version kept.
        assert [(r.code, r.kept_previous) for r in report.rejected] == [("empty_file", True)]
        assert report.not_read == []
        passages = await FullTextRetriever(db).search(tenant.id, "refund")
        assert passages  # what was indexed before is still served
    finally:
        await db.dispose()


async def test_rejections_are_structured_and_good_files_still_index(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # hidden: never read
    (folder / "refunds.md").write_text(ATOM.replace("version: 2", "version: 1.10"))
    (folder / "plain.txt").write_text("The depot opens at eight.\n")
    (folder / "recipe.md").write_text(ATOM.replace("type: faq", "type: recipe"))
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "kb")
        async with db.session(tenant.id) as session:
            report = await sync_folder(session, folder, prefix="kb/")
            await session.commit()
            version = await session.scalar(
                select(Document.version).where(Document.source == "kb/refunds.md")
            )
        assert sorted(report.added) == ["kb/plain.txt", "kb/refunds.md"]
        assert report.indexed == 2
        assert [r.as_dict() for r in report.rejected] == [
            {
                "source": "kb/recipe.md",
                "line": 4,
                "code": "invalid_metadata",
                "message": report.rejected[0].reason,
                "kept_previous": False,
            }
        ]
        assert report.errors == [f"kb/recipe.md:4: {report.rejected[0].reason}"]
        assert report.as_dict()["indexed"] == 2
        assert version == "1.10"

        # A good file turned bad: rejected, and its earlier version stays indexed.
        (folder / "refunds.md").write_text(ATOM.replace("version: 2", "version: yes"))
        async with db.session(tenant.id) as session:
            again = await sync_folder(session, folder, prefix="kb/")
            await session.commit()
        kept = {r.source: r.kept_previous for r in again.rejected}
        assert kept == {"kb/refunds.md": True, "kb/recipe.md": False}
        assert again.indexed == 1
        assert not again.removed
    finally:
        await db.dispose()
