"""Knowing, inside the app, that the process has been told to stop.

A server stops in two steps: on SIGINT (Ctrl-C) or SIGTERM it stops accepting, waits for the
open requests to finish, and only then runs the app's shutdown. A request that never
finishes by itself (the console's event stream) would hold the first step forever. The app's
lifespan wraps the server's signal handlers so that `app.state.stopping` (an asyncio.Event)
is set the moment the signal arrives: long-lived responses watch it and end.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
