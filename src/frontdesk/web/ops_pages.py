"""Console pages of the operations assistant (`/console/ops`): the change plans, one plan with
its selector, patch, per-element validation and diff, and the buttons an operator or admin
uses to approve, apply and roll it back (forms with the CSRF token; every action audited by
the plans themselves, as through the API); and the troubleshooting chat (`/console/ops/chat`:
a GET form, since asking reads and stores nothing), its answer with the cited log lines,
metric values, atoms and next steps, or the starter configuration a setup request makes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from frontdesk.ops.assembly import cached_plans
from frontdesk.ops.plans import ChangePlans, plan_view
from frontdesk.ops.setup import chat_view, generator_for, looks_like_setup
from frontdesk.ops.troubleshoot import Troubleshooter, diagnosis_view
from frontdesk.orchestration.ops_chat import (
    build_troubleshooter,
    has_ops_model,
    llm_chat,
    llm_interpreter,
)
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.fields import StoredText
from frontdesk.web.auth import Csrf, Operator, RuntimeDep

router = APIRouter(prefix="/ops")


def _plans(request: Request, runtime: Runtime) -> ChangePlans:
    return cached_plans(request.app.state, runtime.workspace, runtime.settings, runtime.db)


def _diff_lines(diff: str) -> list[dict[str, str]]:
    """The unified diff as lines with a kind, so the page can colour them (no script)."""
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    lines = []
    for line in diff.splitlines():
        kind = "file" if line.startswith(("+++", "---")) else kinds.get(line[:1], "ctx")
        lines.append({"kind": kind, "text": line})
    return lines


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    from frontdesk.web.routes import _render as render  # the console's one look

    return render(request, name, context)


async def _act(back: str, action: Any) -> Response:
    from frontdesk.web.routes import _act as act  # and its one way of acting

    return await act(back, action)


@router.get("", response_class=HTMLResponse)
async def ops_page(request: Request, runtime: RuntimeDep, user: Operator) -> HTMLResponse:
    plans = await _plans(request, runtime).list(user.tenant_id)
    return _render(request, "ops.html", {"user": user, "plans": plans})


@router.get("/chat", response_class=HTMLResponse)
async def chat_page(
    request: Request,
    runtime: RuntimeDep,
    user: Operator,
    q: Annotated[str, Query(max_length=1000)] = "",
    at: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    context: dict[str, Any] = {"user": user, "question": q, "at": at, "view": None,
                               "error": None}  # fmt: skip
    if q.strip():
        plans = _plans(request, runtime)
        chat: Troubleshooter | None = getattr(request.app.state, "ops_troubleshooter", None)
        if chat is None or chat.target is not plans.target:
            chat = build_troubleshooter(plans.target, runtime.workspace.root)
            request.app.state.ops_troubleshooter = chat
        if looks_like_setup(q):
            context["view"] = chat_view(await generator_for(plans.target, chat.atoms), q)
        else:
            try:
                now = datetime.fromisoformat(at.strip()) if at.strip() else datetime.now(UTC)
            except ValueError:
                context["error"] = (f"{at!r} is not a moment: write it as ISO 8601, e.g. "
                                    "2026-12-06T08:30Z, or leave it empty for now")  # fmt: skip
            else:
                now = now if now.tzinfo else now.replace(tzinfo=UTC)
                llm = runtime.assistant.deps.llm
                if has_ops_model(llm):  # llm.models.ops: the model, with read-only tools
                    context["view"] = await llm_chat(llm, chat, q, now, tenant_id=user.tenant_id)
                else:
                    context["view"] = {"kind": "diagnosis",
                                       **diagnosis_view(await chat.ask(q, now))}  # fmt: skip
    return _render(request, "ops_chat.html", context)


@router.post("/plans", dependencies=[Csrf])
async def make_plan(
    request: Request,
    runtime: RuntimeDep,
    user: Operator,
    text: Annotated[StoredText, Form(max_length=1000)] = "",
) -> Response:
    made: list[str] = []

    async def action() -> str:
        llm = runtime.assistant.deps.llm
        interpret = llm_interpreter(llm, tenant_id=user.tenant_id) if has_ops_model(llm) else None
        plan = await _plans(request, runtime).make(user.tenant_id, text, actor=f"user:{user.id}",
                                                   interpret=interpret)  # fmt: skip
        made.append(plan.id)
        return "Plan made: read it, then approve it." if plan.status == "planned" else ""

    response: Response = await _act("/console/ops", action)
    if made:  # to the plan itself (a refused plan shows why there)
        response.headers["location"] = f"/console/ops/plans/{made[0]}"
    return response


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_page(
    plan_id: str, request: Request, runtime: RuntimeDep, user: Operator
) -> HTMLResponse:
    view = plan_view(await _plans(request, runtime).get(user.tenant_id, plan_id))
    patches = {json.dumps(p) for p in view["patches"].values()}
    return _render(request, "ops_plan.html", {
        "user": user, "plan": view, "diff": _diff_lines(view["diff"]),
        "one_patch": patches.pop() if len(patches) == 1 else None,
        "patches": {i: json.dumps(p) for i, p in view["patches"].items()},
    })  # fmt: skip


def _action(verb: str, done: str) -> Any:
    async def handler(
        plan_id: str, request: Request, runtime: RuntimeDep, user: Operator
    ) -> Response:
        async def action() -> str:
            plans = _plans(request, runtime)
            await plans.get(user.tenant_id, plan_id)  # another tenant's: not found
            plan = await getattr(plans, verb)(user.tenant_id, plan_id,
                                              actor=f"user:{user.id}")  # fmt: skip
            return done.format(version=plan.applied_version or plan.rollback_version)

        return await _act(f"/console/ops/plans/{plan_id}", action)

    return handler


router.add_api_route("/plans/{plan_id}/approve",
                     _action("approve", "Approved: it can be applied now."),
                     methods=["POST"], dependencies=[Csrf])  # fmt: skip
router.add_api_route("/plans/{plan_id}/apply", _action("apply", "Applied as version {version}."),
                     methods=["POST"], dependencies=[Csrf])  # fmt: skip
router.add_api_route("/plans/{plan_id}/rollback",
                     _action("rollback", "Rolled back: the previous files are restored."),
                     methods=["POST"], dependencies=[Csrf])  # fmt: skip
