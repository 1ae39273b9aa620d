from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frontdesk.embedding import CachingEmbedder, EmbeddingUnavailableError, MiniLMEmbedder, minilm
from frontdesk.interfaces import Embedder
from frontdesk.knowledge.retriever import FullTextRetriever
from frontdesk.orchestration.runtime import open_runtime


def test_packaged_model_gives_normalised_sentence_vectors(embedder: CachingEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    vectors = np.array(embedder.embed(["I want my money back", "please refund me",
                                       "the website is down"]))  # fmt: skip
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


def test_order_and_batching_do_not_change_vectors() -> None:
    model = MiniLMEmbedder(batch_size=2)
    texts = ["a much longer sentence about parcels and refunds", "hi", "short one"]
    batched = model.embed_array(texts)
    single = np.vstack([model.embed_array([t]) for t in texts])
    assert np.allclose(batched, single, atol=1e-4)
    assert model.embed_array([]).shape == (0, 384)


def test_cache_returns_the_same_vectors_without_calling_the_model() -> None:
    class Counting:
        name, dimension = "counting", 2

        def __init__(self) -> None:
            self.calls = 0

        def embed(self, texts: list[str]) -> list[list[float]]:
            self.calls += len(texts)
            return [[float(len(t)), 1.0] for t in texts]

    inner = Counting()
    cache = CachingEmbedder(inner, max_items=2)
    assert cache.embed(["ab", "abc"]) == [[2.0, 1.0], [3.0, 1.0]]
    assert cache.embed(["abc", "ab"]) == [[3.0, 1.0], [2.0, 1.0]]
    assert inner.calls == 2
    cache.embed(["x"])  # evicts the least recently used
    cache.embed(["abc"])
    assert inner.calls == 4


def test_a_tampered_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm, "MODEL_SHA256", "0" * 64)
    with pytest.raises(EmbeddingUnavailableError, match="expected 0000"):
        MiniLMEmbedder().load()


async def test_without_the_model_retrieval_falls_back_to_keywords(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> tuple[Path, Path]:
        raise EmbeddingUnavailableError("embedding model not installed (test)")

    monkeypatch.setattr(minilm, "locate_files", missing)
    runtime = await open_runtime(workspace)
    try:
        assert runtime.embedding_status.startswith("unavailable: embedding model not installed")
        assert isinstance(runtime.assistant.deps.retriever, FullTextRetriever)
    finally:
        await runtime.close()
