"""API keys: shown once, stored as a SHA-256 of a 256-bit secret, looked up by prefix.

Keys are random, not chosen by people, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    db: Database, tenant_id: str, *, name: str, scope: Scope, actor: str = "system"
) -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with db.session(tenant_id) as session:
        key = ApiKey(name=name, prefix=prefix, secret_hash=_hash(secret), scope=scope.value)
        session.add(key)
        await session.flush()
        audit(session, actor=actor, action="api_key.create", target=key.id,
              detail={"name": name, "scope": scope.value, "prefix": prefix})  # fmt: skip
        await session.commit()
        return IssuedKey(key.id, tenant_id, scope, f"{KEY_PREFIX}_{prefix}_{secret}")


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
        if row is None or row[0].revoked_at is not None:
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


async def revoke_key(db: Database, tenant_id: str, key_id: str, *, actor: str = "system") -> bool:
    """Revoke the tenant's key named by its id, its prefix or the key itself; it is refused
    from the next request on (keys are checked against the database on every request)."""
    async with db.session(tenant_id) as session:
        key = await session.get(ApiKey, key_id) or await session.scalar(
            select(ApiKey).where(ApiKey.prefix == _prefix_of(key_id))
        )
        if key is None:
            return False
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            audit(session, actor=actor, action="api_key.revoke", target=key.id,
                  detail={"name": key.name, "prefix": key.prefix})  # fmt: skip
            await session.commit()
        return True
