"""Security headers on every response, and a Content-Security-Policy on every HTML page.

The pages load their scripts and styles from this server only, with no inline script, style
or event handler, so the policy allows 'self' and nothing inline: text that slipped into a
page as markup could not run. The chat page may be framed by the sites in
`web.embed_origins` (the embedded widget); the console never is. A route that sets its own
policy (/docs, whose Swagger UI starts from one inline script allowed by its hash) keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)
CONSOLE_PREFIX = "/console"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def page_policy(frame_ancestors: str) -> str:
    return f"{PAGE_POLICY}; frame-ancestors {frame_ancestors}"


def inline_script_policy(html: bytes) -> str:
    """For a page we do not write (Swagger UI): its inline scripts allowed by their SHA-256,
    exactly as they are, and nothing else inline. Swagger UI sets element styles itself."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in INLINE_SCRIPT.findall(html)
    ]
    return (
        f"default-src 'none'; script-src 'self' {' '.join(hashes)}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def embed_ancestors(origins: list[str]) -> str:
    return " ".join(["'self'", *origins])


class SecurityHeaders:
    """Pure ASGI (event streams pass through unbuffered). `embed_origins` is read per
    response, so it follows the workspace opened in the lifespan."""

    def __init__(self, app: ASGIApp, embed_origins: Callable[[], list[str]]) -> None:
        self.app = app
        self.embed_origins = embed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        console = scope["path"].startswith(CONSOLE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    ancestors = "'none'" if console else embed_ancestors(self.embed_origins())
                    headers.setdefault("Content-Security-Policy", page_policy(ancestors))
                    if console:  # for browsers older than frame-ancestors
                        headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
