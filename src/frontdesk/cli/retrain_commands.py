"""The learning loop from the command line: `frontdesk retrain` (nlu/ plus agents'
corrections, behind the promotion gate), `frontdesk models list/show/promote/rollback` and
`frontdesk corrections list/disable/enable/delete/export`. Every change is audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from frontdesk.cli.common import fail, friendly, out
from frontdesk.config.workspace import Workspace

T = TypeVar("T")

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace directory."),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Promote even if the gate says no (audited; it becomes the baseline)."
    ),
]

models_app = typer.Typer(
    help="Trained NLU model versions: list, show, promote, roll back.", no_args_is_help=True
)
corrections_app = typer.Typer(
    help="Agents' corrections (training data from the console).", no_args_is_help=True
)


def print_report(report: dict[str, Any]) -> None:
    """The gate's verdict: each metric against the baseline, each golden example that
    flipped, and why."""
    table = Table("metric", "baseline", "candidate", "worse by", "allowed")
    for change in report["changes"]:
        blocked = change.get("blocked")
        worse = change.get("worse_by")
        shown = "" if worse is None else f"{worse:+.4f}"
        table.add_row(
            change["metric"],
            str(change["baseline"]),
            str(change["candidate"]),
            f"[red]{shown}[/red]" if blocked else shown,
            "" if change.get("allowed") is None else f"{change['allowed']:.4f}",
        )
    if report["changes"]:
        out.print(table)
    for flip in report["flips"]:
        sign = "lost" if flip["lost"] else "gained"
        out.print(
            f"  golden {sign}: {flip['text']!r} ({flip['expected']}): {flip['baseline']} "
            f"-> {flip['candidate']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    verdict = {"promoted": "promoted", "kept": "kept the current model", "forced": "forced"}
    outcome = "forced" if report["forced"] else ("promoted" if report["promoted"] else "kept")
    against = f" (baseline {report['baseline']})" if report["baseline"] else ""
    out.print(
        f"{report['corrections']} corrections; candidate {report['candidate']}{against}: "
        f"{verdict[outcome]}",
        highlight=False,
    )
    if report.get("held_out"):
        out.print(f"  {report['held_out']} correction(s) left out: their text is in the golden set")
    for reason in report["reasons"]:
        out.print(f"  {reason}", highlight=False, markup=False, soft_wrap=True)


def retrain_command(
    workspace: WorkspaceOption = Path("."),
    max_drop: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Largest relative drop allowed on a noisy metric."),
    ] = 0.05,
    force: ForceOption = False,
) -> None:
    """Retrain on nlu/ plus the enabled corrections; promote only if the candidate loses
    nothing against the promoted baseline (golden set per intent, cross-validated metrics
    within their intervals). Exit 3 when the current model is kept."""
    from frontdesk.cli.nlu_commands import load_data_and_embedder
    from frontdesk.orchestration.retrain import train_workspace

    ws = Workspace.at(workspace)
    data, embedder = load_data_and_embedder(ws, None)
    report = asyncio.run(
        train_workspace(
            ws.root, data, embedder, trigger="retrain", force=force, max_relative_drop=max_drop
        )
    ).as_dict()
    print_report(report)
    if not report["promoted"]:
        raise typer.Exit(3)


# -- models ---------------------------------------------------------------------------------------


def _store(workspace: Path) -> Any:
    from frontdesk.orchestration.retrain import models_store

    return models_store(Workspace.at(workspace))


def _known(store: Any, version: str) -> str:
    if version not in store.versions():
        raise fail(f"no model version {version!r}; see `frontdesk models list`")
    return version


def _audit(workspace: Path, action: str, target: str, detail: dict[str, Any]) -> None:
    from frontdesk.config.workspace import load_settings
    from frontdesk.orchestration.retrain import cli_actor
    from frontdesk.orchestration.runtime import open_database
    from frontdesk.storage.audit import audit
    from frontdesk.storage.tenants import ensure_tenant

    async def run() -> None:
        ws = Workspace.at(workspace)
        settings = load_settings(ws)
        db = await open_database(ws, settings)
        try:
            tenant = await ensure_tenant(db, settings.tenant)
            async with db.session(tenant.id) as session:
                audit(
                    session,
                    actor=cli_actor(),
                    action=action,
                    target=target,
                    detail={"via": "cli", **detail},
                )
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(run())


@models_app.command("list")
@friendly
def models_list(workspace: WorkspaceOption = Path(".")) -> None:
    """Every trained version, newest first: in use, baseline, corrections, gate decision."""
    from frontdesk.orchestration.learning import version_summary

    store = _store(workspace)
    table = Table("", "trained by", "corrections", "held-out acc", "gate")
    table.add_column("version", no_wrap=True)
    for version in reversed(store.versions()):
        v = version_summary(store, version)
        marks = " ".join(
            m for m, on in (("active", v["active"]), ("baseline", v["baseline"])) if on
        )
        gate = v["gate"]
        decision = (
            "-"
            if gate is None
            else (
                "forced" if gate.get("forced") else "passed" if gate.get("promote") else "blocked"
            )
        )
        accuracy = v["metrics"].get("held_out_accuracy")
        table.add_row(
            marks,
            str(v["trained_by"] or "-"),
            str(len(v["corrections"])),
            "-" if accuracy is None else f"{accuracy:.3f}",
            decision,
            version,
        )
    out.print(table)


@models_app.command("show")
@friendly
def models_show(
    version: Annotated[str, typer.Argument(help="A version (default: the one in use).")] = "",
    workspace: WorkspaceOption = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One version: data hash, corrections it was trained on, metrics, the gate's decision
    and reasons, and the examples of the golden set that flipped."""
    from frontdesk.orchestration.learning import version_summary

    store = _store(workspace)
    version = version or store.active_version() or ""
    summary = version_summary(store, _known(store, version))
    if as_json:
        out.print_json(json.dumps(summary))
        return
    marks = [
        m for m, on in (("in use", summary["active"]), ("baseline", summary["baseline"])) if on
    ]
    out.print(f"{version} {'(' + ', '.join(marks) + ')' if marks else ''}", highlight=False)
    out.print(
        f"  trained {summary['trained_at']} by {summary['trained_by'] or '-'} "
        f"({summary['trigger'] or '-'}); data {summary['data_hash']}, "
        f"{summary['examples']} examples",
        highlight=False,
    )
    for c in summary["corrections"]:
        out.print(
            f"  correction {c['id'][:8]} by {c['by']}: {c['text']!r} -> {c['intent']}",
            highlight=False,
            markup=False,
        )
    metrics = summary["metrics"]
    shown = ", ".join(
        f"{k} {metrics[k]}" for k in ("held_out_accuracy", "ece", "oos_recall") if k in metrics
    )
    out.print(f"  metrics: {shown}", highlight=False)
    gate = summary["gate"]
    if gate is None:
        out.print("  gate: none recorded (trained before the gate, or its first version)")
        return
    print_report({**gate, "candidate": version, "corrections": len(summary["corrections"])})


@models_app.command("promote")
@friendly
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to serve.")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Serve VERSION now (running servers switch within seconds); as a person's choice it
    becomes the baseline later candidates are judged against. Audited."""
    from frontdesk.orchestration.learning import accept

    store = _store(workspace)
    previous = accept(store, _known(store, version), actor="cli")
    _audit(workspace, "nlu.model.promote", version, {"replaced": previous})
    out.print(f"{version} is in use and the baseline (was {previous or 'none'})", highlight=False)


@models_app.command("rollback")
@friendly
def models_rollback(
    workspace: WorkspaceOption = Path("."),
    to: Annotated[
        str | None,
        typer.Option(
            help="The version to go back to (default: the one in use before the current)."
        ),
    ] = None,
) -> None:
    """Go back to the previous version (or --to): every running server switches within
    seconds, and it becomes the baseline. Audited."""
    from frontdesk.orchestration.learning import roll_back

    store = _store(workspace)
    before, after = roll_back(store, actor="cli", to=_known(store, to) if to else None)
    _audit(workspace, "nlu.model.rollback", after, {"replaced": before})
    out.print(f"rolled back: {after} is in use (was {before})", highlight=False)


# -- corrections ----------------------------------------------------------------------------------


def _with_session(workspace: Path, work: Callable[[Any, str], Awaitable[T]]) -> T:
    from frontdesk.config.workspace import load_settings
    from frontdesk.orchestration.runtime import open_database
    from frontdesk.storage.tenants import ensure_tenant

    async def run() -> T:
        ws = Workspace.at(workspace)
        settings = load_settings(ws)
        db = await open_database(ws, settings)
        try:
            tenant = await ensure_tenant(db, settings.tenant)
            async with db.session(tenant.id) as session:
                result = await work(session, tenant.id)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(run())


@corrections_app.command("list")
@friendly
def corrections_list(
    workspace: WorkspaceOption = Path("."),
    all_: Annotated[bool, typer.Option("--all", help="Disabled ones too.")] = False,
) -> None:
    """Corrections agents made: who, when, why, and whether trainings use them."""
    from frontdesk.handoff.corrections import corrections

    rows = _with_session(workspace, lambda session, _t: corrections(session))
    shown = [r for r in rows if all_ or r.disabled_at is None]
    for row in shown:
        state = "" if row.disabled_at is None else f" [disabled by {row.disabled_by}]"
        why = f" because: {row.note}" if row.note else ""
        out.print(
            f"{row.id[:12]}  {row.intent} (was {row.previous_intent or '-'}) by "
            f"{row.created_by} at {row.created_at:%Y-%m-%d %H:%M}{state}: {row.text!r}{why}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    out.print(f"{len(shown)} correction(s)" + ("" if all_ else " in use (--all: disabled too)"))


def _change(workspace: Path, ref: str, how: str) -> None:
    from frontdesk.handoff.corrections import change_correction
    from frontdesk.orchestration.retrain import cli_actor

    async def work(session: Any, _tenant: str) -> Any:
        return await change_correction(session, ref, how, actor=cli_actor(), via="cli")

    row = _with_session(workspace, work)
    out.print(f"correction {row.id[:12]} ({row.text!r} -> {row.intent}): {how}d", highlight=False)
    if how != "enable":
        out.print(
            "later trainings leave it out; the model in use keeps it until then "
            "(`frontdesk retrain`)"
        )


@corrections_app.command("disable")
@friendly
def corrections_disable(
    correction: Annotated[str, typer.Argument(help="Its id (or a unique start of it).")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Keep a correction for review but out of every training. Audited."""
    _change(workspace, correction, "disable")


@corrections_app.command("enable")
@friendly
def corrections_enable(
    correction: Annotated[str, typer.Argument(help="Its id (or a unique start of it).")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Use a disabled correction in trainings again. Audited."""
    _change(workspace, correction, "enable")


@corrections_app.command("delete")
@friendly
def corrections_delete(
    correction: Annotated[str, typer.Argument(help="Its id (or a unique start of it).")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Delete a correction for good. Audited (with its text and intent)."""
    _change(workspace, correction, "delete")


@corrections_app.command("export")
@friendly
def corrections_export(
    workspace: WorkspaceOption = Path("."),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Disabled ones too.")] = False,
) -> None:
    """The corrections as Rasa-style NLU YAML (`- intent: x / examples: |`), for review or to
    move into nlu/."""
    from frontdesk.handoff.corrections import corrections, corrections_yaml

    rows = _with_session(workspace, lambda session, _t: corrections(session))
    text = corrections_yaml([r for r in rows if all_ or r.disabled_at is None])
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("retrain")(friendly(retrain_command))
    app.add_typer(models_app, name="models")
    app.add_typer(corrections_app, name="corrections")
