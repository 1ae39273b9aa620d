"""`frontdesk kb ...`: lint, ingest and search the knowledge base."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from frontdesk.cli.common import err, fail, friendly, out
from frontdesk.config.settings import ParsingSettings, Settings
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import ConfigError
from frontdesk.knowledge.lint import lint_folder
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

kb_app = typer.Typer(help="The knowledge base: lint, ingest, search.", no_args_is_help=True)

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace.")
]
TenantOption = Annotated[str | None, typer.Option(help="Tenant slug (default: the workspace's).")]


async def _open(workspace: Path, tenant: str | None) -> tuple[Settings, Database, str]:
    # The runtime module loads the models' libraries: imported when a command runs, so that
    # `frontdesk --help` stays quick.
    from frontdesk.orchestration.runtime import open_database

    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    db = await open_database(ws, settings)
    row = await ensure_tenant(db, tenant or settings.tenant)
    return settings, db, row.id


def _shown(path: Path) -> str:
    """A path as the operator can open it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _parsing(workspace: Path) -> ParsingSettings:
    """The workspace's file-reading limits; the defaults (and environment) outside one."""
    try:
        return load_settings(Workspace.at(workspace)).knowledge.parsing
    except ConfigError:
        return Settings().knowledge.parsing


@kb_app.command("lint")
@friendly
def lint(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of atoms (default: the workspace's knowledge/).")
    ] = None,
    workspace: WorkspaceOption = Path("."),
    max_tokens: Annotated[int, typer.Option(help="Chunk budget for an atom's body.")] = 1000,
) -> None:
    """Check a knowledge folder as `kb ingest` would read it: files it would reject, atoms'
    metadata, related titles, duplicates, FAQ pairs, size. Exit 1 on errors or no files."""
    from frontdesk.knowledge.ingest import ATOM_SUFFIXES, list_source_files

    target = folder or Workspace.at(workspace).knowledge_dir
    if not target.is_dir():
        raise fail(f"{target}: not a folder")
    files = list_source_files(target)
    if not files:
        raise fail(f"{target}: no files to check (kb ingest would index nothing)")
    findings = lint_folder(target, max_body_tokens=max_tokens, parsing=_parsing(workspace))
    styles = {"error": "red", "warning": "yellow", "info": "cyan"}
    for finding in findings:
        out.print(str(finding), style=styles[finding.severity], highlight=False, markup=False,
                  soft_wrap=True)  # fmt: skip
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = sum(1 for f in findings if f.severity == "warning")
    skipped = {f.path for f in findings if f.severity == "info" and f.rejected}  # not documents
    duplicates = {f.path for f in findings if f.code == "duplicate"}  # kb ingest skips them
    documents = {f.path for f in findings if f.severity == "info" and not f.rejected}
    rejected = len({f.path for f in findings if f.rejected} - skipped)
    atoms = sum(1 for p in files if p.suffix.lower() in ATOM_SUFFIXES) - sum(
        1 for p in skipped | documents if p.suffix.lower() in ATOM_SUFFIXES
    )
    out.print(f"{atoms} atoms checked: {errors} errors, {warnings} warnings", highlight=False)
    if documents:
        out.print(f"{len(documents)} plain documents (info: what an atom would add)",
                  highlight=False)  # fmt: skip
    not_read = f", {len(skipped)} not documents (not read)" if skipped else ""
    not_read += f", {len(duplicates)} near-duplicates skipped" if duplicates else ""
    indexed = len(files) - rejected - len(skipped) - len(duplicates)
    out.print(f"{indexed} files would be indexed, {rejected} rejected{not_read}",
              highlight=False)  # fmt: skip
    if errors:
        raise typer.Exit(1)


@kb_app.command("ingest")
@friendly
def ingest(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder to index (default: the workspace's knowledge/).")
    ] = None,
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
    allow_rejects: Annotated[
        bool,
        typer.Option(
            "--allow-rejects",
            help="Exit 0 even if some files were rejected (they are still listed). A run that "
            "indexes nothing still exits 1.",
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option(hidden=True, help="Accepted for old scripts: rejects always fail.")
    ] = False,
) -> None:
    """Index a folder: new and changed files in, deleted ones out, unchanged ones skipped.
    Passages the knowledge screen holds back (instructions to the assistant, requests for a
    customer's secrets, hidden text) are listed as quarantined: indexed, never used.

    Exit 1 when a file was rejected (each is listed once, file:line and why; the good files
    are indexed all the same) or when nothing was indexed; --allow-rejects accepts the first.
    """
    from frontdesk.knowledge.ingest import SyncReport, index_stats, list_source_files
    from frontdesk.orchestration.runtime import load_embedder, load_registries, sync_knowledge

    del strict  # the default now
    shown = folder or Workspace.at(workspace).knowledge_dir
    if not shown.is_dir():
        raise fail(f"{shown.resolve()}: not a folder")
    target = shown.resolve()
    total = len(list_source_files(target))
    if not total:
        raise fail(f"{_shown(shown)}: no files to index (the folder is empty); nothing changed")
    prefix = f"{target.name}/"

    async def go() -> tuple[SyncReport, dict[str, object]]:
        settings, db, tenant_id = await _open(workspace, tenant)
        try:
            ws = Workspace.at(workspace)
            embedder, status = load_embedder(load_registries(), settings)
            if embedder is None:
                err.print(f"note: keyword index only, embeddings {status}")
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err, transient=False) as progress:
                files = progress.add_task("files", total=total)
                vectors = progress.add_task("embeddings", total=None, visible=embedder is not None)

                def on_embedded(done: int, pending: int) -> None:
                    progress.update(vectors, completed=done, total=pending)

                report = await sync_knowledge(
                    db,
                    tenant_id,
                    ws,
                    settings,
                    embedder=embedder,
                    folder=target,
                    prefix=prefix,
                    progress=lambda _name: progress.advance(files),
                    embed_progress=on_embedded,
                    log_rejects=False,  # listed below, once each
                )
            async with db.session(tenant_id) as session:
                stats = await index_stats(session)
            return report, stats
        finally:
            await db.dispose()

    report, stats = asyncio.run(go())
    counts = ", ".join(
        f"{len(getattr(report, k))} {k}" for k in ("added", "updated", "unchanged", "removed")
    )
    out.print(f"{counts}; {report.embedded} chunks embedded", highlight=False)
    out.print(
        f"index: {stats['documents']} documents, {stats['chunks']} chunks "
        f"({stats['quarantined']} quarantined), "
        f"model {stats['embedding_model'] or 'none'}, version {stats['version']}",
        highlight=False,
    )
    for rejection in report.rejected:
        where = _shown(shown / rejection.source.removeprefix(prefix))
        where += f":{rejection.line}" if rejection.line else ""
        kept = " (its earlier version stays indexed)" if rejection.kept_previous else ""
        err.print(f"rejected: {where}: {rejection.reason} [{rejection.code}]{kept}",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    if any(r.code in {"invalid_front_matter", "invalid_metadata"} for r in report.rejected):
        err.print(f"(check atoms before indexing: frontdesk kb lint {_shown(shown)})",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    for held in report.quarantined:
        where = _shown(shown / held.source.removeprefix(prefix))
        where += f":{held.line}" if held.line else ""
        err.print(f"quarantined: {where}: {held.code}: {held.reason} (indexed, never used in "
                  "answers)", markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    for duplicate in report.duplicates:
        names = [_shown(shown / s.removeprefix(prefix)) for s in duplicate.of]
        others = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.print(f"skipped: {_shown(shown / duplicate.source.removeprefix(prefix))}: a near-"
                  f"duplicate ({duplicate.share:.0%} of its text is in {others})", markup=False,
                  highlight=False, soft_wrap=True)  # fmt: skip
    if report.not_read:
        kinds = Counter(why for _, why in report.not_read)
        ranked = sorted(kinds.items(), key=lambda kind: (-kind[1], kind[0]))
        listed = ", ".join(f"{why} {n}" for why, n in ranked)
        out.print(f"not read: {len(report.not_read)} files that are not documents ({listed})",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    out.print(f"{report.indexed} files indexed ({len(report.unchanged)} unchanged), "
              f"{len(report.duplicates)} skipped as duplicates, {len(report.not_read)} not "
              f"documents, {len(report.rejected)} rejected, {len(report.quarantined)} "
              "quarantined", highlight=False, soft_wrap=True)  # fmt: skip
    if report.quarantined:
        files = len({q.source for q in report.quarantined})
        out.print(f"{len(report.quarantined)} passage finding(s) in {files} file(s) quarantined "
                  "(see docs/security.md)", highlight=False)  # fmt: skip
    if not report.indexed:
        raise fail(f"nothing was indexed from {_shown(shown)}")
    if report.rejected and not allow_rejects:
        raise fail(
            f"{len(report.rejected)} file(s) rejected; the others are indexed. Fix them, "
            "or pass --allow-rejects to accept a run with rejected files"
        )


@kb_app.command("search")
@friendly
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(min=1, max=50)] = 5,
    doc_type: Annotated[list[str] | None, typer.Option("--type", help="Only these types.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Only atoms with one of these tags.")
    ] = None,
    width: Annotated[
        int,
        typer.Option(help="Show about this many characters of each passage (0: all of it)."),
    ] = 0,
) -> None:
    """Ranked passages for a query: each with its score, source (file and section) and
    text, the query's words highlighted on a terminal (plain when piped)."""
    from frontdesk.orchestration.runtime import build_retriever, load_embedder, load_registries
    from frontdesk.types import Passage

    async def go() -> list[Passage]:
        settings, db, tenant_id = await _open(workspace, tenant)
        try:
            registries = load_registries()
            embedder, _ = (
                load_embedder(registries, settings)
                if settings.knowledge.retriever == "hybrid"
                else (None, "")
            )
            retriever = build_retriever(registries, settings, db, embedder)
            return await retriever.search(
                tenant_id, query, limit=limit, doc_types=doc_type or (), tags=tag or ()
            )
        finally:
            await db.dispose()

    passages = asyncio.run(go())
    if not passages:
        out.print("no results")
        return
    terms = _terms(query)
    for n, passage in enumerate(passages, start=1):
        where = passage.source
        section = passage.heading if passage.heading and passage.heading != passage.title else ""
        head = Text(f"{n}. ", style="bold")
        head.append(f"{passage.score:.4f}", style="cyan")
        head.append(f"  {where}", style="green")
        head.append(f"  {passage.title}" + (f" \u203a {section}" if section else ""), style="bold")
        if passage.doc_type and passage.doc_type != "document":
            head.append(f"  [{passage.doc_type}]", style="dim")
        out.print(head, soft_wrap=True)
        out.print(_highlighted(_excerpt(passage.text, terms, width), terms), soft_wrap=True)
        out.print()


_WORD = re.compile(r"\w+")
_STOP = frozenset("a an and are at be by can do does for from how i in is it my of on or the "
                  "to what when where which who why with you your".split())  # fmt: skip


def _terms(query: str) -> list[str]:
    """The query's words worth marking (not "the", "how"...), longest first."""
    words = {w.lower() for w in _WORD.findall(query) if w.lower() not in _STOP and len(w) > 1}
    return sorted(words, key=lambda w: (-len(w), w))


def _term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # A word and its forms: "refund" marks "refunds" and "refunded" (a prefix of the word).
    stems = [re.escape(t[:-1] if len(t) > 4 and t.endswith("s") else t) for t in terms]
    return re.compile(r"\b(?:" + "|".join(stems) + r")\w*", re.IGNORECASE)


def _excerpt(text: str, terms: list[str], width: int) -> str:
    """The passage, or with --width N about N characters of it around its first matched word."""
    text = text.strip()
    if width <= 0:
        return text
    text = " ".join(text.split())  # one line
    if len(text) <= width:
        return text
    pattern = _term_pattern(terms)
    found = pattern.search(text) if pattern else None
    start = max(0, (found.start() if found else 0) - width // 4)
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = text.find(" ", start + width)
    end = len(text) if end < 0 else end
    return ("\u2026" if start else "") + text[start:end] + ("\u2026" if end < len(text) else "")


def _highlighted(text: str, terms: list[str]) -> Text:
    shown = Text(text)
    pattern = _term_pattern(terms)
    if pattern is not None:
        shown.highlight_regex(pattern, style="bold yellow")
    return shown


def register(app: typer.Typer) -> None:
    """Add the knowledge-base commands to the main app (called once from `frontdesk.cli.main`)."""
    app.add_typer(kb_app, name="kb")
