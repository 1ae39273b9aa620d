"""A fake REST target system for the HTTP target's tests: the demo's folder behind the API
frontdesk.ops.http_target expects, served by uvicorn on 127.0.0.1 (a real socket)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import ElementChange, Severity, TargetElement
from frontdesk.ops.folder import FolderTarget

TOKEN = "target-token-123"


def fake_service(root: Path) -> FastAPI:
    target = FolderTarget(root)
    app = FastAPI()

    @app.middleware("http")
    async def bearer(request: Request, call_next: Any) -> Any:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"code": "unauthorized", "message": "no"}}, 401)
        return await call_next(request)

    @app.exception_handler(FrontdeskError)
    async def error(_: Request, exc: FrontdeskError) -> JSONResponse:
        body = {"error": {"code": exc.code, "message": exc.message}}
        return JSONResponse(body, exc.status_code)

    @app.get("/kinds")
    async def kinds() -> Any:
        return await target.kinds()

    @app.get("/elements")
    async def elements(kind: str | None = None) -> Any:
        return [e.model_dump() for e in await target.elements(kind)]

    @app.get("/elements/{element_id}")
    async def element(element_id: str) -> Any:
        return (await target.element(element_id)).model_dump()

    @app.get("/schemas/{kind}")
    async def schema(kind: str) -> Any:
        return await target.schema(kind)

    @app.post("/validate")
    async def validate(body: Annotated[dict[str, Any], Body()]) -> Any:
        return await target.validate(body["configs"], new=body.get("new"))

    @app.post("/render")
    async def render(body: Annotated[dict[str, Any], Body()]) -> Any:
        try:
            element = await target.element(body["id"])
        except FrontdeskError:  # a new element: rendered as its kind's files are
            element = TargetElement(id=body["id"], kind=body["kind"], config={}, text="",
                                    digest="")  # fmt: skip
        return {"text": await target.render(element, body["config"])}

    @app.get("/version")
    async def version() -> Any:
        return {"version": await target.version()}

    @app.post("/changes")
    async def changes(body: Annotated[dict[str, Any], Body()]) -> Any:
        parsed = [ElementChange.model_validate(c) for c in body["changes"]]
        applied = await target.apply(parsed, actor=body["actor"], message=body["message"])
        return applied.model_dump()

    @app.post("/versions/{number}/rollback")
    async def rollback(number: int, body: Annotated[dict[str, Any], Body()]) -> Any:
        restored = await target.rollback(number, actor=body["actor"], message=body["message"])
        return restored.model_dump()

    @app.get("/events")
    async def events(start: datetime, end: datetime,
                     element: Annotated[list[str] | None, Query()] = None,
                     min_severity: Severity = "debug") -> Any:  # fmt: skip
        found = await target.events(start, end, elements=element, min_severity=min_severity)
        return [e.model_dump(mode="json") for e in found]

    @app.get("/metrics")
    async def metrics(start: datetime, end: datetime,
                      element: Annotated[list[str] | None, Query()] = None) -> Any:  # fmt: skip
        found = await target.metrics(start, end, elements=element)
        return [m.model_dump(mode="json") for m in found]

    return app


@asynccontextmanager
async def serving(root: Path) -> AsyncIterator[str]:
    """The fake service on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake_service(root), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn has no start event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
