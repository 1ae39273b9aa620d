"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk import __version__
from frontdesk.api.body_limit import BodySizeLimit
from frontdesk.api.channel_intake import MESSAGE_JOBS, ChannelIntake
from frontdesk.api.docs import install_docs
from frontdesk.api.errors import install_error_handlers
from frontdesk.api.input_hygiene import UrlHygiene, params_fit_columns
from frontdesk.api.limits import Limiter
from frontdesk.api.push_channels import (
    channel_client,
    media_readers,
    outbounds,
    push_channels,
)
from frontdesk.api.routes import (
    admin,
    auth,
    chat_page,
    conversation_tokens,
    conversations,
    email_channel,
    health,
    key_rotation,
    knowledge,
    learning,
    openai_compat,
    ops,
    slack_channel,
    updates,
    voice_channel,
    whatsapp_channel,
)
from frontdesk.api.routes import jobs as jobs_routes
from frontdesk.api.security_headers import SecurityHeaders
from frontdesk.api.serving import WorkerMetrics
from frontdesk.api.stopping import Cutoff, CutoffMiddleware, on_stop_signal
from frontdesk.api.widget_key import PageKey, ensure_widget_key
from frontdesk.config.settings import JobsSettings, ServerSettings, Settings
from frontdesk.errors import ConfigError, install_extra
from frontdesk.jobs import JobRunner
from frontdesk.jobs.retention import purge_work, retention_loop
from frontdesk.jobs.runner import Dispatch, Interrupted, Work
from frontdesk.observability.logs import pseudonym_key, scrub_access_log, use_pseudonym_key
from frontdesk.orchestration.retrain import retrain_work
from frontdesk.orchestration.runtime import Runtime, open_runtime
from frontdesk.storage import outage

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)


def create_app(
    workspace: Path | str | None = None,
    *,
    runtime: Runtime | None = None,
    worker: int | None = None,
    prepared: bool = False,
) -> FastAPI:
    """Build the app for a workspace, or around an already opened runtime (tests, embedding).

    The runtime (database, models) is opened in the lifespan, not here, so building the app
    is cheap and import-safe. `worker`: this process is worker N of `serve --workers`
    (responses say so in `X-Frontdesk-Worker`; only worker 0 resumes webhook deliveries and
    runs the retention timer). `prepared`: the start-up work (knowledge sync) was done by
    the parent process, so it is not done again here.
    """
    leader = worker is None or worker == 0
    cutoff = Cutoff()  # requests still running after a stop signal: api/stopping.py
    if workspace is None and runtime is None:
        raise ValueError("create_app needs a workspace directory or a runtime")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        current = (
            runtime
            if runtime is not None
            else await open_runtime(workspace or ".", sync=not prepared)
        )
        app.state.runtime = current
        # Pseudonyms in access lines keyed per installation: stable across restarts, and no
        # customer ref can be found in a log by hashing guesses.
        use_pseudonym_key(pseudonym_key(current.workspace.state_dir))
        app.state.widget_key = (
            PageKey(current, await ensure_widget_key(current))
            if current.settings.web.enabled
            else None
        )
        jobs = JobRunner(current.db, timing=current.settings.jobs,
                         dispatch=_workers(current.settings.jobs))  # fmt: skip
        if leader and current.desk is not None and current.desk.dispatcher is not None:
            # Webhooks a previous process left pending: resumed by one worker, not N times.
            await current.desk.dispatcher.resume()
        app.state.jobs = jobs
        limits = current.settings.limits
        app.state.limiter = Limiter(limits, namespace=limits.redis_namespace(current.db.url))
        app.state.channels = ChannelIntake(  # Slack, WhatsApp
            current, app.state.limiter, client=channel_client(current.settings)
        )
        app.state.channels.media_readers.update(media_readers(app.state.channels))
        if current.desk is not None:  # agents' replies go out on Slack and WhatsApp too
            current.desk.channels.update(push_channels(app.state.channels))
        take_over = take_over_abandoned_jobs(current, jobs, app.state.channels)
        await take_over()
        watch = asyncio.create_task(every(current.settings.jobs.abandoned_after_s / 2, take_over))
        purge = (
            asyncio.create_task(retention_loop(current.db, jobs, current.settings))
            if leader and _retention_configured(current.settings)
            else None
        )
        peers = _worker_metrics(current.settings, worker)
        app.state.worker_metrics = peers
        publish = (
            asyncio.create_task(peers.keep_publishing(current.metrics.render))
            if peers is not None
            else None
        )
        app.state.stopping = asyncio.Event()  # set on SIGINT/SIGTERM: event streams end
        # ... and requests still running CUTOFF_S later are answered 503 shutting_down.
        cut_off = asyncio.create_task(cutoff.watch(app.state.stopping))
        try:
            with on_stop_signal(app.state.stopping):
                yield
        finally:
            for task in (watch, purge, publish, cut_off):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in (watch, purge, publish, cut_off) if t),
                                 return_exceptions=True)  # fmt: skip
            if peers is not None:
                await peers.close()
            await jobs.drain()
            await app.state.channels.close()
            await app.state.limiter.close()
            if owned:
                await current.close()

    app = FastAPI(
        title="frontdesk",
        version=__version__,
        summary="Self-hosted support assistant API",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from a package's files, not a CDN
        redoc_url=None,
        dependencies=[Depends(params_fit_columns)],  # every route's, the console's included
    )
    install_error_handlers(app)
    install_docs(app)
    scrub_access_log()  # uvicorn's access lines name no customer or conversation
    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(conversation_tokens.router)
    app.include_router(openai_compat.router)
    app.include_router(email_channel.router)
    app.include_router(voice_channel.router)
    app.include_router(slack_channel.router)
    app.include_router(whatsapp_channel.router)
    app.include_router(knowledge.router)
    app.include_router(jobs_routes.router)
    app.include_router(chat_page.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.include_router(key_rotation.router)
    app.include_router(learning.router)
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(updates.router)
    for entry in entry_points(group="frontdesk.web"):  # web drivers api does not import
        entry.load()(app)
    # Innermost: its 503 for a request cut off by a stop gets the headers of the others.
    app.add_middleware(CutoffMiddleware, cutoff=cutoff)
    app.add_middleware(BodySizeLimit, settings=lambda: _server_settings(app))
    app.add_middleware(UrlHygiene)
    app.add_middleware(SecurityHeaders, embed_origins=lambda: _embed_origins(app))
    if worker is not None:
        app.add_middleware(WorkerHeader, worker=worker)
    return app


class WorkerHeader:
    """`X-Frontdesk-Worker: N` on every response of worker N (`serve --workers`): which
    process answered, for operators checking the spread and for the tests."""

    def __init__(self, app: ASGIApp, worker: int) -> None:
        self.app = app
        self.header = (b"x-frontdesk-worker", str(worker).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, sending)


def _worker_metrics(settings: Settings, worker: int | None) -> WorkerMetrics | None:
    """With several workers (and so Redis limits), /metrics gathers them all."""
    import os

    from frontdesk.api.serving import SERVE_ID_ENV, WorkerMetrics, redis_scheme

    serve_id = os.environ.get(SERVE_ID_ENV)
    if worker is None or not serve_id or not redis_scheme(settings.limits.storage_url):
        return None
    return WorkerMetrics(settings.limits.storage_url, serve_id, worker)


def _embed_origins(app: FastAPI) -> list[str]:
    """Sites that may frame the chat page (`web.embed_origins`; none before the lifespan)."""
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    return runtime.settings.web.embed_origins if runtime is not None else []


def _server_settings(app: FastAPI) -> ServerSettings:
    """The opened workspace's `server:` settings (the defaults before the lifespan opens it)."""
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    return runtime.settings.server if runtime is not None else ServerSettings()


def resumable_jobs(runtime: Runtime) -> dict[str, Callable[[Interrupted], Work | None]]:
    """The job kinds a restart runs again (each is safe to repeat), and how to rebuild the
    work from the job row."""
    return {
        "knowledge_upload": lambda job: knowledge.resumed_upload(runtime, job),
        "retention_purge": lambda job: purge_work(runtime.db, runtime.settings, job.tenant_id),
        "knowledge_reindex": lambda job: knowledge.reindex_work(runtime, job.tenant_id),
        "nlu_retrain": lambda job: (
            retrain_work(runtime) if job.tenant_id == runtime.tenant.id else None
        ),
    }


def _workers(settings: JobsSettings) -> Dispatch | None:
    """Celery's dispatch when jobs go to workers (`jobs.broker_url`), else None."""
    if settings.broker_url is None:
        return None
    try:
        from frontdesk.api.worker import celery_dispatch
    except ImportError as exc:  # the extra is missing
        raise ConfigError(
            f"jobs.broker_url needs Celery: {install_extra('celery')} ({exc})"
        ) from None
    return celery_dispatch(settings)


def take_over_abandoned_jobs(
    runtime: Runtime, jobs: JobRunner, intake: ChannelIntake
) -> Callable[[], Awaitable[None]]:
    """Jobs whose process died (this one before a restart, or another sharing the database):
    those that can be are run again (here, or sent to the workers when jobs go to Celery), the
    rest are marked failed."""
    resumable = resumable_jobs(runtime)
    channel_outbounds = outbounds(intake)

    async def take_over() -> None:
        await jobs.recover(resumed_elsewhere=(*resumable, *MESSAGE_JOBS))
        await jobs.resume(resumable)
        await intake.resume(channel_outbounds)

    return take_over


async def every(interval_s: float, action: Callable[[], Awaitable[None]]) -> None:
    """Forever: wait, then act; a failed round is logged. Cancel the task to stop it."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await action()
        except Exception as exc:
            name = getattr(action, "__name__", "task")
            why = outage.cause(exc)
            if why is None:
                log.exception("periodic %s failed", name)
            else:  # a lost database is no bug: a line, not a traceback every round
                log.warning("periodic %s skipped: the database is unavailable (%s)", name, why)


def _retention_configured(settings: Settings) -> bool:
    return settings.privacy.retention_days is not None or any(
        t.retention_days is not None for t in settings.tenants.values()
    )


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory frontdesk.api.app:create_app_from_env`."""
    import os

    from frontdesk.api.serving import PREPARED_ENV, WORKER_ENV

    worker = os.environ.get(WORKER_ENV)
    return create_app(
        os.environ.get("FRONTDESK_WORKSPACE", "."),
        worker=int(worker) if worker else None,
        prepared=os.environ.get(PREPARED_ENV) == "1",
    )
