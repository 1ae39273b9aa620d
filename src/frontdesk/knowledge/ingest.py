"""Keep a tenant's index in step with its sources: add new files, replace changed ones, drop
deleted ones, embed what is not embedded yet. A file whose content hash is unchanged is left
alone; a bad file is reported and skipped without touching what is already indexed for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.interfaces import Embedder
from frontdesk.knowledge.atoms import (
    Atom,
    AtomError,
    FaqPair,
    looks_like_atom,
    parse_atom,
    read_front_matter,
)
from frontdesk.knowledge.chunking import MERGE_WORDS, ChunkDraft, chunk_document, document_title
from frontdesk.knowledge.converters import CONVERTERS, ConversionError, convert
from frontdesk.knowledge.documents import DocumentMeta, map_front_matter
from frontdesk.knowledge.parsing import DocumentParser
from frontdesk.knowledge.screening import screen_passage
from frontdesk.knowledge.vectors import index_record, to_bytes
from frontdesk.storage.models import Chunk, Document, KnowledgeIndex, utcnow
from frontdesk.text import estimate_tokens

SUPPORTED_SUFFIXES = frozenset(CONVERTERS)


# The stable codes of a rejected file (in job results and the API's JSON).
REJECTION_CODES = frozenset(
    {
        "unsupported_type",  # a file type no converter reads
        "unreadable_file",  # binary, not UTF-8, a broken PDF or DOCX, a read error
        "empty_file",  # no text to index
        "invalid_front_matter",  # an atom's --- block: unclosed, not YAML, not a mapping
        "invalid_metadata",  # an atom's field missing or of the wrong kind
        # knowledge.parsing's limits (frontdesk/knowledge/converters.py, parsing.py):
        "too_large",  # over a size, page, paragraph or text limit
        "decompression_bomb",  # a DOCX that unpacks too far, or a PDF stream
        "unsafe_xml",  # an XML part declaring a DTD (entities)
        "parse_timeout",  # reading it took longer than timeout_s: the reader was killed
    }
)


# Bumped when the screen's rules change: chunks read by an older screen are screened again.
# 2: linter directives in Markdown comments are not hidden text; 3: comments are out of the
# passage (a maintainer's note about the source is no finding), fenced code is read narrowly
SCREEN_VERSION = 3

STAFF_TAG = "audience:staff"
STAFF_AUDIENCES = frozenset({"staff", "internal", "agents"})


class IngestError(ValueError):
    """A source that cannot be indexed; the message says why (file:line where known)."""

    def __init__(
        self, source: str, reason: str, *, code: str = "unreadable_file", line: int | None = None
    ) -> None:
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")
        self.source, self.reason, self.code, self.line = source, reason, code, line
        self.kept_previous = False  # set by ingest_source when an earlier version stays
        self.not_a_document = False  # a page of front matter only: a folder sync skips it

    def rejection(self) -> Rejection:
        return Rejection(self.source, self.code, self.reason, self.line, self.kept_previous)


@dataclass(frozen=True)
class Rejection:
    """A file that was not indexed: which, where in it (when one line is to blame), why."""

    source: str
    code: str  # one of REJECTION_CODES
    reason: str
    line: int | None = None
    kept_previous: bool = False  # an earlier good version of the file stays indexed

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "code": self.code,
            "message": self.reason,
            "kept_previous": self.kept_previous,
        }


@dataclass(frozen=True)
class Quarantined:
    """A passage the knowledge screen holds back: indexed for the operator to see, never
    retrieved, embedded or quoted."""

    source: str
    line: int | None  # in the file as uploaded, where the words that tripped it are found
    code: str  # reader_instruction | secret_request | hidden_text
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.code}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "code": self.code,
                "message": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Duplicate:
    """A page skipped because its text is already indexed from other pages (a print-all
    page, a copy): not an error."""

    source: str
    of: list[str]  # the indexed pages that hold its text, the largest share first
    share: float  # of its text found in them

    def __str__(self) -> str:
        others = ", ".join(self.of[:3]) + (f" and {len(self.of) - 3} more" if len(self.of) > 3
                                           else "")  # fmt: skip
        return f"{self.source}: {self.share:.0%} of its text is in {others}"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "of": self.of, "share": round(self.share, 4)}


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)  # of this run's files
    duplicates: list[Duplicate] = field(default_factory=list)  # skipped, not indexed
    # Files of a folder that are not documents, (source, why): a type no reader handles (a
    # built site's scripts, images, fonts), or a page of front matter only. Not rejections.
    not_read: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0
    dropped: int = 0  # duplicates that were indexed before this run (taken out now)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.embedded or self.dropped)

    @property
    def indexed(self) -> int:
        """Files of this run that are in the index now (new, changed or unchanged)."""
        return len(self.added) + len(self.updated) + len(self.unchanged)

    @property
    def errors(self) -> list[str]:
        """Each rejected file as one line, "source[:line]: reason"."""
        return [str(r) for r in self.rejected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "indexed": self.indexed,
            "rejected": [r.as_dict() for r in self.rejected],
            "errors": self.errors,
            "quarantined": [q.as_dict() for q in self.quarantined],
            "duplicates": [d.as_dict() for d in self.duplicates],
            "not_read": [{"source": s, "why": why} for s, why in self.not_read],
            "embedded": self.embedded,
        }


@dataclass
class Parsed:
    title: str
    doc_type: str
    tags: list[str]
    version: str
    meta: dict[str, Any]
    body: str
    faqs: list[FaqPair]
    atom: Atom | None = None  # for Markdown with front matter
    text: str = ""  # the file as text (for the lines of findings), "" for PDF and DOCX

    @property
    def merge_words(self) -> int:
        """Sections under this many words join their neighbours; an atom's stay as written."""
        return self.merging(MERGE_WORDS)

    def merging(self, merge_words: int) -> int:
        """`merge_words` (knowledge.merge_words) for a plain document, 0 for an atom."""
        return 0 if self.atom is not None else merge_words


ATOM_SUFFIXES = frozenset({".md", ".markdown"})
_TITLE_MAX = 300  # the title and heading columns' size


def parse_source(source: str, data: bytes, *, text: str | None = None) -> Parsed:
    """Bytes of one file to what the index stores. Atoms keep their metadata; Markdown with
    a publishing tool's front matter is a document whose known keys are mapped (title,
    aliases, tags, description, date) and the others kept; any other document takes its
    title from its first heading (outside code fences), else the file name. `text`: the
    file already converted (by a DocumentParser), else it is converted here.

    Any file that cannot be indexed raises IngestError with a code from REJECTION_CODES."""
    try:
        text = convert(source, data) if text is None else text
    except ConversionError as exc:
        raise IngestError(source, str(exc), code=exc.code) from exc
    path = Path(source)
    suffix = path.suffix.lower()
    front = None
    if suffix in ATOM_SUFFIXES:
        try:
            front = read_front_matter(path, text)
            if front is not None and looks_like_atom(front.fields):
                return _atom(source, parse_atom(path, front=front), data)
        except AtomError as exc:
            raise IngestError(source, exc.reason, code=exc.code, line=exc.line) from exc
    body = text if front is None else "\n".join(front.lines[front.end + 1 :])
    meta: dict[str, Any] = {"format": suffix}
    tags: list[str] = []
    mapped = DocumentMeta()
    if front is not None:
        try:
            mapped = map_front_matter(front.fields)
        except ValueError as exc:  # a value that cannot be stored, e.g. !!binary
            reason = f"front matter that cannot be stored: {exc}"
            raise IngestError(source, reason, code="invalid_metadata", line=2) from exc
        meta.update(mapped.as_meta())
        tags = list(mapped.tags)
        if str(front.fields.get("audience", "")).strip().lower() in STAFF_AUDIENCES:
            tags.append(STAFF_TAG)
        if mapped.description and mapped.description not in body:
            body = f"{mapped.description}\n\n{body.strip()}"  # the page's lead, searchable
    if not body.strip():
        if front is not None:  # a site's list or redirect page: front matter, no text
            empty = IngestError(source, "front matter only, no text", code="empty_file")
            empty.not_a_document = True
            raise empty
        raise IngestError(source, "the file has no text", code="empty_file")
    title = mapped.title or document_title(body) or _name_title(path) or source
    return Parsed(title[:_TITLE_MAX], "document", tags, "", meta, body, [], None,
                  _source_text(data))  # fmt: skip


def _atom(source: str, atom: Atom, data: bytes) -> Parsed:
    meta = atom.meta
    try:
        fields = meta.model_dump(mode="json")
    except ValueError as exc:  # an extra field that cannot be stored, e.g. !!binary
        reason = f"front matter that cannot be stored: {exc}"
        raise IngestError(source, reason, code="invalid_metadata", line=2) from exc
    tags = list(meta.tags)
    if str(fields.get("audience", "")).strip().lower() in STAFF_AUDIENCES:
        tags.append(STAFF_TAG)  # indexed for routing and agents, never quoted to customers
    return Parsed(meta.title, meta.type, tags, meta.version, fields,
                  atom.body, atom.faqs, atom, _source_text(data))  # fmt: skip


def _name_title(path: Path) -> str:
    """A title from a file name: "getting-started.md" is "Getting started"."""
    stem = re.sub(r"^\d+(?:[._-]\d+)*[._-]+", "", path.stem) or path.stem  # 02.01_ ordering
    return stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _source_text(data: bytes) -> str:
    if data[:5] == b"%PDF-" or data[:2] == b"PK":
        return ""
    return data.decode("utf-8-sig", errors="replace")


def line_of(text: str, excerpt: str) -> int | None:
    """The line of `text` where `excerpt` starts (its first words, any spacing or case)."""
    words = re.findall(r"\w+", excerpt)[:6]
    if not text or not words:
        return None
    pattern = r"\W+".join(re.escape(w) for w in words)
    found = re.search(pattern, text, re.IGNORECASE)
    return text.count("\n", 0, found.start()) + 1 if found else None


async def read_source(source: str, data: bytes, parser: DocumentParser | None) -> Parsed:
    """parse_source off the event loop: the file converted by `parser` (HTML, PDF and DOCX
    in its worker processes, within its limits), the rest in a thread. Without a parser, in
    this thread with the default limits."""
    if parser is None:
        return parse_source(source, data)
    try:
        text = await parser.convert(source, data)
    except ConversionError as exc:
        raise IngestError(source, str(exc), code=exc.code) from exc
    return await asyncio.to_thread(parse_source, source, data, text=text)


async def read_changed(
    session: AsyncSession, received: list[tuple[str, bytes]], parser: DocumentParser | None
) -> list[Parsed | IngestError | None]:
    """Each received file, read, in order; None for one whose content is what is indexed
    for it already. Call it before writing anything in the session: on SQLite, a write
    transaction left open while a slow file is read (up to knowledge.parsing.timeout_s)
    would hold up every other writer, and every authenticated request writes (the key's last
    use)."""
    names = [source for source, _ in received]
    rows = await session.execute(
        select(Document.source, Document.content_hash).where(Document.source.in_(names))
    )
    stored = {source: digest for source, digest in rows}
    read: list[Parsed | IngestError | None] = []
    for source, data in received:
        read.append(None)
        if stored.get(source) != hashlib.sha256(data).hexdigest():
            try:
                read[-1] = await read_source(source, data, parser)
            except IngestError as exc:
                read[-1] = exc
    return read


async def ingest_source(
    session: AsyncSession,
    source: str,
    data: bytes,
    *,
    max_words: int = 350,
    overlap_words: int = 40,
    merge_words: int = MERGE_WORDS,
    quarantined: list[Quarantined] | None = None,
    parser: DocumentParser | None = None,
    read: Parsed | IngestError | None = None,
) -> str:
    """Index one source; returns "added", "updated" or "unchanged". Raises IngestError.
    `read`: the file already read (read_changed), else it is read here by `parser`.
    The passages the knowledge screen holds back are added to `quarantined`; an unchanged
    file's are listed again (they are still held back)."""
    digest = hashlib.sha256(data).hexdigest()
    document = await session.scalar(select(Document).where(Document.source == source))
    if document is not None and document.content_hash == digest:
        if quarantined is not None:
            quarantined.extend(await held_back(session, document.id, source))
        return "unchanged"
    try:
        if isinstance(read, IngestError):
            raise read
        parsed = read or await read_source(source, data, parser)
    except IngestError as exc:
        exc.kept_previous = document is not None  # left as it was: still indexed
        raise
    outcome = "added" if document is None else "updated"
    if document is None:
        document = Document(source=source, content_hash=digest, title=parsed.title)
        session.add(document)
    else:
        await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    document.title = parsed.title
    document.doc_type = parsed.doc_type
    document.tags = parsed.tags
    document.version = parsed.version
    document.meta = parsed.meta
    document.content_hash = digest
    document.updated_at = utcnow()
    await session.flush()
    drafts = await asyncio.to_thread(  # up to knowledge.parsing.max_text_chars of text
        chunk_document, parsed.title, parsed.body, parsed.faqs,
        max_words=max_words, overlap_words=overlap_words,
        merge_words=parsed.merging(merge_words),
    )  # fmt: skip
    # The headings above each chunk's own (past the document's title), embedded with it:
    # "Filtering, How filter rules are applied to directories" tells what a generic section
    # of a specific page is about. Kept in the document's metadata, by chunk ordinal, for
    # refresh_index (which may embed later, or again under a new model).
    paths = {str(i): trail for i, d in enumerate(drafts) if (trail := _trail(d, parsed.title))}
    document.meta = {**parsed.meta, SECTION_PATHS: paths} if paths else parsed.meta
    screened = await asyncio.to_thread(screen_drafts, parsed.text, drafts)
    for ordinal, (draft, findings) in enumerate(zip(drafts, screened, strict=True)):
        session.add(
            Chunk(
                document_id=document.id,
                ordinal=ordinal,
                kind=draft.kind,
                title=parsed.title,
                heading=draft.heading[:_TITLE_MAX],
                text=draft.text,
                token_count=estimate_tokens(draft.text),
                quarantine=findings or None,
                screened=SCREEN_VERSION,
            )
        )
        if quarantined is not None:
            quarantined.extend(_held(source, findings))
    await session.flush()
    return outcome


SECTION_PATHS = "section_paths"  # Document.meta: chunk ordinal -> the headings above its own


def _trail(draft: ChunkDraft, title: str) -> list[str]:
    return [heading for heading in draft.path if heading and heading != title]


def embedding_text(title: str, heading: str, path: list[str], text: str) -> str:
    """What is embedded for a chunk: its document's title, the headings down to its own, and
    its text (a section named like its document adds nothing)."""
    trail = " \u203a ".join([*path, *([heading] if heading and heading != title else [])])
    return f"{title}. {trail}\n{text}" if trail else f"{title}\n{text}"


def screen_drafts(text: str, drafts: list[ChunkDraft]) -> list[list[dict[str, Any]]]:
    """Each chunk's findings of the knowledge screen, with the line of `text` (the file as
    text) where the words that tripped it are; [] for a clean chunk."""
    return [
        [
            {**f.as_dict(), "line": line_of(text, f.excerpt)}
            for f in screen_passage(draft.text, draft.hidden)
        ]
        for draft in drafts
    ]


def _held(source: str, findings: list[dict[str, Any]]) -> list[Quarantined]:
    return [Quarantined(source, f.get("line"), str(f["code"]), str(f["reason"]))
            for f in findings]  # fmt: skip


async def held_back(session: AsyncSession, document_id: str, source: str) -> list[Quarantined]:
    """The quarantined passages of one document, as findings."""
    rows = await session.scalars(
        select(Chunk.quarantine)
        .where(Chunk.document_id == document_id, Chunk.quarantine.is_not(None))
        .order_by(Chunk.ordinal)
    )
    return [q for findings in rows for q in _held(source, findings or [])]


@dataclass(frozen=True)
class HeldPassage:
    """A quarantined passage as the console lists it."""

    source: str
    heading: str
    text: str
    findings: list[dict[str, Any]]


async def quarantined_passages(session: AsyncSession, limit: int = 200) -> list[HeldPassage]:
    """The tenant's quarantined passages, by source (the console's admin page)."""
    rows = await session.execute(
        select(Document.source, Chunk.heading, Chunk.text, Chunk.quarantine)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.quarantine.is_not(None))
        .order_by(Document.source, Chunk.ordinal)
        .limit(limit)
    )
    return [HeldPassage(r.source, r.heading, r.text, list(r.quarantine or [])) for r in rows]


async def rescreen(session: AsyncSession) -> int:
    """Screen the chunks an older screen read (indexed before it, or before its rules
    changed). Their file is not at hand: findings carry no line. Returns how many changed."""
    rows = (
        await session.execute(
            select(Chunk.id, Chunk.text, Chunk.quarantine).where(Chunk.screened < SCREEN_VERSION)
        )
    ).all()
    changed = 0
    screened = await asyncio.to_thread(lambda: [screen_passage(row.text) for row in rows])
    for row, found in zip(rows, screened, strict=True):
        # A finding about a comment chunking took out of the passage cannot be judged again
        # from the stored text: it stays.
        kept = [f for f in row.quarantine or [] if f.get("hidden")]
        findings = kept + [{**f.as_dict(), "line": None} for f in found] or None
        values: dict[str, Any] = {"screened": SCREEN_VERSION, "quarantine": findings}
        if findings is not None and row.quarantine is None:
            values["embedding"] = None  # a passage held back is passed to no model
            changed += 1
        elif findings is None and row.quarantine is not None:
            changed += 1
        await session.execute(update(Chunk).where(Chunk.id == row.id).values(**values))
    return changed


async def remove_source(session: AsyncSession, source: str) -> bool:
    document = await session.scalar(select(Document).where(Document.source == source))
    if document is None:
        return False
    await session.execute(delete(Chunk).where(Chunk.document_id == document.id))
    await session.delete(document)
    await session.flush()
    return True


def list_source_files(folder: Path) -> list[Path]:
    """The files a folder sync reads: every file below it but hidden ones (a name starting
    with a dot, or inside such a folder: .git/, .frontdesk/)."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


async def sync_folder(
    session: AsyncSession,
    folder: Path,
    *,
    embedder: Embedder | None = None,
    max_words: int = 350,
    overlap_words: int = 40,
    merge_words: int = MERGE_WORDS,
    progress: Callable[[str], None] | None = None,
    embed_progress: Callable[[int, int], None] | None = None,
    prefix: str = "",
    parser: DocumentParser | None = None,
) -> SyncReport:
    """Make the documents whose source starts with `prefix` match the folder's files.

    Sources are `prefix` + the path inside the folder, so several folders (the workspace's
    knowledge/, uploads, another collection) can live side by side in one tenant. Files of
    a type no reader handles and pages of front matter only are not documents: listed in
    `not_read`, not rejected (an upload of one is rejected: it was sent to be indexed).
    """
    report = SyncReport()
    known = set(
        await session.scalars(select(Document.source).where(Document.source.startswith(prefix)))
    )
    seen: set[str] = set()
    for path in await asyncio.to_thread(list_source_files, folder):
        source = prefix + path.relative_to(folder).as_posix()
        if progress:
            progress(source)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:  # a site's script, image, font...
            report.not_read.append((source, path.suffix.lower() or "(none)"))
            continue
        seen.add(source)  # a bad file keeps what was indexed for it before
        try:
            data = await asyncio.to_thread(path.read_bytes)
            outcome = await ingest_source(
                session,
                source,
                data,
                max_words=max_words,
                overlap_words=overlap_words,
                merge_words=merge_words,
                quarantined=report.quarantined,
                parser=parser,
            )
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            report.rejected.append(Rejection(source, "unreadable_file", reason, None,
                                             source in known))  # fmt: skip
            continue
        except IngestError as exc:
            # A page of front matter only is not a document, unless an earlier version of it
            # was indexed: then it is a file broken by an edit, rejected (its index stays).
            if exc.not_a_document and source not in known:
                seen.discard(source)
                report.not_read.append((source, "front matter only"))
            else:
                report.rejected.append(exc.rejection())
            continue
        getattr(report, outcome).append(source)
    await skip_duplicates(session, report, known)
    for source in sorted(known - seen):
        await remove_source(session, source)
        report.removed.append(source)
    report.embedded = await refresh_index(
        session, embedder, changed=report.changed, progress=embed_progress
    )
    return report


# A page is a near-duplicate when this share of its word 8-grams is in pages kept before it
# (pages that are themselves inside it), and it adds no passage of its own longer than
# _NEW_RUNS 8-grams in all (about one sentence; an 8-gram across the seam of two chapters of a
# print-all page is never a run of 8).
DUPLICATE_SHARE = 0.9
_SHINGLE_WORDS = 8
_NEW_RUNS = 24


def shingles(text: str) -> list[int]:
    """The hashes of a text's overlapping runs of 8 words in order (lower case, punctuation
    and markup left out); a shorter text is one run."""
    words = re.findall(r"\w+", text.lower())
    if len(words) <= _SHINGLE_WORDS:
        return [hash(" ".join(words))] if words else []
    return [hash(" ".join(words[i : i + _SHINGLE_WORDS]))
            for i in range(len(words) - _SHINGLE_WORDS + 1)]  # fmt: skip


def _new_passages(runs: list[int], covered: set[int]) -> int:
    """How many of the page's 8-grams are in runs of at least 8 in a row found nowhere else."""
    total = streak = 0
    for run in [*runs, None]:
        if run is not None and run not in covered:
            streak += 1
            continue
        total += streak if streak >= _SHINGLE_WORDS else 0
        streak = 0
    return total


def find_duplicates(texts: dict[str, str]) -> list[Duplicate]:
    """Pages whose text is at least DUPLICATE_SHARE held by pages kept before them that are
    themselves at least DUPLICATE_SHARE inside it, with no passage of their own. Smaller
    pages are kept first (then by name), so a print-all page that repeats every chapter is
    the one skipped, and of two copies the first by name stays. Pages generated from one
    template (command references sharing their flag lists) each keep their own text."""
    sequences = {source: shingles(text) for source, text in texts.items()}
    sets = {source: set(runs) for source, runs in sequences.items()}
    owner: dict[int, str] = {}
    found = []
    for source in sorted(sets, key=lambda s: (len(sets[s]), s)):
        runs = sets[source]
        if not runs:
            continue
        holders: dict[str, int] = {}
        for run in runs:
            if run in owner:
                holders[owner[run]] = holders.get(owner[run], 0) + 1
        if sum(holders.values()) >= DUPLICATE_SHARE * len(runs):
            # Only pages that are themselves inside this one count: a print-all page holds
            # each chapter whole, a copy its original; a page that shares a template's
            # boilerplate with many others holds none of them whole.
            inside = [h for h in holders if len(sets[h] & runs) >= DUPLICATE_SHARE * len(sets[h])]
            covered = runs & set().union(*(sets[h] for h in inside)) if inside else set()
            share = len(covered) / len(runs)
            if share >= DUPLICATE_SHARE and _new_passages(sequences[source], covered) <= _NEW_RUNS:
                ranked = sorted(inside, key=lambda s: (-len(sets[s] & runs), s))
                found.append(Duplicate(source, ranked, share))
                continue
        for run in runs:
            owner.setdefault(run, source)
    return found


async def skip_duplicates(session: AsyncSession, report: SyncReport, known: set[str]) -> None:
    """Take this run's near-duplicate pages out of the index (from the indexed chunks' text,
    so unchanged pages are not read again) and list them in `report.duplicates`. A skipped
    page is not stored: it is read again at the next run, and indexed once the pages that
    hold its text change or go."""
    sources = [*report.added, *report.updated, *report.unchanged]
    if len(sources) < 2 or not (report.added or report.updated):
        return  # no new text: what was kept before is kept (a skipped page is always new)
    await _skip(session, report, known, sources, droppable=None)


async def skip_duplicate_uploads(session: AsyncSession, report: SyncReport) -> None:
    """An upload's near-duplicate pages, skipped as a folder sync skips them: compared with
    every page the tenant has indexed. Only the uploaded pages may be skipped; an upload
    never takes out a page indexed before (one that holds an uploaded page stays, and the
    uploaded page with it)."""
    uploaded = {*report.added, *report.updated}
    if uploaded:
        await _skip(session, report, set(report.updated), None, droppable=uploaded)


async def _skip(
    session: AsyncSession,
    report: SyncReport,
    known: set[str],
    sources: list[str] | None,
    *,
    droppable: set[str] | None,
) -> None:
    """Take the near-duplicates among `sources` (None: every page) out of the index, those in
    `droppable` only when it is given, and list them in `report.duplicates`."""
    query = (
        select(Document.source, Chunk.text)
        .join(Chunk, Chunk.document_id == Document.id)
        .order_by(Document.source, Chunk.ordinal)
    )
    if sources is not None:
        query = query.where(Document.source.in_(sources))
    texts: dict[str, list[str]] = {}
    for source, text in await session.execute(query):
        texts.setdefault(source, []).append(text)
    found = await asyncio.to_thread(find_duplicates, {s: "\n".join(t) for s, t in texts.items()})
    if droppable is not None:
        found = [d for d in found if d.source in droppable]
    skipped = {d.source for d in found}
    for duplicate in found:
        await remove_source(session, duplicate.source)
        report.dropped += duplicate.source in known
    for name in ("added", "updated", "unchanged"):
        setattr(report, name, [s for s in getattr(report, name) if s not in skipped])
    report.quarantined[:] = [q for q in report.quarantined if q.source not in skipped]
    report.duplicates.extend(found)


async def refresh_index(
    session: AsyncSession,
    embedder: Embedder | None,
    *,
    changed: bool,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed chunks that have no vector (all of them after a model change) and bump the
    tenant's index version when anything changed. Returns how many chunks were embedded."""
    record = await index_record(session)
    if record is None:
        record = KnowledgeIndex(embedding_model="", dimension=0, version=0)
        session.add(record)
    if await rescreen(session):
        changed = True
    embedded = 0
    if embedder is not None:
        if record.embedding_model != embedder.name or record.dimension != embedder.dimension:
            await session.execute(update(Chunk).values(embedding=None))  # a new model: re-embed
            record.embedding_model, record.dimension = embedder.name, embedder.dimension
            changed = True
        pending = (
            await session.execute(
                select(
                    Chunk.id,
                    Chunk.ordinal,
                    Chunk.title,
                    Chunk.heading,
                    Chunk.text,
                    Chunk.document_id,
                )
                .where(Chunk.embedding.is_(None), Chunk.quarantine.is_(None))
                .order_by(Chunk.id)
            )
        ).all()
        paths = await _section_paths(session, {r.document_id for r in pending})
        for start in range(0, len(pending), batch):
            rows = pending[start : start + batch]
            texts = [
                embedding_text(
                    r.title, r.heading, paths.get((r.document_id, r.ordinal), []), r.text
                )
                for r in rows
            ]
            vectors = await asyncio.to_thread(embedder.embed, texts)
            for row, vector in zip(rows, vectors, strict=True):
                await session.execute(
                    update(Chunk).where(Chunk.id == row.id).values(embedding=to_bytes(vector))
                )
            embedded += len(rows)
            if progress:
                progress(embedded, len(pending))
    if changed or embedded:
        record.version += 1
        record.updated_at = utcnow()
    await session.flush()
    return embedded


async def _section_paths(
    session: AsyncSession, documents: set[str]
) -> dict[tuple[str, int], list[str]]:
    """(document id, chunk ordinal) -> the headings above the chunk's own, for `documents`."""
    found: dict[tuple[str, int], list[str]] = {}
    ids = sorted(documents)
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(Document.id, Document.meta).where(Document.id.in_(ids[start : start + 500]))
        )
        for document_id, meta in rows:
            for ordinal, path in ((meta or {}).get(SECTION_PATHS) or {}).items():
                found[(document_id, int(ordinal))] = [str(p) for p in path]
    return found


async def index_stats(session: AsyncSession) -> dict[str, Any]:
    record = await index_record(session)
    documents = await session.scalar(select(func.count()).select_from(Document))
    chunks = await session.scalar(select(func.count()).select_from(Chunk))
    held = await session.scalar(
        select(func.count()).select_from(Chunk).where(Chunk.quarantine.is_not(None))
    )
    return {
        "documents": documents or 0,
        "chunks": chunks or 0,
        "quarantined": held or 0,
        "embedding_model": record.embedding_model if record else "",
        "version": record.version if record else 0,
    }
