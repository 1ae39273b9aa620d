"""CLI commands for understanding: training data checks, training, evaluation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from frontdesk.cli.common import err, fail, friendly, out
from frontdesk.cli.evaluate_commands import evaluate_app
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace, load_rules, load_settings
from frontdesk.nlu.entities import BUILTIN_TYPES, rule_extractor
from frontdesk.nlu.training_data import TrainingData, TrainingDataError, load_training_data
from frontdesk.nlu.validation import validate

if TYPE_CHECKING:
    from frontdesk.nlu.evaluation import NluReport
    from frontdesk.nlu.intent_classifier import TextEmbedder

data_app = typer.Typer(help="Training data for understanding.", no_args_is_help=True)

WorkspaceOption = Annotated[
    Path, typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace.")
]


def _load(folder: Path) -> TrainingData:
    if not folder.is_dir():
        raise fail(f"{folder}: not a folder of NLU training data")
    try:
        return load_training_data(folder)
    except TrainingDataError as exc:
        raise fail(str(exc)) from None


@data_app.command("validate")
@friendly
def validate_command(
    workspace: WorkspaceOption = Path("."),
    data: Annotated[
        Path | None, typer.Option(help="Training data folder (default: the workspace's nlu/).")
    ] = None,
    min_examples: Annotated[int, typer.Option(min=1, help="Fewest examples an intent needs.")] = 5,
    strict: Annotated[bool, typer.Option(help="Exit 1 on warnings too.")] = False,
) -> None:
    """Conflicting or duplicate examples, thin intents, rules asking for entities nothing
    produces, each with file:line (entity types are declared by annotating them). Exit 1 on
    errors, and with --strict on warnings too."""
    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    training = _load(data or ws.nlu_dir)
    known = {*BUILTIN_TYPES, *settings.nlu.entity_patterns, *settings.nlu.entities}
    rule_entities: list[tuple[str, str]] = []
    if ws.rules_file.is_file():
        rules = load_rules(ws)
        for rule in rules.rules:
            for entity in [*(rule.when.has_entity or []), *(rule.when.missing_entity or [])]:
                rule_entities.append((f"{ws.rules_file}:{rule.line}", entity))
    findings = validate(
        training, known_entities=known, min_examples=min_examples, rule_entities=rule_entities
    )
    for finding in findings:
        colour = "red" if finding.severity == "error" else "yellow"
        # Text, not markup: `nlu.yml:100:` is an emoji code and an example may hold [brackets].
        line = Text.assemble(
            f"{finding.where}: ", (finding.severity, colour), f": {finding.message}"
        )
        out.print(line, highlight=False, soft_wrap=True)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    out.print(
        f"{len(training.examples)} examples, {len(training.intents)} intents, "
        f"{len(training.entity_types)} entity types: {errors} errors, {warnings} warnings"
    )
    if errors or (strict and warnings):
        raise typer.Exit(1)


def _embedder(settings: Settings) -> TextEmbedder | None:
    if settings.nlu.classifier != "hybrid":
        return None
    from frontdesk.orchestration.runtime import load_embedder, load_registries

    embedder, status = load_embedder(load_registries(), settings)
    if embedder is None:
        err.print(f"[yellow]warning:[/yellow] embeddings {status}; n-gram features only")
    return embedder


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def models_root(ws: Workspace) -> Path:
    return ws.state_dir / "models" / "nlu"


def load_data_and_embedder(
    ws: Workspace, data: Path | None
) -> tuple[TrainingData, Callable[[], TextEmbedder | None]]:
    """The training data (checked) and a loader of the configured embedder."""
    settings = load_settings(ws)
    training = _load(data or ws.nlu_dir)
    if len(training.intents) < 2:
        raise fail(f"{data or ws.nlu_dir}: a classifier needs examples of at least two intents")
    return training, lambda: _embedder(settings)


def train_command(
    workspace: WorkspaceOption = Path("."),
    data: Annotated[
        Path | None, typer.Option(help="Training data folder (default: the workspace's nlu/).")
    ] = None,
    promote: Annotated[
        bool,
        typer.Option(
            help="Promote the new version if it passes the gate (a running server swaps it in)."
        ),
    ] = True,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Promote even if the gate says no (audited; it becomes the baseline)."
        ),
    ] = False,
    folds: Annotated[
        int,
        typer.Option(min=2, max=10, help="Folds for calibration and the out-of-scope threshold."),
    ] = 3,
) -> None:
    """Train the intent classifier and entity extractor on the training data plus the
    agents' enabled corrections; store a new version and promote it only if it passes the
    gate against the promoted baseline (see `frontdesk models show`). Exit 3 when kept out."""
    from frontdesk.cli.retrain_commands import print_report
    from frontdesk.orchestration.retrain import train_workspace

    ws = Workspace.at(workspace)
    training, embedder = load_data_and_embedder(ws, data)
    steps = [
        "embedding examples",
        *[f"cross-validation fold {n}/{folds}" for n in range(1, folds + 1)],
        "training",
        "calibrating",
        "training the entity extractor",
    ]
    with _progress() as bar:
        task = bar.add_task("training", total=len(steps))

        def step(what: str) -> None:
            done = steps.index(what) if what in steps else 0
            bar.update(task, completed=done, description=what)

        try:
            report = asyncio.run(train_workspace(ws.root, training, embedder, trigger="train",
                                                 force=force, promote=promote, folds=folds,
                                                 progress=step))  # fmt: skip
        except ValueError as exc:
            raise fail(str(exc)) from None
        bar.update(task, completed=len(steps))
    from frontdesk.nlu.model_store import ModelStore

    manifest = ModelStore(models_root(ws)).manifest(report.candidate)
    metrics = manifest["metrics"]
    table = Table("", "")
    state = "active" if report.promoted else "not promoted"
    table.add_row("version", f"{report.candidate} ({state})")
    table.add_row(
        "examples",
        f"{manifest['examples']} in {len(manifest['intents'])} intents "
        f"({report.corrections} corrections), {manifest['out_of_scope_examples']} out of scope",
    )
    table.add_row("features", "MiniLM + n-grams" if manifest["embeddings"] else "n-grams")
    table.add_row("held-out accuracy", f"{metrics['held_out_accuracy']:.3f}")
    ece = f"{metrics['ece']:.3f} (before scaling {metrics['ece_uncalibrated']:.3f})"
    table.add_row("calibration error (ECE)", ece)
    if "oos_recall" in metrics:
        table.add_row("out-of-scope recall", f"{metrics['oos_recall']:.3f}")
    table.add_row("entity types learned", ", ".join(manifest["entity_types"]) or "none")
    table.add_row("time", f"{manifest['train_seconds']:.1f} s")
    out.print(table)
    print_report(report.as_dict())
    if promote and not report.promoted:
        raise typer.Exit(3)


def evaluate_nlu(
    workspace: WorkspaceOption = Path("."),
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    test: Annotated[
        Path | None,
        typer.Option(help="A fixed test set (a .yml/.csv file or folder) instead of folds."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Training data folder (default: the workspace's nlu/).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: .frontdesk/reports/nlu-<time>/)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Evaluate a stored version ('active': the one serving) on --test, "
            "default the golden set, instead of a fresh model from the data."
        ),
    ] = None,
) -> None:
    """Per-intent precision/recall/F1, confusion matrix (PNG) and HTML report, entity scores."""
    from datetime import UTC, datetime

    from frontdesk.nlu.evaluation import evaluate, load_test_set, plan_folds
    from frontdesk.nlu.training_data import load_yaml

    ws = Workspace.at(workspace)
    settings = load_settings(ws)
    training = _load(data or ws.nlu_dir)
    test_data = None
    if test is not None:
        try:
            test_data = load_test_set(test)
        except TrainingDataError as exc:
            raise fail(str(exc)) from None
        unknown = sorted(set(test_data.intents) - set(training.intents))
        if unknown:
            raise fail(f"{test}: intents not in the training data: {', '.join(unknown)}")
    elif model is None:
        # Said before the run: how the data changes the folds asked for.
        try:
            plan = plan_folds(training, folds)
        except ValueError as exc:
            raise fail(f"{data or ws.nlu_dir}: {exc}") from None
        for line in plan.notes:
            err.print(f"note: {line}", highlight=False, markup=False, soft_wrap=True)
    embedder = _embedder(settings)
    rules = rule_extractor(settings.nlu, training)
    if model is not None:
        from frontdesk.nlu.evaluation import evaluate_trained
        from frontdesk.nlu.model_store import ModelStore

        store = ModelStore(models_root(ws))
        version = store.active_version() if model == "active" else model
        if version is None or version not in store.versions():
            raise fail(f"no model version {model!r}; see `frontdesk models list`")
        if test_data is None:
            golden = ws.root / "golden" / "nlu.yml"
            if not golden.is_file():
                raise fail(f"--model needs a test set: --test, or {golden}")
            test_data = load_yaml(golden)
        trained = store.load(version, embedder)
        report = evaluate_trained(trained.classifier, trained.entities, test_data, rules,
                                  training.synonyms)  # fmt: skip
        report.method = f"model {version} on {test or 'golden/nlu.yml'}"
        _print_summary(report, output or ws.state_dir / "reports" / f"nlu-{version}")
        return
    with _progress() as bar:
        task = bar.add_task("evaluating", total=1)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        try:
            report = evaluate(training, embedder, rules, folds=folds, test=test_data, step=step)
        except ValueError as exc:
            raise fail(str(exc)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    _print_summary(report, output or ws.state_dir / "reports" / f"nlu-{stamp}")


def _print_summary(report: NluReport, folder: Path) -> None:
    from frontdesk.nlu.evaluation import write_report

    summary = write_report(report, folder)
    table = Table("intent", "precision", "recall", "F1", "support")
    for name, m in sorted(summary["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
        table.add_row(
            name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
        )
    for average in ("macro", "micro"):
        m = summary["averages"][average]
        table.add_row(
            f"[bold]{average} avg[/bold]",
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(summary["examples"]),
        )
    out.print(table)
    if summary["entities"]:
        entities = Table("entity", "precision", "recall", "F1", "support")
        for name, m in summary["entities"].items():
            entities.add_row(
                name,
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['f1']:.3f}",
                str(m["support"]),
            )
        out.print(entities)
    if summary["not_tested"]:
        out.print(
            f"not tested (no test examples): {', '.join(summary['not_tested'])}",
            highlight=False,
            markup=False,
        )
    for c in summary["worst_confusions"][:5]:
        out.print(
            f"confused: {c['intent']} -> {c['predicted']} ({c['count']}x), e.g. {c['examples'][0]}",
            highlight=False,
            markup=False,
        )
    line = (
        f"{summary['method']}: accuracy {summary['accuracy']:.3f}, "
        f"macro F1 {summary['averages']['macro']['f1']:.3f}, ECE {summary['ece']:.3f}"
    )
    if "oos_recall" in summary:
        line += f", out-of-scope recall {summary['oos_recall']:.3f}"
    out.print(line, markup=False)  # the method may name a file
    out.print(f"report: {folder / 'nlu-report.html'}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the NLU commands to the main app (called once from `frontdesk.cli.main`)."""
    app.add_typer(data_app, name="data")
    app.command("train")(friendly(train_command))
    evaluate_app.command("nlu")(friendly(evaluate_nlu))
