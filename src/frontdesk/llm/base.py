"""Helpers the provider adapters share: error classification, stream idle timeouts, keys,
and their results with token usage."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any, TypeVar

from frontdesk.config.settings import ProviderSettings
from frontdesk.interfaces import ChatRequest, ChatResult, ToolCall
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.tokens import estimate_usage

T = TypeVar("T")


def api_key(settings: ProviderSettings, default_env: str) -> str | None:
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return os.environ.get(settings.api_key_env or default_env) or None


def sdk_error(provider: str, exc: BaseException, sdk: ModuleType) -> ProviderError:
    """An openai/anthropic SDK exception as a ProviderError with a kind the router acts on."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, sdk.APITimeoutError | TimeoutError):
        return ProviderError(provider, "timeout", str(exc) or "timed out")
    if isinstance(exc, sdk.APIConnectionError):
        # "Connection error." says nothing: what failed underneath (a refused address) does.
        cause = exc.__cause__
        said = str(exc) if cause is None or str(cause) in str(exc) else f"{exc} ({cause})"
        return ProviderError(provider, "connection", said)
    if isinstance(exc, sdk.APIResponseValidationError):
        return ProviderError(provider, "malformed", str(exc))
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        if status == 429:
            kind = "rate_limit"
        elif status == 408:
            kind = "timeout"
        elif status >= 500 or status == 409:
            kind = "server"
        elif status in (401, 403):
            kind = "auth"
        else:
            kind = "bad_request"
        return ProviderError(provider, kind, f"HTTP {status}: {_short(exc)}")
    # Anything else came from reading the response: a body that is not what the API promises.
    return ProviderError(provider, "malformed", f"{type(exc).__name__}: {exc}")


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text)[:300]


async def idle_timeout(stream: AsyncIterator[T], seconds: float, provider: str) -> AsyncIterator[T]:
    """Items of `stream`, failing with a `stalled` error when none comes for `seconds`."""
    iterator = stream.__aiter__()
    while True:
        try:
            item = await asyncio.wait_for(iterator.__anext__(), timeout=seconds)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise ProviderError(
                provider, "stalled", f"no data for {seconds:g}s mid-stream"
            ) from exc
        yield item


def parse_arguments(provider: str, raw: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProviderError(provider, "malformed", f"tool arguments are not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ProviderError(provider, "malformed", "tool arguments are not a JSON object")
    return value


def chat_result(
    name: str,
    request: ChatRequest,
    text: str,
    calls: list[ToolCall],
    finish: str,
    usage: tuple[int, int] | None,
) -> ChatResult:
    """The adapter's answer with the provider's token counts, or a local estimate."""
    return ChatResult(
        text=text,
        tool_calls=calls,
        finish_reason=finish,
        usage=estimate_usage(request, text, model=name, given=usage),
        usage_estimated=usage is None,
    )
