"""Built-in parts, registered through the `frontdesk` entry-point group like any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from frontdesk.config.settings import LlmSettings, NluSettings, ProviderSettings
from frontdesk.config.voice_settings import VoiceSettings
from frontdesk.embedding import CachingEmbedder, MiniLMEmbedder
from frontdesk.interfaces import Embedder
from frontdesk.knowledge.retriever import FullTextRetriever, HybridRetriever
from frontdesk.llm.extractive import ExtractiveChatModel
from frontdesk.nlu.model_store import Refresh, open_models
from frontdesk.nlu.training_data import TrainingData
from frontdesk.ops.assembly import register_targets
from frontdesk.registry import Registries
from frontdesk.storage.db import Database


def _intents(
    *,
    data: TrainingData,
    models_dir: Path,
    embedder: Embedder | None = None,
    settings: NluSettings | None = None,
    refresh: Refresh | None = None,
    **_: Any,
) -> Any:
    nlu = settings or NluSettings()
    return open_models(
        data,
        models_dir / "nlu",
        embedder,
        interval=nlu.reload_seconds,
        threshold=nlu.oos_threshold,
        refresh=refresh,
    )


def _tfidf(**options: Any) -> Any:
    return _intents(**{**options, "embedder": None})


def _fulltext(
    *,
    db: Database,
    keyword_scoring: Literal["memory", "fts5"] = "memory",
    keyword_max_share: float | None = None,
    **_: Any,
) -> Any:
    return FullTextRetriever(
        db, keyword_scoring=keyword_scoring, keyword_max_share=keyword_max_share
    )


def _hybrid(*, db: Database, embedder: Embedder, **options: Any) -> Any:
    return HybridRetriever(db, embedder, **options)


def _openai(
    *,
    model: str,
    provider: str = "openai",
    provider_settings: ProviderSettings | None = None,
    **options: Any,
) -> Any:
    from frontdesk.llm.openai_chat import OpenAIChatModel

    return OpenAIChatModel(
        model=model,
        provider=provider,
        settings=provider_settings,
        http_client=options.get("http_client"),
    )


def _anthropic(
    *,
    model: str,
    provider: str = "anthropic",
    provider_settings: ProviderSettings | None = None,
    **options: Any,
) -> Any:
    from frontdesk.llm.anthropic_chat import AnthropicChatModel

    return AnthropicChatModel(
        model=model,
        provider=provider,
        settings=provider_settings,
        http_client=options.get("http_client"),
    )


def _local(*, model: str = "smollm2", llm: LlmSettings | None = None, **_: Any) -> Any:
    from frontdesk.llm.local import LocalChatModel

    return LocalChatModel(model=model, settings=llm.local if llm else None)


def _minilm(**_: Any) -> Any:
    return CachingEmbedder(MiniLMEmbedder())


def _minilm_packaged(**_: Any) -> Any:
    # The packaged file as it is (float MatMuls): for indexes embedded before the integer
    # copy became the default, to keep their vectors instead of re-embedding.
    return CachingEmbedder(MiniLMEmbedder(quantized=False))


def _whisper(*, model: str = "base", settings: VoiceSettings | None = None, **_: Any) -> Any:
    # Cheap: faster-whisper is imported and the model loaded on the first transcription.
    from frontdesk.speech.whisper import WhisperTranscriber

    return WhisperTranscriber(model=model, settings=settings)


def register(registries: Registries) -> None:
    registries.chat_models.register("extractive", ExtractiveChatModel)
    registries.chat_models.register("openai", _openai)
    registries.chat_models.register("anthropic", _anthropic)
    registries.chat_models.register("local", _local)
    registries.intent_classifiers.register("tfidf", _tfidf)
    registries.intent_classifiers.register("hybrid", _intents)
    registries.retrievers.register("fulltext", _fulltext)
    registries.retrievers.register("hybrid", _hybrid)
    registries.embedders.register("minilm", _minilm)
    registries.embedders.register("minilm-packaged", _minilm_packaged)
    registries.transcribers.register("whisper", _whisper)
    register_targets(registries)
