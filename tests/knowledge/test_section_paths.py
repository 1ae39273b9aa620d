"""The headings above a section are embedded with it (issue 18): a generic section of a specific
page ("How filter rules are applied to directories" under "Filtering, includes and excludes")
is found for what its page is about. A section right under the document's own title, and
every chunk of a one-section document, is embedded as before: title, heading, text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from frontdesk.knowledge.chunking import chunk_document
from frontdesk.knowledge.ingest import embedding_text, sync_folder
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

PAGE = """---
title: Rclone Filtering
---
# Filtering, includes and excludes

Filters decide which files a command sees. They apply to every command that reads files.

## How filter rules are applied

Rules are read in order and the first that matches a path decides for it. A path that no
rule matches is included.

### Directories

A directory is excluded when a rule ending in a slash matches it, and then nothing below it
is read. This is quicker than excluding every file inside it one by one.
"""
ONE_SECTION = "# Opening hours\n\nWe are open from nine to five on weekdays, closed on Sundays.\n"


def test_each_chunk_knows_the_headings_above_it() -> None:
    drafts = chunk_document("Rclone Filtering", PAGE.split("---\n", 2)[2], merge_words=0)
    assert [(d.heading, d.path) for d in drafts] == [
        ("Filtering, includes and excludes", ()),
        ("How filter rules are applied", ("Filtering, includes and excludes",)),
        (
            "Directories",
            ("Filtering, includes and excludes", "How filter rules are applied"),
        ),
    ]


def test_the_embedded_text_names_the_path_only_below_the_title() -> None:
    assert embedding_text("Returns", "Returns", [], "Text.") == "Returns\nText."
    assert embedding_text("Returns", "Where", [], "Text.") == "Returns. Where\nText."
    assert (
        embedding_text("Rclone Filtering", "Directories", ["Filtering", "Rules"], "Text.")
        == "Rclone Filtering. Filtering \u203a Rules \u203a Directories\nText."
    )


class Recorder:
    name = "recorder"
    dimension = 2

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += texts
        return [[1.0, 0.0] for _ in texts]


async def test_a_sync_embeds_each_chunk_with_its_path(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "filtering.md").write_text(PAGE)
    (folder / "hours.md").write_text(ONE_SECTION)
    recorder = Recorder()
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "kb")
        async with db.session(tenant.id) as session:
            await sync_folder(session, folder, embedder=recorder, merge_words=0)
            await session.commit()
    finally:
        await db.dispose()
    heads = sorted(text.split("\n", 1)[0] for text in recorder.texts)
    assert heads == [
        "Opening hours",
        "Rclone Filtering. Filtering, includes and excludes",
        "Rclone Filtering. Filtering, includes and excludes \u203a How filter rules are applied",
        "Rclone Filtering. Filtering, includes and excludes \u203a How filter rules are applied"
        " \u203a Directories",
    ]
