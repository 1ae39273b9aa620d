"""Demo tools for the Kestrel Parcel workspace: parcel status, refund request, create ticket.

The parcel "carrier" is a deterministic stand-in (the status follows from the order number)
so demos and tests are repeatable; an operator replaces it with an HTTP tool to their own
backend (see `http_tool`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from frontdesk.storage.db import Database
from frontdesk.storage.tickets import create_ticket
from frontdesk.tools.base import ToolContext, ToolError
from frontdesk.tools.function_tool import FunctionTool

OrderId = Annotated[str, Field(pattern=r"^KP-\d{8}$", description="Order number, KP-12345678")]

_STATUSES = [
    ("in_transit", "is on its way through our network"),
    ("in_transit", "is on its way through our network"),
    ("in_transit", "is on its way through our network"),
    ("out_for_delivery", "is out for delivery today"),
    ("out_for_delivery", "is out for delivery today"),
    ("delivered", "was delivered"),
    ("delivered", "was delivered"),
    ("delayed", "is delayed at a sorting depot"),
    ("delayed", "is delayed at a sorting depot"),
    ("lost", "has had no scan for over 7 days and is being traced as lost"),
]


def parcel_record(order_id: str, now: datetime) -> dict[str, Any]:
    if order_id.endswith("0000"):
        raise ToolError(f"no parcel with order number {order_id}")
    status, words = _STATUSES[int(order_id[-1])]
    seed = int(hashlib.sha256(order_id.encode()).hexdigest()[:6], 16)
    last_scan = now - timedelta(hours=2 + seed % 20, days=8 if status == "lost" else 0)
    return {
        "order_id": order_id,
        "status": status,
        "description": words,
        "last_scan": last_scan.replace(microsecond=0).isoformat(),
        "last_location": ["Leeds hub", "Bristol depot", "Manchester hub", "Glasgow depot"][
            seed % 4
        ],
    }


def describe_parcel(result: dict[str, Any]) -> str:
    # Words, not digit runs: a reply screen reads "2026-11-15 09:23" as a phone number.
    scanned = datetime.fromisoformat(result["last_scan"]).strftime("%A %d %B at %H:%M")
    return (
        f"Parcel {result['order_id']} {result['description']} "
        f"(last scan {scanned}, {result['last_location']})."
    )


def build_demo_tools(
    db: Database,
    *,
    teams: list[str],
    refund_limit: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    team_names: Mapping[str, str] | None = None,
) -> list[FunctionTool]:
    """The demo's tools; `team_names`: what customers read for each team (its display
    name), default the team's key."""
    shown = dict(team_names or {})

    async def parcel_status(order_id: OrderId) -> dict[str, Any]:
        """Look up where a parcel is: status, last scan time and place."""
        return parcel_record(order_id, clock())

    async def refund_request(
        order_id: OrderId,
        amount: Annotated[float, Field(gt=0, le=10_000, description="Amount in GBP")],
        context: ToolContext,
        reason: Annotated[str, Field(min_length=3, max_length=500)] = "requested in chat",
    ) -> dict[str, Any]:
        """Submit a refund for an order. Amounts above the approval limit wait for an agent."""
        digest = hashlib.sha256(f"{context.tenant_id}{order_id}{amount}".encode()).hexdigest()
        return {"refund_id": "RF-" + digest[:8].upper(), "order_id": order_id,
                "amount": amount, "status": "submitted"}  # fmt: skip

    def refund_approval(arguments: dict[str, Any]) -> str | None:
        amount = float(arguments["amount"])
        if amount > refund_limit:
            return f"refund of £{amount:.2f} is above the £{refund_limit:.2f} limit"
        return None

    async def create_ticket_tool(
        subject: Annotated[str, Field(min_length=3, max_length=300)],
        team: str,
        context: ToolContext,
        priority: Literal["low", "normal", "high", "critical"] = "normal",
    ) -> dict[str, Any]:
        """Open a ticket for a team to follow up (outside a hand-off)."""
        if team not in teams:
            raise ToolError(f"unknown team {team!r}; teams: {', '.join(teams)}")
        if context.conversation_id is None:
            raise ToolError("a ticket needs a conversation")
        async with db.side_session(context.tenant_id) as session:
            ticket = await create_ticket(
                session, conversation_id=context.conversation_id, team=team, priority=priority,
                subject=subject, summary={"created_by": context.actor}, due_at=None,
            )  # fmt: skip
            await session.commit()
            return {"ticket_id": ticket.id, "team": team, "priority": priority}

    return [
        FunctionTool(parcel_status, idempotent=True, describe=describe_parcel),
        FunctionTool(
            refund_request,
            idempotent=False,
            approval=refund_approval,
            describe=lambda r: f"Refund {r['refund_id']} of £{r['amount']:.2f} has been submitted.",
        ),
        FunctionTool(
            create_ticket_tool,
            name="create_ticket",
            idempotent=False,
            describe=lambda r: (
                f"I've opened ticket {r['ticket_id'][:8].upper()} for our "
                f"{shown.get(r['team'], r['team'])} team."
            ),
        ),
    ]
