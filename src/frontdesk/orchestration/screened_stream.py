"""Streams an answer to the client only as far as the output screen has passed it.

The model's words arrive as deltas. They are held until a sentence or line ends; then the
output screen runs over everything written so far, and only if it leaves that text exactly as
it is does the new part go out. Once the screen would change something (personal data, a
link or image that is not allowed, an echo of the instructions, a promise no tool granted),
nothing more is streamed: the screened reply goes out at the end (`finish`). So a client sees
only screened words, whether or not it honours `reset`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from frontdesk.llm.router import StreamEvent
from frontdesk.llm.service import StreamSink

# Text up to here can be judged: the end of a sentence (before the space after it) or a line.
_BOUNDARY = re.compile(r"[.!?:;][\"')\]]*(?=\s)|\n")


class ScreenedStream:
    def __init__(self, sink: StreamSink, screen: Callable[[str], str]) -> None:
        self._sink = sink
        self._screen = screen
        self._written = ""  # the model's words since the last reset
        self.sent = ""  # what the client has been shown since then
        self.held = False  # the screen changed something: stream nothing more

    async def __call__(self, event: StreamEvent) -> None:
        if event.kind == "reset":  # the model's text so far is void (retry, fallback)
            self._written, self.sent, self.held = "", "", False
            await self._sink(event)
        elif event.kind == "delta":
            self._written += event.text
            ends = [m.end() for m in _BOUNDARY.finditer(self._written, len(self.sent))]
            if ends:
                await self._release(self._written[: ends[-1]])

    async def finish(self, reply: str) -> None:
        """The screened reply is final: stream the rest of it, or, if it does not continue
        what was shown, tell the client to drop that and show the reply instead."""
        if reply.startswith(self.sent):
            if len(reply) > len(self.sent):
                await self._sink(StreamEvent("delta", reply[len(self.sent) :]))
        else:
            await self._sink(StreamEvent("reset", "the reply was screened"))
        self.sent = reply

    async def _release(self, text: str) -> None:
        if self.held or len(text) <= len(self.sent):
            return
        if self._screen(text) != text:
            self.held = True
            return
        await self._sink(StreamEvent("delta", text[len(self.sent) :]))
        self.sent = text
