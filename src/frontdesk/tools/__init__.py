"""Tools the assistant can call: a registry with typed, validated parameters, timeouts,
retries for idempotent tools, a circuit breaker per tool, idempotency keys and approvals."""

from frontdesk.tools.base import ToolContext, ToolOutcome
from frontdesk.tools.function_tool import FunctionTool, tool
from frontdesk.tools.registry import ToolRegistry

__all__ = ["FunctionTool", "ToolContext", "ToolOutcome", "ToolRegistry", "tool"]
