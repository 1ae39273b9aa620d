from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from frontdesk.errors import ModelNotTrainedError
from frontdesk.nlu.intent_classifier import (
    VOTE_WEIGHTS,
    HybridIntentClassifier,
    expected_calibration_error,
    fit_temperature,
    tune_threshold,
)
from tests.nlu.fakes import HashingEmbedder

TOPICS = {
    "track_parcel": ["where is my parcel", "track my package", "tracking status of my order",
                     "has my parcel shipped", "when will my package arrive"],
    "request_refund": ["i want my money back", "refund my order please", "can i get a refund",
                       "return this and refund me", "please reimburse me"],
    "account_security": ["someone hacked my account", "i can't log in to my account",
                         "reset my password", "my login was stolen", "suspicious sign in"],
    "greet": ["hello", "hi there", "good morning", "hey", "hiya"],
}  # fmt: skip
FILLERS = ["", " please", " thanks", " asap", " today", " now", " quickly", " again"]
OUT_OF_SCOPE = [
    "what's the weather in paris", "tell me a joke", "who won the football",
    "how tall is everest", "recommend a pizza place", "play some music",
    "what is the capital of peru", "how do i bake bread", "translate this to french",
]  # fmt: skip


def _dataset(seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, intents = [], []
    for intent, phrases in TOPICS.items():
        for phrase in phrases:
            for filler in rng.sample(FILLERS, 4):
                texts.append(phrase + filler)
                intents.append(intent)
    return texts, intents


@pytest.fixture(scope="module")
def trained() -> HybridIntentClassifier:
    texts, intents = _dataset()
    return HybridIntentClassifier(HashingEmbedder()).fit(texts, intents, oos_texts=OUT_OF_SCOPE)


def test_predicts_intents_with_a_ranking(trained: HybridIntentClassifier) -> None:
    prediction = trained.predict("where is my parcel, it has not arrived")
    assert prediction.name == "track_parcel"
    assert prediction.ranking[0] == (prediction.name, prediction.confidence)
    assert len(prediction.ranking) == 4
    assert abs(sum(p for _, p in prediction.ranking) - 1.0) < 1e-3
    assert trained.predict("hey hello").name == "greet"
    assert trained.intents == sorted(TOPICS)


def test_held_out_metrics_report_calibration(trained: HybridIntentClassifier) -> None:
    metrics = trained.metrics
    assert metrics["held_out_examples"] == 80
    assert 0.0 <= metrics["ece"] <= 1.0
    assert metrics["ece"] <= metrics["ece_uncalibrated"]
    assert metrics["temperature"] > 0
    assert metrics["oos_examples"] == len(OUT_OF_SCOPE)
    assert 0.0 <= metrics["oos_recall"] <= 1.0


def test_out_of_scope_messages_are_flagged(trained: HybridIntentClassifier) -> None:
    unseen = ["can you recommend a good film", "what is the capital of chile",
              "how do i cook pasta", "tell me about black holes"]  # fmt: skip
    flagged = [trained.predict(t) for t in unseen]
    assert sum(p.out_of_scope for p in flagged) >= 3
    assert all(0.0 <= p.oos_score <= 1.0 for p in flagged)
    in_scope = trained.predict("i want a refund for my order")
    assert not in_scope.out_of_scope
    assert in_scope.oos_score < 0.5
    # The configured override wins over the tuned threshold.
    trained.threshold_override = 1e9
    try:
        assert trained.predict("i want a refund for my order").out_of_scope
    finally:
        trained.threshold_override = None


def test_tfidf_only_without_an_embedder() -> None:
    texts, intents = _dataset()
    model = HybridIntentClassifier(None).fit(texts, intents)
    assert not model.uses_embeddings
    assert model.predict("refund my money").name == "request_refund"
    # Without out-of-scope examples the threshold flags a small share of held-out messages.
    assert 0.0 < model.metrics["in_scope_rejected"] <= 0.1


def test_save_and_load(tmp_path: Path, trained: HybridIntentClassifier) -> None:
    embedder = trained.embedder
    trained.save(tmp_path / "m.joblib")
    assert trained.embedder is embedder  # saving does not drop it from the live model
    loaded = HybridIntentClassifier.load(tmp_path / "m.joblib", HashingEmbedder())
    text = "track my parcel please"
    assert loaded.predict(text) == trained.predict(text)
    with pytest.raises(ValueError, match="needs the embedding model"):
        HybridIntentClassifier.load(tmp_path / "m.joblib", None)


def test_decision_scores_match_the_svm_and_are_not_pickled(
    tmp_path: Path, trained: HybridIntentClassifier
) -> None:
    texts = ["where is my parcel", "refund please", "hi"]
    emb = np.asarray(HashingEmbedder().embed(texts), dtype=np.float32)
    features = trained._features(texts, emb)
    assert trained._svm is not None
    expected = trained._svm.decision_function(features)
    assert np.allclose(trained._decision(features), expected)
    trained.save(tmp_path / "m.joblib")
    loaded = HybridIntentClassifier.load(tmp_path / "m.joblib", HashingEmbedder())
    assert getattr(loaded, "_weights_t", None) is None  # rebuilt on first use, not stored
    assert np.allclose(loaded._decision(features), expected)


def test_neighbour_vote_is_the_best_similarity_per_intent_among_the_nearest() -> None:
    model = HybridIntentClassifier(None, voters=3)
    model.classes = ["a", "b", "c"]
    model._reference_index = np.asarray([0, 0, 1, 1, 2])
    sims = np.asarray([[0.9, 0.8, 0.7, 0.1, 0.2], [-0.5, 0.1, 0.2, 0.3, -0.2]])
    votes = model._vote(sims)
    # Row 0: nearest three are examples 0, 1 (intent a) and 2 (b); c is not among them.
    assert np.allclose(votes[0], [0.9, 0.7, 0.0])
    # Row 1: nearest three are 3, 2 (b) and 1 (a); negative similarities never vote.
    assert np.allclose(votes[1], [0.1, 0.3, 0.0])


def test_models_saved_without_the_vote_still_predict(
    tmp_path: Path, trained: HybridIntentClassifier
) -> None:
    text = "refund my order please"
    before = trained.predict(text)
    weight = trained.vote_weight
    del trained.__dict__["vote_weight"]  # as a model pickled before the vote existed
    try:
        old = trained.predict(text)
        assert old.name == before.name
    finally:
        trained.vote_weight = weight


def test_the_vote_weight_is_chosen_on_held_out_data(trained: HybridIntentClassifier) -> None:
    assert trained.vote_weight in VOTE_WEIGHTS
    assert trained.metrics["vote_weight"] == trained.vote_weight
    texts, intents = _dataset()
    fixed = HybridIntentClassifier(HashingEmbedder(), vote_weight=0.5).fit(texts, intents)
    assert fixed.vote_weight == 0.5
    off = HybridIntentClassifier(HashingEmbedder(), vote_weight=0.0).fit(texts, intents)
    assert off.vote_weight == 0.0
    emb = off._embeddings(["refund please"], None)
    scores, *_ = off._raw(["refund please"], emb)
    svm, *_ = off._parts(["refund please"], emb)
    assert np.allclose(scores, svm)


def test_big_training_sets_search_neighbours_among_the_nearest_intents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import frontdesk.nlu.intent_classifier as module

    texts, intents = _dataset()
    exact = HybridIntentClassifier(HashingEmbedder()).fit(texts, intents, oos_texts=OUT_OF_SCOPE)
    monkeypatch.setattr(module, "SHORTLIST_ABOVE", 10)
    monkeypatch.setattr(module, "SHORTLIST", 2)
    short = HybridIntentClassifier(HashingEmbedder()).fit(texts, intents, oos_texts=OUT_OF_SCOPE)
    assert short._shortlist is not None
    assert exact._shortlist is None
    queries = ["where is my parcel now", "refund me please", "hello there", "reset my password"]
    emb = np.asarray(HashingEmbedder().embed(queries), dtype=np.float32)
    full, part = exact._similarities(emb), short._similarities(emb)
    # Only two intents' examples are compared; the best match is the same as a full search.
    assert ((part > -1).sum(axis=1) <= 2 * 20).all()
    assert np.allclose(full.max(axis=1), part.max(axis=1))
    assert [p.name for p in short.predict_batch(queries)] == [
        p.name for p in exact.predict_batch(queries)
    ]


def test_one_message_features_match_scikit_learn(trained: HybridIntentClassifier) -> None:
    texts = ["where is my parcel", "Refund, refund REFUND!!", "", "zzz qqq", "hi hi hi there"]
    emb = np.asarray(HashingEmbedder().embed(texts), dtype=np.float32)
    batch = trained._features(texts, emb).toarray()
    for n, text in enumerate(texts):
        one = trained._features([text], emb[n : n + 1])
        assert one.shape == (1, batch.shape[1])
        assert np.allclose(one.toarray()[0], batch[n])
    assert "_analysers" not in trained.__getstate__()


def test_two_intents_give_two_score_columns() -> None:
    texts, intents = _dataset()
    keep = [i for i, y in enumerate(intents) if y in {"greet", "request_refund"}]
    model = HybridIntentClassifier(None).fit(
        [texts[i] for i in keep], [intents[i] for i in keep], folds=2
    )
    prediction = model.predict("can i get a refund")
    assert prediction.name == "request_refund"
    assert {name for name, _ in prediction.ranking} == {"greet", "request_refund"}


def test_untrained_and_single_intent_errors() -> None:
    with pytest.raises(ModelNotTrainedError):
        HybridIntentClassifier(None).predict("hi")
    with pytest.raises(ValueError, match="at least two intents"):
        HybridIntentClassifier(None).fit(["a", "b"], ["x", "x"])


def test_temperature_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=600)
    scores = rng.normal(size=(600, 3))
    scores[np.arange(600), labels] += 1.0
    scores *= 8  # far too sharp for how often the top class is right
    hits = scores.argmax(1) == labels

    def ece(t: float) -> float:
        p = np.exp(scores / t - (scores / t).max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return expected_calibration_error(p.max(1), hits)

    t = fit_temperature(scores, labels)
    assert t > 2
    assert ece(t) < ece(1.0) / 2
    assert ece(t) < 0.06


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)
    assert expected_calibration_error([], []) == 0.0


def test_threshold_tuning() -> None:
    in_scope = [2.0, 1.5, 1.0, 0.5, -0.5]
    correct = [True, True, True, True, False]
    oos = [-2.0, -1.0, 0.0]
    threshold = tune_threshold(in_scope, correct, oos, max_rejected=0.5)
    # Rejects every out-of-scope score and keeps every correct in-scope one.
    assert 0.0 < threshold <= 0.5
    # At most 5% of in-scope messages may be flagged: recall gives way.
    capped = tune_threshold(np.linspace(0, 1, 101), [True] * 101, [0.5, 0.9])
    assert capped <= 0.05
    # Without out-of-scope examples: flag the given share of in-scope messages.
    assert tune_threshold(np.linspace(0, 1, 101), [True] * 101, [], fallback_share=0.1) == (
        pytest.approx(0.1)
    )
