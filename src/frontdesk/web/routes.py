"""Console pages and actions. Pages render on the server; forms post and redirect back; the
live stream tells open pages when to refresh their live regions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from frontdesk.errors import FrontdeskError, InvalidRequestError, NotFoundError
from frontdesk.handoff.corrections import (
    change_correction,
    corrections,
    corrections_by_turn,
    relabel,
)
from frontdesk.handoff.desk import message_event
from frontdesk.handoff.tickets import ticket_events
from frontdesk.knowledge.ingest import quarantined_passages
from frontdesk.memory.profile import add_note, load_profile, past_tickets
from frontdesk.orchestration.learning import accept, roll_back, version_summary
from frontdesk.orchestration.remembering import profile_name
from frontdesk.orchestration.retrain import models_store, start_retrain
from frontdesk.storage.audit import audit
from frontdesk.storage.conversations import add_message, all_messages, get_conversation, turns_of
from frontdesk.storage.fields import StoredText, fits
from frontdesk.storage.models import Conversation, CustomerProfile, Job, Ticket
from frontdesk.storage.security_models import User
from frontdesk.storage.tickets import active_tickets, get_ticket, latest_ticket_for
from frontdesk.storage.users import Role, login, logout, verify_session
from frontdesk.text import render_name
from frontdesk.tools.replies import UNSHOWN_RESULT, customer_text
from frontdesk.web.auth import COOKIE, Admin, Agent, Csrf, LoginRequired, RuntimeDep, csrf_token

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
HEARTBEAT_S = 15.0
SESSION_CHECK_S = 2.0  # an open event stream re-checks its session at least this often


def _render(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    context = {"csrf": csrf_token(request), "error": request.query_params.get("error"),
               "notice": request.query_params.get("notice"), **context}  # fmt: skip
    return templates.TemplateResponse(request, name, context, status_code=status)


def _back(url: str, *, error: str | None = None, notice: str | None = None) -> RedirectResponse:
    if error:
        url += ("&" if "?" in url else "?") + "error=" + quote(error)
    if notice:
        url += ("&" if "?" in url else "?") + "notice=" + quote(notice)
    return RedirectResponse(url, status_code=303)


async def _act(back: str, action: Callable[[], Awaitable[str | None]]) -> RedirectResponse:
    """Run a console action; a refusal (conflict, bad input) comes back as a message."""
    try:
        notice = await action()
    except FrontdeskError as exc:
        return _back(back, error=exc.message)
    return _back(back, notice=notice)


# -- sign in ---------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _render(request, "login.html", {"tenant": runtime.tenant.slug})


@router.post("/login")
async def login_submit(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[StoredText, fits(User.email), Form()],
    password: Annotated[StoredText, Form()],
) -> Response:
    # Password guessing is rate limited per account, as on `POST /v1/auth/login` (same count).
    address = request.client.host if request.client else "unknown"
    await request.app.state.limiter.hit_sign_in(runtime.tenant.slug, email, address)
    issued = await login(runtime.db, runtime.tenant.slug, email, password)
    if issued is None:
        return _render(request, "login.html", {"tenant": runtime.tenant.slug,
                       "error": "Wrong e-mail or password."}, status=401)  # fmt: skip
    home = "/console/ops" if issued.role is Role.OPERATOR else "/console"
    response = RedirectResponse(home, status_code=303)
    response.set_cookie(COOKIE, issued.token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/console",
                        expires=issued.expires_at)  # fmt: skip
    return response


@router.post("/logout", dependencies=[Csrf])
async def logout_submit(runtime: RuntimeDep, user: Agent) -> Response:
    await logout(runtime.db, user.tenant_id, user.session_id)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


# -- queues ------------------------------------------------------------------------------------


def _sla(ticket: Ticket, now: datetime) -> dict[str, Any]:
    due = ticket.due_at
    if due is None:
        return {"due": None, "state": "none"}
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    left = (due - now).total_seconds()
    state = "breached" if left < 0 else "soon" if left < 30 * 60 else "ok"
    return {"due": due.isoformat(), "state": state, "left": int(left)}


@router.get("", response_class=HTMLResponse)
async def queues(request: Request, runtime: RuntimeDep, user: Agent) -> HTMLResponse:
    now = datetime.now(UTC)
    async with runtime.db.session(user.tenant_id) as session:
        tickets = await active_tickets(session)
    by_team: dict[str, list[dict[str, Any]]] = {team: [] for team in runtime.rules.teams}
    for ticket in tickets:
        by_team.setdefault(ticket.team, []).append({"ticket": ticket, "sla": _sla(ticket, now)})
    approvals = await runtime.tools.pending(user.tenant_id) if runtime.tools else []
    return _render(request, "queues.html", {
        "user": user, "teams": runtime.rules.teams, "queues": by_team, "approvals": approvals,
    })  # fmt: skip


# -- a conversation ------------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    conversation_id: str, request: Request, runtime: RuntimeDep, user: Agent
) -> HTMLResponse:
    async with runtime.db.session(user.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        if conversation is None:
            raise NotFoundError(f"conversation {conversation_id} not found")
        messages = await all_messages(session, conversation_id)
        turns = await turns_of(session, conversation_id)
        ticket = await latest_ticket_for(session, conversation_id)
        events = await ticket_events(session, ticket.id) if ticket else []
        relabelled = await corrections_by_turn(session, [t.id for t in turns])
        profile, tickets = await _customer(session, conversation.customer_ref)
        audit(session, actor=f"user:{user.id}", action="conversation.read",
              target=conversation_id, detail={"via": "console"})  # fmt: skip
        await session.commit()
    calls = await runtime.tools.calls_for(user.tenant_id, conversation_id) if runtime.tools else []
    texts = {m.turn_id: m.text for m in messages if m.role == "customer" and m.turn_id}
    name = profile_name(profile, runtime.settings)  # a greeting's reference shows it
    shown = {m.seq: render_name(m.text, name) for m in messages}
    return _render(request, "conversation.html", {
        "user": user, "conversation": conversation, "messages": messages, "turns": turns,
        "shown": shown,
        "texts": texts, "ticket": ticket, "events": events, "calls": calls,
        "sla": _sla(ticket, datetime.now(UTC)) if ticket else None,
        "intents": runtime.training_data.intents, "relabelled": relabelled,
        "profile": profile, "past_tickets": tickets,
        "owner": ticket is not None and ticket.assignee == user.email
        and conversation.status == "agent",
    })  # fmt: skip


async def _customer(
    session: Any, customer_ref: str | None
) -> tuple[CustomerProfile | None, list[dict[str, Any]]]:
    """The customer's profile and their tickets in every conversation (memory/profile.py)."""
    if not customer_ref:
        return None, []
    return await load_profile(session, customer_ref), await past_tickets(session, customer_ref)


@router.post("/conversations/{conversation_id}/profile-notes", dependencies=[Csrf])
async def add_profile_note(
    conversation_id: str, runtime: RuntimeDep, user: Agent,
    text: Annotated[StoredText, Form()] = "",
) -> Response:  # fmt: skip
    """An agent's note on the customer: kept on their profile, across conversations."""
    back = _conversation_url(conversation_id)

    async def action() -> str:
        if not text.strip():
            raise InvalidRequestError("write the note first")
        async with runtime.db.session(user.tenant_id) as session:
            conversation = await get_conversation(session, conversation_id)
            if conversation is None:
                raise NotFoundError(f"conversation {conversation_id} not found")
            if not conversation.customer_ref:
                raise InvalidRequestError("this conversation names no customer (customer_ref)")
            await add_note(session, conversation.customer_ref, text.strip(), author=user.email,
                           now=datetime.now(UTC))  # fmt: skip
            audit(session, actor=f"user:{user.id}", action="profile.note",
                  target=conversation.customer_ref,
                  detail={"conversation": conversation_id})  # fmt: skip
            await session.commit()
        return "Note added to the customer's profile."

    return await _act(back, action)


def _conversation_url(ticket_conversation: str) -> str:
    return f"/console/conversations/{ticket_conversation}"


async def _ticket_conversation(runtime: RuntimeDep, tenant_id: str, ticket_id: str) -> str:
    async with runtime.db.session(tenant_id) as session:
        ticket = await get_ticket(session, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        return ticket.conversation_id


def _desk(runtime: RuntimeDep) -> Any:
    if runtime.desk is None:
        raise NotFoundError("hand-off is not enabled in this runtime")
    return runtime.desk


@router.post("/tickets/{ticket_id}/take", dependencies=[Csrf])
async def take(ticket_id: str, runtime: RuntimeDep, user: Agent) -> Response:
    back = _conversation_url(await _ticket_conversation(runtime, user.tenant_id, ticket_id))

    async def action() -> str:
        await _desk(runtime).take_over(user.tenant_id, ticket_id, agent=user.email)
        return "You own this conversation; the assistant is silent until you hand it back."

    return await _act(back, action)


@router.post("/tickets/{ticket_id}/reply", dependencies=[Csrf])
async def reply(
    ticket_id: str, runtime: RuntimeDep, user: Agent, text: Annotated[StoredText, Form()] = ""
) -> Response:
    back = _conversation_url(await _ticket_conversation(runtime, user.tenant_id, ticket_id))

    async def action() -> None:
        await _desk(runtime).reply(user.tenant_id, ticket_id, agent=user.email, text=text)

    return await _act(back, action)


@router.post("/tickets/{ticket_id}/hand-back", dependencies=[Csrf])
async def hand_back(
    ticket_id: str, runtime: RuntimeDep, user: Agent, notes: Annotated[StoredText, Form()] = ""
) -> Response:
    back = _conversation_url(await _ticket_conversation(runtime, user.tenant_id, ticket_id))

    async def action() -> str:
        await _desk(runtime).hand_back(user.tenant_id, ticket_id, agent=user.email, notes=notes)
        return "Handed back: the assistant answers again, with your notes in its memory."

    return await _act(back, action)


@router.post("/tickets/{ticket_id}/close", dependencies=[Csrf])
async def close(
    ticket_id: str, runtime: RuntimeDep, user: Agent, note: Annotated[StoredText, Form()] = ""
) -> Response:
    back = _conversation_url(await _ticket_conversation(runtime, user.tenant_id, ticket_id))

    async def action() -> str:
        await _desk(runtime).close(user.tenant_id, ticket_id, agent=user.email, note=note)
        return "Ticket closed."

    return await _act(back, action)


@router.post("/turns/{turn_id}/relabel", dependencies=[Csrf])
async def relabel_turn(
    turn_id: str,
    runtime: RuntimeDep,
    user: Agent,
    intent: Annotated[StoredText, Form()],
    entities: Annotated[StoredText, Form()] = "",
    back: Annotated[StoredText, Form()] = "/console",
    note: Annotated[StoredText, Form()] = "",
) -> Response:
    back = back if back.startswith("/console/") else "/console"

    async def action() -> str:
        async with runtime.db.session(user.tenant_id) as session:
            example = await relabel(session, turn_id, intent=intent, entities_text=entities,
                                    known_intents=runtime.training_data.intents,
                                    agent=user.email, note=note)  # fmt: skip
            await session.commit()
        return f"Saved as a training example: {example.intent}."

    return await _act(back, action)


@router.post("/tool-calls/{call_id}/{decision}", dependencies=[Csrf])
async def decide_tool_call(
    call_id: str, decision: str, runtime: RuntimeDep, user: Agent
) -> Response:
    if decision not in {"approve", "reject"} or runtime.tools is None:
        raise NotFoundError("no such action")
    tools = runtime.tools

    async def action() -> str:
        outcome = await tools.decide(user.tenant_id, call_id, agent=user.email,
                                     approve=decision == "approve")  # fmt: skip
        await _audit(runtime, user.tenant_id, f"user:{user.id}", f"tool_call.{decision}", call_id)
        if outcome.ok:  # the tool's own words, never its raw result
            text = customer_text(tools.get(outcome.tool), outcome) or UNSHOWN_RESULT
        elif outcome.status == "rejected":
            text = "A colleague reviewed your request and could not approve it this time."
        else:  # the error is the backend's, for agents: not the customer's to read
            text = "Your request could not be completed just now; a colleague will follow up here."
        await _tell_customer(runtime, user.tenant_id, call_id, text)
        return f"{outcome.tool}: {outcome.status}"

    return await _act("/console", action)


async def _tell_customer(runtime: RuntimeDep, tenant_id: str, call_id: str, text: str) -> None:
    from frontdesk.storage.support_models import ToolCallRecord

    async with runtime.db.session(tenant_id) as session:
        call = await session.get(ToolCallRecord, call_id)
        conversation = (
            await session.get(Conversation, call.conversation_id)
            if call and call.conversation_id else None
        )  # fmt: skip
        if conversation is None:
            return
        message = await add_message(session, conversation, role="assistant", text=text,
                                    turn_id=None)  # fmt: skip
        await session.commit()
        if runtime.desk is not None:
            runtime.desk.hub.publish(tenant_id, message_event(message))
            await runtime.desk.send_to_customer(conversation, text)


# -- admin: dead letters and retraining -----------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, runtime: RuntimeDep, user: Admin) -> HTMLResponse:
    dispatcher = runtime.desk.dispatcher if runtime.desk else None
    dead = await dispatcher.list(user.tenant_id, status="dead") if dispatcher else []
    recent = await dispatcher.list(user.tenant_id) if dispatcher else []
    async with runtime.db.session(user.tenant_id) as session:
        examples = await corrections(session)
        retrains = list(await session.scalars(
            select(Job).where(Job.kind == "nlu_retrain").order_by(Job.created_at.desc()).limit(5)
        ))  # fmt: skip
        quarantined = await quarantined_passages(session)
    return _render(request, "admin.html", {
        "user": user, "dead": dead, "recent": recent[:20], "examples": examples,
        "retrains": retrains, "webhooks": runtime.settings.handoff.webhooks,
        "quarantined": quarantined,
    })  # fmt: skip


@router.post("/admin/deliveries/{delivery_id}/redeliver", dependencies=[Csrf])
async def redeliver(delivery_id: str, runtime: RuntimeDep, user: Admin) -> Response:
    async def action() -> str:
        if runtime.desk is None or runtime.desk.dispatcher is None:
            raise NotFoundError("no webhooks are configured")
        await runtime.desk.dispatcher.redeliver(user.tenant_id, delivery_id)
        await _audit(runtime, user.tenant_id, f"user:{user.id}", "webhook.redeliver", delivery_id)
        return "Sent again."

    return await _act("/console/admin", action)


@router.post("/admin/retrain", dependencies=[Csrf])
async def retrain(request: Request, runtime: RuntimeDep, user: Admin) -> Response:
    async def action() -> str:
        job_id = await start_retrain(runtime, request.app.state.jobs, actor=user.email)
        await _audit(runtime, user.tenant_id, f"user:{user.id}", "nlu.retrain", job_id)
        return f"Retraining started (job {job_id[:8]}); the result appears below."

    return await _act("/console/admin", action)


async def _audit(runtime: RuntimeDep, tenant_id: str, actor: str, action: str, target: str) -> None:
    async with runtime.db.session(tenant_id) as session:
        audit(session, actor=actor, action=action, target=target, detail={"via": "console"})
        await session.commit()


# -- admin: the learning loop (model versions, corrections) ----------------------------------------


@router.get("/admin/learning", response_class=HTMLResponse)
async def learning_page(request: Request, runtime: RuntimeDep, user: Admin) -> HTMLResponse:
    store = models_store(runtime.workspace)
    versions = [version_summary(store, v) for v in reversed(store.versions()[-20:])]
    async with runtime.db.session(user.tenant_id) as session:
        examples = await corrections(session)
    return _render(request, "learning.html", {
        "user": user, "versions": versions, "examples": examples,
        "previous": store.previous_active(),
    })  # fmt: skip


@router.post("/admin/models/rollback", dependencies=[Csrf])
async def rollback_model(runtime: RuntimeDep, user: Admin) -> Response:
    async def action() -> str:
        store = models_store(runtime.workspace)
        before, after = roll_back(store, actor=user.email)
        await _audit(runtime, user.tenant_id, f"user:{user.id}", "nlu.model.rollback", after)
        return f"Rolled back: {after} is in use (was {before}); servers switch within seconds."

    return await _act("/console/admin/learning", action)


@router.post("/admin/models/{version}/promote", dependencies=[Csrf])
async def promote_model(version: str, runtime: RuntimeDep, user: Admin) -> Response:
    async def action() -> str:
        store = models_store(runtime.workspace)
        if version not in store.versions():
            raise NotFoundError(f"no model version {version}")
        accept(store, version, actor=user.email)
        await _audit(runtime, user.tenant_id, f"user:{user.id}", "nlu.model.promote", version)
        return f"{version} is in use and the new baseline."

    return await _act("/console/admin/learning", action)


@router.post("/admin/corrections/{correction_id}/{change}", dependencies=[Csrf])
async def change_correction_form(
    correction_id: str, change: str, runtime: RuntimeDep, user: Admin
) -> Response:
    async def action() -> str:
        if change not in {"disable", "enable", "delete"}:
            raise NotFoundError("no such action")
        async with runtime.db.session(user.tenant_id) as session:
            row = await change_correction(session, correction_id, change, actor=user.email,
                                          via="console")  # fmt: skip
            await session.commit()
        return f"Correction {row.text!r} -> {row.intent}: {change}d. Retrain to apply."

    return await _act("/console/admin/learning", action)


# -- live updates ----------------------------------------------------------------------------------


@router.get("/events")
async def events(request: Request, runtime: RuntimeDep, user: Agent) -> StreamingResponse:
    """Server-sent events: every ticket change and new message of this tenant."""
    if runtime.desk is None:
        raise NotFoundError("live updates need the help desk")
    hub = runtime.desk.hub
    # Set by the API app when the process is told to stop: the stream ends then, so Ctrl-C
    # does not wait for the agent to close the page.
    stopping: asyncio.Event | None = getattr(request.app.state, "stopping", None)
    token = request.cookies.get(COOKIE, "")

    async def stream() -> AsyncIterator[str]:
        checked = time.monotonic()
        async with hub.subscribe(user.tenant_id) as queue:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                event = await _next_event(queue, stopping)
                if stopping is not None and stopping.is_set():
                    return
                if event is None or time.monotonic() - checked >= SESSION_CHECK_S:
                    # Signed out, or the user disabled since the stream opened: it ends.
                    if await verify_session(runtime.db, token) is None:
                        return
                    checked = time.monotonic()
                if event is None:
                    yield ": heartbeat\n\n"
                    continue
                data = {k: v for k, v in event.items() if k != "detail"}
                if "ticket" in data:
                    data["ticket"] = {k: v for k, v in data["ticket"].items() if k != "summary"}
                yield f"event: {event['type']}\ndata: {json.dumps(data, default=str)}\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _next_event(
    queue: asyncio.Queue[dict[str, Any]], stopping: asyncio.Event | None
) -> dict[str, Any] | None:
    """The next event; None after HEARTBEAT_S without one, or as soon as the server stops."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(queue.get())]
    if stopping is not None:
        waits.append(asyncio.ensure_future(stopping.wait()))
    try:
        done, _ = await asyncio.wait(waits, timeout=HEARTBEAT_S, return_when="FIRST_COMPLETED")
    finally:
        for waiting in waits:
            if not waiting.done():
                waiting.cancel()
    return waits[0].result() if waits[0] in done else None


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    """Pages send people to the login page; the event stream answers 401."""
    if request.url.path.endswith("/events") or request.method != "GET":
        return Response(json.dumps({"error": {"code": exc.code, "message": exc.message}}),
                        status_code=401, media_type="application/json")  # fmt: skip
    return RedirectResponse("/console/login", status_code=303)


# -- operations: change plans (web/ops_pages.py) ---------------------------------------------------

from frontdesk.web.ops_pages import router as ops_router  # noqa: E402 (it uses _render, _act)

router.include_router(ops_router)
