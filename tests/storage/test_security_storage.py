"""Console users (argon2 hashes, sessions), migrations 0003 down and up, and PostgreSQL
row-level security as a second wall."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from frontdesk.errors import ConflictError, InvalidRequestError
from frontdesk.storage import migrate
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import utcnow
from frontdesk.storage.security_models import User
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user, login, logout, verify_session

PASSWORD = "correct horse battery"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrate.upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


async def test_password_is_stored_as_argon2id_and_login_issues_a_session(db: Database) -> None:
    tenant = await ensure_tenant(db, "acme")
    user = await create_user(db, tenant.id, email="Ann@Acme.example", password=PASSWORD,
                             role=Role.ADMIN)  # fmt: skip
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert await login(db, "acme", "ann@acme.example", "wrong password!") is None
    assert await login(db, "other", "ann@acme.example", PASSWORD) is None
    assert await login(db, "acme", "nobody@acme.example", PASSWORD) is None
    issued = await login(db, "acme", "ann@acme.example", PASSWORD)
    assert issued is not None
    assert issued.role is Role.ADMIN
    verified = await verify_session(db, issued.token)
    assert verified is not None
    assert (verified.tenant_id, verified.role, verified.tenant_slug) == (
        tenant.id, Role.ADMIN, "acme"
    )  # fmt: skip
    assert await verify_session(db, issued.token + "x") is None
    assert await verify_session(db, issued.token, now=utcnow() + timedelta(days=2)) is None
    await logout(db, tenant.id, verified.session_id)
    assert await verify_session(db, issued.token) is None


async def test_user_rules(db: Database) -> None:
    tenant = await ensure_tenant(db, "acme")
    with pytest.raises(InvalidRequestError, match="at least 10"):
        await create_user(db, tenant.id, email="a@b.example", password="short", role=Role.AGENT)
    await create_user(db, tenant.id, email="a@b.example", password=PASSWORD, role=Role.AGENT)
    with pytest.raises(ConflictError):
        await create_user(db, tenant.id, email="A@b.example", password=PASSWORD, role=Role.AGENT)
    other = await ensure_tenant(db, "other")
    await create_user(db, other.id, email="a@b.example", password=PASSWORD, role=Role.AGENT)
    async with db.session(other.id) as session:
        from sqlalchemy import select

        assert len(list(await session.scalars(select(User)))) == 1


async def test_migration_0003_goes_down_and_up(db: Database) -> None:
    await migrate.downgrade(db, "0002_embeddings")
    await migrate.upgrade(db)
    assert await migrate.current_revision(db) == migrate.head_revision()


@pytest.mark.services
async def test_postgres_row_level_security_is_a_second_wall(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's")
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        a = await ensure_tenant(db, "a")
        b = await ensure_tenant(db, "b")
        for tenant in (a, a, b):
            async with db.session(tenant.id) as session:
                await create_conversation(session, channel="api")
                await session.commit()
        async with db.engine.begin() as conn:
            # A superuser bypasses RLS; probe as an ordinary role, like a deployed app.
            await conn.execute(text(
                "DO $$ BEGIN CREATE ROLE frontdesk_rls_probe NOLOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ))  # fmt: skip
            await conn.execute(text("GRANT USAGE ON SCHEMA public TO frontdesk_rls_probe"))
            await conn.execute(text("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public "
                                    "TO frontdesk_rls_probe"))  # fmt: skip

        async def count(setting: str | None, sql: str = "SELECT count(*) FROM conversations"
                        ) -> int:  # fmt: skip
            async with db.engine.begin() as conn:
                await conn.execute(text("SET LOCAL ROLE frontdesk_rls_probe"))
                if setting is not None:
                    await conn.execute(text("SELECT set_config('app.tenant_id', :v, true)"),
                                       {"v": setting})  # fmt: skip
                return int((await conn.execute(text(sql))).scalar_one())

        assert await count(a.id) == 2  # raw SQL with no tenant filter still sees one tenant
        assert await count(b.id) == 1
        assert await count(None) == 0
        assert await count("*") == 3
        insert = text(
            "INSERT INTO conversations (id, channel, status, created_at, updated_at, "
            "tenant_id) VALUES ('x', 'api', 'open', now(), now(), :b)"
        )
        async with db.engine.begin() as conn:
            await conn.execute(text("SET LOCAL ROLE frontdesk_rls_probe"))
            await conn.execute(text("SELECT set_config('app.tenant_id', :v, true)"), {"v": a.id})
            with pytest.raises(Exception, match="row-level security"):
                await conn.execute(insert, {"b": b.id})
            await conn.rollback()
        # The app's own sessions set the tenant per transaction.
        async with db.session(a.id) as session:
            value = await session.scalar(text("SELECT current_setting('app.tenant_id', true)"))
            assert value == a.id
        for table in ("conversations", "messages", "turns", "users", "audit_log", "chunks"):
            async with db.engine.connect() as conn:
                forced = await conn.scalar(text(
                    "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                    "WHERE relname = :t"), {"t": table})  # fmt: skip
                assert forced, table
    finally:
        await db.dispose()


@pytest.mark.services
async def test_every_tenant_table_has_row_level_security(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's")
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity FROM pg_class c "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
                "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
            ))  # fmt: skip
            missing = sorted(name for name, secured in rows if not secured)
        assert not missing, (
            f"tables with tenant_id but no row-level security: {missing}; call "
            "frontdesk.storage.rls.enable_rls(op, [...]) in their migration"
        )
    finally:
        await db.dispose()


async def test_erasure_takes_training_examples_and_webhook_payloads_along(db: Database) -> None:
    """Rows that hold a conversation's words without a conversation_id column go with it."""
    from sqlalchemy import func, select

    from frontdesk.storage.conversations import add_message, add_turn
    from frontdesk.storage.privacy import delete_customer
    from frontdesk.storage.support_models import TrainingExample, WebhookDelivery

    tenant = await ensure_tenant(db, "acme")
    async with db.session(tenant.id) as session:
        gone = await create_conversation(session, channel="api", customer_ref="cust-1")
        kept = await create_conversation(session, channel="api", customer_ref="cust-2")
        for conversation in (gone, kept):
            await add_message(session, conversation, role="customer", text="hi", turn_id=None)
            turn = await add_turn(session, conversation_id=conversation.id, channel="api")
            session.add(TrainingExample(turn_id=turn.id, text="where is it", intent="track",
                                        created_by="agent"))  # fmt: skip
            event = {"ticket": {"conversation_id": conversation.id, "summary": "where is it"}}
            session.add(WebhookDelivery(endpoint="https://hooks.example/x", event="ticket",
                                        payload=event))  # fmt: skip
        await session.commit()
        assert await delete_customer(session, "cust-1", actor="test") == 1
        await session.commit()
        examples = await session.scalar(select(func.count()).select_from(TrainingExample))
        payloads = [d.payload for d in await session.scalars(select(WebhookDelivery))]
    assert examples == 1
    assert payloads == [{"ticket": {"conversation_id": kept.id, "summary": "where is it"}}]


async def test_erasure_and_purge_scrub_the_audit_trails_targets(db: Database) -> None:
    """Audit rows keep the action and time; the erased customer ref and conversation ids are
    replaced by `erased:<hash>` in targets and details. Other customers' rows are untouched."""
    from sqlalchemy import select

    from frontdesk.storage.audit import audit
    from frontdesk.storage.models import AuditLog, Conversation
    from frontdesk.storage.privacy import delete_customer, erased, export_customer, purge_expired

    tenant = await ensure_tenant(db, "acme")
    async with db.session(tenant.id) as session:
        gone = await create_conversation(session, channel="api", customer_ref="dana@example.com")
        kept = await create_conversation(session, channel="api", customer_ref="cust-2")
        old = await create_conversation(session, channel="api", customer_ref="cust-3")
        for conversation in (gone, kept, old):
            audit(session, actor="key:1", action="conversation.read", target=conversation.id)
        audit(session, actor="key:1", action="note", detail={"seen": [gone.id, "x"]})
        await session.commit()
        assert await export_customer(session, "dana@example.com", actor="key:1") is not None
        assert await delete_customer(session, "dana@example.com", actor="key:1") == 1
        await session.commit()
        stale = utcnow() - timedelta(days=40)
        await session.execute(
            Conversation.__table__.update()
            .where(Conversation.id == old.id)
            .values(updated_at=stale)
        )
        assert await purge_expired(session, 30) == 1
        await session.commit()
        rows = {(r.action, r.target): r for r in await session.scalars(select(AuditLog))}
    texts = repr([(r.target, r.detail) for r in rows.values()])
    for raw in ("dana@example.com", gone.id, old.id):
        assert raw not in texts
    assert ("conversation.read", erased(gone.id)) in rows
    assert ("conversation.read", erased(old.id)) in rows
    assert ("conversation.read", kept.id) in rows  # another customer's read is kept as it was
    assert ("privacy.export", erased("dana@example.com")) in rows
    assert rows[("privacy.delete", erased("dana@example.com"))].detail["conversations"] == 1
    assert rows[("note", None)].detail == {"seen": [erased(gone.id), "x"]}
