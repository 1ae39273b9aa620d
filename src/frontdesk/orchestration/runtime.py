"""Assembly: from a workspace directory to a ready Assistant (config, database, models)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from frontdesk.config.forms import FormsConfig, check_form_names
from frontdesk.config.rules import RulesConfig
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace, load_forms, load_rules, load_settings
from frontdesk.embedding import EmbeddingUnavailableError, limit_blas_threads
from frontdesk.errors import ConfigError
from frontdesk.guard.input_screen import InputScreen
from frontdesk.guard.output_screen import OutputScreen
from frontdesk.guard.own_contacts import workspace_contacts
from frontdesk.handoff.desk import Desk
from frontdesk.handoff.events import event_hub
from frontdesk.handoff.webhooks import WebhookDispatcher
from frontdesk.handoff.zendesk import ZendeskMirror
from frontdesk.interfaces import Embedder, Retriever, Transcriber
from frontdesk.jobs import JobRunner
from frontdesk.knowledge.answerability import ANSWERABILITY_FILE, AnswerabilityModel
from frontdesk.knowledge.answerability import DEFAULT_MODEL as DEFAULT_ANSWERABILITY
from frontdesk.knowledge.ingest import SyncReport, sync_folder
from frontdesk.knowledge.parsing import DocumentParser
from frontdesk.llm.assembly import build_llm, check_provider_urls
from frontdesk.llm.budget import stored_month_usage
from frontdesk.nlu.entities import EntityPipeline, rule_extractor
from frontdesk.nlu.intent_classifier import TextEmbedder
from frontdesk.nlu.language import supported_languages
from frontdesk.nlu.model_store import HotEntityExtractor, HotIntentClassifier, ModelStore
from frontdesk.nlu.training_data import TrainingData, TrainingDataError, load_training_data
from frontdesk.observability.metrics import Metrics
from frontdesk.orchestration import builtins
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.batching import build_batching
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.learning import (
    RetrainReport,
    TrainingSet,
    golden_set,
    stored_corrections,
    train_gated,
)
from frontdesk.orchestration.remembering import name_to_show
from frontdesk.orchestration.remembering import warm_up as warm_memory
from frontdesk.policy.rules_router import RuleRouter
from frontdesk.policy.validation import check_rules
from frontdesk.registry import ENTRY_POINT_GROUP, Registries
from frontdesk.storage import migrate
from frontdesk.storage.audit import audit
from frontdesk.storage.db import Database
from frontdesk.storage.models import Job, Tenant, utcnow
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.tools.builtin import build_demo_tools
from frontdesk.tools.http_tool import HttpTool
from frontdesk.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    workspace: Workspace
    settings: Settings
    rules: RulesConfig
    training_data: TrainingData
    db: Database
    tenant: Tenant
    assistant: Assistant
    metrics: Metrics
    knowledge: SyncReport
    embedder: Embedder | None = None
    embedding_status: str = "disabled"
    tools: ToolRegistry | None = None
    desk: Desk | None = None
    transcriber: Transcriber | None = None  # voice intake; None when voice.enabled is false
    # Reads uploaded and ingested files; its worker processes start on the first HTML, PDF or
    # DOCX file and are killed by close().
    parser: DocumentParser | None = None

    async def close(self) -> None:
        if self.parser is not None:
            self.parser.close()
        if self.desk is not None and self.desk.dispatcher is not None:
            await self.desk.dispatcher.close()
        if self.desk is not None:
            await self.desk.hub.close()  # a Redis hub's connections and tasks
        await self.assistant.deps.llm.aclose()  # the model providers' connection pools
        if self.assistant.deps.batching is not None:
            self.assistant.deps.batching.close()  # the models' thread
        close_retriever = getattr(self.assistant.deps.retriever, "aclose", None)
        if close_retriever is not None:  # background index builds (a plugin's may have none)
            await close_retriever()
        await self.db.dispose()


def answerability_model(workspace: Workspace, settings: Settings) -> AnswerabilityModel | None:
    """The built-in answerability model, or the workspace's calibration of it; None when off."""
    config = settings.knowledge.answerability
    if not config.enabled:
        return None
    calibrated = workspace.root / ".frontdesk" / "models" / ANSWERABILITY_FILE
    model = DEFAULT_ANSWERABILITY
    if calibrated.is_file():
        try:
            model = AnswerabilityModel.from_file(calibrated)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"{calibrated}: not an answerability calibration ({exc}); "
                "delete it or run `frontdesk evaluate answers --calibrate`"
            ) from exc
    if config.threshold is not None:
        model = replace(model, threshold=config.threshold)
    return model


def load_registries() -> Registries:
    registries = Registries()
    names = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.add(ep.value)
        ep.load()(registries)
    if f"{builtins.__name__}:register" not in names:  # running from an uninstalled tree
        builtins.register(registries)
    return registries


def _detects_language(rules: RulesConfig) -> bool:
    return (
        rules.uses_language()
        or rules.language_detection.languages is not None
        or rules.languages.answered is not None
    )


def form_intents(forms: FormsConfig, rules: RulesConfig) -> None:
    """A form serves the intents of the rules that run it, unless forms.yml lists them."""
    for rule in rules.rules:
        form = forms.forms.get(rule.then.form or "")
        if form is not None and not form.model_fields_set & {"intents"}:
            form.intents.extend(i for i in rule.when.intent or [] if i not in form.intents)


def check_rules_against_intents(rules: RulesConfig, data: TrainingData, rules_file: Path) -> None:
    """Unknown intents in rules.yaml are errors with file:line (see `policy.validation`)."""
    if not rules.source:
        rules.source = str(rules_file)
    check_rules(rules, intents=data.intents)


def build_tools(
    db: Database, settings: Settings, rules: RulesConfig, clock: Callable[[], datetime]
) -> ToolRegistry:
    """The demo tools and the operator's HTTP tools (frontdesk.yaml `tools.http`)."""
    config = settings.tools
    registry = ToolRegistry(
        db,
        timeout_s=config.timeout_s,
        breaker_failures=config.breaker_failures,
        breaker_reset_s=config.breaker_reset_s,
    )
    for tool in build_demo_tools(
        db,
        teams=list(rules.teams),
        refund_limit=config.refund_approval_limit,
        clock=clock,
        team_names={team: rules.team_name(team) for team in rules.teams},
    ):
        registry.register(tool)
    for http in config.http:
        registry.register(HttpTool(http))
    return registry


def build_desk(db: Database, settings: Settings, clock: Callable[[], datetime]) -> Desk:
    """Hand-off actions with live console events, webhooks and the optional help-desk mirror."""
    handoff = settings.handoff
    mirror = None
    if handoff.zendesk is not None:
        token = handoff.zendesk.token()
        if not token:
            raise ConfigError(
                "handoff.zendesk: no API token (set handoff.zendesk.api_token or the variable "
                f"{handoff.zendesk.api_token_env})"
            )
        mirror = ZendeskMirror(handoff.zendesk.base_url, handoff.zendesk.email, token)
    # Console events reach every process that shares the limits' Redis (serve --workers N),
    # on this installation's channels only.
    limits = settings.limits
    desk = Desk(
        db,
        clock=clock,
        hub=event_hub(limits.storage_url, limits.redis_namespace(db.url)),
        # Replayed messages show a greeting's name from the profile, as the transcript does.
        name_of=lambda session, conversation: name_to_show(
            session, conversation.customer_ref, settings
        ),
    )
    if handoff.webhooks or mirror is not None:
        desk.dispatcher = WebhookDispatcher(
            db,
            handoff,
            runner=JobRunner(db, concurrency=2, timing=settings.jobs),
            mirror=mirror,
            clock=clock,
            on_external_id=desk.set_external_id,
        )
    return desk


async def prepare_database(db: Database, settings: Settings) -> None:
    if settings.auto_migrate:
        await migrate.upgrade(db)
        return
    current = await migrate.current_revision(db)
    if current != migrate.head_revision():
        raise ConfigError(
            f"database is at revision {current or 'none'}, the code needs "
            f"{migrate.head_revision()}: run `frontdesk db upgrade`"
        )


async def sync_knowledge(
    db: Database,
    tenant_id: str,
    workspace: Workspace,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    embedder: Embedder | None = None,
    folder: Path | None = None,
    prefix: str | None = None,
    embed_progress: Callable[[int, int], None] | None = None,
    log_rejects: bool = True,
    parser: DocumentParser | None = None,
) -> SyncReport:
    """Index a folder (default: the workspace's knowledge/) as a recorded job. Its documents
    are named `prefix` + path (default: the folder's name + "/"). Rejected files are logged
    as warnings unless `log_rejects` is off (a caller that shows them itself, the CLI).
    Files are read by `parser` (default: one of this call's, within the workspace's
    `knowledge.parsing` limits)."""
    if parser is None:
        own = DocumentParser(settings.knowledge.parsing)
        try:
            return await sync_knowledge(
                db,
                tenant_id,
                workspace,
                settings,
                progress=progress,
                embedder=embedder,
                folder=folder,
                prefix=prefix,
                embed_progress=embed_progress,
                log_rejects=log_rejects,
                parser=own,
            )
        finally:
            own.close()
    folder = folder or workspace.knowledge_dir
    prefix = f"{folder.name}/" if prefix is None else prefix
    async with db.session(tenant_id) as session:
        job = Job(kind="knowledge_sync", status="running", started_at=utcnow(),
                  payload={"folder": str(folder)})  # fmt: skip
        session.add(job)
        await session.commit()
        try:
            report = await sync_folder(
                session,
                folder,
                prefix=prefix,
                embedder=embedder,
                embed_progress=embed_progress,
                max_words=settings.knowledge.chunk_words,
                overlap_words=settings.knowledge.overlap_words,
                merge_words=settings.knowledge.merge_words,
                progress=progress,
                parser=parser,
            )
        except Exception as exc:
            await session.rollback()
            job.status, job.error, job.finished_at = "failed", str(exc), utcnow()
            await session.commit()
            raise
        job.status, job.result, job.finished_at = "done", report.as_dict(), utcnow()
        job.attempts = 1
        await session.commit()
    for error in report.errors if log_rejects else ():
        log.warning("knowledge: %s", error)
    for held in report.quarantined if log_rejects else ():
        log.warning("knowledge: quarantined %s", held)
    return report


def build_retriever(
    registries: Registries, settings: Settings, db: Database, embedder: Embedder | None
) -> Retriever:
    knowledge = settings.knowledge
    if embedder is None:
        return registries.retrievers.create(  # type: ignore[no-any-return]
            "fulltext",
            db=db,
            keyword_scoring=knowledge.keyword_scoring,
            keyword_max_share=knowledge.keyword_max_share,
        )
    return registries.retrievers.create(  # type: ignore[no-any-return]
        knowledge.retriever,
        db=db,
        embedder=embedder,
        candidates=knowledge.candidates,
        fusion=knowledge.fusion,
        dense_share=knowledge.dense_share,
        rrf_k=knowledge.rrf_k,
        dense_weight=knowledge.dense_weight,
        keyword_scoring=knowledge.keyword_scoring,
        keyword_max_share=knowledge.keyword_max_share,
        cached_passages=knowledge.cached_passages,
    )


def warn_small_pool(settings: Settings) -> None:
    """Turns beyond the pool wait for a connection (up to `database.pool_timeout_s`, then
    503): say so at start-up rather than under load."""
    connections = settings.pool_size() + settings.database.max_overflow
    wanted = settings.largest_concurrency()
    if connections < wanted:
        log.warning(
            "database pool: %d connections (pool_size %d + max_overflow %d) cannot serve "
            "tenant_concurrency %d at once; turns beyond it wait up to %.0f s for a "
            "connection. Raise database.pool_size or lower limits.tenant_concurrency.",
            connections, settings.pool_size(), settings.database.max_overflow, wanted,
            settings.database.pool_timeout_s,
        )  # fmt: skip


async def open_database(workspace: Workspace, settings: Settings) -> Database:
    """The workspace's database, migrated (or checked) to the code's schema."""
    workspace.state_dir  # noqa: B018 - created here so the default SQLite file can be
    db = Database(
        settings.resolved_database_url(workspace.root),
        pool_size=settings.pool_size(),
        max_overflow=settings.database.max_overflow,
        pool_timeout_s=settings.database.pool_timeout_s,
    )
    if db.dialect == "postgresql":
        warn_small_pool(settings)
    try:
        await prepare_database(db, settings)
    except (SQLAlchemyError, OSError) as exc:
        await db.dispose()
        url = make_url(db.url).render_as_string(hide_password=True)
        raise ConfigError(f"cannot open the database {url}: {exc.__cause__ or exc}") from exc
    except BaseException:
        await db.dispose()
        raise
    return db


def load_embedder(registries: Registries, settings: Settings) -> tuple[Embedder | None, str]:
    """The configured embedder, loaded (checksums verified), or None and why: without one,
    retrieval falls back to keyword search instead of refusing to start."""
    try:
        embedder: Embedder = registries.embedders.create(settings.knowledge.embedder)
        embedder.embed(["warm-up"])
    except EmbeddingUnavailableError as exc:
        log.warning("embeddings unavailable, using keyword search only: %s", exc.message)
        return None, f"unavailable: {exc.message}"
    return embedder, "ok"


async def open_runtime(
    workspace_dir: Path | str,
    *,
    embedder: Embedder | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sync: bool = True,
) -> Runtime:
    limit_blas_threads()  # per-request products are small: see frontdesk.embedding.threads
    workspace = Workspace.at(workspace_dir)
    settings = load_settings(workspace)
    rules = load_rules(workspace)
    forms = load_forms(workspace)
    form_intents(forms, rules)
    try:
        data = load_training_data(workspace.nlu_dir)
    except TrainingDataError as exc:
        raise ConfigError(str(exc)) from exc
    for warning in data.warnings:  # read, but not carried over: said, never dropped silently
        log.warning("nlu: %s", warning)
    check_rules(rules, intents=data.intents, forms=forms.forms)
    await check_provider_urls(settings.llm)  # no provider on a cloud metadata address
    registries = load_registries()
    if embedder is None and "hybrid" in (settings.knowledge.retriever, settings.nlu.classifier):
        embedder, embedding_status = load_embedder(registries, settings)
    else:
        embedding_status = "ok" if embedder is not None else "disabled (fulltext retriever)"
    db = await open_database(workspace, settings)
    parser = DocumentParser(settings.knowledge.parsing)
    # Anything below may reject the configuration: close the database before saying so.
    try:
        tenant = await ensure_tenant(db, settings.tenant)
        report = (
            await sync_knowledge(
                db, tenant.id, workspace, settings, embedder=embedder, parser=parser
            )
            if sync
            else SyncReport()
        )
        # The model serves nlu/ plus the agents' corrections; when either changed since the
        # model in use was trained, a candidate is trained and promoted only through the gate.
        training = TrainingSet.build(
            data, await stored_corrections(db, tenant.id), golden_set(workspace.root)
        )
        start_up: list[RetrainReport] = []

        def refresh(
            _data: TrainingData, store: ModelStore, model_embedder: TextEmbedder | None
        ) -> None:
            start_up.append(train_gated(store, training, model_embedder, trigger="start-up",
                                       actor="system", skip_rejected=True))  # fmt: skip
            for reason in start_up[-1].reasons:
                log.info("NLU start-up training %s: %s", start_up[-1].outcome, reason)

        classifier = registries.intent_classifiers.create(
            settings.nlu.classifier,
            data=training.data,
            models_dir=workspace.state_dir / "models",
            embedder=embedder,
            settings=settings.nlu,
            refresh=refresh,
        )
        for done in (r for r in start_up if not r.skipped):
            async with db.session(tenant.id) as session:
                audit(session, actor="system", action=f"nlu.train.{done.outcome}",
                      target=done.candidate,
                      detail={"via": "start-up", "baseline": done.baseline,
                              "corrections": done.corrections,
                              "reasons": done.reasons})  # fmt: skip
                await session.commit()
        retriever = build_retriever(registries, settings, db, embedder)
        llm = build_llm(
            settings.llm,
            registries.chat_models.create,
            month_usage=stored_month_usage(db),
            embedder=embedder,
            company=settings.assistant.company,
        )
        metrics = Metrics()
        # The trained extractor follows the classifier's model when it is swapped.
        trained = (
            HotEntityExtractor(classifier.hot)
            if isinstance(classifier, HotIntentClassifier)
            else None
        )
        extractor = EntityPipeline(
            rule_extractor(settings.nlu, data),
            trained,
            data.synonyms,
        )
        tools = build_tools(db, settings, rules, clock)
        check_rules(
            rules,
            intents=data.intents,
            entities=extractor.types,
            tools=tools.names(),
            # The detector's model loads only for a file that uses it.
            languages=supported_languages() if _detects_language(rules) else None,
            forms=forms.forms,
        )
        problems = check_form_names(
            forms, tools=tools.names(), entities=extractor.types, teams=rules.teams
        )
        if problems:
            raise ConfigError("\n".join(problems))
        desk = build_desk(db, settings, clock)
        transcriber: Transcriber | None = (
            registries.transcribers.create(settings.voice.transcriber, settings=settings.voice)
            if settings.voice.enabled
            else None  # the model itself loads on the first voice message
        )
        deps = Deps(
            settings=settings,
            rules=rules,
            db=db,
            classifier=classifier,
            extractor=extractor,
            retriever=retriever,
            llm=llm,
            router=RuleRouter(rules),
            input_guard=InputScreen(
                max_chars=settings.assistant.max_message_chars, settings=settings
            ),
            # The operator's own phone numbers, addresses and links stay in what it says.
            output_guard=OutputScreen(
                settings.guard,
                workspace_contacts=workspace_contacts(
                    workspace.knowledge_dir, rules.model_dump(mode="json")
                ),
            ),
            metrics=metrics,
            clock=clock,
            tools=tools,
            desk=desk,
            answerability=answerability_model(workspace, settings),
            forms=forms,
        )
        deps.batching = build_batching(settings.performance, embedder, retriever)
        deps.input_guard.warm_up()
        warm_memory(deps)  # the language detector's model, before the first message
    except BaseException:
        parser.close()
        await db.dispose()
        raise
    return Runtime(
        workspace=workspace,
        settings=settings,
        rules=rules,
        training_data=data,
        db=db,
        tenant=tenant,
        assistant=Assistant(deps),
        metrics=metrics,
        knowledge=report,
        embedder=embedder,
        embedding_status=embedding_status,
        tools=tools,
        desk=desk,
        transcriber=transcriber,
        parser=parser,
    )
