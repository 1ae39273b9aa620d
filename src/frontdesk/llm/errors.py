"""What can go wrong when calling a model, classified once so the router can decide:
retry (rate limits, server errors, timeouts, dropped connections) or move on (bad request,
bad key, malformed response)."""

from __future__ import annotations

from frontdesk.errors import FrontdeskError


class ProviderError(FrontdeskError):
    """A provider call failed. `kind` is one of: rate_limit, server, timeout, connection,
    stalled, malformed, auth, bad_request, unavailable."""

    code = "provider_error"
    status_code = 502
    RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection", "stalled"})

    def __init__(self, provider: str, kind: str, message: str) -> None:
        super().__init__(f"{provider}: {kind}: {message}")
        self.provider = provider
        self.kind = kind
        self.detail = message

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE


class ModelUnavailableError(ProviderError):
    """A local model is not installed, or its file does not match the pinned checksum."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(provider, "unavailable", message)


class StructuredOutputError(FrontdeskError):
    code = "structured_output_invalid"
    status_code = 502


class ToolBudgetExceeded(FrontdeskError):
    code = "tool_budget_exceeded"
