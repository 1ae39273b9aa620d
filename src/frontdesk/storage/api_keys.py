"""API keys: shown once, stored as a SHA-256 of a 256-bit secret, looked up by prefix.

Keys are random, not chosen by people, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import ConflictError
from frontdesk.storage.audit import audit
from frontdesk.storage.db import Database
from frontdesk.storage.models import ApiKey, Tenant, utcnow

KEY_PREFIX = "fd"


class Scope(StrEnum):
    WIDGET = "widget"  # public: create conversations and post customer messages
    SERVICE = "service"  # a backend integration: everything a customer channel needs
    ADMIN = "admin"
    OPERATOR = "operator"  # the operations assistant's routes only (/v1/ops)


@dataclass(frozen=True)
class IssuedKey:
    id: str
    tenant_id: str
    scope: Scope
    token: str  # the only time the full key exists outside the caller


@dataclass(frozen=True)
class VerifiedKey:
    """Who is calling: an API key, or a console user signed in (kind "user", whose role maps
    to a scope: agent -> service, admin -> admin, operator -> operator)."""

    id: str
    tenant_id: str
    scope: Scope
    name: str
    kind: str = "key"
    tenant_slug: str = ""

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class RotatedKey:
    issued: IssuedKey  # the new key: same tenant, name and scope
    name: str
    replaces: str  # the old key's id
    replaced_until: datetime  # when the old key stops working (now, or after the grace)


# The longest grace a rotated key may keep: long enough to roll a deployment out, short
# enough that a forgotten rotation does not leave two keys working indefinitely.
MAX_ROTATION_GRACE_S = 30 * 86400


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite: naive


def is_revoked(key: ApiKey, now: datetime | None = None) -> bool:
    """Revoked, or its grace after a rotation (`revoked_at` in the future) is over."""
    return key.revoked_at is not None and _aware(key.revoked_at) <= (now or utcnow())


def _new_key(name: str, scope: Scope) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=prefix, secret_hash=_hash(secret), scope=scope.value)
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


async def create_key(
    db: Database, tenant_id: str, *, name: str, scope: Scope, actor: str = "system"
) -> IssuedKey:
    key, token = _new_key(name, scope)
    async with db.session(tenant_id) as session:
        session.add(key)
        await session.flush()
        audit(session, actor=actor, action="api_key.create", target=key.id,
              detail={"name": name, "scope": scope.value, "prefix": key.prefix})  # fmt: skip
        await session.commit()
        return IssuedKey(key.id, tenant_id, scope, token)


async def replace_key(
    db: Database, tenant_id: str, old: str, *, name: str, scope: Scope, actor: str = "system"
) -> IssuedKey | None:
    """A new key in place of the revoked key `old` (its id, prefix or the key itself), or None
    when `old` has been replaced already: at most one key replaces a key (a unique column),
    whichever process asks first, so two processes renewing one revoked key make one."""
    key, token = _new_key(name, scope)
    try:
        async with db.session(tenant_id) as session:
            previous = await _find(session, old)
            key.replaces_id = previous.id if previous is not None else None
            session.add(key)
            await session.flush()
            audit(session, actor=actor, action="api_key.create", target=key.id,
                  detail={"name": name, "scope": scope.value, "prefix": key.prefix,
                          "replaces": key.replaces_id})  # fmt: skip
            await session.commit()
    except IntegrityError:
        return None
    return IssuedKey(key.id, tenant_id, scope, token)


async def replacement_of(db: Database, tenant_id: str, old: str) -> ApiKey | None:
    """The key issued to replace `old`, if any."""
    async with db.session(tenant_id) as session:
        previous = await _find(session, old)
        if previous is None:
            return None
        return await session.scalar(select(ApiKey).where(ApiKey.replaces_id == previous.id))


async def verify_key(db: Database, token: str, *, touch: bool = True) -> VerifiedKey | None:
    """The key `token` is, if it is good; `touch` records its use (`last_used_at`)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    _, prefix, secret = parts
    # Lookup precedes knowing the tenant, so this one query is unscoped by design.
    async with db.unscoped_session() as session:
        row = (
            await session.execute(
                select(ApiKey, Tenant.slug)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.prefix == prefix)
            )
        ).first()
        if row is None or is_revoked(row[0]):
            return None
        key, slug = row
        if not hmac.compare_digest(key.secret_hash, _hash(secret)):
            return None
        if touch:
            key.last_used_at = utcnow()
            await session.commit()
        return VerifiedKey(key.id, key.tenant_id, Scope(key.scope), key.name, "key", slug)


async def list_keys(db: Database, tenant_id: str) -> list[ApiKey]:
    async with db.session(tenant_id) as session:
        return list(await session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def _prefix_of(ident: str) -> str:
    """A key's prefix from the key itself ("fd_<prefix>_<secret>") or its prefix alone."""
    parts = ident.split("_", 2)
    return parts[1] if len(parts) >= 2 and parts[0] == KEY_PREFIX else ident


async def _find(session: AsyncSession, ident: str) -> ApiKey | None:
    return await session.get(ApiKey, ident) or await session.scalar(
        select(ApiKey).where(ApiKey.prefix == _prefix_of(ident))
    )


async def revoke_key(db: Database, tenant_id: str, key_id: str, *, actor: str = "system") -> bool:
    """Revoke the tenant's key named by its id, its prefix or the key itself; it is refused
    from the next request on (keys are checked against the database on every request). A
    key in its grace after a rotation is refused at once too."""
    async with db.session(tenant_id) as session:
        key = await _find(session, key_id)
        if key is None:
            return False
        if not is_revoked(key):
            key.revoked_at = utcnow()
            audit(session, actor=actor, action="api_key.revoke", target=key.id,
                  detail={"name": key.name, "prefix": key.prefix})  # fmt: skip
            await session.commit()
        return True


async def rotate_key(
    db: Database, tenant_id: str, key_id: str, *, grace_s: float = 0.0, actor: str = "system"
) -> RotatedKey | None:
    """A new key with the old one's name and scope; the old one (id, prefix or the key) is
    refused after `grace_s` seconds (0: from the next request on), by a `revoked_at` in the
    future. None when the tenant has no such key; ConflictError `key_revoked` when it is
    revoked or already rotated (in its grace). Audited as `api_key.rotate`, one transaction."""
    if not 0 <= grace_s <= MAX_ROTATION_GRACE_S:
        raise ValueError(f"grace_s must be between 0 and {MAX_ROTATION_GRACE_S}")
    async with db.session(tenant_id) as session:
        old = await _find(session, key_id)
        if old is None:
            return None
        if old.revoked_at is not None:
            raise ConflictError(
                f"key {old.id} (fd_{old.prefix}) is revoked or already rotated; rotate the key "
                "that replaced it, or create one",
                code="key_revoked",
            )
        scope = Scope(old.scope)
        new, token = _new_key(old.name, scope)
        session.add(new)
        await session.flush()
        until = utcnow() + timedelta(seconds=grace_s)
        old.revoked_at = until
        audit(session, actor=actor, action="api_key.rotate", target=old.id,
              detail={"name": old.name, "prefix": old.prefix, "replaced_by": new.id,
                      "new_prefix": new.prefix, "grace_s": grace_s})  # fmt: skip
        await session.commit()
        return RotatedKey(IssuedKey(new.id, tenant_id, scope, token), old.name, old.id, until)
