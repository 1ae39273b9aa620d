"""`POST /v1/admin/keys/{id}/rotate`: a new API key with the old one's name and scope; the old
one is refused from the next request on, or after the grace asked for (`revoked_at` in the
future), so a deployment can switch keys without a moment of refusals."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.deps import AdminKey, RuntimeDep
from frontdesk.api.input_hygiene import RequestBody
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import NotFoundError
from frontdesk.storage.api_keys import MAX_ROTATION_GRACE_S, rotate_key

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422, 429)},
)


class KeyRotate(RequestBody):
    model_config = ConfigDict(extra="forbid")
    # Seconds the old key keeps working; 0: refused from the next request on.
    grace_s: float = Field(default=0.0, ge=0, le=MAX_ROTATION_GRACE_S)


class KeyRotated(BaseModel):
    id: str
    name: str
    scope: str
    key: str  # the new key, shown only here
    replaces: str  # the old key's id
    replaced_until: datetime  # when the old key stops working


@router.post("/keys/{key_id}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate(
    key_id: str, runtime: RuntimeDep, key: AdminKey, body: KeyRotate | None = None
) -> KeyRotated:
    """Replace an API key (by id or prefix) with a new one of the same name and scope. The
    old key is refused after `grace_s` seconds (default 0: from the next request on; at most
    30 days); a revoked or already rotated key is 409 `key_revoked`. Audited as
    `api_key.rotate`."""
    grace = (body or KeyRotate()).grace_s
    rotated = await rotate_key(runtime.db, key.tenant_id, key_id, grace_s=grace, actor=key.actor)
    if rotated is None:
        raise NotFoundError(f"key {key_id} not found")
    return KeyRotated(
        id=rotated.issued.id,
        name=rotated.name,
        scope=rotated.issued.scope.value,
        key=rotated.issued.token,
        replaces=rotated.replaces,
        replaced_until=rotated.replaced_until,
    )
