"""A fake model provider on 127.0.0.1 that speaks both the OpenAI chat-completions and the
Anthropic messages wire formats, so tests drive the real SDK clients. Each request takes the
next step of a plan: a normal answer, a tool call, an HTTP error, a slow answer, a body that
is not JSON, or a stream that stalls."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class Step:
    text: str = "Hello there."
    tool: tuple[str, dict[str, Any]] | None = None
    status: int | None = None
    delay: float = 0.0  # before the response starts
    malformed: bool = False  # a body that is not JSON; in a stream, a broken second event
    raw_arguments: str | None = None  # tool arguments sent as this text (need not be JSON)
    piece_delay: float = 0.0  # between streamed pieces
    stall_after: int | None = None  # stream this many pieces, then go silent
    cut_after: int | None = None  # stream this many pieces, then end the response early
    usage: bool = True
    prompt_tokens: int = 11
    completion_tokens: int = 7
    echo: bool = False  # answer with the first sentence of passage [1] of the system prompt


@dataclass
class FakeProvider:
    url: str = ""
    plan: list[Step] = field(default_factory=list)
    default: Step = field(default_factory=Step)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def then(self, *steps: Step) -> FakeProvider:
        self.plan.extend(steps)
        return self

    def reset(self) -> None:
        self.plan.clear()
        self.requests.clear()
        self.default = Step()

    def next_step(self) -> Step:
        return self.plan.pop(0) if self.plan else self.default

    @property
    def count(self) -> int:
        return len(self.requests)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def echo_passage(body: dict[str, Any]) -> str:
    """What a well-behaved model would say: passage [1]'s first sentence, cited."""
    messages = body.get("messages", [])
    system = body.get("system") or next(
        (m["content"] for m in messages if m.get("role") == "system"), ""
    )
    found = re.search(r"\n\[1\] [^\n]*\n(.+?)(?:\n\n\[2\]|\Z)", system, re.S)
    if not found:
        return "NO_ANSWER"
    text = " ".join(found.group(1).split())
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return f"{sentence} [1]"


def _arguments(step: Step) -> str:
    assert step.tool is not None
    return step.raw_arguments if step.raw_arguments is not None else json.dumps(step.tool[1])


BROKEN = b'data: {"id": "x", "choices": [ {"del\n\n'
BROKEN_EVENT = b"event: content_block_delta\n" + BROKEN


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def build_app(fake: FakeProvider) -> Starlette:
    async def stall() -> None:
        for _ in range(100):  # at most 5 s, or until the test is over
            if fake.release.is_set():
                return
            await asyncio.sleep(0.05)

    async def common(request: Request) -> tuple[Step, dict[str, Any], Response | None]:
        body = await request.json()
        fake.requests.append(
            {"path": request.url.path, "body": body, "headers": dict(request.headers)}
        )
        step = fake.next_step()
        if step.echo:
            step = replace(step, text=echo_passage(body))
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.status is not None:
            anthropic = request.url.path.endswith("/messages")
            error = {
                "type": "rate_limit_error" if step.status == 429 else "api_error",
                "message": f"fake error {step.status}",
            }
            payload = {"type": "error", "error": error} if anthropic else {"error": error}
            return step, body, JSONResponse(payload, status_code=step.status)
        if step.malformed and not body.get("stream"):
            return (
                step,
                body,
                Response(b'{"id": "x", "choices": [ {"mess', media_type="application/json"),
            )
        return step, body, None

    async def openai_chat(request: Request) -> Response:
        step, body, early = await common(request)
        if early is not None:
            return early
        model = body.get("model", "m")
        usage = {
            "prompt_tokens": step.prompt_tokens,
            "completion_tokens": step.completion_tokens,
            "total_tokens": step.prompt_tokens + step.completion_tokens,
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": step.text}
            finish = "stop"
            if step.tool:
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": step.tool[0],
                                "arguments": _arguments(step),
                            },
                        }
                    ],
                }
                finish = "tool_calls"
            out: dict[str, Any] = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            if step.usage:
                out["usage"] = usage
            return JSONResponse(out)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        async def events() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            if step.tool:
                args = _arguments(step)
                half = len(args) // 2
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": step.tool[0], "arguments": args[:half]},
                            }
                        ]
                    }
                )
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]})
                yield chunk({}, "tool_calls")
            else:
                for i, piece in enumerate(_pieces(step.text)):
                    if step.stall_after is not None and i >= step.stall_after:
                        await stall()
                        return
                    if step.malformed and i == 1:
                        yield BROKEN
                        return
                    if step.cut_after is not None and i >= step.cut_after:
                        return
                    if step.piece_delay and i:
                        await asyncio.sleep(step.piece_delay)
                    yield chunk({"content": piece})
                yield chunk({}, "stop")
            if step.usage:
                yield _sse(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def anthropic_messages(request: Request) -> Response:
        step, body, early = await common(request)
        if early is not None:
            return early
        model = body.get("model", "m")
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": step.text}]
            stop = "end_turn"
            if step.tool:
                content = [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": step.tool[0],
                        "input": step.tool[1],
                    }
                ]
                stop = "tool_use"
            return JSONResponse(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": step.prompt_tokens,
                        "output_tokens": step.completion_tokens,
                    },
                }
            )

        async def events() -> AsyncIterator[bytes]:
            yield _sse(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": step.prompt_tokens, "output_tokens": 1},
                    },
                },
                "message_start",
            )
            if step.tool:
                yield _sse(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": step.tool[0],
                            "input": {},
                        },
                    },
                    "content_block_start",
                )
                args = _arguments(step)
                for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                    yield _sse(
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                        "content_block_delta",
                    )
                stop = "tool_use"
            else:
                yield _sse(
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                    "content_block_start",
                )
                for i, piece in enumerate(_pieces(step.text)):
                    if step.stall_after is not None and i >= step.stall_after:
                        await stall()
                        return
                    if step.malformed and i == 1:
                        yield BROKEN_EVENT
                        return
                    if step.cut_after is not None and i >= step.cut_after:
                        return
                    if step.piece_delay and i:
                        await asyncio.sleep(step.piece_delay)
                    yield _sse(
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                        "content_block_delta",
                    )
                stop = "end_turn"
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            yield _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": step.completion_tokens},
                },
                "message_delta",
            )
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
        ]
    )


def serve(fake: FakeProvider) -> Iterator[FakeProvider]:
    port = free_port()
    config = uvicorn.Config(
        build_app(fake),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        fake.release.set()
        server.should_exit = True
        thread.join(timeout=10)
