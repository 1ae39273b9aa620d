"""`knowledge.merge_words` (issue 18): how short a plain document's section must be to join its
neighbours is a setting (40 words by default), read by a folder sync (uploads pass it too);
an atom's sections stay as written whatever it says."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from frontdesk.config.settings import KnowledgeSettings
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.knowledge.chunking import MERGE_WORDS
from frontdesk.knowledge.ingest import sync_folder
from frontdesk.orchestration.runtime import sync_knowledge
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.models import Chunk, Document
from frontdesk.storage.tenants import ensure_tenant

PAGE = "# Setup\n\n## Install\n\nRun the installer.\n\n## Sign in\n\nUse your work email.\n\n" \
    "## Update\n\nUpdates arrive on their own.\n"  # fmt: skip
ATOM = (
    "---\ntitle: Returns\ntype: procedure\nauthor: Support\ncreated: 2026-01-05\nversion: 1\n"
    "tags: [returns]\nrelated: [Refunds]\n---\n# Returns\n\n## Where\n\nAt any branch.\n\n"
    "## When\n\nWithin 30 days.\n"
)


def test_the_default_is_the_chunkers() -> None:
    assert KnowledgeSettings().merge_words == MERGE_WORDS == 40


async def _chunks(db: Database, tenant_id: str) -> dict[str, int]:
    async with db.session(tenant_id) as session:
        rows = await session.execute(
            select(Document.source, func.count(Chunk.id)).join(Chunk).group_by(Document.source)
        )
        return {source: count for source, count in rows}


async def test_a_folder_sync_and_the_workspace_sync_read_the_setting(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    (root / "knowledge").mkdir(parents=True)
    (root / "knowledge" / "setup.md").write_text(PAGE)
    (root / "knowledge" / "returns.md").write_text(ATOM)
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "kb")
        async with db.session(tenant.id) as session:
            await sync_folder(session, root / "knowledge", prefix="joined/")
            await sync_folder(session, root / "knowledge", prefix="apart/", merge_words=0)
            await session.commit()
        (root / "frontdesk.yaml").write_text("knowledge:\n  merge_words: 0\n")
        workspace = Workspace.at(root)
        settings = load_settings(workspace)
        assert settings.knowledge.merge_words == 0
        await sync_knowledge(db, tenant.id, workspace, settings, prefix="settings/")
        counts = await _chunks(db, tenant.id)
    finally:
        await db.dispose()
    assert counts["joined/setup.md"] == 1  # three short sections, one passage
    assert counts["apart/setup.md"] == counts["settings/setup.md"] == 3
    # An atom's sections stay as written either way.
    assert counts["joined/returns.md"] == counts["apart/returns.md"] == 2
