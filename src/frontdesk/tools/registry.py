"""The tool registry: what the assistant and the LLM tool loop call tools through.

`specs()` lists the tools for a model; `call(name, arguments, context)` validates the
arguments, honours the idempotency key, asks for approval where a tool requires it, and
runs the tool under its timeout, retrying only idempotent tools, behind a circuit breaker
per tool. Every call is recorded in `tool_calls`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select

from frontdesk.errors import ConflictError, NotFoundError
from frontdesk.interfaces import ToolCall, ToolSpec
from frontdesk.resilience import Breakers, CircuitBreaker
from frontdesk.storage.db import Database
from frontdesk.storage.support_models import ToolCallRecord
from frontdesk.tools.base import ToolContext, ToolError, ToolOutcome
from frontdesk.tools.function_tool import InvalidArguments

log = logging.getLogger(__name__)


class RunnableTool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]
    idempotent: bool
    timeout_s: float | None
    retries: int
    describe: Callable[[Any], str] | None

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]: ...

    def needs_approval(self, arguments: dict[str, Any]) -> str | None: ...

    async def run(self, arguments: dict[str, Any], context: ToolContext | None) -> Any: ...


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return result


def default_key(tool: str, arguments: dict[str, Any], context: ToolContext) -> str:
    """Same tool, same arguments, same conversation: the same call (a customer repeating
    "refund me" does not refund twice)."""
    canonical = json.dumps(arguments, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{tool}|{canonical}".encode()).hexdigest()[:32]
    return f"{context.conversation_id or '-'}:{digest}"


class ToolRegistry:
    def __init__(
        self,
        db: Database,
        *,
        timeout_s: float = 5.0,
        breaker_failures: int = 3,
        breaker_reset_s: float = 30.0,
        backoff_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._tools: dict[str, RunnableTool] = {}
        self._breakers = Breakers(failures=breaker_failures, reset_s=breaker_reset_s, clock=clock)

    def register(self, tool: RunnableTool) -> RunnableTool:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool
        return tool

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> RunnableTool | None:
        return self._tools.get(name)

    def breaker(self, name: str) -> CircuitBreaker:
        if name not in self._tools:
            raise KeyError(name)
        return self._breakers[name]

    def specs(self, names: list[str] | None = None) -> list[ToolSpec]:
        chosen = names if names is not None else self.names()
        return [
            ToolSpec(name=t.name, description=t.description, parameters=t.parameters)
            for n in chosen
            if (t := self._tools.get(n)) is not None
        ]

    def for_turn(
        self, context: ToolContext, names: list[str] | None = None, *, hold: str | None = None
    ) -> dict[str, BoundTool]:
        """Tools for the LLM tool loop (`interfaces.Tool`): each call goes through `call`, so
        validation, timeouts, breakers, idempotency and approvals all apply. `hold`: every
        call the model proposes waits for an agent's approval, for that reason (the turn's
        message was doubted by the injection screen)."""
        chosen = names if names is not None else self.names()
        return {
            n: BoundTool(self, self._tools[n], context, hold=hold)
            for n in chosen
            if n in self._tools
        }

    async def execute(self, call: ToolCall, context: ToolContext) -> ToolOutcome:
        """For the LLM tool loop: a model's tool call, its id as the idempotency key."""
        return await self.call(call.name, call.arguments, context, idempotency_key=call.id)

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        context: ToolContext,
        *,
        idempotency_key: str | None = None,
        hold: str | None = None,
    ) -> ToolOutcome:
        """Run a tool (see the module). `hold`: do not run it; it waits for an agent's
        approval like a tool that needs one, with this reason."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self.names())
            return ToolOutcome(
                tool=name, status="unknown_tool", error=f"no tool {name!r}; known: {known}"
            )
        try:
            values = _jsonable(tool.validate(arguments))
        except InvalidArguments as exc:
            return ToolOutcome(tool=name, status="invalid_arguments", error=str(exc))
        key = idempotency_key or default_key(name, values, context)
        async with self.db.side_session(context.tenant_id) as session:
            record = await session.scalar(
                select(ToolCallRecord).where(
                    ToolCallRecord.tool == name, ToolCallRecord.idempotency_key == key
                )
            )
            if record is not None and record.status in {"done", "pending_approval", "rejected"}:
                return _outcome(record, cached=True)
            if record is None:
                record = ToolCallRecord(
                    conversation_id=context.conversation_id, turn_id=context.turn_id, tool=name,
                    arguments=values, idempotency_key=key, status="running",
                )  # fmt: skip
                session.add(record)
            reason = hold or tool.needs_approval(values)
            if reason:
                record.status, record.approval_reason = "pending_approval", reason
                await session.commit()
                return _outcome(record)
            record.status = "running"
            await session.commit()
            record_id = record.id
        return await self._run(tool, record_id, values, context)

    async def _run(
        self, tool: RunnableTool, record_id: str, values: dict[str, Any], context: ToolContext
    ) -> ToolOutcome:
        breaker = self._breakers[tool.name]
        attempts = 0
        error: str | None = None
        status = "error"
        result: Any = None
        if not breaker.allow():
            status = "circuit_open"
            error = (f"{tool.name} is failing; not called for another "
                     f"{breaker.retry_in():.0f}s")  # fmt: skip
        else:
            for attempt in range(1 + tool.retries):
                attempts = attempt + 1
                try:
                    result = await asyncio.wait_for(
                        tool.run(values, context), timeout=tool.timeout_s or self.timeout_s
                    )
                except asyncio.CancelledError:  # the turn was abandoned: give a probe back
                    breaker.release()
                    raise
                except ToolError as exc:  # the tool's own answer: not a fault, not retried
                    status, error = "error", str(exc)
                    breaker.record_success()
                    break
                except TimeoutError:
                    status = "timeout"
                    error = f"{tool.name} did not answer within {tool.timeout_s or self.timeout_s}s"
                    if not tool.idempotent:
                        error += " (not retried: the tool is not idempotent)"
                    breaker.record_failure()
                except Exception as exc:  # a broken backend: count it, maybe retry
                    log.warning("tool %s failed: %s", tool.name, exc)
                    status, error = "error", f"{type(exc).__name__}: {exc}"
                    breaker.record_failure()
                else:
                    status, error = "ok", None
                    breaker.record_success()
                    break
                if not breaker.allow():
                    break
                if attempt < tool.retries:
                    await asyncio.sleep(self.backoff_s * 2**attempt)
        async with self.db.side_session(context.tenant_id) as session:
            record = await session.get(ToolCallRecord, record_id)
            assert record is not None
            record.status = "done" if status == "ok" else "failed"
            record.result = _jsonable({"value": result})["value"] if status == "ok" else None
            record.error = error if status == "ok" else f"{status}: {error}"
            record.attempts += attempts
            record.updated_at = datetime.now(UTC)
            await session.commit()
        return ToolOutcome(tool=tool.name, status=status, result=result, error=error,
                           call_id=record_id, attempts=attempts)  # fmt: skip

    # -- approvals ----------------------------------------------------------------------------

    async def pending(self, tenant_id: str) -> list[ToolCallRecord]:
        async with self.db.session(tenant_id) as session:
            rows = await session.scalars(
                select(ToolCallRecord)
                .where(ToolCallRecord.status == "pending_approval")
                .order_by(ToolCallRecord.created_at)
            )
            return list(rows)

    async def calls_for(self, tenant_id: str, conversation_id: str) -> list[ToolCallRecord]:
        async with self.db.session(tenant_id) as session:
            rows = await session.scalars(
                select(ToolCallRecord)
                .where(ToolCallRecord.conversation_id == conversation_id)
                .order_by(ToolCallRecord.created_at)
            )
            return list(rows)

    async def decide(
        self, tenant_id: str, call_id: str, *, agent: str, approve: bool
    ) -> ToolOutcome:
        """An agent approves (the tool runs now) or rejects a paused call."""
        async with self.db.session(tenant_id) as session:
            record = await session.get(ToolCallRecord, call_id)
            if record is None:
                raise NotFoundError(f"tool call {call_id} not found")
            if record.status != "pending_approval":
                raise ConflictError(f"tool call {call_id[:8]} is {record.status}, not pending")
            record.decided_by, record.decided_at = agent, datetime.now(UTC)
            record.status = "running" if approve else "rejected"
            await session.commit()
            if not approve:
                return _outcome(record)
            tool = self._tools.get(record.tool)
            if tool is None:
                raise NotFoundError(f"tool {record.tool!r} is no longer registered")
            context = ToolContext(tenant_id=tenant_id, conversation_id=record.conversation_id,
                                  turn_id=record.turn_id, actor=agent)  # fmt: skip
            values = dict(record.arguments)
        return await self._run(tool, call_id, values, context)


class ToolFailed(Exception):
    """A bound tool's call did not succeed; the message is what the model reads."""


class BoundTool:
    """One registered tool bound to a turn's context, shaped as `interfaces.Tool`."""

    def __init__(
        self,
        registry: ToolRegistry,
        tool: RunnableTool,
        context: ToolContext,
        *,
        hold: str | None = None,
    ) -> None:
        self.registry = registry
        self.name = tool.name
        self.description = tool.description
        self.parameters = tool.parameters
        self.context = context
        self.hold = hold

    async def __call__(self, **arguments: object) -> object:
        outcome = await self.registry.call(self.name, dict(arguments), self.context, hold=self.hold)
        if outcome.ok:
            return outcome.result
        if outcome.status == "pending_approval":
            # Not a failure: the model should tell the customer a person will confirm.
            return {"status": "pending_approval", "message": outcome.error}
        raise ToolFailed(f"{outcome.status}: {outcome.error}")


def _outcome(record: ToolCallRecord, *, cached: bool = False) -> ToolOutcome:
    status = {
        "done": "ok",
        "pending_approval": "pending_approval",
        "rejected": "rejected",
    }.get(record.status, "error")
    error = record.error
    if record.status == "pending_approval":
        error = f"waiting for an agent's approval: {record.approval_reason}"
    elif record.status == "rejected":
        error = f"an agent ({record.decided_by}) declined this request"
    return ToolOutcome(tool=record.tool, status=status, result=record.result, error=error,
                       call_id=record.id, attempts=record.attempts, cached=cached)  # fmt: skip
