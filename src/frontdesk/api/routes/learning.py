"""Admin-only: the learning loop. Model versions (list, show, promote, roll back, retrain)
and agents' corrections (list, disable, enable, delete, export). Every change is audited;
a promotion or rollback reaches every running server within seconds (they watch the
`active` pointer)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.deps import AdminKey, JobsDep, RuntimeDep, WorkspaceAdminKey
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import NotFoundError
from frontdesk.handoff.corrections import change_correction, corrections, corrections_yaml
from frontdesk.nlu.model_store import ModelStore
from frontdesk.orchestration.learning import accept, roll_back, version_summary
from frontdesk.orchestration.retrain import models_store, start_retrain
from frontdesk.storage.audit import audit

router = APIRouter(
    prefix="/v1/admin",
    tags=["learning"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 422, 429)},
)


class ModelVersionPublic(BaseModel):
    version: str
    active: bool
    baseline: bool
    trained_at: str | None
    data_hash: str | None
    examples: int | None
    corrections: list[dict[str, Any]]
    trigger: str | None
    trained_by: str | None
    metrics: dict[str, Any]
    gate: dict[str, Any] | None


class ModelsPublic(BaseModel):
    active: str | None
    baseline: str | None
    versions: list[ModelVersionPublic]


class Rollback(RequestBody):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(
        default=None,
        max_length=100,
        description="The version to go back to (default: the previous).",
    )


class ModelSwitched(BaseModel):
    active: str
    replaced: str | None


class CorrectionPublic(BaseModel):
    id: str
    turn_id: str | None
    text: str
    intent: str
    previous_intent: str | None
    entities: list[Any]
    note: str | None
    created_by: str
    created_at: datetime
    enabled: bool
    disabled_by: str | None
    disabled_at: datetime | None


class JobAccepted(BaseModel):
    job_id: str
    status: str = "queued"


def _store(runtime: RuntimeDep) -> ModelStore:
    return models_store(runtime.workspace)


def _version(store: ModelStore, version: str) -> str:
    if version not in store.versions():
        raise NotFoundError(f"no model version {version!r}", code="model_not_found")
    return version


async def _audit(runtime: RuntimeDep, key: AdminKey, action: str, target: str,
                 detail: dict[str, Any]) -> None:  # fmt: skip
    async with runtime.db.session(key.tenant_id) as session:
        audit(session, actor=key.actor, action=action, target=target,
              detail={"via": "api", **detail})  # fmt: skip
        await session.commit()


@router.get("/models")
async def list_models(runtime: RuntimeDep, key: WorkspaceAdminKey) -> ModelsPublic:
    """Every trained version, newest first, with its gate decision."""
    store = _store(runtime)
    versions = [ModelVersionPublic(**version_summary(store, v)) for v in reversed(store.versions())]
    return ModelsPublic(active=store.active_version(), baseline=store.baseline_version(),
                        versions=versions)  # fmt: skip


@router.get("/models/{version}")
async def show_model(
    version: str, runtime: RuntimeDep, key: WorkspaceAdminKey
) -> ModelVersionPublic:
    store = _store(runtime)
    if version == "active":
        version = store.active_version() or ""
    return ModelVersionPublic(**version_summary(store, _version(store, version)))


@router.post("/models/{version}/promote")
async def promote_model(version: str, runtime: RuntimeDep, key: WorkspaceAdminKey) -> ModelSwitched:
    """Serve this version (a person's choice: it becomes the baseline)."""
    store = _store(runtime)
    previous = accept(store, _version(store, version), actor=key.actor)
    await _audit(runtime, key, "nlu.model.promote", version, {"replaced": previous})
    return ModelSwitched(active=version, replaced=previous)


@router.post("/models/rollback")
async def rollback_model(
    body: Rollback, runtime: RuntimeDep, key: WorkspaceAdminKey
) -> ModelSwitched:
    """Back to the version in use before the current one (or `to`)."""
    store = _store(runtime)
    target = _version(store, body.to) if body.to else None
    before, after = roll_back(store, actor=key.actor, to=target)
    await _audit(runtime, key, "nlu.model.rollback", after, {"replaced": before})
    return ModelSwitched(active=after, replaced=before)


@router.post("/models/retrain", status_code=status.HTTP_202_ACCEPTED)
async def retrain_model(runtime: RuntimeDep, jobs: JobsDep, key: WorkspaceAdminKey) -> JobAccepted:
    """Train on nlu/ plus the enabled corrections behind the gate, as a job (its result is
    the gate's report; poll /v1/jobs/{id})."""
    job_id = await start_retrain(runtime, jobs, actor=key.actor, trigger="api")
    return JobAccepted(job_id=job_id)


def _public(row: Any) -> CorrectionPublic:
    return CorrectionPublic(
        id=row.id, turn_id=row.turn_id, text=row.text, intent=row.intent,
        previous_intent=row.previous_intent, entities=row.entities, note=row.note,
        created_by=row.created_by, created_at=row.created_at, enabled=row.disabled_at is None,
        disabled_by=row.disabled_by, disabled_at=row.disabled_at,
    )  # fmt: skip


@router.get("/corrections")
async def list_corrections(
    runtime: RuntimeDep,
    key: AdminKey,
    include_disabled: Annotated[bool, Query(description="Disabled ones too.")] = True,
) -> list[CorrectionPublic]:
    async with runtime.db.session(key.tenant_id) as session:
        rows = await corrections(session)
    return [_public(r) for r in rows if include_disabled or r.disabled_at is None]


@router.get("/corrections/export", response_class=PlainTextResponse)
async def export_corrections(
    runtime: RuntimeDep,
    key: AdminKey,
    include_disabled: Annotated[bool, Query(description="Disabled ones too.")] = False,
) -> PlainTextResponse:
    """Rasa-style NLU YAML of the corrections, for review."""
    async with runtime.db.session(key.tenant_id) as session:
        rows = [r for r in await corrections(session) if include_disabled or r.disabled_at is None]
        audit(session, actor=key.actor, action="correction.export",
              detail={"via": "api", "count": len(rows)})  # fmt: skip
        await session.commit()
    return PlainTextResponse(await asyncio.to_thread(corrections_yaml, rows),
                             media_type="application/yaml")  # fmt: skip


@router.post("/corrections/{correction_id}/{change}")
async def change(
    correction_id: str,
    change: Literal["disable", "enable"],
    runtime: RuntimeDep,
    key: AdminKey,
) -> CorrectionPublic:
    """Disable (kept for review, left out of every training) or enable again."""
    async with runtime.db.session(key.tenant_id) as session:
        row = await change_correction(session, correction_id, change, actor=key.actor, via="api")
        await session.commit()
        return _public(row)


@router.delete("/corrections/{correction_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(correction_id: str, runtime: RuntimeDep, key: AdminKey) -> Response:
    async with runtime.db.session(key.tenant_id) as session:
        await change_correction(session, correction_id, "delete", actor=key.actor, via="api")
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
