"""Built-in parts, registered through the `frontdesk` entry-point group like any plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.embedding import CachingEmbedder, MiniLMEmbedder
from frontdesk.interfaces import Embedder
from frontdesk.knowledge.retriever import FullTextRetriever, HybridRetriever
from frontdesk.llm.extractive import ExtractiveChatModel
from frontdesk.nlu.model_store import load_or_train
from frontdesk.nlu.training_data import TrainingData
from frontdesk.registry import Registries
from frontdesk.storage.db import Database


def _tfidf(*, data: TrainingData, models_dir: Path, **_: Any) -> Any:
    return load_or_train(data, models_dir)


def _fulltext(*, db: Database, **_: Any) -> Any:
    return FullTextRetriever(db)


def _hybrid(*, db: Database, embedder: Embedder, **options: Any) -> Any:
    return HybridRetriever(db, embedder, **options)


def _minilm(**_: Any) -> Any:
    return CachingEmbedder(MiniLMEmbedder())


def register(registries: Registries) -> None:
    registries.chat_models.register("extractive", ExtractiveChatModel)
    registries.intent_classifiers.register("tfidf", _tfidf)
    registries.retrievers.register("fulltext", _fulltext)
    registries.retrievers.register("hybrid", _hybrid)
    registries.embedders.register("minilm", _minilm)
