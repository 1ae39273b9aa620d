"""The agent console: server-rendered pages for queues, conversations and corrections, with
live updates over server-sent events.

The API app mounts it through the `frontdesk.web` entry-point group (drivers do not import
each other), the same way a third-party console would be added.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def mount(app: FastAPI) -> None:
    from frontdesk.web.auth import LoginRequired
    from frontdesk.web.routes import login_redirect, router

    app.include_router(router)
    app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
