"""The minimal web chat page at `/` (the full widget comes later)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from frontdesk.api.deps import RuntimeDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


@router.get("/", response_class=HTMLResponse)
async def chat_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "assistant": runtime.settings.assistant,
            "widget_key": request.app.state.widget_key,
        },
    )
