"""Knowing, inside the app, that the process has been told to stop.

A server stops in two steps: on SIGINT (Ctrl-C) or SIGTERM it stops accepting, waits for the
open requests to finish, and only then runs the app's shutdown. A request that never
finishes by itself (the console's event stream) would hold the first step forever. The app's
lifespan wraps the server's signal handlers so that `app.state.stopping` (an asyncio.Event)
is set the moment the signal arrives: long-lived responses watch it and end.

A request that is still running `CUTOFF_S` after the signal (a turn waiting on a slow model)
is cut off by the app itself (`Cutoff`), a second before the server's own grace period ends:
its task is cancelled, so what it holds is given back while the database is still open (a
delivery claim, so that a retry with its Idempotency-Key runs the message again, once; the
turn's transaction rolls back), and the client gets 503 `shutting_down` with Retry-After and
the log one line. Left to the server, the task was cancelled as the app shut down, its
clean-up cut short, and the client's connection dropped with no answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.errors import ShuttingDownError

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# `frontdesk serve` gives requests 5 s after the signal (cli.main.SHUTDOWN_GRACE_S); the app
# cuts off those still running a second earlier, so that they end before the server gives up.
CUTOFF_S = 4.0


@contextmanager
def on_stop_signal(stop: asyncio.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM also set `stop`, then go to the handler that was
    there before (uvicorn's, which starts the graceful shutdown). Signal handlers belong to
    the main thread: elsewhere (a server in a test's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {int(sig): signal.getsignal(sig) for sig in SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop.set)
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:  # nobody was handling it: do what the default does
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for number, before in previous.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, before)


class Cutoff:
    """The requests running in this app; once `watch`'s event is set, those still running
    `cutoff_s` later are cancelled and answered 503 `shutting_down` (by `CutoffMiddleware`)."""

    def __init__(self, cutoff_s: float = CUTOFF_S) -> None:
        self.cutoff_s = cutoff_s
        self.running: set[asyncio.Task[Any]] = set()
        self.cut: set[asyncio.Task[Any]] = set()

    async def watch(self, stopping: asyncio.Event) -> None:
        """Run for the app's lifetime (the lifespan cancels it)."""
        await stopping.wait()
        await asyncio.sleep(self.cutoff_s)
        for task in list(self.running):
            if not task.done():
                self.cut.add(task)
                task.cancel(msg="the server is stopping")


class CutoffMiddleware:
    def __init__(self, app: ASGIApp, cutoff: Cutoff) -> None:
        self.app = app
        self.cutoff = cutoff

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or task is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        self.cutoff.running.add(task)
        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            if task not in self.cutoff.cut:
                raise
            task.uncancel()  # our own cancellation, answered here
            log.warning(
                "%s %s was still running %.0f s after the stop signal: answered 503 %s",
                scope.get("method"), getattr(scope.get("route"), "path", "a request"),
                self.cutoff.cutoff_s, ShuttingDownError.code,
            )  # fmt: skip
            if not started:  # a response already under way can only be ended
                await send_shutting_down(send)
        finally:
            self.cutoff.running.discard(task)
            self.cutoff.cut.discard(task)


async def send_shutting_down(send: Send) -> None:
    error = ShuttingDownError("the server is stopping; retry in a few seconds")
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    await send({
        "type": "http.response.start",
        "status": error.status_code,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(error.retry_after).encode()),
            (b"connection", b"close"),
        ],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body, "more_body": False})
