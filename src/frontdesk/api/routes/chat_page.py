"""The minimal web chat page at `/` (the full widget comes later)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from frontdesk.api.deps import RuntimeDep
from frontdesk.api.widget_key import PageKey

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get("/", response_class=HTMLResponse)
async def chat_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    page_key: PageKey | None = request.app.state.widget_key
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "assistant": runtime.settings.assistant,
            # Checked at each load: a revoked key is replaced, no restart needed.
            "widget_key": await page_key.current() if page_key is not None else "",
        },
    )
