from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from frontdesk.errors import ModelNotTrainedError
from frontdesk.nlu.entities import EntityPipeline, RuleEntityExtractor
from frontdesk.nlu.model_store import (
    HotEntityExtractor,
    HotIntentClassifier,
    HotModel,
    ModelStore,
    load_or_train,
    open_models,
    train_and_promote,
)
from frontdesk.nlu.training_data import TrainingData, load_training_data
from tests.nlu.fakes import HashingEmbedder

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)

NLU = """nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
    - hiya
    - hello again
- intent: refund
  examples: |
    - refund my [vase](product)
    - I want my money back for the [lamp](product)
    - give me a refund for my [chair](product)
    - can I get a refund
    - money back please
    - refund the [table](product) please
- intent: out_of_scope
  examples: |
    - what's the weather
    - tell me a joke
"""


def _data(tmp_path: Path, extra: str = "") -> TrainingData:
    folder = tmp_path / "nlu"
    folder.mkdir(exist_ok=True)
    (folder / "nlu.yml").write_text(NLU + extra)
    return load_training_data(folder)


def test_train_writes_a_version_with_a_manifest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    data = _data(tmp_path)
    version, manifest = train_and_promote(data, store, HashingEmbedder())
    assert store.versions() == [version]
    assert store.active_version() == version
    assert version.endswith(data.fingerprint()[:8])
    assert manifest["data_hash"] == data.fingerprint()
    assert manifest["intents"] == ["greet", "refund"]
    assert manifest["entity_types"] == ["product"]
    assert manifest["out_of_scope_examples"] == 2
    assert {"ece", "held_out_accuracy", "oos_threshold"} <= set(manifest["metrics"])
    assert datetime.fromisoformat(manifest["trained_at"])
    on_disk = json.loads((tmp_path / "models" / version / "manifest.json").read_text())
    assert on_disk["version"] == version
    model = store.load_active(HashingEmbedder())
    assert model.classifier.predict("hello there").name == "greet"


def test_unpromoted_versions_and_missing_ones(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelNotTrainedError, match="run `frontdesk train`"):
        store.load_active(None)
    version, _ = train_and_promote(_data(tmp_path), store, None, promote=False)
    assert store.active_version() is None
    store.promote(version)
    assert store.active_version() == version
    with pytest.raises(ModelNotTrainedError):
        store.promote("nope")


def test_load_or_train_reuses_a_model_and_never_promotes_changed_data_itself(
    tmp_path: Path,
) -> None:
    store = ModelStore(tmp_path / "models")
    first = load_or_train(_data(tmp_path), store, None)
    assert store.baseline_version() == first.version  # the first trained version
    again = load_or_train(_data(tmp_path), store, None)
    assert again.version == first.version
    # Changed data: without the gate's `refresh` the active model stays (start-up never
    # promotes ungated); with it, the refresh decides.
    more = _data(tmp_path, "    - refund me now\n")
    assert load_or_train(more, store, None).version == first.version
    asked: list[str] = []

    def refresh(data: TrainingData, s: ModelStore, embedder: object) -> None:
        asked.append(data.fingerprint())
        train_and_promote(data, s, None)

    changed = load_or_train(more, store, None, refresh=refresh)
    assert asked == [more.fingerprint()]
    assert changed.version != first.version
    assert load_or_train(more, store, None, refresh=refresh).version == changed.version
    assert len(asked) == 1  # same data: nothing to refresh
    # Other features (now with embeddings): the old model cannot serve them; a new one is
    # trained, promoted and becomes the baseline.
    with_embeddings = load_or_train(more, store, HashingEmbedder(), refresh=refresh)
    assert with_embeddings.version != changed.version
    assert with_embeddings.manifest["embeddings"] == "hashing-test"
    assert store.baseline_version() == with_embeddings.version
    other = HashingEmbedder()
    other.name = "hashing-test-2"
    retrained = load_or_train(more, store, other)
    assert retrained.version != with_embeddings.version
    assert retrained.manifest["embeddings"] == "hashing-test-2"
    assert load_or_train(more, store, other).version == retrained.version
    assert len(asked) == 1


def test_promotions_are_logged_and_rollback_goes_back_not_forth(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    v1, _ = train_and_promote(_data(tmp_path), store, None)
    v2, _ = train_and_promote(_data(tmp_path, "    - refund me now\n"), store, None)
    v3, _ = train_and_promote(_data(tmp_path, "    - refund me today\n"), store, None)
    assert store.previous_active() == v2
    store.promote(v2, actor="ana", action="rolled_back")
    assert store.previous_active() == v1  # a second rollback goes further back
    history = store.history()
    assert [(h["action"], h["version"]) for h in history] == [
        ("promoted", v1), ("promoted", v2), ("promoted", v3), ("rolled_back", v2)
    ]  # fmt: skip
    assert history[-1]["actor"] == "ana"
    assert history[-1]["previous"] == v3
    store.set_baseline(v2)
    assert store.baseline_version() == v2
    with pytest.raises(ModelNotTrainedError):
        store.set_baseline("nope")


def test_a_corrupt_active_model_is_retrained(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    first = load_or_train(_data(tmp_path), store, None)
    (tmp_path / "models" / first.version / "intent.joblib").write_bytes(b"not a model")
    model = load_or_train(_data(tmp_path), store, None)
    assert model.version != first.version


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _touch_later(path: Path) -> None:
    # Filesystems with coarse timestamps: make the change visible.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def test_a_promoted_model_is_swapped_in_without_a_restart(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    data = _data(tmp_path)
    old = load_or_train(data, store, None)
    clock = Clock()
    hot = HotModel(store, old, None, interval=2.0, clock=clock)
    classifier = HotIntentClassifier(hot)
    pipeline = EntityPipeline(RuleEntityExtractor(), HotEntityExtractor(hot))
    assert classifier.intents == ["greet", "refund"]

    extra = "- intent: track\n  examples: |\n" + "".join(
        f"    - where is my {w}\n"
        for w in ["parcel", "package", "box", "order", "delivery", "stuff"]
    )
    new_version, _ = train_and_promote(_data(tmp_path, extra), store, None)
    _touch_later(store.pointer)
    assert hot.version == old.version  # not yet: checked at most every 2 seconds
    clock.now = 2.5
    assert classifier.predict("where is my parcel").name == "track"
    assert hot.version == new_version
    assert "product" in {e.type for e in pipeline.extract("refund my vase", now=NOW)}

    # A promoted version that cannot load leaves the current one serving.
    broken, _ = train_and_promote(_data(tmp_path, extra + "    - where is it\n"), store, None)
    (tmp_path / "models" / broken / "intent.joblib").write_bytes(b"garbage")
    _touch_later(store.pointer)
    clock.now = 5.0
    assert classifier.predict("hello").name == "greet"
    assert hot.version == new_version


def test_open_models_applies_the_threshold_override(tmp_path: Path) -> None:
    classifier = open_models(_data(tmp_path), tmp_path / "models", None, threshold=1e9)
    assert classifier.predict("hello").out_of_scope
