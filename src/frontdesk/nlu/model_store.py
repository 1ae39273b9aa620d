"""Versioned NLU models on disk, and a holder that swaps in a newly promoted one.

Layout (under the workspace's state folder, `.frontdesk/models/nlu/`):

    20261123T114600-1a2b3c4d/      one trained version
        manifest.json              data hash, classifier, metrics, time, training seconds
        intent.joblib              the intent classifier
        entities.joblib            the trained entity extractor (CRF)
        gate.json                  the promotion gate's decision on it (baseline, reasons, flips)
    active                         the name of the version in use (one line)
    baseline                       the promoted baseline: the version candidates are judged
                                   against (the first trained one, or the last one a person
                                   accepted: promoted by hand, forced, rolled back to)
    history.jsonl                  promotions and rollbacks: who, when, which version

Every training (start-up, `frontdesk train`/`retrain`, the console, the API) writes a version
and promotes it through the gate (frontdesk.orchestration.learning) by rewriting `active`
atomically. A running server checks the pointer's modification time every few
seconds and loads the new version in place: no restart, and a version that fails to load
leaves the old one serving.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from frontdesk.errors import ModelNotTrainedError
from frontdesk.nlu.crf_entities import CrfEntityExtractor
from frontdesk.nlu.intent_classifier import HybridIntentClassifier, Progress, TextEmbedder
from frontdesk.nlu.training_data import TrainingData

log = logging.getLogger(__name__)

ACTIVE = "active"
BASELINE = "baseline"
HISTORY = "history.jsonl"
GATE = "gate.json"


@dataclass
class NluModel:
    version: str
    manifest: dict[str, Any]
    classifier: HybridIntentClassifier
    entities: CrfEntityExtractor


def train(
    data: TrainingData,
    embedder: TextEmbedder | None,
    *,
    folds: int = 3,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> tuple[HybridIntentClassifier, CrfEntityExtractor, dict[str, Any]]:
    """Train the intent classifier and the entity extractor; returns them and a manifest."""
    started = time.perf_counter()
    in_scope = data.in_scope
    classifier = HybridIntentClassifier(embedder, patterns=data.patterns).fit(
        [e.text for e in in_scope],
        [e.intent for e in in_scope],
        oos_texts=[e.text for e in data.out_of_scope],
        folds=folds,
        progress=progress,
    )
    if progress:
        progress("training the entity extractor")
    entities = CrfEntityExtractor().fit(
        in_scope, lookups=data.lookups, regexes=data.regexes, synonyms=data.declared_synonyms
    )
    manifest = {
        "data_hash": data.fingerprint(),
        "classifier": classifier.name,
        "embeddings": getattr(embedder, "name", None) if classifier.uses_embeddings else None,
        "intents": classifier.intents,
        "entity_types": entities.types,
        "examples": len(in_scope),
        "out_of_scope_examples": len(data.out_of_scope),
        "metrics": classifier.metrics,
        "trained_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return classifier, entities, manifest


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def pointer(self) -> Path:
        return self.root / ACTIVE

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "manifest.json").is_file())

    def active_version(self) -> str | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def manifest(self, version: str) -> dict[str, Any]:
        path = self.root / version / "manifest.json"
        if not path.is_file():
            raise ModelNotTrainedError(f"no NLU model version {version!r} under {self.root}")
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def save(
        self,
        classifier: HybridIntentClassifier,
        entities: CrfEntityExtractor,
        manifest: dict[str, Any],
    ) -> str:
        stamp = datetime.fromisoformat(manifest["trained_at"]).strftime("%Y%m%dT%H%M%S")
        version = f"{stamp}-{manifest['data_hash'][:8]}"
        n = 1
        while (self.root / version).exists():  # two trainings in one second
            n += 1
            version = f"{stamp}-{manifest['data_hash'][:8]}-{n}"
        # Write into a temporary folder and rename it, so a reader never sees half a model.
        tmp = self.root / f".tmp-{version}"
        tmp.mkdir(parents=True)
        try:
            classifier.save(tmp / "intent.joblib")
            joblib.dump(entities, tmp / "entities.joblib")
            body = json.dumps({"version": version, **manifest}, indent=2)
            (tmp / "manifest.json").write_text(body + "\n", encoding="utf-8")
            tmp.rename(self.root / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def _write_pointer(self, name: str, version: str) -> None:
        tmp = self.root / f".{name}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self.root / name)

    def promote(
        self, version: str, *, actor: str = "system", action: str = "promoted", note: str = ""
    ) -> None:
        """Make `version` the one in use (running servers swap it in within seconds)."""
        self.manifest(version)  # must exist
        previous = self.active_version()
        self._write_pointer(ACTIVE, version)
        self.log(action, version, actor=actor, previous=previous, note=note)

    def baseline_version(self) -> str | None:
        try:
            name = (self.root / BASELINE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def set_baseline(self, version: str, *, actor: str = "system") -> None:
        self.manifest(version)
        self._write_pointer(BASELINE, version)
        self.log("baseline", version, actor=actor)

    def log(self, action: str, version: str, *, actor: str, **detail: Any) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        extra = {k: v for k, v in detail.items() if v}
        entry = {"at": at, "action": action, "version": version, "actor": actor, **extra}
        with (self.root / HISTORY).open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def history(self) -> list[dict[str, Any]]:
        try:
            lines = (self.root / HISTORY).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def previous_active(self) -> str | None:
        """The version in use before the current one was promoted (what a rollback returns
        to; rolling back again goes one further back, not forth)."""
        current = self.active_version()
        for entry in reversed(self.history()):
            if (
                entry["action"] in {"promoted", "forced", "accepted"}
                and entry["version"] == current
                and entry.get("previous") not in (None, current)
            ):
                return str(entry["previous"])
        return None

    def record_gate(self, version: str, decision: dict[str, Any]) -> None:
        self.manifest(version)
        tmp = self.root / version / f".{GATE}.{os.getpid()}"
        tmp.write_text(json.dumps(decision, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.root / version / GATE)

    def gate_record(self, version: str) -> dict[str, Any] | None:
        path = self.root / version / GATE
        if not path.is_file():
            return None
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def load(self, version: str, embedder: TextEmbedder | None) -> NluModel:
        manifest = self.manifest(version)
        folder = self.root / version
        # Only files this workspace wrote itself are loaded (joblib unpickles).
        classifier = HybridIntentClassifier.load(folder / "intent.joblib", embedder)
        entities = joblib.load(folder / "entities.joblib")
        if not isinstance(entities, CrfEntityExtractor):
            raise ValueError(f"{folder}/entities.joblib does not hold an entity extractor")
        return NluModel(version, manifest, classifier, entities)

    def load_active(self, embedder: TextEmbedder | None) -> NluModel:
        version = self.active_version()
        if version is None:
            raise ModelNotTrainedError(
                f"no active NLU model under {self.root}; run `frontdesk train`"
            )
        return self.load(version, embedder)


def train_and_promote(
    data: TrainingData,
    store: ModelStore,
    embedder: TextEmbedder | None,
    *,
    promote: bool = True,
    folds: int = 3,
    progress: Progress | None = None,
) -> tuple[str, dict[str, Any]]:
    classifier, entities, manifest = train(data, embedder, folds=folds, progress=progress)
    version = store.save(classifier, entities, manifest)
    if promote:
        store.promote(version)
    return version, store.manifest(version)


# Trains a candidate on (data, store, embedder) and promotes it only through the gate.
Refresh = Callable[[TrainingData, "ModelStore", TextEmbedder | None], object]


def load_or_train(
    data: TrainingData,
    store: ModelStore,
    embedder: TextEmbedder | None,
    *,
    refresh: Refresh | None = None,
) -> NluModel:
    """The active model. When it was trained on other data (the workspace's nlu/ or its
    corrections changed), `refresh` trains a candidate and promotes it only through the gate;
    without `refresh` the active model stays: start-up never promotes a model ungated. Only
    when there is no usable model (none yet, corrupt, or other features) is one trained and
    promoted here; it becomes the baseline later candidates are judged against."""
    wanted = getattr(embedder, "name", None)
    version = store.active_version()
    if version is not None:
        try:
            model = store.load(version, embedder)
        except Exception as exc:  # a corrupt or incompatible version: train a fresh one
            log.warning("could not load NLU model %s (%s); retraining", version, exc)
        else:
            if model.manifest.get("embeddings") == wanted:
                if model.manifest.get("data_hash") == data.fingerprint() or refresh is None:
                    return model
                refresh(data, store, embedder)
                return store.load_active(embedder)
            log.warning("NLU model %s was trained with other features; retraining", version)
    version, _ = train_and_promote(data, store, embedder)
    store.set_baseline(version)
    return store.load(version, embedder)


class HotModel:
    """The model in use, swapped for a newly promoted version without a restart.

    `get()` is called on every message; it looks at the pointer file's mtime at most every
    `interval` seconds (a stat call), and loads a new version only when the pointer changed."""

    def __init__(
        self,
        store: ModelStore,
        model: NluModel,
        embedder: TextEmbedder | None,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        on_swap: Callable[[NluModel], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.interval = interval
        self.clock = clock
        self.on_swap = on_swap
        self._model = model
        self._checked = clock()
        self._mtime = self._pointer_mtime()
        self._lock = threading.Lock()

    def _pointer_mtime(self) -> float | None:
        try:
            return self.store.pointer.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            return None

    @property
    def version(self) -> str:
        return self._model.version

    def get(self) -> NluModel:
        now = self.clock()
        if now - self._checked < self.interval:
            return self._model
        self._checked = now
        mtime = self._pointer_mtime()
        if mtime == self._mtime:
            return self._model
        with self._lock:
            self._mtime = mtime
            version = self.store.active_version()
            if version is None or version == self._model.version:
                return self._model
            try:
                model = self.store.load(version, self.embedder)
            except Exception as exc:
                log.error(
                    "NLU model %s could not be loaded, keeping %s: %s",
                    version,
                    self._model.version,
                    exc,
                )
                return self._model
            log.info("NLU model %s now answers (replaces %s)", version, self._model.version)
            self._model = model
            if self.on_swap:
                self.on_swap(model)
        return self._model


def open_models(
    data: TrainingData,
    root: Path,
    embedder: TextEmbedder | None,
    *,
    interval: float = 2.0,
    threshold: float | None = None,
    refresh: Refresh | None = None,
) -> HotIntentClassifier:
    """Load (or train) the workspace's model and wrap it for hot swapping."""
    store = ModelStore(root)
    model = load_or_train(data, store, embedder, refresh=refresh)
    return HotIntentClassifier(HotModel(store, model, embedder, interval=interval), threshold)


class HotIntentClassifier:
    """Implements `IntentClassifier` over the model in use; with a configured override of the
    out-of-scope threshold."""

    def __init__(self, hot: HotModel, threshold: float | None = None) -> None:
        self.hot = hot
        self.threshold = threshold

    @property
    def intents(self) -> list[str]:
        return self.hot.get().classifier.intents

    @property
    def version(self) -> str:
        """The model version in use (`.frontdesk/models/nlu/<version>`)."""
        return self.hot.version

    def predict(self, text: str) -> Any:
        classifier = self.hot.get().classifier
        classifier.threshold_override = self.threshold
        return classifier.predict(text)

    def predict_batch(self, texts: Sequence[str]) -> list[Any]:
        """Several messages' intents in one call (one encoder call for all their texts)."""
        classifier = self.hot.get().classifier
        classifier.threshold_override = self.threshold
        return classifier.predict_batch(texts)


class HotEntityExtractor:
    """The trained entity extractor of the model in use (for `EntityPipeline`)."""

    def __init__(self, hot: HotModel) -> None:
        self.hot = hot

    @property
    def types(self) -> list[str]:
        return self.hot.get().entities.types

    def extract(self, text: str, *, now: datetime) -> list[Any]:
        return self.hot.get().entities.extract(text, now=now)


__all__ = [
    "HotEntityExtractor",
    "HotIntentClassifier",
    "HotModel",
    "ModelStore",
    "NluModel",
    "load_or_train",
    "open_models",
    "train",
    "train_and_promote",
]
