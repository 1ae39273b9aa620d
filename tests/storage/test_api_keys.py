from __future__ import annotations

from frontdesk.storage import migrate
from frontdesk.storage.api_keys import Scope, create_key, list_keys, revoke_key, verify_key
from frontdesk.storage.audit import audit_entries
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant


async def test_keys_are_hashed_verified_and_revocable(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "acme")
        issued = await create_key(db, tenant.id, name="ci", scope=Scope.SERVICE)
        assert issued.token.startswith("fd_")

        stored = await list_keys(db, tenant.id)
        assert len(stored) == 1
        secret = issued.token.split("_", 2)[2]
        assert secret not in stored[0].secret_hash  # only a hash is kept

        verified = await verify_key(db, issued.token)
        assert verified is not None
        assert (verified.tenant_id, verified.scope) == (tenant.id, Scope.SERVICE)

        assert await verify_key(db, issued.token[:-1] + "x") is None
        assert await verify_key(db, "not-a-key") is None

        assert await revoke_key(db, tenant.id, issued.id, actor="admin@acme")
        assert await verify_key(db, issued.token) is None

        async with db.session(tenant.id) as session:
            entries = await audit_entries(session)
        assert sorted((e.action, e.actor) for e in entries) == [
            ("api_key.create", "system"),
            ("api_key.revoke", "admin@acme"),
        ]
        assert all(e.target == issued.id for e in entries)
        assert secret not in repr([e.detail for e in entries])
    finally:
        await db.dispose()
