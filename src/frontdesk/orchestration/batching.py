"""Concurrent turns' model work in small batches (issue 21 point 2; settings `performance`).

Two batchers share one worker thread: `understand` (intent, entities, sentiment of several
messages: one encoder call and one classifier call for their texts) and `embed` (the
retrieval queries). Each item carries the classifier and extractor of the turn that sent it,
so an Assistant built over other parts (tests, evaluation) is served by its own.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from frontdesk.config.settings import PerformanceSettings
from frontdesk.embedding.batching import MicroBatcher
from frontdesk.interfaces import Embedder, EntityExtractor, IntentClassifier
from frontdesk.nlu.message import MessageUnderstanding, understand_batch
from frontdesk.nlu.sentiment import default_sentiment

UnderstandItem = tuple[str, datetime, IntentClassifier, EntityExtractor]


def _understand(items: list[UnderstandItem]) -> list[MessageUnderstanding]:
    sentiment = default_sentiment()
    results: list[MessageUnderstanding] = []
    for (classifier, extractor), group in itertools.groupby(
        items, key=lambda item: (id(item[2]), id(item[3]))
    ):
        del classifier, extractor  # ids only: the objects come with the items
        members = list(group)
        results += understand_batch(
            [(text, now) for text, now, _, _ in members],
            classifier=members[0][2],
            extractor=members[0][3],
            sentiment=sentiment,
        )
    return results


@dataclass
class TurnBatching:
    understand: MicroBatcher[UnderstandItem, MessageUnderstanding]
    embed: MicroBatcher[str, list[float]] | None  # None without an embedder
    executor: ThreadPoolExecutor

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def build_batching(
    settings: PerformanceSettings, embedder: Embedder | None, retriever: Any
) -> TurnBatching | None:
    """The batchers (None when `performance.batching` is off); a retriever that can take a
    batched encoder (`encode`) is given the `embed` one."""
    if not settings.batching:
        return None
    executor = ThreadPoolExecutor(1, thread_name_prefix="frontdesk-models")
    wait_ms, max_batch = settings.batch_wait_ms, settings.batch_max
    embed: MicroBatcher[str, list[float]] | None = None
    if embedder is not None:
        embed = MicroBatcher(embedder.embed, wait_ms=wait_ms, max_batch=max_batch,
                             executor=executor, name="embed")  # fmt: skip
        if hasattr(retriever, "encode"):
            retriever.encode = embed
    understand: MicroBatcher[UnderstandItem, MessageUnderstanding] = MicroBatcher(
        _understand, wait_ms=wait_ms, max_batch=max_batch, executor=executor, name="understand"
    )
    return TurnBatching(understand=understand, embed=embed, executor=executor)
