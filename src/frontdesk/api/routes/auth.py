"""Console sign-in for agents and admins: a session token to send as `Bearer`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.deps import CurrentKey, LimiterDep, RuntimeDep, client_address
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import AuthenticationError, PermissionDeniedError
from frontdesk.storage.fields import fits
from frontdesk.storage.models import Tenant
from frontdesk.storage.security_models import User
from frontdesk.storage.users import end_sessions, login

router = APIRouter(
    prefix="/v1/auth",
    tags=["auth"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 422, 429)},
)


class LoginCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    tenant: Annotated[str, fits(Tenant.slug)] = Field(
        min_length=1, description="The tenant's slug."
    )
    email: Annotated[str, fits(User.email)] = Field(min_length=3)
    password: str = Field(min_length=1, max_length=1000)


class SessionPublic(BaseModel):
    token: str
    expires_at: datetime
    role: str


class WhoAmI(BaseModel):
    kind: str
    id: str
    name: str
    scope: str
    tenant_id: str


@router.post("/login")
async def sign_in(
    body: LoginCreate, request: Request, runtime: RuntimeDep, limiter: LimiterDep
) -> SessionPublic:
    # Password guessing is rate limited per account and address (limits.sign_ins_per_account).
    await limiter.hit_sign_in(body.tenant, body.email, client_address(request))
    issued = await login(runtime.db, body.tenant, body.email, body.password)
    if issued is None:
        raise AuthenticationError("wrong tenant, e-mail or password")
    return SessionPublic(token=issued.token, expires_at=issued.expires_at, role=issued.role.value)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(runtime: RuntimeDep, key: CurrentKey) -> Response:
    """Ends every console session of the signed-in user."""
    if key.kind != "user":
        raise PermissionDeniedError("only a console session can sign out; revoke API keys instead")
    await end_sessions(runtime.db, key.tenant_id, key.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def whoami(key: CurrentKey) -> WhoAmI:
    return WhoAmI(kind=key.kind, id=key.id, name=key.name, scope=key.scope.value,
                  tenant_id=key.tenant_id)  # fmt: skip
