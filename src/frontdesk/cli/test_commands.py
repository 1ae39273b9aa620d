"""`frontdesk test conversations`: golden conversations through the whole assistant, with a
table, JUnit XML and a regression gate against a baseline (docs/golden-conversations.md)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from frontdesk.cli.common import err, fail, friendly, out
from frontdesk.cli.evaluate_commands import _clock
from frontdesk.config.workspace import Workspace

if TYPE_CHECKING:
    from frontdesk.evaluation.golden_conversations import Change, ConversationReport

test_app = typer.Typer(
    help="Test the assistant against golden conversations.", no_args_is_help=True
)


@test_app.command("conversations")
@friendly
def conversations(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace.")
    ] = Path("."),
    stories: Annotated[
        Path | None,
        typer.Option(help="Conversations, a file or folder (default: golden/conversations/)."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML: one testcase per conversation.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="Exit 1 when a metric falls more than 5% below this earlier --output "
            "(or a JSON object of metrics)."
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the results as JSON.")] = None,
    save_baseline: Annotated[
        Path | None,
        typer.Option(help="Write this run's metrics as the baseline for later --baseline runs."),
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            help="The time the turns happen (ISO, in the rules' time zone); default now. "
            "Business hours decide hand-off messages and team rules."
        ),
    ] = None,
    show: Annotated[int, typer.Option(help="How many failed turns to print.")] = 20,
) -> None:
    """Play each conversation through the assistant, as the API runs it, in a throwaway copy of
    the workspace (a database of its own; nothing is written to the workspace's): per turn the
    action, intent, entities, dialogue state, team, tool, citations and facts of the reply.
    Rasa end-to-end test stories are played too."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from frontdesk.config.workspace import load_forms, load_rules
    from frontdesk.evaluation.conversations import fixed_replies
    from frontdesk.evaluation.golden_conversations import (
        baseline_metrics,
        baseline_of,
        compare,
        junit_xml,
        load_golden_conversations,
        play_conversations,
    )
    from frontdesk.evaluation.scratch import scratch_workspace
    from frontdesk.nlu.rasa_project import response_texts
    from frontdesk.orchestration.runtime import open_runtime

    ws = Workspace.at(workspace)
    source = stories or ws.root / "golden" / "conversations"
    if not source.exists():
        raise fail(
            f"{source}: no golden conversations (write some, see docs/golden-conversations.md, "
            "or import a Rasa project's tests/ with `frontdesk import rasa`)"
        )
    rules = load_rules(ws)
    golden = load_golden_conversations(
        source,
        responses=response_texts(ws.root / "dialogue"),
        fixed=fixed_replies(rules),
        slots=set(load_forms(ws).slots),
    )
    if not golden:
        raise fail(f"{source}: no conversations in it")
    # Read before the run: a missing or broken baseline should not cost a whole run.
    before = baseline_metrics(baseline) if baseline is not None else None
    clock = _clock(at, rules.business_hours.timezone)

    async def go() -> ConversationReport:
        with scratch_workspace(ws) as root:
            err.print(f"Preparing a scratch copy of {ws.root} (index, models)...")
            runtime = await open_runtime(root, clock=clock)
            try:
                total = sum(len(c.turns) for c in golden)
                columns = (TextColumn("turns"), BarColumn(), MofNCompleteColumn())
                with Progress(*columns, console=err, transient=True) as progress:
                    task = progress.add_task("turns", total=total)
                    return await play_conversations(
                        runtime.assistant,
                        runtime.db,
                        runtime.tenant.id,
                        golden,
                        runtime.training_data.entity_types,
                        progress=lambda n: progress.update(task, completed=n),
                    )
            finally:
                await runtime.close()

    report = asyncio.run(go())
    summary = report.summary()
    changes = compare(summary, before) if before is not None else []
    _print_conversations(report)
    _print_summary(summary, changes)
    printed = 0
    for conversation in report.conversations:
        for n, turn in conversation.failures():
            if printed >= show:
                break
            printed += 1
            out.print(
                f"FAIL {turn.where} ({conversation.name}, turn {n}): {turn.text!r}: "
                f"{'; '.join(turn.problems)}\n     reply: {turn.reply[:200]!r}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if output:
        output.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    if save_baseline:
        save_baseline.write_text(json.dumps(baseline_of(summary), indent=2) + "\n", "utf-8")
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(report), encoding="utf-8")
    passed = sum(c.passed for c in report.conversations)
    out.print(
        f"{passed} of {len(report.conversations)} conversations passed; "
        f"{sum(t.passed for t in report.turns)} of {len(report.turns)} turns",
        highlight=False,
        markup=False,
    )
    dropped = [c for c in changes if c.dropped]
    if dropped:
        for change in dropped:
            out.print(
                f"REGRESSION {change.metric}: {change.now:.4f}, baseline {change.baseline:.4f} "
                f"(more than 5% lower)",
                highlight=False,
                markup=False,
            )
        raise typer.Exit(1)


def _print_conversations(report: ConversationReport) -> None:
    table = Table("conversation", "where", "turns passed", "failed checks")
    for c in report.conversations:
        failed: dict[str, int] = {}
        for turn in c.turns:
            for name, ok in turn.checks.items():
                if not ok:
                    failed[name] = failed.get(name, 0) + 1
        table.add_row(
            c.name,
            c.where,
            f"{sum(t.passed for t in c.turns)}/{len(c.turns)}",
            ", ".join(f"{k} x{v}" if v > 1 else k for k, v in failed.items()) or "-",
        )
    out.print(table)


def _print_summary(summary: dict[str, object], changes: list[Change]) -> None:
    by_metric = {c.metric: c for c in changes}
    columns = ["metric", "value"] + (["baseline", "change"] if changes else [])
    table = Table(*columns)
    for name, value in summary.items():
        shown = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
        row = [name, shown]
        if changes:
            change = by_metric.get(name)
            if change is None:
                row += ["", ""]
            else:
                delta = "" if change.now is None else f"{change.now - change.baseline:+.4f}"
                row += [f"{change.baseline:.4f}", delta + (" REGRESSION" if change.dropped else "")]
        table.add_row(*row)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(test_app, name="test")
