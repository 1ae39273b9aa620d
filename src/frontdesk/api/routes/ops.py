"""The operations assistant's bulk changes (`/v1/ops`): a request in words becomes a change
plan (selector, JSON Patch per element, validation, diff), approved by a signed-in operator
or admin, applied all or nothing, rolled back by plan id. Operators and admins only; the
target system is the workspace's, so only its own tenant's users reach it. Every action is
in the audit log (`ops.plan.*`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.deps import LimiterDep, OperatorKey, RuntimeDep
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import InvalidRequestError, PermissionDeniedError
from frontdesk.interfaces import Severity
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
from frontdesk.storage.api_keys import VerifiedKey

router = APIRouter(
    prefix="/v1/ops",
    tags=["operations"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422, 429)},
)


class PlanCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    request: str = Field(
        min_length=1,
        max_length=1000,
        description="The change in words, e.g. 'move the cut-off to 18:30 for every depot "
        "in Leinster except D07' (the grammar: README, Operations assistant).",
    )


class PlanPublic(BaseModel):
    id: str
    target: str
    request: str
    status: str  # planned | refused | approved | applied | rolled_back | failed
    refusal_code: str | None
    refusal: str | None
    selector: dict[str, Any]
    elements: list[str]
    patches: dict[str, Any]
    validation: dict[str, Any]
    diff: str
    results: dict[str, Any]
    applied_version: int | None
    rollback_version: int | None
    created_by: str
    approved_by: str | None
    created_at: datetime
    approved_at: datetime | None
    applied_at: datetime | None
    rolled_back_at: datetime | None


class ElementPublic(BaseModel):
    id: str
    kind: str
    config: dict[str, Any]


async def ops_plans(
    request: Request, runtime: RuntimeDep, key: OperatorKey, limiter: LimiterDep
) -> ChangePlans:
    if key.tenant_id != runtime.tenant.id:
        raise PermissionDeniedError(
            "the target system belongs to the workspace: only its own tenant's operators "
            f"({runtime.tenant.name!r}) can change it",
            code="workspace_tenant_only",
        )
    if request.method == "POST":  # reads are counted by CurrentKey already
        await limiter.hit_ops(key.id)
    return cached_plans(request.app.state, runtime.workspace, runtime.settings, runtime.db)


Plans = Annotated[ChangePlans, Depends(ops_plans)]


def _public(plan: Any) -> PlanPublic:
    return PlanPublic.model_validate(plan_view(plan))


@router.get("/elements", response_model=list[ElementPublic])
async def list_elements(
    plans: Plans, kind: Annotated[str | None, Query(max_length=64)] = None
) -> list[ElementPublic]:
    elements = await plans.target.elements(kind)
    return [ElementPublic(id=e.id, kind=e.kind, config=e.config) for e in elements]


class EventPublic(BaseModel):
    ts: datetime
    element: str
    severity: Severity
    code: str
    message: str


class MetricPublic(BaseModel):
    ts: datetime
    element: str
    values: dict[str, float]


Start = Annotated[datetime, Query(description="The window's start (ISO 8601; UTC if no zone).")]
End = Annotated[datetime, Query(description="The window's end, excluded.")]
Elements = Annotated[
    list[Annotated[str, Field(max_length=64)]] | None,
    Query(max_length=100, description="Only these element ids (repeat the parameter)."),
]
Limit = Annotated[int, Query(ge=1, le=5000)]


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if end <= start:
        raise InvalidRequestError("the window's end must come after its start",
                                  code="invalid_window")  # fmt: skip
    return start, end


@router.get("/events", response_model=list[EventPublic])
async def list_events(
    plans: Plans,
    start: Start,
    end: End,
    element: Elements = None,
    min_severity: Severity = "info",
    limit: Limit = 1000,
) -> list[EventPublic]:
    """The target's event log in a window (oldest first), by element and least severity."""
    found = await plans.target.events(*_window(start, end), elements=element,
                                      min_severity=min_severity)  # fmt: skip
    return [EventPublic.model_validate(e.model_dump()) for e in found[:limit]]


@router.get("/metrics", response_model=list[MetricPublic])
async def list_metrics(
    plans: Plans, start: Start, end: End, element: Elements = None, limit: Limit = 1000
) -> list[MetricPublic]:
    """The target's metrics in a window (oldest first), by element."""
    found = await plans.target.metrics(*_window(start, end), elements=element)
    return [MetricPublic.model_validate(m.model_dump()) for m in found[:limit]]


class ChatAsk(RequestBody):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        min_length=1,
        max_length=1000,
        description="A question about the target's recent failures, e.g. 'what failed last "
        "night?' (time and element phrases: README, Operations assistant).",
    )
    at: datetime | None = Field(
        default=None,
        description="The moment of the question ('last night' is read from it); default now.",
    )


def _troubleshooter(request: Request, runtime: RuntimeDep, plans: ChangePlans) -> Troubleshooter:
    """Built once per app (its atoms are read once), for the plans' target."""
    chat: Troubleshooter | None = getattr(request.app.state, "ops_troubleshooter", None)
    if chat is None or chat.target is not plans.target:
        chat = build_troubleshooter(plans.target, runtime.workspace.root)
        request.app.state.ops_troubleshooter = chat
    return chat


@router.post("/chat")
async def ops_chat(body: ChatAsk, request: Request, runtime: RuntimeDep, plans: Plans,
                   key: OperatorKey) -> dict[str, Any]:  # fmt: skip
    """Troubleshooting without an LLM (read-only, nothing stored): the window and elements
    the question names, the incidents found in the logs with their likely root cause, the
    log lines and metric values cited, the ops knowledge atoms and the playbook's next
    steps; `answer` is the same as text; `kind` is `diagnosis`. A message that asks for a
    configuration to be made ("set up two depots in ...") gets the starter configuration
    instead (`kind`: `setup`, as POST /v1/ops/setup shows it; nothing proposed). With a
    model for `llm.models.ops`, the model answers through read-only tools; the reply then
    also says `engine` (`llm`, or `deterministic` with the reason in `fallback`), `model`,
    `cited` and `tools`."""
    chat = _troubleshooter(request, runtime, plans)
    if looks_like_setup(body.question):
        return chat_view(await generator_for(plans.target, chat.atoms), body.question)
    now = body.at or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    llm = runtime.assistant.deps.llm
    if has_ops_model(llm):
        return await llm_chat(llm, chat, body.question, now, tenant_id=key.tenant_id)
    diagnosis = await chat.ask(body.question, now)
    return {"kind": "diagnosis", **diagnosis_view(diagnosis)}


class SetupCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(
        min_length=1,
        max_length=2000,
        description="What to set up, in words, e.g. 'three depots in Cork, Galway and "
        "Limerick, weekday cut-off 17:00, one carrier' (the grammar: README, Operations "
        "assistant).",
    )
    propose: bool = Field(
        default=False,
        description="Also keep it as a change plan (status planned) that an operator "
        "approves and applies; without it nothing is stored.",
    )
    format: Literal["json", "zip"] = Field(
        default="json",
        description="json: the files, elements and assumptions; zip: the files at their "
        "paths and SETUP.md (the plan's id, when proposed, in the X-Frontdesk-Plan header).",
    )


class AssumptionPublic(BaseModel):
    element: str
    field: str
    value: Any
    why: str


class SetupElementPublic(BaseModel):
    id: str
    kind: str
    path: str
    config: dict[str, Any]
    from_target: bool


class SetupPublic(BaseModel):
    description: str
    answer: str
    read: list[str]
    elements: list[SetupElementPublic]
    files: dict[str, str]
    assumed: list[AssumptionPublic]
    plan: PlanPublic | None


@router.post(
    "/setup",
    response_model=SetupPublic,
    responses={200: {"content": {"application/zip": {}}}},
)
async def ops_setup(body: SetupCreate, request: Request, runtime: RuntimeDep, plans: Plans,
                    key: OperatorKey) -> Any:  # fmt: skip
    """A starter configuration from a description: every file valid against its kind's
    schema, every default named in `assumed`. With `propose`, it is also kept as a change
    plan that creates the new elements once approved and applied (never written straight
    in). 422 `description_not_understood` names what is missing (nothing stored);
    422 `setup_invalid` when a template's defaults would not be valid."""
    chat = _troubleshooter(request, runtime, plans)
    starter = (await generator_for(plans.target, chat.atoms)).generate(body.description)
    plan = await plans.propose_setup(key.tenant_id, starter, actor=key.actor) if body.propose \
        else None  # fmt: skip
    if body.format == "zip":
        headers = {"Content-Disposition": 'attachment; filename="starter-configuration.zip"'}
        if plan is not None:
            headers["X-Frontdesk-Plan"] = plan.id
        return Response(starter.zip(), media_type="application/zip", headers=headers)
    return SetupPublic.model_validate(
        {**starter.view(), "plan": _public(plan) if plan is not None else None}
    )


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_plan(
    body: PlanCreate, plans: Plans, key: OperatorKey, runtime: RuntimeDep
) -> PlanPublic:
    """A change plan: `status` is `planned`, or `refused` with `refusal_code`
    (selector_empty, selector_too_broad, no_change, plan_invalid) and the plan still shown.
    A request the grammar cannot read is 422 `request_not_understood`, and nothing is kept;
    with a model for `llm.models.ops` the model reads it first (structured output, checked
    like the grammar's; `selector.read_by` says so), and its failure is named in the 422."""
    llm = runtime.assistant.deps.llm
    interpret = llm_interpreter(llm, tenant_id=key.tenant_id) if has_ops_model(llm) else None
    plan = await plans.make(key.tenant_id, body.request, actor=key.actor, interpret=interpret)
    return _public(plan)


@router.get("/plans", response_model=list[PlanPublic])
async def list_plans(
    plans: Plans, key: OperatorKey, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[PlanPublic]:
    return [_public(p) for p in await plans.list(key.tenant_id, limit=limit)]


@router.get("/plans/{plan_id}", response_model=PlanPublic)
async def get_plan(plan_id: str, plans: Plans, key: OperatorKey) -> PlanPublic:
    return _public(await plans.get(key.tenant_id, plan_id))


def _person(key: VerifiedKey) -> None:
    if key.kind != "user":
        raise PermissionDeniedError(
            "a plan is approved by a person: sign in as an operator or admin "
            "(POST /v1/auth/login) and approve with that session, not an API key",
            code="approval_needs_a_person",
        )


@router.post("/plans/{plan_id}/approve", response_model=PlanPublic)
async def approve_plan(plan_id: str, plans: Plans, key: OperatorKey) -> PlanPublic:
    await plans.get(key.tenant_id, plan_id)  # another tenant's plan: 404 before anything
    _person(key)
    return _public(await plans.approve(key.tenant_id, plan_id, actor=key.actor))


@router.post("/plans/{plan_id}/apply", response_model=PlanPublic)
async def apply_plan(plan_id: str, plans: Plans, key: OperatorKey) -> PlanPublic:
    """All or nothing; 409 `element_changed` when an element is not what the plan was made
    on (the plan is then refused: make a new one), 409 `plan_<status>` out of turn."""
    return _public(await plans.apply(key.tenant_id, plan_id, actor=key.actor))


@router.post("/plans/{plan_id}/rollback", response_model=PlanPublic)
async def rollback_plan(plan_id: str, plans: Plans, key: OperatorKey) -> PlanPublic:
    """The elements the plan changed, back to their exact bytes before it."""
    return _public(await plans.rollback(key.tenant_id, plan_id, actor=key.actor))
