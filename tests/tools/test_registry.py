"""The tool registry: schemas from type hints, validation, timeouts, retries for idempotent
tools only, the circuit breaker, idempotency keys and approvals."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from pydantic import Field

from frontdesk.errors import ConflictError
from frontdesk.interfaces import ToolCall
from frontdesk.storage.db import Database
from frontdesk.tools import FunctionTool, ToolContext, ToolRegistry, tool
from frontdesk.tools.base import ToolError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _registry(db: Database, clock: Clock | None = None, **kwargs: Any) -> ToolRegistry:
    return ToolRegistry(db, timeout_s=0.2, breaker_failures=3, breaker_reset_s=30,
                        backoff_s=0, clock=clock or Clock(), **kwargs)  # fmt: skip


def _ctx(tenant_id: str, conversation: str = "c1") -> ToolContext:
    return ToolContext(tenant_id=tenant_id, conversation_id=conversation)


def test_json_schema_comes_from_type_hints() -> None:
    @tool(description="Where a parcel is", idempotent=True)
    async def parcel(
        order_id: Annotated[str, Field(pattern=r"^KP-\d{8}$")],
        context: ToolContext,
        express: bool = False,
        limit: Annotated[int, Field(ge=1, le=5)] = 3,
    ) -> dict[str, Any]:
        return {}

    assert parcel.name == "parcel"
    schema = parcel.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["order_id"]
    assert schema["properties"]["order_id"]["pattern"] == r"^KP-\d{8}$"
    assert schema["properties"]["express"]["type"] == "boolean"
    assert schema["properties"]["limit"]["maximum"] == 5
    assert "context" not in schema["properties"]  # injected, never asked of a model
    assert schema["additionalProperties"] is False


def test_a_sync_function_is_refused() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="async"):
        FunctionTool(plain)  # type: ignore[arg-type]


async def test_arguments_are_validated_before_the_call(db: Database, tenant_id: str) -> None:
    calls: list[int] = []

    async def double(n: Annotated[int, Field(ge=0)]) -> int:
        calls.append(n)
        return n * 2

    registry = _registry(db)
    registry.register(FunctionTool(double, idempotent=True))
    bad = await registry.call("double", {"n": -1}, _ctx(tenant_id))
    assert bad.status == "invalid_arguments"
    assert "n: Input should be greater than or equal to 0" in (bad.error or "")
    extra = await registry.call("double", {"n": 1, "m": 2}, _ctx(tenant_id))
    assert extra.status == "invalid_arguments"
    good = await registry.call("double", {"n": "4"}, _ctx(tenant_id))
    assert (good.status, good.result) == ("ok", 8)
    assert calls == [4]
    unknown = await registry.call("triple", {}, _ctx(tenant_id))
    assert unknown.status == "unknown_tool"
    assert "double" in (unknown.error or "")


async def test_specs_and_execute_for_the_llm_tool_loop(db: Database, tenant_id: str) -> None:
    async def echo(text: str) -> str:
        """Say it back."""
        return text

    registry = _registry(db)
    registry.register(FunctionTool(echo, idempotent=True))
    [spec] = registry.specs()
    assert (spec.name, spec.description) == ("echo", "Say it back.")
    call = ToolCall(id="call_1", name="echo", arguments={"text": "hi"})
    outcome = await registry.execute(call, _ctx(tenant_id))
    assert outcome.as_text() == '"hi"'


async def test_timeout_and_retries_only_for_idempotent_tools(db: Database, tenant_id: str) -> None:
    attempts = {"read": 0, "write": 0}

    async def slow_read() -> str:
        attempts["read"] += 1
        await asyncio.sleep(5)
        return "late"

    async def slow_write() -> str:
        attempts["write"] += 1
        await asyncio.sleep(5)
        return "late"

    registry = _registry(db)
    registry.register(FunctionTool(slow_read, idempotent=True, retries=2))
    registry.register(FunctionTool(slow_write, idempotent=False, retries=2))
    read = await registry.call("slow_read", {}, _ctx(tenant_id))
    write = await registry.call("slow_write", {}, _ctx(tenant_id))
    assert read.status == "timeout"
    assert read.attempts == 3
    assert write.status == "timeout"
    assert write.attempts == 1
    assert "not retried: the tool is not idempotent" in (write.error or "")
    assert attempts == {"read": 3, "write": 1}


async def test_tool_errors_are_reported_not_retried(db: Database, tenant_id: str) -> None:
    count = 0

    async def lookup(key: str) -> str:
        nonlocal count
        count += 1
        raise ToolError(f"no such key {key}")

    registry = _registry(db)
    registry.register(FunctionTool(lookup, idempotent=True))
    outcome = await registry.call("lookup", {"key": "k"}, _ctx(tenant_id))
    assert (outcome.status, outcome.error, count) == ("error", "no such key k", 1)
    assert registry.breaker("lookup").state == "closed"


async def test_circuit_breaker_opens_and_recovers(db: Database, tenant_id: str) -> None:
    clock = Clock()
    healthy = False
    calls = 0

    async def backend(n: int) -> str:
        nonlocal calls
        calls += 1
        if not healthy:
            raise ConnectionError("backend down")
        return "ok"

    registry = _registry(db, clock)
    registry.register(FunctionTool(backend, idempotent=False))
    for n in range(3):
        assert (await registry.call("backend", {"n": n}, _ctx(tenant_id))).status == "error"
    assert registry.breaker("backend").state == "open"
    skipped = await registry.call("backend", {"n": 9}, _ctx(tenant_id))
    assert skipped.status == "circuit_open"
    assert "not called for another 30s" in (skipped.error or "")
    assert calls == 3
    clock.now = 31  # half open: one probe goes through
    healthy = True
    assert (await registry.call("backend", {"n": 10}, _ctx(tenant_id))).status == "ok"
    assert registry.breaker("backend").state == "closed"


async def test_idempotency_key_returns_the_first_result(db: Database, tenant_id: str) -> None:
    refunds: list[float] = []

    async def refund(amount: float) -> str:
        refunds.append(amount)
        return f"RF-{len(refunds)}"

    registry = _registry(db)
    registry.register(FunctionTool(refund, idempotent=False))
    first = await registry.call("refund", {"amount": 10}, _ctx(tenant_id))
    again = await registry.call("refund", {"amount": 10}, _ctx(tenant_id))
    assert (first.result, again.result, again.cached) == ("RF-1", "RF-1", True)
    keyed = await registry.call("refund", {"amount": 10}, _ctx(tenant_id), idempotency_key="k2")
    other_conversation = await registry.call("refund", {"amount": 10}, _ctx(tenant_id, "c2"))
    assert (keyed.result, other_conversation.result) == ("RF-2", "RF-3")
    assert refunds == [10, 10, 10]


async def test_approval_pauses_until_an_agent_decides(db: Database, tenant_id: str) -> None:
    paid: list[float] = []

    async def refund(amount: float) -> str:
        paid.append(amount)
        return "RF-1"

    registry = _registry(db)
    registry.register(FunctionTool(refund, approval=lambda a: "over £50" if a["amount"] > 50
                                   else None))  # fmt: skip
    small = await registry.call("refund", {"amount": 20}, _ctx(tenant_id))
    assert small.status == "ok"
    big = await registry.call("refund", {"amount": 80}, _ctx(tenant_id))
    assert big.status == "pending_approval"
    assert "over £50" in (big.error or "")
    assert paid == [20]
    [pending] = await registry.pending(tenant_id)
    assert pending.id == big.call_id
    # Asking again while it waits does not create a second request.
    assert (await registry.call("refund", {"amount": 80}, _ctx(tenant_id))).call_id == big.call_id
    approved = await registry.decide(tenant_id, pending.id, agent="ana", approve=True)
    assert (approved.status, approved.result) == ("ok", "RF-1")
    assert paid == [20, 80]
    with pytest.raises(ConflictError):
        await registry.decide(tenant_id, pending.id, agent="ana", approve=True)

    rejected = await registry.call("refund", {"amount": 99}, _ctx(tenant_id))
    outcome = await registry.decide(tenant_id, rejected.call_id or "", agent="bo", approve=False)
    assert outcome.status == "rejected"
    assert "bo" in (outcome.error or "")
    assert paid == [20, 80]
    assert await registry.pending(tenant_id) == []


async def test_bound_tools_fit_the_llm_tool_loop(db: Database, tenant_id: str) -> None:
    from frontdesk.interfaces import Tool
    from frontdesk.tools.registry import ToolFailed

    async def refund(amount: float, context: ToolContext) -> str:
        return f"refunded {amount} in {context.conversation_id}"

    registry = _registry(db)
    registry.register(FunctionTool(refund, approval=lambda a: "big" if a["amount"] > 50
                                   else None))  # fmt: skip
    bound = registry.for_turn(_ctx(tenant_id))
    assert isinstance(bound["refund"], Tool)
    assert await bound["refund"](amount=10) == "refunded 10.0 in c1"
    assert (await bound["refund"](amount=80))["status"] == "pending_approval"  # type: ignore[index]
    with pytest.raises(ToolFailed, match="invalid_arguments"):
        await bound["refund"](amount="lots")


async def test_a_held_call_waits_for_an_agent_whatever_the_tool(
    db: Database, tenant_id: str
) -> None:
    """`hold` (a turn whose message the injection screen doubted): the call waits for an
    agent's approval with that reason, from the rules' route and from the model's tool loop
    alike, even for a tool that never needs one."""
    looked_up: list[str] = []

    async def parcel(order_id: str) -> str:
        looked_up.append(order_id)
        return "in transit"

    registry = _registry(db)
    registry.register(FunctionTool(parcel))
    held = await registry.call("parcel", {"order_id": "KP-1"}, _ctx(tenant_id), hold="doubted")
    assert held.status == "pending_approval"
    assert "doubted" in (held.error or "")
    bound = registry.for_turn(_ctx(tenant_id, "c2"), hold="doubted")
    assert (await bound["parcel"](order_id="KP-2"))["status"] == "pending_approval"  # type: ignore[index]
    assert looked_up == []
    approved = await registry.decide(tenant_id, held.call_id or "", agent="ana", approve=True)
    assert (approved.status, approved.result) == ("ok", "in transit")
    assert (await registry.call("parcel", {"order_id": "KP-3"}, _ctx(tenant_id))).ok
    assert looked_up == ["KP-1", "KP-3"]
