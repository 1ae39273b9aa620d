"""`anthropic:MODEL` — Claude models through the official `anthropic` SDK.

As with the OpenAI adapter, the SDK's retries are off (the router retries) and the HTTP
client is injectable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anthropic

from frontdesk.config.settings import ProviderSettings
from frontdesk.interfaces import ChatChunk, ChatMessage, ChatRequest, ChatResult, ToolCall
from frontdesk.llm.base import api_key, chat_result, idle_timeout, parse_arguments, sdk_error
from frontdesk.llm.connections import pinned_client
from frontdesk.llm.errors import ProviderError
from frontdesk.outbound.addresses import Resolver

if TYPE_CHECKING:
    import httpx2


ANTHROPIC_URL = "https://api.anthropic.com"  # where the SDK goes without a base_url


class AnthropicChatModel:
    def __init__(
        self,
        *,
        model: str,
        provider: str = "anthropic",
        settings: ProviderSettings | None = None,
        http_client: httpx2.AsyncClient | None = None,
        resolver: Resolver | None = None,
        **_: object,
    ) -> None:
        self.settings = settings or ProviderSettings()
        self.model = model
        self.name = f"{provider}:{model}"
        key = api_key(self.settings, "ANTHROPIC_API_KEY")
        if key is None:
            raise ProviderError(
                self.name,
                "unavailable",
                f"no API key: set {self.settings.api_key_env or 'ANTHROPIC_API_KEY'} or "
                f"llm.providers.{provider}.api_key",
            )
        if http_client is None:  # connections checked where they are made: llm/connections.py
            http_client = pinned_client(anthropic, provider, self.settings, ANTHROPIC_URL, resolver)
        self.client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    async def aclose(self) -> None:
        await self.client.close()

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        messages = _messages([m for m in request.messages if m.role != "system"])
        # json_output: no JSON mode is asked for (newer models refuse a prefilled reply);
        # the structured-output instruction, extraction and one repair do the work.
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_tokens or self.settings.max_tokens,
            # No temperature: this SDK's messages API no longer takes one.
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        return params

    async def complete(self, request: ChatRequest) -> ChatResult:
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self.client.messages.create(**self._params(request))
            texts: list[str] = []
            calls: list[ToolCall] = []
            for block in response.content:
                if block.type == "text":
                    texts.append(block.text)
                elif block.type == "tool_use":
                    calls.append(
                        ToolCall(
                            id=block.id,
                            name=block.name,
                            arguments=parse_arguments(self.name, block.input),
                        )
                    )
            usage = (response.usage.input_tokens, response.usage.output_tokens)
            finish = response.stop_reason or "end_turn"
        except Exception as exc:
            raise sdk_error(self.name, exc, anthropic) from exc
        text = "".join(texts)
        return chat_result(self.name, request, text, calls, finish, usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        parts: list[str] = []
        blocks: dict[int, dict[str, str]] = {}
        prompt_tokens: int | None = None
        completion_tokens: int | None = None
        finish = "end_turn"
        stopped = False
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self.client.messages.create(**self._params(request), stream=True)
            async with response:  # closes the connection however the stream ends
                async for event in idle_timeout(response, self.settings.stream_idle_s, self.name):
                    kind = event.type
                    if kind == "message_start":
                        prompt_tokens = event.message.usage.input_tokens
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            parts.append(delta.text)
                            yield ChatChunk(text=delta.text)
                        elif delta.type == "input_json_delta" and event.index in blocks:
                            blocks[event.index]["json"] += delta.partial_json
                    elif kind == "message_delta":
                        finish = event.delta.stop_reason or finish
                        completion_tokens = event.usage.output_tokens
                    elif kind == "message_stop":
                        stopped = True
            if not stopped:
                # Without message_stop the connection was cut: the answer may lack its end.
                raise ProviderError(self.name, "connection", "the stream ended before it finished")
            calls = [
                ToolCall(
                    id=b["id"], name=b["name"], arguments=parse_arguments(self.name, b["json"])
                )
                for _, b in sorted(blocks.items())
            ]
        except Exception as exc:
            raise sdk_error(self.name, exc, anthropic) from exc
        usage = (
            (prompt_tokens, completion_tokens)
            if prompt_tokens is not None and completion_tokens is not None
            else None
        )
        yield ChatChunk(
            result=chat_result(self.name, request, "".join(parts), calls, finish, usage)
        )


def _messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Our messages in Anthropic's shape: tool calls as `tool_use` blocks, tool results as
    `tool_result` blocks in a user turn (consecutive results share one turn)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": m.tool_call_id or "",
                "content": m.content,
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif m.role == "assistant" and m.tool_calls:
            content: list[dict[str, Any]] = (
                [{"type": "text", "text": m.content}] if m.content else []
            )
            content += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in m.tool_calls
            ]
            out.append({"role": "assistant", "content": content})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


__all__ = ["AnthropicChatModel"]
