"""Concurrent messages' model work, grouped into small batches on one worker thread.

The sentence encoder and the intent classifier cost a message a few milliseconds of CPU. Each
call used to hop to the shared thread pool on its own, so under load several ran at once,
each with onnxruntime's own threads, on two cores. A `MicroBatcher` sends every call to one
thread of its own and groups the calls that arrive together: the first call in an idle
period runs at once (nothing changes at concurrency 1); calls that arrive while a batch runs
wait for it to end and then run as one batch, after at most `wait_ms` more for company when
the batcher was busy just before. Results are the same as one call at a time: the batch
function returns one result per item, in order, and the integer encoder embeds each text on
its own (see minilm.py).

An error in a batch function reaches every caller of that batch; a caller that is cancelled
leaves the others' results alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item, Result]):
    items: list[Item]
    future: asyncio.Future[list[Result]]


class MicroBatcher(Generic[Item, Result]):
    """`await batcher(items)` -> `fn(items)`, grouped with other callers' items."""

    def __init__(
        self,
        fn: Callable[[list[Item]], Sequence[Result]],
        *,
        wait_ms: float = 2.0,
        max_batch: int = 8,
        executor: ThreadPoolExecutor | None = None,
        name: str = "batch",
    ) -> None:
        self.fn = fn
        self.wait_s = max(0.0, wait_ms) / 1000
        self.max_batch = max(1, max_batch)
        self._own_executor = executor is None
        self.executor = executor or ThreadPoolExecutor(1, thread_name_prefix=f"frontdesk-{name}")
        self._waiting: list[_Waiting[Item, Result]] = []
        self._runner: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()  # a call came while the runner gathers a batch
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the calls
        self._busy_until = 0.0  # monotonic time the last batch ended
        # What the batches were: calls run and items per call (for tests and benchmarks).
        self.calls = 0
        self.items = 0

    async def __call__(self, items: Sequence[Item]) -> list[Result]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a runtime opened in one loop and used in another
            self._loop, self._arrived, self._runner = loop, asyncio.Event(), None
            self._waiting = [w for w in self._waiting if w.future.get_loop() is loop]
        future: asyncio.Future[list[Result]] = loop.create_future()
        self._waiting.append(_Waiting(list(items), future))
        self._arrived.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            await self._batches()
        except BaseException as exc:  # the loop is closing, or a bug: no caller is left waiting
            for waiting in self._waiting:
                if waiting.future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    waiting.future.cancel()
                else:
                    waiting.future.set_exception(exc)
            self._waiting.clear()
            raise

    async def _batches(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            # A call in an idle period goes straight through; after a busy spell, wait a
            # little for the calls that are on their way.
            if self.wait_s and loop.time() - self._busy_until < self.wait_s:
                deadline = loop.time() + self.wait_s
                while self._pending_items() < self.max_batch:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._arrived.clear()
                    try:
                        await asyncio.wait_for(self._arrived.wait(), remaining)
                    except TimeoutError:
                        break
            batch = self._take()
            if not batch:
                continue
            items = [item for waiting in batch for item in waiting.items]
            try:
                results = await loop.run_in_executor(self.executor, self._apply, items)
            except BaseException as exc:  # every caller of this batch gets the error
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            finally:
                self._busy_until = loop.time()
            start = 0
            for waiting in batch:
                end = start + len(waiting.items)
                if not waiting.future.done():  # a cancelled caller: its results are dropped
                    waiting.future.set_result(results[start:end])
                start = end

    def _pending_items(self) -> int:
        return sum(len(w.items) for w in self._waiting if not w.future.done())

    def _take(self) -> list[_Waiting[Item, Result]]:
        """Waiting calls up to `max_batch` items (at least one call); cancelled ones dropped."""
        batch: list[_Waiting[Item, Result]] = []
        count = 0
        while self._waiting:
            waiting = self._waiting[0]
            if waiting.future.done():
                self._waiting.pop(0)
                continue
            if batch and count + len(waiting.items) > self.max_batch:
                break
            batch.append(self._waiting.pop(0))
            count += len(waiting.items)
        return batch

    def _apply(self, items: list[Item]) -> list[Result]:
        results = list(self.fn(items))
        if len(results) != len(items):
            raise RuntimeError(f"batch function gave {len(results)} results for {len(items)} items")
        self.calls += 1
        self.items += len(items)
        return results

    def close(self) -> None:
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
