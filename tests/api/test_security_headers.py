"""Security headers: nosniff and a referrer policy everywhere; on HTML pages a CSP with no
inline script, the console never framed, the chat page framed only by `web.embed_origins`."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from frontdesk.api.security_headers import SecurityHeaders, inline_script_policy
from frontdesk.config.settings import WebSettings

ORIGINS = ["https://shop.example", "https://*.shop.example"]


def _page(request: object) -> HTMLResponse:
    return HTMLResponse("<p>hi</p>")


def _own_policy(request: object) -> HTMLResponse:
    return HTMLResponse("<p>docs</p>", headers={"Content-Security-Policy": "default-src 'self'"})


def _json(request: object) -> JSONResponse:
    return JSONResponse({"ok": True})


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/", _page), Route("/console/login", _page),
                            Route("/docs", _own_policy), Route("/v1/x", _json)])  # fmt: skip
    wrapped = SecurityHeaders(app, embed_origins=lambda: ORIGINS)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def test_pages_get_a_policy_without_inline_script() -> None:
    async with _client() as http:
        chat, console, docs, api = [await http.get(p) for p in ("/", "/console/login", "/docs",
                                                                 "/v1/x")]  # fmt: skip
    for response in (chat, console, docs, api):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    for response in (chat, console):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert "default-src 'none'" in policy
    assert chat.headers["Content-Security-Policy"].endswith(
        "frame-ancestors 'self' https://shop.example https://*.shop.example"
    )
    assert console.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert console.headers["X-Frame-Options"] == "DENY"
    assert "X-Frame-Options" not in chat.headers  # it cannot name the embedding sites
    assert docs.headers["Content-Security-Policy"] == "default-src 'self'"  # the route's own
    assert "Content-Security-Policy" not in api.headers  # JSON is not a page


def test_an_inline_script_is_allowed_only_by_its_hash() -> None:
    policy = inline_script_policy(b"<script src='/a.js'></script><script>go()</script>")
    expected = base64.b64encode(hashlib.sha256(b"go()").digest()).decode()
    assert f"script-src 'self' 'sha256-{expected}';" in policy
    assert "frame-ancestors 'none'" in policy


NOT_ORIGINS = ["shop.example", "https://shop.example/path", "https://a.example; script-src *",
               "'unsafe-inline'", "*"]  # fmt: skip


@pytest.mark.parametrize("origin", NOT_ORIGINS)
def test_embed_origins_must_be_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        WebSettings(embed_origins=[origin])
    assert WebSettings(embed_origins=ORIGINS).embed_origins == ORIGINS
