"""The tool-calling loop: the model asks for tools, we run them and hand back the results,
until it answers in text, or the step limit or the turn's tool budget is reached (then it
is asked once more, with no tools, to answer from what it has)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from frontdesk.interfaces import ChatMessage, ChatRequest, Tool, ToolCall, ToolSpec
from frontdesk.llm.router import Ledger, ModelRouter, Routed


@dataclass
class ToolRun:
    call: ToolCall
    output: str
    ok: bool


@dataclass
class ToolLoopResult:
    routed: Routed
    runs: list[ToolRun] = field(default_factory=list)
    steps: int = 0
    stopped: str | None = None  # why the loop ended before the model was done, if it did


def spec_of(tool: Tool) -> ToolSpec:
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)


async def _run(tool: Tool | None, call: ToolCall) -> ToolRun:
    if tool is None:
        return ToolRun(call, f"error: there is no tool named {call.name!r}", ok=False)
    try:
        output: Any = await tool(**call.arguments)
    except Exception as exc:  # the model reads the failure and may try something else
        return ToolRun(call, f"error: {type(exc).__name__}: {exc}", ok=False)
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    return ToolRun(call, text, ok=True)


async def run_tool_loop(
    router: ModelRouter,
    request: ChatRequest,
    tools: Mapping[str, Tool],
    *,
    max_steps: int,
    max_calls: int,
    ledger: Ledger | None = None,
) -> ToolLoopResult:
    ledger = ledger if ledger is not None else Ledger()
    messages = list(request.messages)
    specs = [spec_of(t) for t in tools.values()]
    runs: list[ToolRun] = []
    stopped: str | None = None
    steps = 0
    while True:
        # Tools stay on offer in the last call too: providers refuse a history with tool
        # calls but no tools; any call it still asks for is not run.
        routed = await router.complete(
            request.model_copy(update={"messages": messages, "tools": specs}), ledger
        )
        steps += 1
        calls = routed.result.tool_calls
        if not calls or stopped is not None:
            return ToolLoopResult(routed=routed, runs=runs, steps=steps, stopped=stopped)
        messages.append(ChatMessage(role="assistant", content=routed.result.text, tool_calls=calls))
        for call in calls:
            if ledger.tool_calls >= max_calls:
                run = ToolRun(call, "error: the tool budget for this turn is used up", ok=False)
                stopped = f"tool budget of {max_calls} calls reached"
            else:
                ledger.tool_calls += 1
                run = await _run(tools.get(call.name), call)
            runs.append(run)
            messages.append(ChatMessage(role="tool", content=run.output, tool_call_id=call.id))
        if stopped is None and steps >= max_steps:
            stopped = f"step limit of {max_steps} reached"
        if stopped is not None:
            messages.append(
                ChatMessage(role="user", content="Answer now from what you have; no more tools.")
            )
