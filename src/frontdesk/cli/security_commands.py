"""`frontdesk users create|list|disable|enable` (console sign-in), `frontdesk keys
list|revoke|rotate`, `frontdesk privacy purge` (retention, for cron when the API process is
not the one running it) and `frontdesk privacy pseudonym` (what access logs show for a
value)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from frontdesk.cli.common import err, fail, friendly, out, tenant_for_cli
from frontdesk.storage.db import Database

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace directory."),
]

users_app = typer.Typer(help="Console users (agents, admins, operators).", no_args_is_help=True)
privacy_app = typer.Typer(help="Privacy operations.", no_args_is_help=True)


@users_app.command("create")
@friendly
def users_create(
    email: Annotated[str, typer.Option(help="The user's e-mail (their sign-in name).")],
    workspace: WorkspaceOption = Path("."),
    role: Annotated[str, typer.Option(help="agent, admin or operator.")] = "agent",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    tenant: Annotated[
        str | None, typer.Option(help="Tenant slug (a configured one). Default: the workspace's.")
    ] = None,
    new_tenant: Annotated[
        bool, typer.Option("--new-tenant", help="Create the tenant if it does not exist.")
    ] = False,
) -> None:
    """Create a console user. The password comes from $FRONTDESK_PASSWORD or a prompt."""
    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.storage import migrate
    from frontdesk.storage.users import Role, create_user

    try:
        user_role = Role(role)
    except ValueError:
        raise fail(f"unknown role {role!r}; expected agent, admin or operator") from None
    password = os.environ.get("FRONTDESK_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    slug = tenant or settings.tenant

    async def go() -> str:
        ws.state_dir  # noqa: B018 - the default SQLite folder
        db = Database(settings.resolved_database_url(ws.root))
        try:
            await migrate.upgrade(db)
            row = await tenant_for_cli(db, settings, slug, new=new_tenant)
            user = await create_user(db, row.id, email=email, password=password,
                                     role=user_role, name=name, actor="cli")  # fmt: skip
            return user.id
        finally:
            await db.dispose()

    user_id = asyncio.run(go())
    err.print(f"{user_role.value} {email.strip().lower()} created for tenant '{slug}'")
    out.print(user_id, highlight=False)


def _run_for_tenant(workspace: Path, tenant: str | None, work: Any) -> Any:
    """Run `work(db, tenant_id)` against the workspace's database for a known tenant."""
    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.storage import migrate

    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    slug = tenant or settings.tenant

    async def go() -> Any:
        ws.state_dir  # noqa: B018 - the default SQLite folder
        db = Database(settings.resolved_database_url(ws.root))
        try:
            await migrate.upgrade(db)
            row = await tenant_for_cli(db, settings, slug, new=False)
            return await work(db, row.id)
        finally:
            await db.dispose()

    return asyncio.run(go())


TenantOption = Annotated[
    str | None, typer.Option(help="Tenant slug (a configured one). Default: the workspace's.")
]


@users_app.command("list")
@friendly
def users_list(workspace: WorkspaceOption = Path("."), tenant: TenantOption = None) -> None:
    """The tenant's console users: id, e-mail, role, and whether disabled."""
    from frontdesk.storage.users import list_users

    for user in _run_for_tenant(workspace, tenant, list_users):
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        out.print(f"{user.id}  {user.email}  {user.role}  {state}", highlight=False)


def _change_user(workspace: Path, tenant: str | None, user: str, change: Any) -> str:
    """Find the user by e-mail or id in the tenant and apply `change` (disable_user or
    enable_user) as the CLI; their e-mail, or a readable failure."""
    from frontdesk.storage.users import find_user

    async def work(db: Database, tenant_id: str) -> str | None:
        found = await find_user(db, tenant_id, user)
        if found is None:
            return None
        await change(db, tenant_id, found.id, actor="cli")
        return found.email

    email: str | None = _run_for_tenant(workspace, tenant, work)
    if email is None:
        raise fail(f"no user {user!r} in this tenant; `frontdesk users list` shows them")
    return email


@users_app.command("disable")
@friendly
def users_disable(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
) -> None:
    """Disable a console user: their sessions end now, and they cannot sign in again."""
    from frontdesk.storage.users import disable_user

    email = _change_user(workspace, tenant, user, disable_user)
    err.print(f"{email} is disabled; their console and API sessions have ended")


@users_app.command("enable")
@friendly
def users_enable(
    user: Annotated[str, typer.Argument(help="The user's e-mail or id.")],
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
) -> None:
    """Let a disabled console user sign in again."""
    from frontdesk.storage.users import enable_user

    email = _change_user(workspace, tenant, user, enable_user)
    err.print(f"{email} can sign in again")


def keys_list(workspace: WorkspaceOption = Path("."), tenant: TenantOption = None) -> None:
    """The tenant's API keys: id, prefix, scope, name, and whether revoked."""
    from frontdesk.storage.api_keys import is_revoked, list_keys

    for key in _run_for_tenant(workspace, tenant, list_keys):
        if key.revoked_at is None:
            state = "active"
        elif is_revoked(key):
            state = f"revoked {key.revoked_at:%Y-%m-%d}"
        else:  # rotated, in its grace
            state = f"active until {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        out.print(f"{key.id}  fd_{key.prefix}  {key.scope}  {key.name!r}  {state}", highlight=False)


def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id, its prefix (fd_<prefix>) or the key.")],
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    from frontdesk.storage.api_keys import revoke_key

    async def work(db: Database, tenant_id: str) -> bool:
        return await revoke_key(db, tenant_id, key, actor="cli")

    if not _run_for_tenant(workspace, tenant, work):
        raise fail(f"no key {key!r} in this tenant; `frontdesk keys list` shows them")
    err.print("the key is revoked")


def keys_rotate(
    key: Annotated[str, typer.Argument(help="The key's id, its prefix (fd_<prefix>) or the key.")],
    workspace: WorkspaceOption = Path("."),
    tenant: TenantOption = None,
    grace: Annotated[
        float,
        typer.Option(min=0, help="Seconds the old key keeps working (at most 30 days)."),
    ] = 0.0,
) -> None:
    """Replace an API key with a new one of the same name and scope, printed once; the old key
    is refused from the next request on, or after --grace seconds."""
    from frontdesk.storage.api_keys import MAX_ROTATION_GRACE_S, rotate_key

    if grace > MAX_ROTATION_GRACE_S:
        raise fail(f"--grace is at most {MAX_ROTATION_GRACE_S} seconds (30 days)")

    async def work(db: Database, tenant_id: str) -> Any:
        return await rotate_key(db, tenant_id, key, grace_s=grace, actor="cli")

    rotated = _run_for_tenant(workspace, tenant, work)
    if rotated is None:
        raise fail(f"no key {key!r} in this tenant; `frontdesk keys list` shows them")
    old = (
        f"the old one works until {rotated.replaced_until:%Y-%m-%d %H:%M:%S} UTC"
        if grace
        else "the old one is refused from now on"
    )
    err.print(f"new key for {rotated.name!r}, scope {rotated.issued.scope.value} (shown once); "
              f"{old}:")  # fmt: skip
    out.print(rotated.issued.token, highlight=False, soft_wrap=True)


@privacy_app.command("pseudonym")
@friendly
def privacy_pseudonym(
    value: Annotated[str, typer.Argument(help="A customer ref, conversation id or e-mail.")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """The pseudonym access logs show for a value, to search them for it. Keyed with this
    installation's secret (.frontdesk/log-key), so nobody without it can compute one."""
    from frontdesk.config.workspace import Workspace
    from frontdesk.observability.logs import pseudonym, pseudonym_key, use_pseudonym_key

    use_pseudonym_key(pseudonym_key(Workspace.at(workspace).state_dir))
    out.print(pseudonym(value), highlight=False)


@privacy_app.command("purge")
@friendly
def privacy_purge(workspace: WorkspaceOption = Path(".")) -> None:
    """Delete conversations older than each tenant's retention period, now."""
    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.jobs import JobRunner
    from frontdesk.jobs.retention import submit_purges
    from frontdesk.storage import migrate

    ws = Workspace.at(workspace)
    settings = load_settings(ws)

    async def go() -> list[str]:
        ws.state_dir  # noqa: B018
        db = Database(settings.resolved_database_url(ws.root))
        try:
            await migrate.upgrade(db)
            jobs = JobRunner(db)
            ids = await submit_purges(db, jobs, settings)
            await jobs.drain()
            results = []
            for job_id in ids:
                job = await _job(db, job_id)
                results.append(f"{job_id}: {job}")
            return results
        finally:
            await db.dispose()

    lines = asyncio.run(go())
    if not lines:
        err.print("no tenant has a retention period (privacy.retention_days)")
    for line in lines:
        out.print(line, highlight=False)


async def _job(db: Database, job_id: str) -> str:
    from sqlalchemy import select

    from frontdesk.storage.models import Job

    async with db.unscoped_session() as session:
        job = await session.scalar(select(Job).where(Job.id == job_id))
    if job is None:
        return "missing"
    return f"{job.status} {job.result or job.error}"


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(privacy_app, name="privacy")
    keys_app.command("list")(friendly(keys_list))
    keys_app.command("revoke")(friendly(keys_revoke))
    keys_app.command("rotate")(friendly(keys_rotate))
