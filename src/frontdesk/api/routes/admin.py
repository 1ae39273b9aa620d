"""Admin-only: console users, the audit log, and privacy operations (export, erase, purge).
Every call here is itself written to the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from frontdesk.api.deps import AdminKey, JobsDep, RuntimeDep
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import NotFoundError
from frontdesk.jobs.retention import purge_work
from frontdesk.storage.api_keys import list_keys, revoke_key
from frontdesk.storage.audit import audit
from frontdesk.storage.fields import fits
from frontdesk.storage.models import AuditLog
from frontdesk.storage.privacy import delete_customer, export_customer
from frontdesk.storage.security_models import User
from frontdesk.storage.users import Role, create_user, disable_user, enable_user, list_users
from frontdesk.text import render_names

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422, 429)},
)


class UserCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, fits(User.email)] = Field(min_length=3)
    password: str = Field(min_length=1, max_length=1000)
    role: Role = Role.AGENT
    name: Annotated[str, fits(User.name)] = ""


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, email=user.email, name=user.name, role=user.role,
                   created_at=user.created_at, last_login_at=user.last_login_at,
                   disabled_at=user.disabled_at)  # fmt: skip


class KeyPublic(BaseModel):
    id: str
    name: str
    prefix: str  # the key starts fd_<prefix>_
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AuditPublic(BaseModel):
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    created_at: datetime


class JobAccepted(BaseModel):
    job_id: str
    status: str = "queued"


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def add_user(body: UserCreate, runtime: RuntimeDep, key: AdminKey) -> UserPublic:
    user = await create_user(runtime.db, key.tenant_id, email=body.email, password=body.password,
                             role=body.role, name=body.name, actor=key.actor)  # fmt: skip
    return UserPublic.of(user)


@router.get("/users")
async def users(runtime: RuntimeDep, key: AdminKey) -> list[UserPublic]:
    return [UserPublic.of(u) for u in await list_users(runtime.db, key.tenant_id)]


@router.post("/users/{user_id}/disable")
async def disable(user_id: str, runtime: RuntimeDep, key: AdminKey) -> UserPublic:
    """Disable a console user: their sessions end now (API and console) and they cannot sign
    in again. Audited as `user.disable`."""
    user = await disable_user(runtime.db, key.tenant_id, user_id, actor=key.actor)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return UserPublic.of(user)


@router.post("/users/{user_id}/enable")
async def enable(user_id: str, runtime: RuntimeDep, key: AdminKey) -> UserPublic:
    """Let a disabled console user sign in again (sessions ended by the disable stay ended).
    Audited as `user.enable`."""
    user = await enable_user(runtime.db, key.tenant_id, user_id, actor=key.actor)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return UserPublic.of(user)


@router.get("/keys")
async def keys(runtime: RuntimeDep, key: AdminKey) -> list[KeyPublic]:
    return [
        KeyPublic(
            id=k.id,
            name=k.name,
            prefix=k.prefix,
            scope=k.scope,
            created_at=k.created_at,
            last_used_at=k.last_used_at,
            revoked_at=k.revoked_at,
        )
        for k in await list_keys(runtime.db, key.tenant_id)
    ]


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(key_id: str, runtime: RuntimeDep, key: AdminKey) -> Response:
    """Revoke an API key (by id or prefix): refused from the next request on. Audited as
    `api_key.revoke`."""
    if not await revoke_key(runtime.db, key.tenant_id, key_id, actor=key.actor):
        raise NotFoundError(f"key {key_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit")
async def audit_log(
    runtime: RuntimeDep, key: AdminKey, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AuditPublic]:
    async with runtime.db.session(key.tenant_id) as session:
        rows = list(
            await session.scalars(
                select(AuditLog).order_by(AuditLog.created_at.desc()).limit(limit)
            )
        )
        audit(session, actor=key.actor, action="audit.read")
        await session.commit()
    return [
        AuditPublic(
            actor=r.actor,
            action=r.action,
            target=r.target,
            detail=r.detail,
            created_at=r.created_at,
        )
        for r in rows
    ]


@router.get("/customers/{customer_ref}/export")
async def export(customer_ref: str, runtime: RuntimeDep, key: AdminKey) -> dict[str, Any]:
    """Everything stored about one customer: profile, conversations, messages, turns, tickets."""
    async with runtime.db.session(key.tenant_id) as session:
        data = await export_customer(session, customer_ref, actor=key.actor)
        if data is None:
            raise NotFoundError(f"no conversations for customer {customer_ref}")
        await session.commit()
    # A greeting's reference to the customer's name, shown as in the transcript.
    memory = runtime.settings.memory
    name = (data.get("profile") or {}).get("display_name") if memory.remember_names else None
    data["conversations"] = render_names(data["conversations"], name)
    return data


@router.delete("/customers/{customer_ref}", status_code=status.HTTP_204_NO_CONTENT)
async def erase(customer_ref: str, runtime: RuntimeDep, key: AdminKey) -> Response:
    """Delete the customer's profile, conversations and everything that points at them."""
    async with runtime.db.session(key.tenant_id) as session:
        deleted = await delete_customer(session, customer_ref, actor=key.actor)
        if deleted is None:
            raise NotFoundError(f"no conversations for customer {customer_ref}")
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/retention/purge", status_code=status.HTTP_202_ACCEPTED)
async def purge_now(runtime: RuntimeDep, jobs: JobsDep, key: AdminKey) -> JobAccepted:
    """Run the tenant's retention purge now (it also runs on a timer)."""
    tenant_id = key.tenant_id
    async with runtime.db.session(tenant_id) as session:
        audit(session, actor=key.actor, action="privacy.purge_requested")
        await session.commit()
    work = purge_work(runtime.db, runtime.settings, tenant_id)
    return JobAccepted(job_id=await jobs.submit(tenant_id, "retention_purge", {}, work))
