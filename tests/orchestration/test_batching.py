"""Concurrent turns' model work in batches (performance.batching): the same understanding,
passages and replies as one turn at a time, with fewer encoder calls."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.nlu.message import understand_message
from frontdesk.nlu.sentiment import default_sentiment
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.types import InboundMessage

MESSAGES = [
    "where is my parcel KP-20481234",
    "I was charged twice for one order",
    "how long does a refund take to reach my card?",
    "hello",
    "can I change the delivery address after dispatch",
    "my account was hacked, someone changed my password",
    "what is the weather like on mars",
    "the driver left my parcel with a neighbour I don't know",
]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Counting:
    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: Any) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed(texts)  # type: ignore[no-any-return]


@pytest.fixture
def batching_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """`performance.batching` is off by default; these tests turn it on."""
    monkeypatch.setenv("FRONTDESK_PERFORMANCE__BATCHING", "true")


async def test_batched_understanding_equals_one_message_at_a_time(
    batching_on: None, sqlite_runtime: Runtime
) -> None:
    deps = sqlite_runtime.assistant.deps
    assert deps.batching is not None
    alone = [
        await understand_message(text, now=NOW, classifier=deps.classifier,
                                 extractor=deps.extractor, sentiment=default_sentiment())
        for text in MESSAGES
    ]  # fmt: skip
    before = deps.batching.understand.calls
    together = await asyncio.gather(
        *(deps.batching.understand([(t, NOW, deps.classifier, deps.extractor)]) for t in MESSAGES)
    )
    assert [r[0] for r in together] == alone
    assert deps.batching.understand.calls - before < len(MESSAGES)  # some ran together


def test_a_batch_of_up_to_16_messages_is_classified_as_each_alone(sqlite_runtime: Runtime) -> None:
    classifier = sqlite_runtime.assistant.deps.classifier
    texts = MESSAGES + [text.upper() for text in MESSAGES]
    alone = [classifier.predict(text) for text in texts]
    for size in (2, 8, 16):
        batched = [
            p for i in range(0, 16, size) for p in classifier.predict_batch(texts[i : i + size])
        ]  # type: ignore[attr-defined]
        assert batched == alone  # exactly: no last-digit differences


async def test_concurrent_turns_give_the_replies_of_turns_one_at_a_time(
    batching_on: None, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    deps = rt.assistant.deps
    assert deps.batching is not None
    model = rt.embedder.inner  # type: ignore[union-attr]  # the encoder behind the cache
    counting = Counting(model)
    rt.embedder.inner = counting  # type: ignore[union-attr]
    unbatched = Assistant(Deps(**{**deps.__dict__, "batching": None}))
    tenant = rt.tenant.id

    async def turn(assistant: Assistant, text: str) -> Any:
        async with rt.db.session(tenant) as session:
            conversation = await create_conversation(session, channel="api")
            await session.commit()
        reply = await assistant.handle(
            InboundMessage(tenant_id=tenant, conversation_id=conversation.id, text=text,
                           received_at=NOW)
        )  # fmt: skip
        dumped = reply.model_dump(mode="json", exclude={"conversation_id", "turn_id", "ticket_id"})
        # Turn ids and ticket references are new for each turn.
        return re.sub(r"\b([0-9a-f]{32}|[0-9A-F]{8})\b", "<id>", json.dumps(dumped))

    one_by_one = [await turn(unbatched, text) for text in MESSAGES]
    rt.embedder._items.clear()  # type: ignore[union-attr]  # the encoder runs again
    counting.calls = 0
    understood = deps.batching.understand.calls
    together = await asyncio.gather(*(turn(rt.assistant, text) for text in MESSAGES))
    assert together == one_by_one
    assert deps.batching.understand.calls - understood < len(MESSAGES)  # some ran together
    # Each message embeds its text and (most) their retrieval query: fewer calls batched.
    assert 0 < counting.calls < 2 * len(MESSAGES)
