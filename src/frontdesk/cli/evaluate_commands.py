"""`frontdesk evaluate ...`: score the assistant's parts against golden data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from frontdesk.cli.common import err, friendly, out
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import ConfigError

if TYPE_CHECKING:
    from frontdesk.evaluation.answers import AnswersReport
    from frontdesk.evaluation.retrieval import RetrievalReport
    from frontdesk.knowledge.answerability import AnswerabilityModel

evaluate_app = typer.Typer(help="Evaluate retrieval and understanding.", no_args_is_help=True)

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace.")
]


@evaluate_app.command("retrieval")
@friendly
def retrieval(
    workspace: WorkspaceOption = Path("."),
    golden: Annotated[
        Path | None, typer.Option(help="Golden queries (default: golden/retrieval.yaml).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=50, help="Cut-off for recall.")] = 5,
    output: Annotated[Path | None, typer.Option(help="Also write the results as JSON.")] = None,
    min_ndcg: Annotated[
        float | None, typer.Option(help="Exit 1 when nDCG@10 is below this (a CI gate).")
    ] = None,
) -> None:
    """Recall@k, MRR and nDCG@10 of the workspace's retriever on golden queries."""
    # Imported here so `frontdesk --help` does not load the models' libraries.
    from sqlalchemy import func, select

    from frontdesk.evaluation.retrieval import evaluate_retrieval, load_golden
    from frontdesk.orchestration.runtime import (
        build_retriever,
        load_embedder,
        load_registries,
        open_database,
    )
    from frontdesk.storage.models import Document
    from frontdesk.storage.tenants import ensure_tenant

    ws = Workspace.at(workspace)
    golden_set = load_golden(golden or ws.root / "golden" / "retrieval.yaml")

    async def go() -> RetrievalReport:
        settings = load_settings(ws)
        db = await open_database(ws, settings)
        try:
            tenant = await ensure_tenant(db, settings.tenant)
            async with db.session(tenant.id) as session:
                if not await session.scalar(select(func.count()).select_from(Document)):
                    # Scoring an empty index would print zeros that look like a broken model.
                    raise ConfigError(
                        f"the knowledge index of {ws.root} is empty: "
                        "run `frontdesk kb ingest` first"
                    )
            registries = load_registries()
            embedder = None
            if settings.knowledge.retriever == "hybrid":
                embedder, _ = load_embedder(registries, settings)
            retriever = build_retriever(registries, settings, db, embedder)
            return await evaluate_retrieval(retriever, tenant.id, golden_set, k=k)
        finally:
            await db.dispose()

    report = asyncio.run(go())
    summary = report.summary()
    print_metrics(summary)
    for miss in report.misses():
        got = ", ".join(miss.ranked[:3]) or "nothing"
        out.print(
            f"miss: {miss.query!r}: expected {miss.expected}, got {got}",
            highlight=False,
            markup=False,
        )
    if output:
        output.write_text(
            json.dumps(
                {"summary": summary, "queries": [r.__dict__ for r in report.results]}, indent=2
            )
        )
    if min_ndcg is not None and summary["ndcg_at_10"] < min_ndcg:
        out.print(f"nDCG@10 {summary['ndcg_at_10']:.4f} is below {min_ndcg}")
        raise typer.Exit(1)


@evaluate_app.command("answers")
@friendly
def answers(
    workspace: WorkspaceOption = Path("."),
    golden: Annotated[
        Path | None, typer.Option(help="Golden answers (default: golden/answers.yaml).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the results as JSON.")] = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            help="The time the turns happen (ISO, in the rules' time zone); "
            "default now. Business hours decide hand-off messages and team rules."
        ),
    ] = None,
    show: Annotated[int, typer.Option(help="How many failed cases to print.")] = 20,
    calibrate: Annotated[
        bool,
        typer.Option(
            help="Also fit the workspace's answerability calibration on these cases and save "
            "it (.frontdesk/models/answerability.json; used from the next start)."
        ),
    ] = False,
) -> None:
    """Whole turns against golden answers: facts in the reply, citations, abstained and
    handed off when the knowledge base cannot answer (docs/golden-answers.md). Runs in a
    throwaway copy of the workspace: nothing is written to its database."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from frontdesk.config.workspace import load_rules
    from frontdesk.evaluation.answers import evaluate_answers, load_answer_golden
    from frontdesk.evaluation.scratch import scratch_workspace
    from frontdesk.orchestration.runtime import open_runtime

    ws = Workspace.at(workspace)
    golden_set = load_answer_golden(golden or ws.root / "golden" / "answers.yaml")
    clock = _clock(at, load_rules(ws).business_hours.timezone)

    model: AnswerabilityModel | None = None

    async def go() -> AnswersReport:
        nonlocal model
        with scratch_workspace(ws) as root:
            out.print(f"Preparing a scratch copy of {ws.root} (index, models)...")
            runtime = await open_runtime(root, clock=clock)
            model = runtime.assistant.deps.answerability
            try:
                columns = (TextColumn("cases"), BarColumn(), MofNCompleteColumn())
                with Progress(*columns, console=err, transient=True) as progress:
                    task = progress.add_task("cases", total=len(golden_set.cases))
                    return await evaluate_answers(
                        runtime.assistant,
                        runtime.db,
                        runtime.tenant.id,
                        golden_set,
                        progress=lambda n: progress.update(task, completed=n),
                    )
            finally:
                await runtime.close()

    report = asyncio.run(go())
    summary = report.summary()
    print_metrics(summary)
    for result in report.failures()[:show]:
        out.print(
            f"FAIL {result.id}: {'; '.join(result.failures)}\n"
            f"     intent {result.intent}, {result.action} by rule {result.rule!r}; "
            f"reply: {result.reply[:240]!r}",
            highlight=False,
            markup=False,
        )
    if output:
        output.write_text(json.dumps(report.as_dict(), indent=2))
    if calibrate:
        if model is None:
            raise ConfigError("answerability is off (knowledge.answerability.enabled: false)")
        _save_calibration(ws, report, model, golden or ws.root / "golden" / "answers.yaml")


def _save_calibration(
    ws: Workspace, report: AnswersReport, model: AnswerabilityModel, golden: Path
) -> None:
    from frontdesk.evaluation.calibration import calibrate
    from frontdesk.knowledge.answerability import ANSWERABILITY_FILE

    source = f"calibrated on {golden.name} ({datetime.now(UTC):%Y-%m-%d})"
    found = calibrate(report.results, model, source=source)
    table = Table("answerability", "answerable kept", "unanswerable declined")
    for label, rates in (
        (f"before ({model.source}, threshold {model.threshold:.2f})", found.before),
        ("calibrated, 5-fold cross-validated", found.cross_validated),
    ):
        table.add_row(label, f"{rates.answerable_kept:.3f}", f"{rates.unanswerable_declined:.3f}")
    out.print(table)
    target = ws.root / ".frontdesk" / "models" / ANSWERABILITY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(found.model.to_json() + "\n", encoding="utf-8")
    out.print(
        f"Saved the calibration of {found.cases} cases to {target} (threshold "
        f"{found.model.threshold:.2f}); a server uses it from its next start."
    )


def print_metrics(summary: dict[str, Any]) -> None:
    table = Table("metric", "value")
    for name, value in summary.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)


def _clock(at: datetime | None, timezone: str) -> Callable[[], datetime]:
    if at is None:
        return lambda: datetime.now(UTC)
    moment = at if at.tzinfo else at.replace(tzinfo=ZoneInfo(timezone))
    return lambda: moment


def register(app: typer.Typer) -> None:
    app.add_typer(evaluate_app, name="evaluate")
