from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frontdesk.embedding import (
    CachingEmbedder,
    EmbeddingUnavailableError,
    MiniLMEmbedder,
    minilm,
    quantize,
)
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


@pytest.mark.parametrize("quantized", [True, False])
def test_order_and_batching_do_not_change_vectors(quantized: bool) -> None:
    model = MiniLMEmbedder(batch_size=2, quantized=quantized)
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


def test_the_integer_model_is_derived_once_and_embeds_like_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    derived = MiniLMEmbedder(cache_dir=tmp_path).load()
    packaged = MiniLMEmbedder(quantized=False).load()
    assert derived.name != packaged.name  # an index made with one is re-embedded by the other
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [quantize.derived_path(tmp_path, minilm.MODEL_SHA256).name]
    ops = {node.op_type for node in onnx.load(str(files[0])).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops

    texts = ["my parcel never arrived", "Can I pay by invoice?", "reset two-factor login"]
    cosines = np.sum(derived.embed_array(texts) * packaged.embed_array(texts), axis=1)
    assert cosines.min() > 0.97
    similarity = derived.embed_array(["refund please", "I want my money back", "hello"])
    assert similarity[0] @ similarity[1] > similarity[0] @ similarity[2]

    def no_second_derivation(*args: object, **kwargs: object) -> None:
        raise AssertionError("derived again")

    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", no_second_derivation)
    again = MiniLMEmbedder(cache_dir=tmp_path).load()
    assert np.allclose(again.embed_array(texts), derived.embed_array(texts))


def test_a_derived_model_that_embeds_differently_is_refused_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(minilm, "MIN_COSINE", 1.01)
    with pytest.raises(EmbeddingUnavailableError, match="too far from the packaged model"):
        MiniLMEmbedder(cache_dir=tmp_path).load()
    assert list(tmp_path.iterdir()) == []  # nothing half-made is left for the next start


def test_an_unwritable_cache_folder_says_how_to_run_without_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EmbeddingUnavailableError, match=r"knowledge\.embedder: minilm-packaged"):
        MiniLMEmbedder(cache_dir=blocker / "cache").load()


def test_a_damaged_derived_file_is_made_again(tmp_path: Path) -> None:
    path = quantize.derived_path(tmp_path, minilm.MODEL_SHA256)
    tmp_path.mkdir(exist_ok=True)
    path.write_bytes(b"not a model")  # a cache folder anyone may touch
    model = MiniLMEmbedder(cache_dir=tmp_path).load()
    assert model.embed_array(["hello"]).shape == (1, 384)
    assert path.stat().st_size > 1_000_000
