"""Revoking a key and disabling a console user take effect on the next request, are audited,
and reach only the caller's tenant; on SQLite and PostgreSQL."""

from __future__ import annotations

from frontdesk.storage import migrate
from frontdesk.storage.api_keys import Scope, create_key, revoke_key, verify_key
from frontdesk.storage.audit import audit_entries
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import (
    Role,
    create_user,
    disable_user,
    find_user,
    login,
    verify_session,
)

PASSWORD = "correct horse battery"


async def test_keys_and_users_are_revoked_at_once(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        acme = (await ensure_tenant(db, "acme")).id
        other = (await ensure_tenant(db, "other")).id
        by_id = await create_key(db, acme, name="ci", scope=Scope.SERVICE)
        by_prefix = await create_key(db, acme, name="shop", scope=Scope.WIDGET)
        theirs = await create_key(db, other, name="theirs", scope=Scope.ADMIN)

        assert not await revoke_key(db, acme, theirs.id, actor="user:root")  # another tenant's
        assert not await revoke_key(db, acme, theirs.token, actor="user:root")
        assert await verify_key(db, theirs.token) is not None
        assert await revoke_key(db, acme, by_id.id, actor="user:root")
        assert await revoke_key(db, acme, by_prefix.token.rsplit("_", 1)[0], actor="cli")
        assert await revoke_key(db, acme, by_id.id, actor="user:root")  # again: no new row
        assert await verify_key(db, by_id.token) is None
        assert await verify_key(db, by_prefix.token) is None

        user = await create_user(db, acme, email="ana@acme.test", password=PASSWORD,
                                 role=Role.AGENT)  # fmt: skip
        first = await login(db, "acme", "ana@acme.test", PASSWORD)
        second = await login(db, "acme", "ana@acme.test", PASSWORD)
        assert first is not None
        assert second is not None
        assert await disable_user(db, other, user.id) is None  # another tenant's user
        assert await verify_session(db, first.token) is not None
        found = await find_user(db, acme, "ANA@acme.test")
        assert found is not None
        disabled = await disable_user(db, acme, found.id, actor="user:root")
        assert disabled is not None
        assert disabled.disabled_at is not None
        assert await verify_session(db, first.token) is None
        assert await verify_session(db, second.token) is None
        assert await login(db, "acme", "ana@acme.test", PASSWORD) is None

        async with db.session(acme) as session:
            entries = [
                (e.action, e.actor, e.target, e.detail) for e in await audit_entries(session)
            ]
        revokes = [e for e in entries if e[0] == "api_key.revoke"]
        assert sorted((a, t) for _, a, t, _ in revokes) == sorted(
            [("user:root", by_id.id), ("cli", by_prefix.id)]
        )
        assert ("user.disable", "user:root", user.id, {"sessions_ended": 2}) in entries
        async with db.session(other) as session:
            assert not [e for e in await audit_entries(session) if e.action == "api_key.revoke"]
    finally:
        await db.dispose()
