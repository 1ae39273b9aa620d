"""A fake Slack Web API / Meta Graph API on a loopback port, for the push-channel tests: it
records every request and answers from a script (a status, or a JSON body with 200)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from frontdesk.api.app import create_app
from frontdesk.api.channel_intake import ChannelIntake
from frontdesk.jobs import JobRunner
from frontdesk.orchestration.runtime import Runtime
from tests.conftest import free_port

HANG_S = 5.0  # longer than the test takes to kill the caller


@dataclass
class FakeApi:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)  # every call, failed or not
    # The next answers: a status, a JSON body with 200, or "hang" (never answers in time).
    script: list[int | dict[str, Any] | str] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)  # Graph API media by id
    downloads: list[dict[str, Any]] = field(default_factory=list)  # every GET

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The calls that were answered with success."""
        return [r for r in self.requests if r["ok"]]


def _fake_app(fake: FakeApi) -> FastAPI:
    app = FastAPI()

    @app.get("/files/{media_id}")
    async def media_file(media_id: str, request: Request) -> Response:
        fake.downloads.append({"path": f"files/{media_id}",
                               "auth": request.headers.get("authorization")})  # fmt: skip
        return Response(fake.media[media_id], media_type="audio/ogg")

    @app.get("/{media_id}")
    async def media_url(media_id: str, request: Request) -> JSONResponse:
        """The Graph API's `GET /{media-id}`: a short-lived download URL."""
        fake.downloads.append({"path": media_id, "auth": request.headers.get("authorization")})
        if media_id not in fake.media:
            return JSONResponse({"error": {"message": "no such media"}}, status_code=404)
        return JSONResponse({"url": f"{fake.url}/files/{media_id}", "mime_type": "audio/ogg",
                             "id": media_id, "messaging_product": "whatsapp"})  # fmt: skip

    @app.post("/{path:path}")
    async def record(path: str, request: Request) -> JSONResponse:
        answer: int | dict[str, Any] | str = fake.script.pop(0) if fake.script else 200
        body = await request.json()
        if answer == "hang":  # the caller is gone (killed, timed out) before any answer
            fake.requests.append({"path": path, "json": body, "ok": False, "hung": True,
                                  "auth": request.headers.get("authorization")})  # fmt: skip
            await asyncio.sleep(HANG_S)
            return JSONResponse({"ok": False, "error": "too late"}, status_code=504)
        if isinstance(answer, int) and answer >= 400:
            fake.requests.append(
                {
                    "path": path,
                    "json": body,
                    "ok": False,
                    "auth": request.headers.get("authorization"),
                }
            )
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=answer)
        if isinstance(answer, dict):  # Slack's errors: HTTP 200 with ok false
            fake.requests.append(
                {
                    "path": path,
                    "json": body,
                    "ok": False,
                    "auth": request.headers.get("authorization"),
                }
            )
            return JSONResponse(answer)
        fake.requests.append(
            {"path": path, "json": body, "ok": True, "auth": request.headers.get("authorization")}
        )
        if path.endswith("chat.postMessage"):
            return JSONResponse({"ok": True, "channel": body["channel"], "ts": "1.000200"})
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "messages": [{"id": f"wamid.out{len(fake.requests)}"}],
            }
        )

    return app


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    fake = FakeApi()
    port = free_port()
    config = uvicorn.Config(_fake_app(fake), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the fake API did not start"
        assert time.monotonic() < deadline, "the fake API did not start in time"
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class ChannelClient:
    http: httpx.AsyncClient
    intake: ChannelIntake
    runtime: Runtime
    app_jobs: JobRunner  # the app's own runner (uploads, re-index, retrain, purge)

    async def settle(self) -> None:
        """Wait for the background answers (jobs) of what was posted so far."""
        await self.intake.drain()

    def metric(self, name: str, **labels: str) -> float:
        value = self.runtime.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


async def channel_client(runtime: Runtime) -> AsyncIterator[ChannelClient]:
    """The app over ASGI with its channel intake at hand (to wait for background answers)."""
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield ChannelClient(http, app.state.channels, runtime, app.state.jobs)
