"""Keep a tenant's index in step with a folder: add new files, replace changed ones, drop
deleted ones. A file whose content hash is unchanged is left alone; a bad file is reported
and skipped without touching what is already indexed for it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.knowledge.atoms import Atom, AtomError, AtomMeta, parse_atom
from frontdesk.knowledge.chunking import chunk_atom
from frontdesk.storage.models import Chunk, Document, utcnow
from frontdesk.text import estimate_tokens

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt"}


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "errors": self.errors,
        }


def _load(path: Path, text: str) -> Atom:
    if text.lstrip().startswith("---"):
        return parse_atom(path, text)
    # A plain document: its first heading (or file name) is its title.
    title = path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    for line in text.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
            break
    meta = AtomMeta(title=title, author="unknown", type="faq", created=utcnow().date(), version=1)
    return Atom(path, meta, text, 1)


def _list_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


async def sync_folder(
    session: AsyncSession,
    folder: Path,
    *,
    max_words: int = 350,
    overlap_words: int = 40,
    progress: Callable[[str], None] | None = None,
) -> SyncReport:
    report = SyncReport()
    existing = {doc.source: doc for doc in await session.scalars(select(Document))}
    seen: set[str] = set()
    files = await asyncio.to_thread(_list_files, folder)
    for path in files:
        source = path.relative_to(folder).as_posix()
        if progress:
            progress(source)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            report.errors.append(f"{source}: unsupported file type {path.suffix!r}; skipped")
            continue
        seen.add(source)  # a bad file keeps what was indexed for it before
        try:
            raw = await asyncio.to_thread(path.read_bytes)
            digest = hashlib.sha256(raw).hexdigest()
            document = existing.get(source)
            if document is not None and document.content_hash == digest:
                report.unchanged.append(source)
                continue
            atom = _load(path, raw.decode("utf-8"))
        except (AtomError, UnicodeDecodeError, OSError) as exc:
            report.errors.append(f"{source}: {exc}")
            continue
        if document is None:
            document = Document(source=source, content_hash=digest, title=atom.meta.title)
            session.add(document)
            report.added.append(source)
        else:
            await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
            report.updated.append(source)
        document.title = atom.meta.title
        document.doc_type = atom.meta.type
        document.tags = list(atom.meta.tags)
        document.version = str(atom.meta.version)
        document.meta = atom.meta.model_dump(mode="json")
        document.content_hash = digest
        document.updated_at = utcnow()
        await session.flush()
        drafts = chunk_atom(atom, max_words=max_words, overlap_words=overlap_words)
        for ordinal, draft in enumerate(drafts):
            session.add(
                Chunk(
                    document_id=document.id,
                    ordinal=ordinal,
                    kind=draft.kind,
                    title=atom.meta.title,
                    heading=draft.heading,
                    text=draft.text,
                    token_count=estimate_tokens(draft.text),
                )
            )
    for source, document in existing.items():
        if source not in seen:
            await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
            await session.delete(document)
            report.removed.append(source)
    await session.flush()
    return report
