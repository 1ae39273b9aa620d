"""The demo tools: parcel status, refund request (approval above the limit), create ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.models import Ticket
from frontdesk.tools import ToolContext, ToolRegistry
from frontdesk.tools.builtin import build_demo_tools

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _registry(db: Database) -> ToolRegistry:
    registry = ToolRegistry(db)
    for tool in build_demo_tools(db, teams=["support", "billing"], refund_limit=50,
                                 clock=lambda: NOW):  # fmt: skip
        registry.register(tool)
    return registry


async def test_parcel_status_is_deterministic_and_validated(db: Database, tenant_id: str) -> None:
    registry = await _registry(db)
    ctx = ToolContext(tenant_id=tenant_id, conversation_id="c")
    lost = await registry.call("parcel_status", {"order_id": "KP-20481739"}, ctx)
    assert lost.ok
    assert lost.result["status"] == "lost"
    tool = registry.get("parcel_status")
    assert tool is not None
    assert tool.describe is not None
    assert "being traced as lost" in tool.describe(lost.result)
    bad = await registry.call("parcel_status", {"order_id": "12345"}, ctx)
    assert bad.status == "invalid_arguments"
    unknown = await registry.call("parcel_status", {"order_id": "KP-12340000"}, ctx)
    assert (unknown.status, unknown.error) == ("error", "no parcel with order number KP-12340000")


async def test_refund_above_the_limit_waits_for_approval(db: Database, tenant_id: str) -> None:
    registry = await _registry(db)
    ctx = ToolContext(tenant_id=tenant_id, conversation_id="c")
    small = await registry.call("refund_request", {"order_id": "KP-20481736", "amount": 20}, ctx)
    assert small.ok
    assert small.result["status"] == "submitted"
    big = await registry.call("refund_request", {"order_id": "KP-20481736", "amount": 80}, ctx)
    assert big.status == "pending_approval"
    assert "above the £50.00 limit" in (big.error or "")


async def test_create_ticket_opens_a_ticket(db: Database, tenant_id: str) -> None:
    registry = await _registry(db)
    async with db.session(tenant_id) as session:
        conversation = await create_conversation(session, channel="web")
        await session.commit()
    ctx = ToolContext(tenant_id=tenant_id, conversation_id=conversation.id)
    wrong = await registry.call("create_ticket", {"subject": "Call back", "team": "sales"}, ctx)
    assert "unknown team 'sales'" in (wrong.error or "")
    made = await registry.call("create_ticket", {"subject": "Call back", "team": "billing"}, ctx)
    assert made.ok, made.error
    async with db.session(tenant_id) as session:
        [ticket] = list(await session.scalars(select(Ticket)))
    assert (ticket.team, ticket.subject, ticket.id) == ("billing", "Call back",
                                                        made.result["ticket_id"])  # fmt: skip
