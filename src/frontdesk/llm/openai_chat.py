"""`openai:MODEL` — any OpenAI-compatible chat server (OpenAI, Azure, vLLM, Ollama, llama.cpp
server, LM Studio) through the official `openai` SDK.

The SDK's own retries are off (`max_retries=0`): the router retries, with backoff, only what
is worth retrying. The HTTP client is injectable (the SDK's `httpx2.AsyncClient`), so tests
and proxies get one seam."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import openai

from frontdesk.config.settings import ProviderSettings
from frontdesk.interfaces import ChatChunk, ChatMessage, ChatRequest, ChatResult, ToolCall
from frontdesk.llm.base import api_key, chat_result, idle_timeout, parse_arguments, sdk_error
from frontdesk.llm.connections import pinned_client
from frontdesk.llm.errors import ProviderError
from frontdesk.outbound.addresses import Resolver

if TYPE_CHECKING:
    import httpx2


OPENAI_URL = "https://api.openai.com/v1"  # where the SDK goes without a base_url


class OpenAIChatModel:
    def __init__(
        self,
        *,
        model: str,
        provider: str = "openai",
        settings: ProviderSettings | None = None,
        http_client: httpx2.AsyncClient | None = None,
        resolver: Resolver | None = None,
        **_: object,
    ) -> None:
        self.settings = settings or ProviderSettings()
        self.provider = provider
        self.model = model
        self.name = f"{provider}:{model}"
        key = api_key(self.settings, "OPENAI_API_KEY")
        if key is None and self.settings.base_url is None:
            raise ProviderError(
                self.name,
                "unavailable",
                f"no API key: set {self.settings.api_key_env or 'OPENAI_API_KEY'} or "
                f"llm.providers.{provider}.api_key (or a base_url for a local server)",
            )
        if http_client is None:  # connections checked where they are made: llm/connections.py
            http_client = pinned_client(openai, provider, self.settings, OPENAI_URL, resolver)
        self.client = openai.AsyncOpenAI(
            api_key=key or "unused",  # local OpenAI-compatible servers take any key
            base_url=self.settings.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    async def aclose(self) -> None:
        await self.client.close()

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in request.messages],
            "max_tokens": request.max_tokens or self.settings.max_tokens,
            "temperature": (
                self.settings.temperature if request.temperature is None else request.temperature
            ),
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if request.json_output:
            params["response_format"] = {"type": "json_object"}
        return params

    async def complete(self, request: ChatRequest) -> ChatResult:
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self.client.chat.completions.create(**self._params(request))
            choice = response.choices[0]
            message = choice.message
            calls = [
                ToolCall(
                    id=c.id,
                    name=c.function.name,
                    arguments=parse_arguments(self.name, c.function.arguments),
                )
                for c in (message.tool_calls or [])
                if getattr(c, "function", None) is not None
            ]
            text = message.content or ""
            if not isinstance(text, str):
                raise ProviderError(self.name, "malformed", "message content is not text")
            usage = response.usage
        except Exception as exc:
            raise sdk_error(self.name, exc, openai) from exc
        return chat_result(
            self.name,
            request,
            text,
            calls,
            choice.finish_reason or "stop",
            (usage.prompt_tokens, usage.completion_tokens) if usage else None,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish: str | None = None
        usage: tuple[int, int] | None = None
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self.client.chat.completions.create(
                    **self._params(request), stream=True, stream_options={"include_usage": True}
                )
            async with response:  # closes the connection however the stream ends
                async for chunk in idle_timeout(response, self.settings.stream_idle_s, self.name):
                    if chunk.usage is not None:
                        usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    delta = choice.delta
                    for call in delta.tool_calls or []:
                        slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = call.id or slot["id"]
                        if call.function is not None:
                            slot["name"] = call.function.name or slot["name"]
                            slot["arguments"] += call.function.arguments or ""
                    if delta.content:
                        parts.append(delta.content)
                        yield ChatChunk(text=delta.content)
            if finish is None:
                # Every chat-completions stream ends its choice with a finish_reason: without
                # one the connection was cut and the answer may be missing its end.
                raise ProviderError(self.name, "connection", "the stream ended before it finished")
            tool_calls = [
                ToolCall(
                    id=c["id"] or f"call_{i}",
                    name=c["name"],
                    arguments=parse_arguments(self.name, c["arguments"]),
                )
                for i, c in sorted(calls.items())
            ]
        except Exception as exc:
            raise sdk_error(self.name, exc, openai) from exc
        yield ChatChunk(
            result=chat_result(self.name, request, "".join(parts), tool_calls, finish, usage)
        )


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    return out
