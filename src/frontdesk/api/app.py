"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from frontdesk import __version__
from frontdesk.api.body_limit import BodySizeLimit
from frontdesk.api.errors import install_error_handlers
from frontdesk.api.routes import chat_page, conversations, health, knowledge
from frontdesk.api.routes import jobs as jobs_routes
from frontdesk.api.widget_key import ensure_widget_key
from frontdesk.config.settings import ServerSettings
from frontdesk.jobs import JobRunner
from frontdesk.orchestration.runtime import Runtime, open_runtime

STATIC = Path(__file__).resolve().parent / "static"


def create_app(workspace: Path | str | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app for a workspace, or around an already opened runtime (tests, embedding).

    The runtime (database, models) is opened in the lifespan, not here, so building the app
    is cheap and import-safe.
    """
    if workspace is None and runtime is None:
        raise ValueError("create_app needs a workspace directory or a runtime")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        current = runtime if runtime is not None else await open_runtime(workspace or ".")
        app.state.runtime = current
        app.state.widget_key = (
            await ensure_widget_key(current) if current.settings.web.enabled else ""
        )
        jobs = JobRunner(current.db)
        await jobs.recover()
        app.state.jobs = jobs
        try:
            yield
        finally:
            await jobs.drain()
            if owned:
                await current.close()

    app = FastAPI(
        title="frontdesk",
        version=__version__,
        summary="Self-hosted support assistant API",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(knowledge.router)
    app.include_router(jobs_routes.router)
    app.include_router(chat_page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    server = runtime.settings.server if runtime else ServerSettings()
    app.add_middleware(
        BodySizeLimit,
        max_bytes=server.max_body_bytes,
        overrides={"/v1/knowledge/documents": server.max_upload_bytes},
    )
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory frontdesk.api.app:create_app_from_env`."""
    import os

    return create_app(os.environ.get("FRONTDESK_WORKSPACE", "."))
