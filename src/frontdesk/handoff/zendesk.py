"""Mirror tickets into a Zendesk-style REST API (`/api/v2/tickets.json`).

ticket.created posts a new ticket (our id as `external_id`, the summary as the first
comment); replies and hand-backs add comments; ticket.closed marks it solved.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from frontdesk.handoff.webhooks import DeliveryFailed
from frontdesk.outbound import AddressPolicy, configured_hosts, guarded_client

_PRIORITY = {"critical": "urgent", "high": "high", "normal": "normal", "low": "low"}


def summary_text(ticket: dict[str, Any]) -> str:
    summary = ticket.get("summary") or {}
    lines = [
        f"Team: {ticket.get('team')} · priority {ticket.get('priority')}",
        f"Intent: {summary.get('intent')} (confidence {summary.get('confidence')})",
        f"Why handed off: {summary.get('rule')}: {summary.get('reason')}",
    ]
    entities = summary.get("entities") or {}
    if entities:
        lines.append("Entities: " + ", ".join(f"{k}={v}" for k, v in entities.items()))
    trend = (summary.get("sentiment") or {}).get("trend")
    if trend:
        lines.append(f"Sentiment trend: {trend}")
    for tried in summary.get("bot_tried") or []:
        lines.append(f"Bot tried: {tried}")
    lines.append("")
    lines.extend(f"{m['role']}: {m['text']}" for m in summary.get("transcript") or [])
    return "\n".join(lines)


class ZendeskMirror:
    name = "zendesk"

    def __init__(
        self, base_url: str, email: str, token: str, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}
        self.client = client or guarded_client(
            AddressPolicy(configured_hosts([self.base_url])), timeout=10.0
        )

    async def apply(self, tenant_id: str, event: dict[str, Any]) -> str | None:
        ticket = event["ticket"]
        if event["type"] == "ticket.created":
            body = {
                "ticket": {
                    "subject": ticket["subject"],
                    "comment": {"body": summary_text(ticket), "public": False},
                    "priority": _PRIORITY.get(ticket["priority"], "normal"),
                    "tags": ["frontdesk", ticket["team"]],
                    "external_id": ticket["id"],
                }
            }
            data = await self._send("POST", "/api/v2/tickets.json", body)
            return str(data["ticket"]["id"])
        external = ticket.get("external_id") or await self._find(ticket["id"])
        if not external:
            # Created not yet mirrored (its delivery is still retrying): try again later.
            raise DeliveryFailed("the ticket has not been mirrored yet")
        update: dict[str, Any] = {}
        change = event.get("change")
        detail = event.get("detail") or {}
        if change == "reply":
            update["comment"] = {"body": detail.get("text", ""), "public": True}
        elif change == "handed_back":
            update["comment"] = {"body": f"Handed back to the assistant. {detail.get('notes', '')}",
                                 "public": False}  # fmt: skip
            update["status"] = "solved"
        elif change == "assigned":
            update["comment"] = {"body": f"Taken over by {event.get('actor')}", "public": False}
            update["status"] = "open"
        elif event["type"] == "ticket.closed":
            update["status"] = "solved"
            if detail.get("note"):
                update["comment"] = {"body": detail["note"], "public": False}
        else:
            update["comment"] = {
                "body": f"Summary updated:\n{summary_text(ticket)}",
                "public": False,
            }
        await self._send("PUT", f"/api/v2/tickets/{external}.json", {"ticket": update})
        return None

    async def _find(self, our_id: str) -> str | None:
        data = await self._send("GET", f"/api/v2/tickets.json?external_id={our_id}", None)
        tickets = data.get("tickets") or []
        return str(tickets[0]["id"]) if tickets else None

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        response = await self.client.request(
            method, self.base_url + path, json=body, headers=self.headers
        )
        if response.status_code >= 300:
            raise DeliveryFailed(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}",
                permanent=response.status_code in (401, 403, 422),
            )
        data: dict[str, Any] = response.json()
        return data
