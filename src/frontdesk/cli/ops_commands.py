"""`frontdesk ops plan|show|list|approve|apply|rollback`: bulk changes to the workspace's
target system from the command line, the same plans the API serves (/v1/ops), for the
workspace's tenant. Approving names the operator or admin who approves (`--as EMAIL`).
`frontdesk ops setup` makes a starter configuration from a description (shown, zipped, or
proposed as a plan); `frontdesk ops chat` asks about failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from frontdesk.cli.common import friendly, out

T = TypeVar("T")

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace directory."),
]
PlanArg = Annotated[str, typer.Argument(help="The plan's id (from `frontdesk ops plan/list`).")]
AsOption = Annotated[
    str | None,
    typer.Option("--as", help="E-mail of the operator or admin doing it (audited)."),
]

ops_app = typer.Typer(
    help="Operations assistant: bulk changes to the target system as plans "
    "(plan, show, approve, apply, rollback), starter configurations (setup), and a "
    "troubleshooting chat (chat).",
    no_args_is_help=True,
)


def _run(workspace: Path, work: Callable[[Any, str], Awaitable[T]]) -> T:
    """Open the workspace's database and change plans, run `work(plans, tenant_id)`."""
    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.errors import ConfigError
    from frontdesk.ops.assembly import build_ops, ops_settings
    from frontdesk.storage import migrate
    from frontdesk.storage.db import Database
    from frontdesk.storage.tenants import ensure_tenant

    ws = Workspace.at(workspace)
    settings = load_settings(ws)

    async def go() -> T:
        ws.state_dir  # noqa: B018 - the default SQLite folder
        db = Database(settings.resolved_database_url(ws.root))
        try:
            await migrate.upgrade(db)
            tenant = await ensure_tenant(db, settings.tenant)
            plans = build_ops(ws, ops_settings(settings), db)
            if plans is None:
                raise ConfigError(
                    f"{ws.root} has no target system: add ops/target (as the demo has) or set "
                    "ops.target in frontdesk.yaml"
                )
            return await work(plans, tenant.id)
        finally:
            await db.dispose()

    return asyncio.run(go())


async def _actor(plans: Any, tenant_id: str, email: str | None) -> str:
    """`user:<id>` of an enabled operator or admin with that e-mail; `cli` without one."""
    if email is None:
        return "cli"
    from sqlalchemy import select

    from frontdesk.errors import PermissionDeniedError
    from frontdesk.storage.security_models import User
    from frontdesk.storage.users import Role

    async with plans.db.session(tenant_id) as session:
        user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.disabled_at is not None:
        raise PermissionDeniedError(f"no enabled user {email} in this workspace's tenant")
    if user.role not in (Role.OPERATOR.value, Role.ADMIN.value):
        raise PermissionDeniedError(f"{email} is {user.role}: only operators and admins can")
    return f"user:{user.id}"


def _ops_atoms(root: Path) -> list[Any]:
    """The workspace's ops knowledge atoms (ops/knowledge/*.md), as orchestration.ops_chat
    reads them, without importing orchestration: its package loads the assistant's model
    libraries (about 5 s of CPU), which a one-shot ops command does not need."""
    from frontdesk.knowledge.atoms import parse_atom
    from frontdesk.ops.troubleshoot import OpsAtom

    folder = root / "ops" / "knowledge"
    atoms = []
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        atom = parse_atom(path)
        atoms.append(OpsAtom(atom.meta.title, atom.meta.type, tuple(atom.meta.tags),
                             tuple(atom.meta.related), atom.body))  # fmt: skip
    return atoms


def _show(plan: Any, *, diff: bool = True) -> None:
    from frontdesk.ops.plans import plan_view

    view = plan_view(plan)
    out.print(f"plan {view['id']}  {view['status']}", highlight=False)
    out.print(f"request: {view['request']}", highlight=False, markup=False)
    selector = view["selector"]
    where = ", ".join(
        f"{k.lstrip('/').replace('|/', ' or ')} in {v}"
        for k, v in selector.get("where", {}).items()
    )
    parts = [f"kind {selector.get('kind')}"]
    if selector.get("ids"):
        parts.append("ids " + ", ".join(selector["ids"]))
    if where:
        parts.append(where)
    if selector.get("except"):
        parts.append("except " + ", ".join(selector["except"]))
    out.print("selector: " + "; ".join(parts), highlight=False, markup=False)
    out.print(f"elements ({len(view['elements'])}): {' '.join(view['elements'])}",
              highlight=False)  # fmt: skip
    patches = {json.dumps(p) for p in view["patches"].values()}
    if len(patches) == 1:
        out.print(f"patch: {patches.pop()}", highlight=False, markup=False)
    else:
        for element_id, patch in view["patches"].items():
            out.print(f"patch {element_id}: {json.dumps(patch)}", highlight=False, markup=False)
    invalid = {i: e for i, e in view["validation"].items() if e}
    out.print(f"valid: {len(view['validation']) - len(invalid)} of {len(view['validation'])}",
              highlight=False)  # fmt: skip
    for element_id, errors in invalid.items():
        out.print(f"  {element_id}: {'; '.join(errors)}", highlight=False, markup=False)
    if view["refusal_code"]:
        out.print(f"refused: {view['refusal_code']}: {view['refusal']}", highlight=False,
                  markup=False)  # fmt: skip
    if view["applied_version"] is not None:
        out.print(f"applied as version {view['applied_version']}", highlight=False)
    if view["rollback_version"] is not None:
        out.print(f"rolled back as version {view['rollback_version']}", highlight=False)
    if diff and view["diff"]:
        out.print(view["diff"], end="", highlight=False, markup=False, soft_wrap=True)


@ops_app.command("plan")
@friendly
def ops_plan(
    request: Annotated[str, typer.Argument(help="The change in words.")],
    workspace: WorkspaceOption = Path("."),
    as_: AsOption = None,
) -> None:
    """Make a change plan from a request, e.g. "move the cut-off to 18:30 for every depot in
    Leinster except D07". Exits 1 when the plan is refused (it is still kept and shown)."""

    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.orchestration.ops_chat import llm_interpreter, ops_llm

    async def work(plans: Any, tenant_id: str) -> Any:
        actor = await _actor(plans, tenant_id, as_)
        llm = await ops_llm(load_settings(Workspace.at(workspace)))  # llm.models.ops, if set
        try:
            interpret = llm_interpreter(llm, tenant_id=tenant_id) if llm else None
            return await plans.make(tenant_id, request, actor=actor, interpret=interpret)
        finally:
            if llm is not None:
                await llm.aclose()

    plan = _run(workspace, work)
    _show(plan)
    if plan.status == "refused":
        raise typer.Exit(1)


@ops_app.command("show")
@friendly
def ops_show(
    plan_id: PlanArg,
    workspace: WorkspaceOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="The plan as JSON.")] = False,
) -> None:
    """One plan: selector, elements, patch, validation, diff, results."""

    async def work(plans: Any, tenant_id: str) -> Any:
        return await plans.get(tenant_id, plan_id)

    plan = _run(workspace, work)
    if as_json:
        from frontdesk.ops.plans import plan_view

        out.print_json(json.dumps(plan_view(plan), default=str))
        return
    _show(plan)


@ops_app.command("list")
@friendly
def ops_list(workspace: WorkspaceOption = Path(".")) -> None:
    """The latest plans: id, status, element count, request."""

    async def work(plans: Any, tenant_id: str) -> Any:
        return await plans.list(tenant_id)

    for plan in _run(workspace, work):
        out.print(f"{plan.id}  {plan.status:<11}  {len(plan.patches):>3}  {plan.request}",
                  highlight=False, markup=False)  # fmt: skip


def _act(workspace: Path, plan_id: str, email: str | None, verb: str) -> None:
    async def work(plans: Any, tenant_id: str) -> Any:
        await plans.get(tenant_id, plan_id)
        actor = await _actor(plans, tenant_id, email)
        return await getattr(plans, verb)(tenant_id, plan_id, actor=actor)

    plan = _run(workspace, work)
    _show(plan, diff=False)
    for element_id, result in plan.results.items():
        if verb == "apply":
            out.print(f"  {element_id}: {result['status']}", highlight=False)


@ops_app.command("approve")
@friendly
def ops_approve(
    plan_id: PlanArg,
    as_: Annotated[str, typer.Option("--as", help="E-mail of the approving operator/admin.")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Approve a plan, as the operator or admin named by --as (audited)."""
    _act(workspace, plan_id, as_, "approve")


@ops_app.command("apply")
@friendly
def ops_apply(
    plan_id: PlanArg, workspace: WorkspaceOption = Path("."), as_: AsOption = None
) -> None:
    """Apply an approved plan: every element or none (refused when one changed since)."""
    _act(workspace, plan_id, as_, "apply")


@ops_app.command("rollback")
@friendly
def ops_rollback(
    plan_id: PlanArg, workspace: WorkspaceOption = Path("."), as_: AsOption = None
) -> None:
    """Put the elements an applied plan changed back to their exact bytes before it."""
    _act(workspace, plan_id, as_, "rollback")


@ops_app.command("setup")
@friendly
def ops_setup(
    description: Annotated[str, typer.Argument(help="What to set up, in words.")],
    workspace: WorkspaceOption = Path("."),
    zip_file: Annotated[
        Path | None,
        typer.Option("--zip", help="Also write the files (and SETUP.md) to this zip file."),
    ] = None,
    propose: Annotated[
        bool,
        typer.Option("--propose", help="Keep it as a change plan to approve and apply."),
    ] = False,
    as_: AsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """A starter configuration from a description, e.g. "three depots in Cork, Galway and
    Limerick, weekday cut-off 17:00, one carrier": every file checked against its kind's
    schema, every default used listed under `assumed:`. Nothing is written to the target;
    --propose keeps it as a plan that an operator approves and applies."""
    from frontdesk.config.workspace import Workspace
    from frontdesk.ops.setup import generator_for

    root = Workspace.at(workspace).root

    async def work(plans: Any, tenant_id: str) -> Any:
        generator = await generator_for(plans.target, _ops_atoms(root))
        starter = generator.generate(description)
        plan = None
        if propose:
            actor = await _actor(plans, tenant_id, as_)
            plan = await plans.propose_setup(tenant_id, starter, actor=actor)
        return starter, plan

    starter, plan = _run(workspace, work)
    if zip_file is not None:
        zip_file.write_bytes(starter.zip())
    if as_json:
        from frontdesk.ops.plans import plan_view

        view = {**starter.view(), "plan": plan_view(plan) if plan is not None else None}
        out.print_json(json.dumps(view, default=str))
        return
    out.print(starter.answer(), highlight=False, markup=False, soft_wrap=True)
    if zip_file is not None:
        out.print(f"written to {zip_file}", highlight=False, markup=False)
    if plan is not None:
        out.print("", highlight=False)
        _show(plan, diff=False)
        if plan.status == "refused":
            raise typer.Exit(1)


@ops_app.command("chat")
@friendly
def ops_chat(
    question: Annotated[
        str | None,
        typer.Argument(help='The question, e.g. "what failed last night?"; none: ask in a loop.'),
    ] = None,
    workspace: WorkspaceOption = Path("."),
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The moment of the question (ISO 8601, UTC if no offset); "
            "'last night' and 'yesterday' are read from it. Default: now.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnosis as JSON.")] = False,
) -> None:
    """Ask about the target's recent failures: the root cause, the log lines and metric values
    it rests on, the knowledge atoms and the playbook's next steps (read-only; with
    llm.models.ops the model answers through read-only tools, as POST /v1/ops/chat does).
    Without a question, asks one after another (an empty line, `quit` or Ctrl-D ends). A
    request to set something up ("set up a depot in Ennis ...") gets the starter
    configuration, as `frontdesk ops setup` shows it."""
    from datetime import UTC, datetime

    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.errors import InvalidRequestError
    from frontdesk.ops.setup import chat_view, generator_for, looks_like_setup
    from frontdesk.ops.troubleshoot import Troubleshooter, diagnosis_view
    from frontdesk.orchestration.ops_chat import llm_chat, ops_llm

    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError as exc:
        raise InvalidRequestError(
            f"--at {at!r} is not an ISO 8601 time, e.g. 2026-12-06T08:30Z"
        ) from exc
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    root = Workspace.at(workspace).root

    def show(diagnosis: Any) -> None:
        if isinstance(diagnosis, dict):  # a setup request: the starter configuration
            text = json.dumps(diagnosis, indent=2) if as_json else diagnosis["answer"]
        else:
            text = json.dumps(diagnosis_view(diagnosis), indent=2) if as_json else diagnosis.answer
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    async def answer(chat: Any, line: str, moment: datetime) -> Any:
        if looks_like_setup(line):
            return chat_view(await generator_for(chat.target, chat.atoms), line)
        if llm is not None:  # the model's answer, as the API gives it (a dict with `engine`)
            view = await llm_chat(llm, chat, line, moment, tenant_id=tenant)
            if view["fallback"]:
                view["answer"] += f"\n\n(engine: deterministic; {view['fallback']})"
            return view
        return await chat.ask(line, moment)

    llm: Any = None
    tenant = ""

    async def work(plans: Any, tenant_id: str) -> None:
        nonlocal llm, tenant
        llm, tenant = await ops_llm(load_settings(Workspace.at(workspace))), tenant_id
        try:
            await chat_with(plans)
        finally:
            if llm is not None:
                await llm.aclose()

    async def chat_with(plans: Any) -> None:
        chat = Troubleshooter(plans.target, _ops_atoms(root))
        if question is not None:
            show(await answer(chat, question, now))
            return
        while True:  # the terminal is read on a thread: the loop stays async
            try:
                line = (await asyncio.to_thread(input, "ops> ")).strip()
            except EOFError:
                return
            if line.lower() in ("", "quit", "exit"):
                return
            show(await answer(chat, line, now if at else datetime.now(UTC)))

    _run(workspace, work)


def register(app: typer.Typer) -> None:
    app.add_typer(ops_app, name="ops")
