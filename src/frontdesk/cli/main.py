"""`frontdesk` CLI (Typer). User mistakes end in one readable line and a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from frontdesk.cli.common import err, fail, friendly, out, tenant_for_cli
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import FrontdeskError, install_extra

app = typer.Typer(
    name="frontdesk",
    help="Self-hosted support assistant: serve it, chat with it, manage its workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

T = TypeVar("T")

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="FRONTDESK_WORKSPACE",
        help="Workspace directory (frontdesk.yaml, knowledge/, nlu/, rules.yaml).",
    ),
]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@app.command()
@friendly
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")],
    force: Annotated[bool, typer.Option(help="Write into a non-empty directory.")] = False,
) -> None:
    """Create a new workspace from the demo (a parcel-delivery company)."""
    target = directory.expanduser()
    if target.exists() and any(target.iterdir()) and not force:
        raise fail(f"{target} exists and is not empty (use --force to write into it)")
    source = files("frontdesk") / "demo" / "workspace"
    with _as_path(source) as demo:
        shutil.copytree(demo, target, dirs_exist_ok=True)
    out.print(f"Created workspace [bold]{target}[/bold]. Next: frontdesk serve -w {target}")


@app.command()
@friendly
def serve(
    workspace: WorkspaceOption = Path("."),
    host: Annotated[
        str | None, typer.Option(help="Default: server.host in frontdesk.yaml.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Default: server.port in frontdesk.yaml.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes serving the address, each with its own models. Over 1 needs "
            "limits.storage_url in Redis. Default: server.workers in frontdesk.yaml (1).",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API and the chat page."""
    import importlib

    import uvicorn

    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    processes = workers or settings.server.workers
    # By name, like uvicorn's app: the CLI does not import the API package.
    serving = importlib.import_module("frontdesk.api.serving") if processes > 1 else None
    if serving is not None:  # before anything slow: the limits must be shared
        serving.check_shared_limits(settings, processes, ws.root / "frontdesk.yaml")
    # A busy port is said at once, not after the models have loaded.
    busy = _cannot_bind(bind_host, bind_port)
    if busy:
        raise fail(
            f"cannot serve on http://{bind_host}:{bind_port}: {busy} "
            "(another server holds the port: stop it, or pick another with --port N)"
        )
    if serving is not None:
        # Migrations, knowledge sync, training, the page's key: once, not by each worker, and
        # in a process of its own, so this one (which only watches the workers) never
        # imports the models.
        serving.prepare_in_child(ws.root)
        where = f"http://{bind_host}:{bind_port} with {processes} workers"
        out.print(f"frontdesk serving {ws.root} on {where}  (docs: /docs)",
                  soft_wrap=True, highlight=False)  # fmt: skip
        code = serving.serve_workers(ws.root, bind_host, bind_port, processes,
                                     _log_config(pid=True), SHUTDOWN_GRACE_S)  # fmt: skip
        raise typer.Exit(code)
    # Fail on bad configuration here, with a readable line, before the server starts.
    from frontdesk.orchestration.runtime import open_runtime

    async def preflight() -> None:
        # Opened and closed in one event loop: asyncpg's connections belong to the loop
        # that made them (closing them from another logged a traceback at every start).
        runtime = await open_runtime(ws.root)
        await runtime.close()

    run_async(preflight())
    os.environ["FRONTDESK_WORKSPACE"] = str(ws.root)
    out.print(f"frontdesk serving {ws.root} on http://{bind_host}:{bind_port}  (docs: /docs)",
              soft_wrap=True, highlight=False)  # fmt: skip
    uvicorn.run(
        "frontdesk.api.app:create_app_from_env",
        factory=True,
        host=bind_host,
        port=bind_port,
        log_level="info",
        log_config=_log_config(),
        # Ctrl-C: requests still running get this long to finish, then the server stops
        # anyway (the console's event streams end at once: api/stopping.py).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


# The app answers requests still running 4 s after the signal with 503 shutting_down
# (api/stopping.CUTOFF_S), so that none is left for the server to cancel at 5 s.
SHUTDOWN_GRACE_S = 5


def _cannot_bind(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (taken, not this machine's), or None."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            return None
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def _log_config(*, pid: bool = False) -> dict[str, Any]:
    """uvicorn's logging, plus frontdesk's own INFO lines (a swapped model, say) beside it.
    `pid`: each line starts with its process id (several workers write to one log)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    if pid:
        config["formatters"] = {
            name: {**formatter, "fmt": "[%(process)d] " + formatter["fmt"]}
            for name, formatter in LOGGING_CONFIG["formatters"].items()
        }
    config["loggers"]["frontdesk"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Access lines name no customer: ids and addresses in URLs become pseudonyms.
    config["filters"] = {"identifiers": {"()": "frontdesk.observability.logs.AccessLogFilter"}}
    config["handlers"] = {**LOGGING_CONFIG["handlers"]}
    config["handlers"]["access"] = {**config["handlers"]["access"], "filters": ["identifiers"]}
    return config


@app.command()
@friendly
def worker(
    workspace: WorkspaceOption = Path("."),
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs at once (processes).")] = 1,
) -> None:
    """Run the workspace's jobs (uploads, re-indexes, retrains, purges) from the Celery
    broker in jobs.broker_url, as a worker; start any number, anywhere that reaches the
    database, the broker and the workspace folder."""
    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    if settings.jobs.broker_url is None:
        raise fail(
            f"{ws.root / 'frontdesk.yaml'}: jobs.broker_url is not set, so the server runs its "
            "jobs itself and there is nothing for a worker to do"
        )
    try:
        from celery.utils.imports import symbol_by_name
    except ImportError:
        raise fail(f"workers need Celery: {install_extra('celery')}") from None
    os.environ["FRONTDESK_WORKSPACE"] = str(ws.root)
    # By name, like uvicorn's app: the CLI does not import the API package.
    celery = symbol_by_name("frontdesk.api.worker:app_from_env")()
    out.print(f"frontdesk worker for {ws.root}, jobs from {settings.jobs.broker_url}")
    celery.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}",
                        "--queues=frontdesk-jobs"])  # fmt: skip


@app.command()
@friendly
def chat(
    workspace: WorkspaceOption = Path("."),
    show_details: Annotated[
        bool, typer.Option("--details/--no-details", help="Show intent, route and sources.")
    ] = True,
) -> None:
    """Talk to the assistant in the terminal (type 'exit' or press Ctrl-D to leave)."""
    from frontdesk.orchestration.runtime import open_runtime
    from frontdesk.storage.conversations import create_conversation
    from frontdesk.types import Action, Channel, InboundMessage

    async def session() -> None:
        runtime = await open_runtime(workspace)
        try:
            async with runtime.db.session(runtime.tenant.id) as db_session:
                conversation = await create_conversation(db_session, channel=Channel.CLI.value)
                await db_session.commit()
            out.print(f"[bold]{runtime.settings.assistant.name}[/bold]: "
                      f"{runtime.settings.assistant.greeting}")  # fmt: skip
            while True:
                try:
                    text = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
                if text.strip().lower() in {"exit", "quit"}:
                    break
                if not text.strip():
                    continue
                reply = await runtime.assistant.handle(
                    InboundMessage(
                        tenant_id=runtime.tenant.id,
                        conversation_id=conversation.id,
                        text=text,
                        channel=Channel.CLI,
                    )
                )
                out.print(f"[bold]{runtime.settings.assistant.name}[/bold]: {reply.text}",
                          highlight=False)  # fmt: skip
                if show_details:
                    for citation in reply.citations:
                        out.print(f"  [{citation.n}] {citation.title} ({citation.source})",
                                  style="dim", highlight=False, markup=False)  # fmt: skip
                    route = reply.route
                    where = (
                        f"{route.action.value}"
                        + (f" -> {route.team}" if route and route.team else "")
                        if route
                        else "-"
                    )
                    out.print(
                        f"  intent={reply.intent} confidence={reply.confidence} route={where}",
                        style="dim", highlight=False, markup=False,
                    )  # fmt: skip
                    if route is not None and route.action is not Action.ANSWER:
                        # Why it did not simply answer: the rule and its reasons.
                        out.print(f"  rule={route.rule!r}: {route.reason}", style="dim",
                                  highlight=False, markup=False)  # fmt: skip
        finally:
            await runtime.close()

    run_async(session())


def _migrate(workspace: Path, step: Callable[[Any], Awaitable[None]] | None = None) -> str | None:
    """Open the workspace's database, apply `step` (if any), return the revision it is at."""
    from frontdesk.storage import migrate

    async def go() -> str | None:
        db = _database(workspace)
        try:
            if step is not None:
                await step(db)
            return await migrate.current_revision(db)
        finally:
            await db.dispose()

    return run_async(go())


@db_app.command("upgrade")
@friendly
def db_upgrade(
    workspace: WorkspaceOption = Path("."),
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply schema migrations up to a revision (default: the latest)."""
    from frontdesk.storage import migrate

    current = _migrate(workspace, lambda db: migrate.upgrade(db, revision))
    out.print(f"database at revision {current}")


@db_app.command("downgrade")
@friendly
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for empty.")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Revert schema migrations down to a revision."""
    from frontdesk.storage import migrate

    current = _migrate(workspace, lambda db: migrate.downgrade(db, revision))
    out.print(f"database at revision {current or 'base (empty)'}")


@db_app.command("current")
@friendly
def db_current(workspace: WorkspaceOption = Path(".")) -> None:
    """Show the database's schema revision."""
    from frontdesk.storage import migrate

    current = _migrate(workspace)
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind (latest is {head})"
    out.print(f"database at revision {current or 'none'}: {state}")


@keys_app.command("create")
@friendly
def keys_create(
    workspace: WorkspaceOption = Path("."),
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    scope: Annotated[str, typer.Option(help="widget, service or admin.")] = "service",
    tenant: Annotated[
        str | None,
        typer.Option(help="Tenant slug (a configured one). Default: the workspace's."),
    ] = None,
    new_tenant: Annotated[
        bool, typer.Option("--new-tenant", help="Create the tenant if it does not exist.")
    ] = False,
) -> None:
    """Create an API key. It is printed once; only its hash is stored."""
    from frontdesk.storage import migrate
    from frontdesk.storage.api_keys import Scope, create_key

    try:
        key_scope = Scope(scope)
    except ValueError:
        raise fail(f"unknown scope {scope!r}; expected one of: widget, service, admin") from None
    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    slug = tenant or settings.tenant

    async def go() -> str:
        db = _database(workspace)
        try:
            await migrate.upgrade(db)
            tenant_row = await tenant_for_cli(db, settings, slug, new=new_tenant)
            issued = await create_key(db, tenant_row.id, name=name, scope=key_scope, actor="cli")
            return issued.token
        finally:
            await db.dispose()

    token = run_async(go())
    err.print(f"API key for tenant '{slug}', scope {key_scope.value} (shown once):")
    out.print(token, highlight=False, soft_wrap=True)


def _database(workspace: Path) -> Any:
    from frontdesk.storage.db import Database

    ws = Workspace.at(workspace)
    ws.state_dir  # noqa: B018 - make sure the default SQLite folder exists
    return Database(load_settings(ws).resolved_database_url(ws.root))


class _as_path:
    """importlib.resources Traversable -> real directory (the package is installed as files)."""

    def __init__(self, traversable: Any) -> None:
        self.traversable = traversable

    def __enter__(self) -> Path:
        return Path(str(self.traversable))

    def __exit__(self, *exc: object) -> None:
        return None


# Imported here, after the app exists, so command modules may import from this one.
from frontdesk.cli import (  # noqa: E402
    evaluate_commands,
    import_commands,
    kb_commands,
    nlu_commands,
    ops_commands,
    retrain_commands,
    security_commands,
    test_commands,
    voice_commands,
)

kb_commands.register(app)
evaluate_commands.register(app)
import_commands.register(app)
nlu_commands.register(app)
ops_commands.register(app)
retrain_commands.register(app)
security_commands.register(app, keys_app)
test_commands.register(app)
voice_commands.register(app)


def run() -> None:
    # Every file frontdesk writes (database, trained models, reports, keys) is its owner's
    # only: they hold customers' words. The CLI is the process's entry, so it may set this.
    os.umask(0o077)
    try:
        app()
    except FrontdeskError as exc:  # raised outside a command body (option parsing callbacks)
        err.print(f"error: {exc.message}", markup=False)
        sys.exit(1)
