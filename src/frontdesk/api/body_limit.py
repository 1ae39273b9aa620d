"""Refuse request bodies over a size limit with 413, before the app reads them whole."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.config.settings import ServerSettings

# Routes that take files: `server.max_upload_bytes` instead of `server.max_body_bytes`.
UPLOAD_PATHS = ("/v1/knowledge/documents", "/v1/channels/voice")


class BodySizeLimit:
    """`settings()` is asked on every request: the app is built before its lifespan opens the
    workspace (`frontdesk serve` builds it from a factory), so the limits it configures are
    only known then."""

    def __init__(self, app: ASGIApp, settings: Callable[[], ServerSettings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = self.settings()
        upload = scope["path"].startswith(UPLOAD_PATHS)
        limit = server.max_upload_bytes if upload else server.max_body_bytes
        setting = "server.max_upload_bytes" if upload else "server.max_body_bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(send, limit, setting)
                    return
        # Buffer the body (bounded by the limit) so an oversized one is refused before the
        # app sees any of it, then replay it to the app.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)
                return
            body = message.get("body", b"")
            received += len(body)
            if received > limit:
                await self._reject(send, limit, setting)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body_message: Message = {
            "type": "http.request",
            "body": b"".join(chunks),
            "more_body": False,
        }
        await self.app(scope, _replay(body_message, receive), send)

    async def _reject(self, send: Send, limit: int, setting: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": f"request body is larger than {limit} bytes ({setting})",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(first: Message, rest: Receive) -> Receive:
    """Hand the buffered message to the app first, then the real stream (disconnects)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await rest()

    return receive
