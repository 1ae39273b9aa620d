"""What a tool call gets (its context) and what it gives back (an outcome)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

Status = Literal[
    "ok",
    "error",
    "invalid_arguments",
    "timeout",
    "circuit_open",
    "pending_approval",
    "rejected",
    "unknown_tool",
]


@dataclass(frozen=True)
class ToolContext:
    """Who the call is for. Tools that need it declare a parameter `context: ToolContext`;
    it never appears in the JSON schema a model sees."""

    tenant_id: str
    conversation_id: str | None = None
    turn_id: str | None = None
    actor: str = "assistant"


class ToolOutcome(BaseModel):
    tool: str
    status: Status
    result: Any = None
    error: str | None = None
    call_id: str | None = None
    attempts: int = 0
    cached: bool = False  # the idempotency key had a result already

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        return self.status in {"error", "timeout", "circuit_open"}

    def as_text(self) -> str:
        """The outcome as a model's tool message: JSON, errors stated plainly."""
        if self.ok:
            return json.dumps(self.result, default=str)
        return json.dumps({"status": self.status, "error": self.error}, default=str)


class ToolError(Exception):
    """A tool's own, expected failure (not found, refused): reported, never retried."""
