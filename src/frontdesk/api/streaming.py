"""Server-sent events for a reply: the answer's text as the model writes it, then the whole
reply. Events:

- `delta` `{"text": "..."}`: more of the answer;
- `reset` `{"reason": "..."}`: drop the text shown so far (a model failed mid-answer, or its
  answer failed the grounding check); what follows replaces it;
- `reply`: the final reply, exactly the JSON the non-streaming call returns. Its `answer`
  is authoritative: it has passed the output screen, which streamed text has not yet;
- `error` `{"error": {"code", "message"}}`: the turn could not be handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from frontdesk.errors import FrontdeskError
from frontdesk.llm.router import StreamEvent
from frontdesk.orchestration.runtime import Runtime
from frontdesk.types import InboundMessage, Reply

log = logging.getLogger(__name__)

STREAM_DOC = (
    "With `?stream=true` or `Accept: text/event-stream`: server-sent events `delta` "
    '({"text"}), `reset` ({"reason"}: drop the text so far), then `reply` (this JSON) or '
    "`error`."
)

# Turns keep running to their record after a client goes away; hold them until then.
_running: set[asyncio.Task[None]] = set()


def encode(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_reply(
    runtime: Runtime,
    message: InboundMessage,
    to_public: Callable[[Reply], BaseModel],
    *,
    release: Callable[[], Awaitable[object]] | None = None,
) -> StreamingResponse:
    """Runs the turn in its own task (it is recorded even if the client goes away) and
    streams its events; `release` is awaited when the turn is over."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def sink(event: StreamEvent) -> None:
        if event.kind == "delta":
            queue.put_nowait(encode("delta", {"text": event.text}))
        elif event.kind == "reset":
            queue.put_nowait(encode("reset", {"reason": event.text}))

    async def run() -> None:
        try:
            reply = await runtime.assistant.handle(message, sink=sink)
            queue.put_nowait(encode("reply", to_public(reply).model_dump(mode="json")))
        except FrontdeskError as exc:
            queue.put_nowait(encode("error", {"error": {"code": exc.code, "message": exc.message}}))
        except Exception:
            log.exception("streamed turn failed")
            queue.put_nowait(
                encode(
                    "error",
                    {
                        "error": {
                            "code": "internal_error",
                            "message": "the reply could not be produced",
                        }
                    },
                )
            )
        finally:
            queue.put_nowait(None)
            if release is not None:
                await release()

    # Started here, not when the body is first read: a client that leaves before the response
    # starts would otherwise leave the turn unrun and `release` (its tenant slot) never called.
    task = asyncio.create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)

    async def events() -> AsyncIterator[bytes]:
        while (item := await queue.get()) is not None:
            yield item

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
