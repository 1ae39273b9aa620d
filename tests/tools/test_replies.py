"""A tool's result reaches the customer only through its template, never as raw JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from frontdesk.config.handoff_settings import HttpToolSettings
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.tools import ToolRegistry
from frontdesk.tools.base import ToolOutcome
from frontdesk.tools.function_tool import FunctionTool
from frontdesk.tools.replies import UNSHOWN_RESULT, TemplateMismatch, customer_text, render_reply
from frontdesk.types import InboundMessage

RESULT = {"status": "packed", "order": {"eta": "Friday", "lines": [1, 2]}, "secret": "x"}


def test_a_template_takes_named_fields_only() -> None:
    assert render_reply("It is {status}, due {order.eta} {{ok}}.", RESULT) == (
        "It is packed, due Friday {ok}."
    )
    assert render_reply("{status}", {"status": "{secret}"}) == "{secret}"  # never re-formatted
    for template, field in (("{missing}", "missing"), ("{order.lines}", "order.lines")):
        with pytest.raises(TemplateMismatch, match=field):
            render_reply(template, RESULT)


@pytest.mark.parametrize("reply", ["{status!r}", "{status:>10}", "{order[eta]}",
                                   "{status.__class__}", "{0}", "{", "{}"])  # fmt: skip
def test_a_template_that_could_reach_further_is_refused_at_load(reply: str) -> None:
    with pytest.raises(ValidationError, match="reply"):
        HttpToolSettings(name="t", url="https://api.example.com", reply=reply)


class _Tool:
    def __init__(self, describe: Any) -> None:
        self.describe = describe


def test_customer_text_is_the_template_or_nothing() -> None:
    ok = ToolOutcome(tool="t", status="ok", result=RESULT)
    assert customer_text(_Tool(lambda r: f"It is {r['status']}."), ok) == "It is packed."
    assert customer_text(_Tool(None), ok) is None
    assert customer_text(_Tool(lambda r: r["nope"]), ok) is None  # the template does not fit
    assert customer_text(None, ok) is None
    failed = ToolOutcome(tool="t", status="error", error="HTTP 500: stack trace")
    assert customer_text(_Tool(lambda r: "done"), failed) is None


async def test_a_tool_route_without_a_template_never_shows_the_json(
    sqlite_runtime: Runtime,
) -> None:
    """The demo's parcel rule calls parcel_status; here it has no template."""
    runtime = sqlite_runtime

    async def parcel_status(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "internal_note": "customer flagged for fraud review"}

    tools = ToolRegistry(runtime.db)
    tools.register(FunctionTool(parcel_status, idempotent=True))
    assistant = Assistant(Deps(**{**runtime.assistant.deps.__dict__, "tools": tools}))
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await create_conversation(session, channel="api")
        await session.commit()
    message = InboundMessage(
        tenant_id=runtime.tenant.id,
        conversation_id=conversation.id,
        text="where is my parcel KP-12345678",
    )
    reply = await assistant.handle(message)
    assert reply.route is not None
    assert reply.route.tool == "parcel_status"
    assert "fraud" not in reply.text
    assert "{" not in reply.text
    assert reply.text.startswith(UNSHOWN_RESULT)
