"""`frontdesk kb ...`: lint, ingest and search the knowledge base."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from frontdesk.cli.common import err, friendly, out
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import FrontdeskError
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


@kb_app.command("lint")
@friendly
def lint(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder of atoms (default: the workspace's knowledge/).")
    ] = None,
    workspace: WorkspaceOption = Path("."),
    max_tokens: Annotated[int, typer.Option(help="Chunk budget for an atom's body.")] = 1000,
) -> None:
    """Check atoms: metadata, related titles, duplicates, FAQ pairs, size. Exit 1 on errors."""
    target = folder or Workspace.at(workspace).knowledge_dir
    if not target.is_dir():
        err.print(f"error: {target}: not a folder")
        raise typer.Exit(1)
    findings = lint_folder(target, max_body_tokens=max_tokens)
    for finding in findings:
        style = "red" if finding.severity == "error" else "yellow"
        out.print(str(finding), style=style, highlight=False, markup=False)
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    files = len(list(target.rglob("*.md")))
    out.print(f"{files} atoms checked: {errors} errors, {warnings} warnings", highlight=False)
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
    strict: Annotated[bool, typer.Option(help="Exit 1 if any file was skipped.")] = False,
) -> None:
    """Index a folder: new and changed files in, deleted ones out, unchanged ones skipped."""
    from frontdesk.knowledge.ingest import SUPPORTED_SUFFIXES, index_stats
    from frontdesk.orchestration.runtime import load_embedder, load_registries, sync_knowledge

    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))

    async def go() -> tuple[dict[str, object], list[str], dict[str, object]]:
        settings, db, tenant_id = await _open(workspace, tenant)
        try:
            ws = Workspace.at(workspace)
            target = (folder or ws.knowledge_dir).resolve()
            if not target.is_dir():
                raise FrontdeskError(f"{target}: not a folder")
            embedder, status = load_embedder(load_registries(), settings)
            if embedder is None:
                err.print(f"note: keyword index only, embeddings {status}")
            total = sum(1 for p in target.rglob("*") if p.is_file() and not p.name.startswith("."))
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
                    progress=lambda _name: progress.advance(files),
                    embed_progress=on_embedded,
                )
            async with db.session(tenant_id) as session:
                stats = await index_stats(session)
            return report.as_dict(), report.errors, stats
        finally:
            await db.dispose()

    summary, errors, stats = asyncio.run(go())
    counts = ", ".join(
        f"{len(summary[k])} {k}"  # type: ignore[arg-type]
        for k in ("added", "updated", "unchanged", "removed")
    )
    out.print(f"{counts}; {summary['embedded']} chunks embedded", highlight=False)
    out.print(
        f"index: {stats['documents']} documents, {stats['chunks']} chunks, "
        f"model {stats['embedding_model'] or 'none'}, version {stats['version']}",
        highlight=False,
    )
    for error in errors:
        err.print(f"skipped: {error}", markup=False, highlight=False)
    if errors:
        err.print(f"(supported file types: {supported})", highlight=False)
    if errors and strict:
        raise typer.Exit(1)


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
) -> None:
    """Ranked passages for a query, with their scores."""
    from frontdesk.orchestration.runtime import build_retriever, load_embedder, load_registries

    async def go() -> list[tuple[float, str, str, str]]:
        settings, db, tenant_id = await _open(workspace, tenant)
        try:
            registries = load_registries()
            embedder, _ = (
                load_embedder(registries, settings)
                if settings.knowledge.retriever == "hybrid"
                else (None, "")
            )
            retriever = build_retriever(registries, settings, db, embedder)
            passages = await retriever.search(
                tenant_id, query, limit=limit, doc_types=doc_type or (), tags=tag or ()
            )
            return [(p.score, p.title, p.heading, p.source) for p in passages]
        finally:
            await db.dispose()

    rows = asyncio.run(go())
    if not rows:
        out.print("no results")
        return
    table = Table("#", "score", "title", "section", "source")
    for n, (score, title, heading, source) in enumerate(rows, start=1):
        table.add_row(str(n), f"{score:.4f}", title, heading, source)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the knowledge-base commands to the main app (called once from `frontdesk.cli.main`)."""
    app.add_typer(kb_app, name="kb")
