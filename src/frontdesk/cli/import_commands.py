"""`frontdesk import rasa PATH` and `frontdesk evaluate conversations`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from frontdesk.cli.common import err, fail, friendly, out
from frontdesk.cli.evaluate_commands import evaluate_app, print_metrics
from frontdesk.config.workspace import Workspace, load_settings

if TYPE_CHECKING:
    from frontdesk.evaluation.conversations import Understand, Understood
    from frontdesk.nlu.rasa_project import Finding
    from frontdesk.nlu.training_data import TrainingData

import_app = typer.Typer(help="Bring in data from other tools.", no_args_is_help=True)

TargetOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="FRONTDESK_WORKSPACE",
        help="The workspace to create (a new or empty folder) or to add the project to.",
    ),
]


@import_app.command("rasa")
@friendly
def import_rasa(
    path: Annotated[Path, typer.Argument(help="The Rasa project's folder (data/, domain.yml).")],
    workspace: TargetOption = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files an earlier import wrote.")
    ] = False,
) -> None:
    """Turn a Rasa project into a frontdesk workspace: NLU data (copied unchanged), retrieval
    intents' responses as FAQ answers, one-intent replies as rules, stories, rules and the
    domain as dialogue data, test stories as golden conversations. What cannot be carried
    over is one warning each, with file:line. Exit 1 on errors, 0 with warnings."""
    from frontdesk.nlu.rasa_project import (
        RasaImportError,
        plan_import,
        project_training_data,
        read_project,
        write_workspace,
    )

    try:
        project = read_project(path)
        training = project_training_data(project)
        plan = plan_import(project, training)
        written = write_workspace(plan, workspace, force=force)
    except RasaImportError as exc:
        raise fail(str(exc)) from None
    print_findings(plan.warnings)
    counts = plan.counts()
    where = "new workspace" if written.new else "workspace"
    out.print(
        f"Imported {project.root} into {where} {written.root}: {counts['files']} files, "
        f"{counts['intents']} intents, {counts['examples']} examples, "
        f"{counts['entities']} entities, {counts['faq_answers']} FAQ answers, "
        f"{counts['stories']} stories, {counts['rules']} rules, "
        f"{counts['test_stories']} test stories; {len(plan.reply_rules)} fixed replies; "
        f"0 errors, {counts['warnings']} warnings",
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )
    if not written.new and plan.extractors:
        out.print(
            f"frontdesk.yaml is unchanged: for config.yml's RegexEntityExtractor, add "
            f"nlu.extractors: {json.dumps(plan.extractors)} to it",
            highlight=False, markup=False, emoji=False, soft_wrap=True,
        )  # fmt: skip
    if not written.new:
        out.print(
            f"rules.yaml is unchanged; the rules the project suggests are in "
            f"{written.root / 'dialogue'}/…/rules.yaml",
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=True,
        )
    out.print(
        f"Next: frontdesk train -w {written.root}",
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


def print_findings(findings: Sequence[Finding]) -> None:
    """One line each, sorted by file then line number (as numbers); never rich markup or
    emoji codes (`nlu.yml:100:` stays as written)."""
    for finding in sorted(findings, key=lambda f: (f.source, f.line, f.message)):
        err.print(
            f"{finding.where}: warning: {finding.message}",
            highlight=False,
            markup=False,
            emoji=False,
            soft_wrap=True,
        )


def evaluate_conversations(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace.")
    ] = Path("."),
    stories: Annotated[
        Path | None,
        typer.Option(help="Test stories, a file or folder (default: golden/conversations/)."),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the results as JSON.")] = None,
    show: Annotated[int, typer.Option(help="How many failed turns to print.")] = 20,
) -> None:
    """Play Rasa end-to-end test stories through the trained model in use (`frontdesk train`):
    per turn, whether the intent and the entities matched; a story passes when every turn
    does. Where the bot's answer is a fixed reply in rules.yaml, the rules must give it too;
    other bot actions (forms, custom actions) are not checked."""
    from frontdesk.config.workspace import load_rules
    from frontdesk.evaluation.conversations import (
        fixed_replies,
        load_conversations,
        rule_reply,
        run_conversations,
        show_entities,
    )
    from frontdesk.nlu.rasa_project import response_texts
    from frontdesk.nlu.rasa_stories import StoryError
    from frontdesk.nlu.training_data import TrainingDataError, load_training_data

    ws = Workspace.at(workspace)
    source = stories or ws.root / "golden" / "conversations"
    if not source.exists():
        raise fail(
            f"{source}: no test stories (import a Rasa project's tests/ with "
            "`frontdesk import rasa`, or give --stories FILE)"
        )
    try:
        conversations = load_conversations(source)
        training = load_training_data(ws.nlu_dir)
    except (StoryError, TrainingDataError) as exc:
        raise fail(str(exc)) from None
    if not conversations:
        raise fail(f"{source}: no stories in it")
    understand = _understand(ws, training)
    responses = response_texts(ws.root / "dialogue")
    rules = load_rules(Workspace.at(ws.root)) if ws.rules_file.is_file() else None
    fixed = fixed_replies(rules) if rules is not None else set()
    report = run_conversations(conversations, understand, set(training.entity_types),
                               responses=responses, fixed_replies=fixed,
                               reply=rule_reply(rules) if rules is not None else None)  # fmt: skip
    summary = report.summary()
    print_metrics(summary)
    for turn in report.failures()[:show]:
        got = "out of scope" if turn.out_of_scope else turn.intent
        line = f"FAIL {turn.where} ({turn.story}): {turn.text!r}: "
        problems = []
        if not turn.intent_ok:
            problems.append(f"intent {got}, expected {turn.expected_intent}")
        if not turn.entities_ok:
            problems.append(
                f"entities {show_entities(turn.entities)}, "
                f"expected {show_entities(turn.expected_entities)}"
            )
        if turn.reply_ok is False:
            problems.append(f"reply {turn.reply!r}, expected {turn.expected_reply!r}")
        line += "; ".join(problems)
        out.print(line, highlight=False, markup=False, emoji=False, soft_wrap=True)
    out.print(
        f"{summary['stories_passed']} of {summary['stories']} stories passed; "
        f"{summary['turns_matched']} of {summary['turns']} turns matched",
        highlight=False,
        markup=False,
        emoji=False,
    )
    if output:
        output.write_text(json.dumps(report.as_dict(), indent=2))


def _understand(ws: Workspace, training: TrainingData) -> Understand:
    """The trained model in use with the workspace's entity extractors, as the server runs
    them, over a batch of texts."""
    from datetime import UTC, datetime

    from frontdesk.cli.nlu_commands import _embedder, models_root
    from frontdesk.evaluation.conversations import Understood
    from frontdesk.nlu.entities import EntityPipeline, rule_extractor
    from frontdesk.nlu.model_store import ModelStore

    settings = load_settings(ws)
    store = ModelStore(models_root(ws))
    version = store.active_version()
    if version is None:
        raise fail(f"{ws.root} has no trained model: run `frontdesk train -w {ws.root}` first")
    model = store.load(version, _embedder(settings))
    # As the server builds it (orchestration/runtime.py).
    pipeline = EntityPipeline(rule_extractor(settings.nlu, training), model.entities,
                              training.synonyms)  # fmt: skip
    now = datetime.now(UTC)

    def understand(texts: Sequence[str]) -> list[Understood]:
        predictions = model.classifier.predict_batch(list(texts))
        results = []
        for text, prediction in zip(texts, predictions, strict=True):
            entities = tuple(
                (e.type, str(e.value), e.role) for e in pipeline.extract(text, now=now)
            )
            results.append(
                Understood(prediction.name, prediction.out_of_scope, entities,
                           prediction.confidence)
            )  # fmt: skip
        return results

    err.print(f"model {version}", highlight=False, markup=False)
    return understand


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    evaluate_app.command("conversations")(friendly(evaluate_conversations))
