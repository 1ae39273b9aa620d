"""MicroBatcher: concurrent calls grouped, results as unbatched, errors and cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from frontdesk.embedding import CachingEmbedder
from frontdesk.embedding.batching import MicroBatcher

TEXTS = [
    "where is my parcel",
    "I want a refund for the broken headphones",
    "hi",
    "can I change the delivery address after dispatch?",
    "my card was charged twice",
    "how do I reset my password",
    "the tracking page says delivered but nothing arrived",
    "thanks, bye",
]


class Gated:
    """Counts calls; the first call waits for `release` so others queue behind it."""

    def __init__(self, fn: object = None) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.fn = fn

    def __call__(self, texts: Sequence[str]) -> list[object]:
        self.calls.append(list(texts))
        self.started.set()
        assert self.release.wait(10)
        if callable(self.fn):
            return self.fn(texts)  # type: ignore[no-any-return]
        return [t.upper() for t in texts]


async def _started(gate: Gated) -> None:
    assert await asyncio.to_thread(gate.started.wait, 10)


async def test_concurrent_calls_are_batched_with_the_results_unbatched_calls_give(
    embedder: CachingEmbedder,
) -> None:
    model = embedder.inner  # the encoder itself, not its cache
    gate = Gated(model.embed)
    batcher: MicroBatcher[str, list[float]] = MicroBatcher(gate, wait_ms=2, max_batch=8)
    try:
        first = asyncio.create_task(batcher([TEXTS[0]]))
        await _started(gate)  # the first call runs at once; the others arrive meanwhile
        rest = [asyncio.create_task(batcher([text])) for text in TEXTS[1:]]
        await asyncio.sleep(0.01)
        gate.release.set()
        results = [(await first)[0]] + [(await task)[0] for task in rest]
    finally:
        batcher.close()
    assert gate.calls == [[TEXTS[0]], TEXTS[1:]]  # 8 messages, 2 encoder calls
    assert (batcher.calls, batcher.items) == (2, 8)
    alone = np.asarray([model.embed([text])[0] for text in TEXTS])
    assert np.array_equal(np.asarray(results), alone)


async def test_batches_hold_at_most_max_batch_items_in_arrival_order() -> None:
    gate = Gated()
    batcher: MicroBatcher[str, object] = MicroBatcher(gate, wait_ms=0, max_batch=3)
    try:
        first = asyncio.create_task(batcher(["a"]))
        await _started(gate)
        rest = [asyncio.create_task(batcher([t])) for t in "bcdefg"]
        await asyncio.sleep(0.01)
        gate.release.set()
        assert await first == ["A"]
        assert [await task for task in rest] == [[t.upper()] for t in "bcdefg"]
    finally:
        batcher.close()
    assert gate.calls == [["a"], ["b", "c", "d"], ["e", "f", "g"]]


async def test_a_call_in_an_idle_period_does_not_wait_for_company() -> None:
    gate = Gated()
    gate.release.set()
    batcher: MicroBatcher[str, object] = MicroBatcher(gate, wait_ms=50, max_batch=8)
    try:
        # A 10 s wait would be spent only if the call waited for others: it must not.
        assert await asyncio.wait_for(batcher(["alone"]), 5) == ["ALONE"]
        batcher.wait_s = 10.0
        batcher._busy_until = -1e9  # long idle
        assert await asyncio.wait_for(batcher(["again"]), 5) == ["AGAIN"]
    finally:
        batcher.close()
    assert gate.calls == [["alone"], ["again"]]


async def test_an_error_reaches_every_caller_of_the_batch_and_the_next_batch_runs() -> None:
    failing = {"on": True}

    def fn(texts: Sequence[str]) -> list[str]:
        if failing["on"]:
            raise ValueError("encoder broke")
        return list(texts)

    gate = Gated(fn)
    batcher: MicroBatcher[str, object] = MicroBatcher(gate, wait_ms=0, max_batch=8)
    try:
        first = asyncio.create_task(batcher(["a"]))
        await _started(gate)
        rest = [asyncio.create_task(batcher([t])) for t in "bcd"]
        await asyncio.sleep(0.01)
        gate.release.set()
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        assert all(isinstance(o, ValueError) and str(o) == "encoder broke" for o in outcomes)
        failing["on"] = False
        assert await batcher(["e"]) == ["e"]
    finally:
        batcher.close()


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    gate = Gated()
    batcher: MicroBatcher[str, object] = MicroBatcher(gate, wait_ms=0, max_batch=8)
    try:
        first = asyncio.create_task(batcher(["a"]))
        await _started(gate)
        b, c, d = (asyncio.create_task(batcher([t])) for t in "bcd")
        await asyncio.sleep(0.01)
        c.cancel()  # queued: never sent to the model
        await asyncio.sleep(0.01)
        gate.release.set()
        assert await first == ["A"]
        assert [await b, await d] == [["B"], ["D"]]
        with pytest.raises(asyncio.CancelledError):
            await c
        # Cancelled while its batch runs: the batch finishes for the others.
        gate.release.clear()
        gate.started.clear()
        e = asyncio.create_task(batcher(["e"]))
        await _started(gate)
        f, g = (asyncio.create_task(batcher([t])) for t in "fg")
        await asyncio.sleep(0.01)
        e.cancel()
        gate.release.set()
        assert [await f, await g] == [["F"], ["G"]]
        assert e.cancelled()
    finally:
        batcher.close()
    assert ["b", "d"] in gate.calls  # not "c"
    assert not any("c" in call for call in gate.calls)


async def test_a_batch_function_giving_too_few_results_is_an_error() -> None:
    batcher: MicroBatcher[str, object] = MicroBatcher(lambda texts: [], wait_ms=0)
    try:
        with pytest.raises(RuntimeError, match="0 results for 1 items"):
            await batcher(["a"])
    finally:
        batcher.close()


def test_a_batcher_serves_calls_from_one_event_loop_after_another() -> None:
    gate = Gated()
    gate.release.set()
    # A call right after a batch waits (up to 50 ms) for company: on an event of its loop.
    batcher: MicroBatcher[str, object] = MicroBatcher(gate, wait_ms=50, max_batch=8)
    try:
        for text in ("a", "b"):  # each asyncio.run is a new loop (a CLI, then a server)

            async def one_after_another(text: str = text) -> list[list[object]]:
                return [await batcher([text]), await batcher([text + "2"])]

            assert asyncio.run(one_after_another()) == [[text.upper()], [text.upper() + "2"]]
    finally:
        batcher.close()
