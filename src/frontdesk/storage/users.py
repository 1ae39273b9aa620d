"""Console users (agents and admins): argon2id password hashes, login sessions as random
bearer tokens stored as SHA-256 (like API keys: random secrets need no stretching; people's
passwords do)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from frontdesk.errors import ConflictError, InvalidRequestError
from frontdesk.storage.audit import audit
from frontdesk.storage.db import Database
from frontdesk.storage.models import Tenant, utcnow
from frontdesk.storage.security_models import User, UserSession

SESSION_PREFIX = "fds"
SESSION_HOURS = 12
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory)
# Verified when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    AGENT = "agent"  # works hand-offs: reads conversations and tickets
    ADMIN = "admin"  # everything, including keys, users, knowledge and privacy operations
    # Runs the operations assistant: plans, approves, applies and rolls back changes to the
    # target system; sees no conversations and cannot use the agents' console.
    OPERATOR = "operator"


@dataclass(frozen=True)
class VerifiedUser:
    id: str
    tenant_id: str
    tenant_slug: str
    email: str
    role: Role
    session_id: str


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime
    user_id: str
    role: Role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidRequestError(
            f"the password is {len(password)} characters; it needs at least {MIN_PASSWORD}",
            code="weak_password",
        )
    return _hasher.hash(password)


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_user(
    db: Database,
    tenant_id: str,
    *,
    email: str,
    password: str,
    role: Role,
    name: str = "",
    actor: str = "system",
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidRequestError(f"{email!r} is not an e-mail address", code="invalid_email")
    password_hash = hash_password(password)
    async with db.session(tenant_id) as session:
        exists = await session.scalar(select(func.count()).where(User.email == email))
        if exists:
            raise ConflictError(f"a user with e-mail {email} exists already")
        user = User(email=email, name=name, role=role.value, password_hash=password_hash)
        session.add(user)
        await session.flush()
        audit(session, actor=actor, action="user.create", target=user.id,
              detail={"role": role.value})  # fmt: skip
        await session.commit()
        return user


async def list_users(db: Database, tenant_id: str) -> list[User]:
    async with db.session(tenant_id) as session:
        return list(await session.scalars(select(User).order_by(User.created_at)))


async def login(
    db: Database, tenant_slug: str, email: str, password: str, *, now: datetime | None = None
) -> IssuedSession | None:
    """A session token for the right password, else None (same work either way)."""
    now = now or utcnow()
    async with db.unscoped_session() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
        user = None
        if tenant is not None:
            user = await session.scalar(
                select(User).where(User.tenant_id == tenant.id, User.email == email.strip().lower())
            )
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None or tenant is None:
        return None
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=SESSION_HOURS)
    async with db.session(tenant.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        if _hasher.check_needs_rehash(stored.password_hash):
            stored.password_hash = _hasher.hash(password)
        stored.last_login_at = now
        session.add(UserSession(user_id=user.id, prefix=prefix, token_hash=_sha(secret),
                                expires_at=expires))  # fmt: skip
        audit(session, actor=f"user:{user.id}", action="user.login", target=user.id)
        await session.commit()
    return IssuedSession(f"{SESSION_PREFIX}_{prefix}_{secret}", expires, user.id, Role(user.role))


async def verify_session(
    db: Database, token: str, *, now: datetime | None = None
) -> VerifiedUser | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != SESSION_PREFIX:
        return None
    _, prefix, secret = parts
    now = now or utcnow()
    # The token names no tenant, so this lookup is unscoped by design (like API keys).
    async with db.unscoped_session() as session:
        row = (
            await session.execute(
                select(UserSession, User, Tenant.slug)
                .join(User, User.id == UserSession.user_id)
                .join(Tenant, Tenant.id == UserSession.tenant_id)
                .where(UserSession.prefix == prefix)
            )
        ).first()
    if row is None:
        return None
    user_session, user, slug = row
    if not hmac.compare_digest(user_session.token_hash, _sha(secret)):
        return None
    expires = user_session.expires_at
    if expires.tzinfo is None:  # SQLite returns naive datetimes
        expires = expires.replace(tzinfo=now.tzinfo)
    if user_session.revoked_at is not None or expires <= now or user.disabled_at is not None:
        return None
    return VerifiedUser(user.id, user.tenant_id, slug, user.email, Role(user.role),
                        user_session.id)  # fmt: skip


async def logout(db: Database, tenant_id: str, session_id: str) -> None:
    async with db.session(tenant_id) as session:
        stored = await session.get(UserSession, session_id)
        if stored is not None and stored.revoked_at is None:
            stored.revoked_at = utcnow()
            audit(session, actor=f"user:{stored.user_id}", action="user.logout",
                  target=stored.user_id)  # fmt: skip
            await session.commit()


async def end_sessions(db: Database, tenant_id: str, user_id: str) -> int:
    async with db.session(tenant_id) as session:
        open_sessions = list(
            await session.scalars(
                select(UserSession).where(
                    UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
                )
            )
        )
        for stored in open_sessions:
            stored.revoked_at = utcnow()
        audit(session, actor=f"user:{user_id}", action="user.logout", target=user_id)
        await session.commit()
        return len(open_sessions)


async def find_user(db: Database, tenant_id: str, ident: str) -> User | None:
    """The tenant's user by id or e-mail."""
    async with db.session(tenant_id) as session:
        return await session.get(User, ident) or await session.scalar(
            select(User).where(User.email == ident.strip().lower())
        )


async def disable_user(
    db: Database, tenant_id: str, user_id: str, *, actor: str = "system"
) -> User | None:
    """Disable a console user and end their sessions: refused from the next request on (API
    and console; an open live-update stream ends at its next check)."""
    now = utcnow()
    async with db.session(tenant_id) as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        open_sessions = list(
            await session.scalars(
                select(UserSession).where(
                    UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
                )
            )
        )
        for stored in open_sessions:
            stored.revoked_at = now
        if user.disabled_at is None or open_sessions:
            user.disabled_at = user.disabled_at or now
            audit(session, actor=actor, action="user.disable", target=user.id,
                  detail={"sessions_ended": len(open_sessions)})  # fmt: skip
        await session.commit()
        return user


async def enable_user(
    db: Database, tenant_id: str, user_id: str, *, actor: str = "system"
) -> User | None:
    """Let a disabled console user sign in again (their old sessions stay ended). Audited
    as `user.enable` when it changes something."""
    async with db.session(tenant_id) as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        if user.disabled_at is not None:
            user.disabled_at = None
            audit(session, actor=actor, action="user.enable", target=user.id, detail={})
        await session.commit()
        return user
