"""Converting uploaded files in child processes, so that a hostile or merely huge file cannot
stall the server's event loop or outlive its time limit.

`DocumentParser.convert` hands HTML, PDF and DOCX files to a worker process (started with
`python -m frontdesk.knowledge.parsing`, on demand, then kept for the next file while it
stays busy) and waits in a thread of its own. A worker that has not answered within
`timeout_s` is killed (SIGKILL) and the file rejected with `parse_timeout`; one that dies
(out of memory under `max_memory_mb`, a crash in a C library) rejects its file with
`unreadable_file`. Text and Markdown are decoded in the calling process: that is linear in
their size, which `max_file_bytes` bounds.

The worker speaks length-prefixed pickles over its stdin and stdout. It unpickles only what
the server sends; the server unpickles its answers, which is no new trust: the worker runs
the same code as the same user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import selectors
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any

from frontdesk.knowledge.converters import TEXT_SUFFIXES, ConversionError, Limits, convert

if TYPE_CHECKING:  # the worker process itself needs none of the settings' imports
    from frontdesk.config.settings import ParsingSettings

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")
_STARTUP_S = 120.0  # importing the format libraries, on a busy machine; not the parse's time
# A worker with no request for this long ends itself; the server stops using one a little
# before, so that it never writes to a worker on its way out.
_IDLE_S = 300.0
_REUSE_S = _IDLE_S - 30.0


def limits_of(settings: ParsingSettings) -> Limits:
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        max_unpacked_bytes=settings.max_unpacked_bytes,
        max_compression_ratio=settings.max_compression_ratio,
        max_pages=settings.max_pages,
        max_paragraphs=settings.max_paragraphs,
        max_text_chars=settings.max_text_chars,
    )


class _Stopped(Exception):
    """The worker exited, closed its pipe or sent garbage."""


class _TimedOut(Exception):
    pass


@dataclass(eq=False)  # one per process, in sets by identity
class _Worker:
    process: subprocess.Popen[bytes]
    last_used: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, request: Any, timeout: float) -> Any:
        assert self.process.stdin is not None
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _Stopped(str(exc)) from exc
        reply = self.receive(time.monotonic() + timeout)
        self.last_used = time.monotonic()
        return reply

    def receive(self, deadline: float) -> Any:
        assert self.process.stdout is not None
        header = _read(self.process.stdout, _HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        try:
            return pickle.loads(_read(self.process.stdout, size, deadline))
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise _Stopped(f"unreadable answer ({exc})") from exc

    def kill(self) -> None:
        """SIGKILL, reaped, pipes closed: nothing of the worker is left."""
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def _read(stream: IO[bytes], size: int, deadline: float) -> bytes:
    """Exactly `size` bytes, or _TimedOut at the deadline, or _Stopped at end of stream."""
    fd = stream.fileno()
    chunks: list[bytes] = []
    wanted = size
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise _TimedOut
            chunk = os.read(fd, min(wanted, 1 << 20))
            if not chunk:
                raise _Stopped("the worker closed its output")
            chunks.append(chunk)
            wanted -= len(chunk)
    return b"".join(chunks)


class DocumentParser:
    """Converts files to text within `knowledge.parsing`'s limits; see the module's text.

    `convert` is for the event loop, `convert_now` for synchronous callers (`kb lint`).
    Call `close` when done: it kills the workers."""

    def __init__(self, settings: ParsingSettings | None = None) -> None:
        from frontdesk.config.settings import ParsingSettings

        self.settings = settings or ParsingSettings()
        self.limits = limits_of(self.settings)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None
        self._closed = False

    def isolated(self, name: str) -> bool:
        """Whether a file of this name is read in a worker process."""
        return PurePath(name).suffix.lower() not in TEXT_SUFFIXES

    async def convert(self, name: str, data: bytes) -> str:
        """The file's text. Raises ConversionError (with its code) for a file to reject."""
        if len(data) > self.limits.max_file_bytes or not self.isolated(name):
            return convert(name, data, self.limits)  # refused at once, or plain text
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(
                    self.settings.workers, thread_name_prefix="frontdesk-parse"
                )
            threads = self._threads
        # One thread per worker: files beyond `workers` wait their turn here.
        return await asyncio.get_running_loop().run_in_executor(
            threads, self.convert_now, name, data
        )

    def convert_now(self, name: str, data: bytes) -> str:
        """`convert`, blocking the calling thread."""
        if len(data) > self.limits.max_file_bytes or not self.isolated(name):
            return convert(name, data, self.limits)
        worker = self._take()
        try:
            reply = worker.call((name, data, self.limits), self.settings.timeout_s)
        except _TimedOut:
            self._discard(worker)
            raise ConversionError(
                f"reading it took longer than {self.settings.timeout_s:g} s "
                "(knowledge.parsing.timeout_s); the reader was stopped",
                code="parse_timeout",
            ) from None
        except _Stopped:
            self._discard(worker)
            code = worker.process.returncode
            if code is not None and code < 0:
                how = f"was killed by signal {-code}"
            else:
                how = f"stopped (exit code {code})"
            log.warning("document parser for %s %s", name, how)
            raise ConversionError(
                f"the reader {how} while reading it: a damaged file, or one that needs more "
                f"than {self.settings.max_memory_mb} MB (knowledge.parsing.max_memory_mb)"
            ) from None
        self._give_back(worker)
        if reply[0] == "ok":
            return str(reply[1])
        raise ConversionError(str(reply[2]), code=str(reply[1]))

    def worker_pids(self) -> list[int]:
        """The worker processes alive now, idle or busy."""
        with self._lock:
            return [w.pid for w in [*self._idle, *self._busy] if w.process.poll() is None]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle.clear()
            threads, self._threads = self._threads, None
        for worker in workers:
            worker.kill()
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)

    def _take(self) -> _Worker:
        stale: list[_Worker] = []
        with self._lock:
            if self._closed:
                raise ConversionError("the server is stopping; upload the file again")
            worker = None
            while self._idle and worker is None:
                candidate = self._idle.pop()
                fresh = time.monotonic() - candidate.last_used < _REUSE_S
                if fresh and candidate.process.poll() is None:
                    worker = candidate
                else:
                    stale.append(candidate)
        for old in stale:
            old.kill()
        if worker is None:
            worker = self._start()
        with self._lock:
            self._busy.add(worker)
        return worker

    def _start(self) -> _Worker:
        command = [sys.executable, "-m", "frontdesk.knowledge.parsing"]
        command += [str(self.settings.max_memory_mb), str(_IDLE_S)]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True
        )
        worker = _Worker(process, time.monotonic())
        try:
            if worker.receive(time.monotonic() + _STARTUP_S) != "ready":
                raise _Stopped("no greeting")
        except (_TimedOut, _Stopped) as exc:
            worker.kill()
            raise ConversionError(f"the document reader did not start ({exc!r})") from None
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()


def _serve(memory_mb: int, idle_s: float) -> None:
    """The worker's loop: one request at a time until the server closes the pipe."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot corrupt answers
    logging.disable(logging.WARNING)  # pypdf's and bs4's complaints about damaged files
    import warnings

    warnings.simplefilter("ignore")
    # The format libraries load before the first request, so that the request's own time
    # limit is spent on parsing.
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import markdownify  # noqa: F401
    import pypdf  # noqa: F401

    if memory_mb:
        with contextlib.suppress(ImportError, ValueError, OSError):
            import resource

            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def answer(reply: object) -> None:
        payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_HEADER.pack(len(payload)) + payload)
        answers.flush()

    answer("ready")
    with selectors.DefaultSelector() as selector:
        selector.register(requests.fileno(), selectors.EVENT_READ)
        while True:
            if not selector.select(idle_s):
                return  # idle: the server starts another when it needs one
            header = requests.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return  # the server closed the pipe (or died)
            (size,) = _HEADER.unpack(header)
            name, data, limits = pickle.loads(requests.read(size))
            try:
                answer(("ok", convert(name, data, limits)))
            except ConversionError as exc:
                answer(("error", exc.code, str(exc)))
            except MemoryError:
                answer(("error", "too_large", "reading it needs more memory than allowed "
                        "(knowledge.parsing.max_memory_mb)"))  # fmt: skip
            except RecursionError:
                answer(("error", "unreadable_file", "nested too deeply to read"))
            except Exception as exc:  # a converter's library failing in a way not foreseen
                reason = f"unreadable file ({type(exc).__name__}: {exc})"[:500]
                answer(("error", "unreadable_file", reason))


if __name__ == "__main__":
    _serve(int(sys.argv[1]), float(sys.argv[2]))
