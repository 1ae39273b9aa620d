"""`frontdesk retrain`: agents' corrections into a new NLU model, behind the promotion gate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from frontdesk.cli.common import friendly, out

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace directory."),
]


def retrain_command(
    workspace: WorkspaceOption = Path("."),
    max_drop: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Largest relative drop allowed on any metric."),
    ] = 0.05,
) -> None:
    """Retrain with the corrections agents made in the console; promote only if no tracked
    metric (cross-validation, golden set) drops by more than --max-drop."""
    from frontdesk.orchestration.retrain import retrain
    from frontdesk.orchestration.runtime import open_runtime

    async def run() -> dict[str, object]:
        runtime = await open_runtime(workspace, sync=False)
        try:
            return (await retrain(runtime, max_relative_drop=max_drop)).as_dict()
        finally:
            await runtime.close()

    report = asyncio.run(run())
    table = Table("metric", "current", "candidate", "change")
    for change in report["changes"]:  # type: ignore[attr-defined]
        relative = change["relative"]
        shown = "n/a" if relative is None else f"{relative:+.1%}"
        if change["blocked"]:
            shown = f"[red]{shown}[/red]"
        candidate = change["candidate"]
        table.add_row(change["metric"], f"{change['current']:.4f}",
                      "missing" if candidate is None else f"{candidate:.4f}", shown)  # fmt: skip
    out.print(table)
    verdict = "promoted" if report["promoted"] else "kept the current model"
    out.print(f"{report['corrections']} corrections; candidate {report['candidate']}: {verdict}")
    for reason in report["reasons"]:  # type: ignore[attr-defined]
        out.print(f"  {reason}", highlight=False, markup=False)
    if not report["promoted"]:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("retrain")(friendly(retrain_command))
