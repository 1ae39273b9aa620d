"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from frontdesk.api.deps import RuntimeDep
from frontdesk.api.metrics_access import MetricsAccess
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(runtime: RuntimeDep) -> JSONResponse | dict[str, object]:
    """The database answers, is at the code's schema revision, and the models are loaded."""
    checks: dict[str, str] = {}
    try:
        async with runtime.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await migrate.current_revision(runtime.db)
        head = migrate.head_revision()
        checks["database"] = "ok" if revision == head else f"at {revision}, needs {head}"
    except Exception as exc:
        # Why, in words ("the database server refused the connection ..."), not a class name.
        why = runtime.db.outage.failed(exc) or f"{type(exc).__name__}: {exc}"
        checks["database"] = f"unavailable: {why}"
    else:
        runtime.db.outage.recovered()
    checks["intent_model"] = "ok" if runtime.assistant.deps.classifier.intents else "not trained"
    ready = all(value == "ok" for value in checks.values())
    # Without embeddings retrieval falls back to keywords: degraded, still ready.
    checks["embeddings"] = runtime.embedding_status
    checks["voice"] = _voice_status(runtime)  # optional: reported, never a reason to be unready
    # Which trained model answers now (`frontdesk train` swaps a new one in while serving).
    models = {"nlu": getattr(runtime.assistant.deps.classifier, "version", None)}
    # Each answer model's breaker: open is skipped (answers fall back), never unready.
    llm = runtime.assistant.deps.llm.router.breaker_states()
    if not ready:
        return JSONResponse(
            {"error": {"code": "not_ready", "message": "not ready"}, "checks": checks,
             "models": models, "llm": llm},
            status_code=503,
        )  # fmt: skip
    return {"status": "ready", "checks": checks, "models": models, "llm": llm}


def _voice_status(runtime: Runtime) -> str:
    """Voice: "off", "ok" (the model loads on the first voice message) or why it gets 503."""
    if runtime.transcriber is None:
        return "off"
    status = getattr(runtime.transcriber, "status", None)  # optional for plugin transcribers
    return str(status()) if callable(status) else "ok"


@router.get("/metrics", include_in_schema=False, dependencies=[MetricsAccess])
async def metrics(runtime: RuntimeDep, request: Request) -> Response:
    """Prometheus metrics; who may scrape them: `api/metrics_access.py`. With `serve
    --workers N`, every worker's, each sample labelled `worker`."""
    for model, state in runtime.assistant.deps.llm.router.breaker_states().items():
        runtime.metrics.model_breaker.labels(model).state(state)  # as of this scrape
    own = runtime.metrics.render()
    peers = getattr(request.app.state, "worker_metrics", None)
    body = own if peers is None else await peers.all(own)
    return Response(body, media_type="text/plain; version=0.0.4")
