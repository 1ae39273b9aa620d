"""The API's own documentation page, served from this machine: Swagger UI at /docs, with its
files from the `fastapi-offline` package instead of a CDN, so the page works on a machine
with no network. Also the site's icon (/favicon.ico).

No /redoc: ReDoc's page loads its logo from its vendor's CDN whatever it is told, and a
self-hosted server's pages call no one else."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from frontdesk.api.security_headers import inline_script_policy

ASSETS = "/docs-assets"
ICON = Path(__file__).resolve().parent / "static" / "favicon.svg"


def install_docs(app: FastAPI) -> None:
    """Add /docs and its assets to an app built with `docs_url=None, redoc_url=None`
    (FastAPI's own pages load Swagger UI and ReDoc from a CDN)."""
    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, StaticFiles(directory=assets), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.ico",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
        )
        page.headers["Content-Security-Policy"] = inline_script_policy(bytes(page.body))
        return page

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers["Content-Security-Policy"] = inline_script_policy(bytes(page.body))
        return page

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(ICON, media_type="image/svg+xml")
