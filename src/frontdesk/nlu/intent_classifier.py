"""The default intent classifier: sentence embeddings (the packaged MiniLM) beside TF-IDF word
and character n-grams, a linear SVM over both, temperature-scaled confidence, and an
out-of-scope detector.

Why this shape: on a 2-core CPU it trains on 10-15k examples in about a minute and predicts
in a few milliseconds, and the two feature families fail differently (n-grams catch exact
wording and typos, embeddings catch paraphrases). A nearest-neighbour vote (the best
similarity per intent among the 10 nearest training examples) is added to the SVM's scores.
See bench/nlu.py for what each piece adds.

Out of scope. The classifier's margin alone misses messages that resemble nothing it was
trained on but still fall clearly on one side of a boundary. So two signals are combined,
each standardised on held-out in-scope messages: the margin between the two best intents,
and how close the message is to its nearest training examples in embedding space (mean
cosine of the 5 nearest). A message scoring under the threshold is out of scope. The
threshold is tuned on held-out data: labelled `out_of_scope` examples when there are some,
otherwise the level that flags a small share of held-out in-scope messages.

Confidence. The SVM's scores become probabilities through a softmax with one temperature,
fitted on held-out scores to minimise log loss; its expected calibration error is measured
on the same held-out predictions and reported with the model.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from frontdesk.errors import ModelNotTrainedError
from frontdesk.types import IntentPrediction

Array = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Progress = Callable[[str], None]


class TextEmbedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class HeldOut:
    """Predictions on examples the model did not learn from: for calibration and the
    out-of-scope threshold, and reported as the model's metrics."""

    intents: list[str]  # the true intent of each in-scope example
    predicted: list[str]
    confidence: list[float]
    in_scope_scores: list[float]  # combined out-of-scope signal (higher: more in scope)
    oos_scores: list[float] = field(default_factory=list)  # the same, for out-of-scope examples


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 15
) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by
    how many predictions fall in each."""
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (conf > low) & (conf <= high)
        if inside.any():
            total += inside.mean() * abs(conf[inside].mean() - hits[inside].mean())
    return float(total)


def _softmax(scores: F64) -> F64:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def fit_temperature(scores: F64, labels: npt.NDArray[np.int64]) -> float:
    """The temperature that minimises held-out log loss (golden-section search on log T)."""
    rows = np.arange(len(labels))

    def loss(log_t: float) -> float:
        p = _softmax(scores / math.exp(log_t))
        return float(-np.log(np.maximum(p[rows, labels], 1e-12)).mean())

    low, high = math.log(0.005), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return math.exp((low + high) / 2)


def tune_threshold(
    in_scope: npt.ArrayLike,
    correct: npt.ArrayLike,
    oos: npt.ArrayLike,
    *,
    fallback_share: float = 0.03,
    max_rejected: float = 0.05,
) -> float:
    """With out-of-scope examples: the threshold that maximises the mean of in-scope accuracy
    (a rejected in-scope message counts as wrong) and out-of-scope recall, flagging at most
    `max_rejected` of in-scope messages (each one costs a human review). Without: the level
    that flags `fallback_share` of in-scope messages."""
    ins = np.asarray(in_scope, dtype=np.float64)
    out = np.asarray(oos, dtype=np.float64)
    if out.size == 0 or ins.size == 0:
        return float(np.quantile(ins, fallback_share)) if ins.size else 0.0
    hits = np.asarray(correct, dtype=bool)
    ceiling = float(np.quantile(ins, max_rejected))
    candidates = np.unique(np.concatenate([ins, out]))
    candidates = candidates[candidates <= ceiling]
    if candidates.size == 0:
        return ceiling
    best, best_value = float(candidates[0]), -1.0
    for threshold in candidates:
        value = ((hits & (ins >= threshold)).mean() + (out < threshold).mean()) / 2
        if value > best_value:
            best, best_value = float(threshold), value
    return best


# Candidate weights of the nearest-neighbour vote. It helps on BANKING77 (+0.26 points at 1.0)
# and hurts on CLINC150 (-0.36), so each model picks its own on held-out data.
VOTE_WEIGHTS = (0.0, 0.5, 1.0)
# Above this many training examples the neighbour search looks only at the examples of the
# SHORTLIST intents whose centroids are nearest the message.
SHORTLIST_ABOVE = 3000
SHORTLIST = 16
# Up to this many messages are featurised one row at a time (see `_features`).
ONE_ROW_MAX = 16


class HybridIntentClassifier:
    """Implements `IntentClassifier`. Without an embedder it uses the n-grams alone (and the
    margin alone for out of scope), so a workspace without the model still works."""

    name = "hybrid"

    def __init__(
        self,
        embedder: TextEmbedder | None = None,
        *,
        embedding_weight: float = 3.0,
        c: float = 0.5,
        neighbours: int = 5,
        vote_weight: float | None = None,
        voters: int = 10,
        patterns: Mapping[str, Iterable[str]] | None = None,
        pattern_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        # The training data's regexes and lookup tables, one binary feature per name (a match
        # anywhere in the message), as Rasa's RegexFeaturizer gives its intent classifier.
        listed = {name: list(items) for name, items in (patterns or {}).items()}
        self._patterns = [
            (name, re.compile("|".join(f"(?:{p})" for p in items)))
            for name, items in sorted(listed.items())
            if items
        ]
        self.pattern_weight = pattern_weight
        self.embedding_weight = embedding_weight
        self.c = c
        self.neighbours = neighbours
        # None: chosen at fit time from VOTE_WEIGHTS by held-out accuracy.
        self.vote_setting = vote_weight
        self.vote_weight = vote_weight or 0.0
        self.voters = voters
        self.uses_embeddings = embedder is not None
        self.classes: list[str] = []
        self.temperature = 1.0
        self.threshold = -math.inf
        self.threshold_override: float | None = None
        self.metrics: dict[str, float] = {}
        self._words: TfidfVectorizer | None = None
        self._chars: TfidfVectorizer | None = None
        self._svm: LinearSVC | None = None
        self._weights_t: F64 | None = None  # the SVM's weights, C-ordered (see `_decision`)
        self._analysers: list[Callable[[str], list[str]]] | None = None  # for `_one_row`
        self._reference: Array | None = None  # training embeddings, for the neighbour signal
        self._stats: dict[str, tuple[float, float]] = {}

    # -- the IntentClassifier protocol -------------------------------------------------------

    @property
    def intents(self) -> list[str]:
        return list(self.classes)

    def predict(self, text: str) -> IntentPrediction:
        return self.predict_batch([text])[0]

    # -- training ----------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        intents: Sequence[str],
        *,
        oos_texts: Sequence[str] = (),
        embeddings: Array | None = None,
        oos_embeddings: Array | None = None,
        held_out: tuple[Sequence[str], Sequence[str], Sequence[str]] | None = None,
        held_out_embeddings: tuple[Array, Array] | None = None,
        folds: int = 3,
        progress: Progress | None = None,
    ) -> HybridIntentClassifier:
        """Train on (texts, intents). Calibration and the out-of-scope threshold come from
        `held_out` = (texts, intents, oos_texts) when given, otherwise from `folds`-fold
        cross-validation on the training examples plus `oos_texts`."""
        note = progress or (lambda _: None)
        if len(set(intents)) < 2:
            raise ValueError("an intent classifier needs examples of at least two intents")
        started = time.perf_counter()
        note("embedding examples")
        train_emb = self._embeddings(texts, embeddings)
        labels = np.asarray(intents)
        if held_out is not None:
            ho_texts, ho_intents, ho_oos = held_out
            ho_emb, ho_oos_emb = held_out_embeddings or (None, None)
            ho_emb = self._embeddings(ho_texts, ho_emb)
            ho_oos_emb = self._embeddings(ho_oos, ho_oos_emb)
            note("training")
            self._fit_core(texts, labels, train_emb)
            held = self._held_out(ho_texts, ho_intents, ho_emb, ho_oos, ho_oos_emb)
        else:
            oos_emb = self._embeddings(oos_texts, oos_embeddings)
            held = self._cross_validate(texts, labels, train_emb, oos_texts, oos_emb, folds, note)
            note("training")
            self._fit_core(texts, labels, train_emb)
        note("calibrating")
        self._finish(held)
        self.metrics["train_seconds"] = round(time.perf_counter() - started, 2)
        return self

    def _embeddings(self, texts: Sequence[str], given: Array | None) -> Array | None:
        if not self.uses_embeddings:
            return None
        if given is not None:
            return np.asarray(given, dtype=np.float32)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        assert self.embedder is not None
        return np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)

    def _features(
        self, texts: Sequence[str], emb: Array | None, *, rows: bool = False
    ) -> sparse.csr_matrix:
        assert self._words is not None
        assert self._chars is not None
        if len(texts) == 1 or (rows and 0 < len(texts) <= ONE_ROW_MAX):
            # Row by row, as one message alone is: a small batch of messages (MicroBatcher)
            # scores exactly as each would on its own, and skips scikit-learn's checks.
            one = [self._one_row(t, None if emb is None else emb[i]) for i, t in enumerate(texts)]
            return one[0] if len(one) == 1 else sparse.vstack(one, format="csr")
        blocks = [self._words.transform(texts), self._chars.transform(texts)]
        if emb is not None:
            blocks.append(sparse.csr_matrix(emb * self.embedding_weight))
        patterns = getattr(self, "_patterns", [])  # models saved before them have none
        if patterns:
            hits = [[bool(p.search(t)) for _, p in patterns] for t in texts]
            blocks.append(
                sparse.csr_matrix(np.asarray(hits, dtype=np.float64) * self.pattern_weight)
            )
        return sparse.hstack(blocks, format="csr")

    def _one_row(self, text: str, emb: Array | None) -> sparse.csr_matrix:
        """`_features` for one message, without scikit-learn's per-call input checks (about
        1 ms of a message's budget): the same sublinear TF-IDF, l2-normalised, per block."""
        assert self._words is not None
        assert self._chars is not None
        indices: list[npt.NDArray[np.int64]] = []
        values: list[F64] = []
        offset = 0
        analysers = getattr(self, "_analysers", None)
        if analysers is None:
            analysers = self._analysers = [v.build_analyzer() for v in (self._words, self._chars)]
        for vectorizer, analyse in zip((self._words, self._chars), analysers, strict=True):
            vocabulary = vectorizer.vocabulary_
            counts: dict[int, int] = {}
            for term in analyse(text):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            cols = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.asarray([counts[j] for j in cols], dtype=np.float64))
            weights = tf * vectorizer.idf_[cols]
            # Summed in order, as scikit-learn's l2 normalisation does: a BLAS dot adds in
            # another order on some CPUs (AVX2 without AVX-512), and the row would then differ
            # from the batch path's in the last digits.
            squares = 0.0
            for w in weights.tolist():
                squares += w * w
            norm = math.sqrt(squares)
            if norm:
                weights /= norm
            indices.append(cols + offset)
            values.append(weights)
            offset += len(vocabulary)
        if emb is not None:
            indices.append(np.arange(offset, offset + len(emb), dtype=np.int64))
            values.append(np.asarray(emb, dtype=np.float64) * self.embedding_weight)
            offset += len(emb)
        patterns = getattr(self, "_patterns", [])
        if patterns:
            hit = [j for j, (_, p) in enumerate(patterns) if p.search(text)]
            indices.append(np.asarray(hit, dtype=np.int64) + offset)
            values.append(np.full(len(hit), self.pattern_weight, dtype=np.float64))
            offset += len(patterns)
        data = np.concatenate(values)
        return sparse.csr_matrix(
            (data, np.concatenate(indices), np.asarray([0, len(data)])), shape=(1, offset)
        )

    def _fit_core(self, texts: Sequence[str], labels: npt.NDArray[Any], emb: Array | None) -> None:
        texts = list(texts)
        # min_df=2 drops one-off character grams on big sets; a small set needs them all.
        min_df = 2 if len(texts) > 2000 else 1
        self._words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self._chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df
        ).fit(texts)
        self._svm = LinearSVC(C=self.c).fit(self._features(texts, emb), labels)
        self._weights_t = None
        self._analysers = None
        self.classes = [str(c) for c in self._svm.classes_]
        self._reference = None if emb is None else emb.astype(np.float32)
        self._reference_labels = labels
        index = {name: i for i, name in enumerate(self.classes)}
        self._reference_index = np.asarray([index[str(y)] for y in labels], dtype=np.int64)
        self._shortlist: tuple[Array, list[npt.NDArray[np.int64]]] | None = None
        if self._reference is not None and len(labels) > SHORTLIST_ABOVE:
            # Sort the examples by intent and keep each intent's centroid (see `_similarities`).
            order = np.argsort(self._reference_index, kind="stable")
            self._reference = np.ascontiguousarray(self._reference[order])
            self._reference_index = self._reference_index[order]
            self._reference_labels = labels[order]
            bounds = np.searchsorted(self._reference_index, np.arange(len(self.classes) + 1))
            rows = [np.arange(bounds[c], bounds[c + 1]) for c in range(len(self.classes))]
            centroids = np.stack([self._reference[r].mean(axis=0) for r in rows])
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
            self._shortlist = (centroids.astype(np.float32), rows)

    def _decision(self, features: sparse.csr_matrix) -> F64:
        """The SVM's decision scores, computed here rather than by `decision_function`: sklearn
        multiplies by `coef_.T`, a transposed view that scipy copies in full on every call
        (150 intents x 50k n-grams: ~60 MB, tens of milliseconds for one message). A
        C-ordered copy of the weights, made once per process, turns a message into a gather
        of the few hundred weight rows its n-grams touch."""
        assert self._svm is not None
        weights = getattr(self, "_weights_t", None)
        if weights is None:
            weights = np.ascontiguousarray(self._svm.coef_.T, dtype=np.float64)
            self._weights_t = weights
        scores = features @ weights + self._svm.intercept_
        return np.asarray(scores, dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_weights_t", None)  # derived from the SVM; rebuilt on first use
        state.pop("_analysers", None)  # likewise, from the vectorizers
        return state

    def _raw(
        self, texts: Sequence[str], emb: Array | None, *, rows: bool = False
    ) -> tuple[F64, F64, F64]:
        """Decision scores (with the neighbour vote), margins and neighbour similarity."""
        # Models saved before the vote existed have no `vote_weight`: they score as before.
        weight = getattr(self, "vote_weight", 0.0)
        scores, margin, near, votes = self._parts(texts, emb, votes=bool(weight), rows=rows)
        if votes is not None and weight:
            scores = scores + weight * votes
        return scores, margin, near

    def _parts(
        self, texts: Sequence[str], emb: Array | None, *, votes: bool = True, rows: bool = False
    ) -> tuple[F64, F64, F64, F64 | None]:
        """SVM scores, their top-2 margin, neighbour similarity and the neighbour vote."""
        vote: F64 | None = None
        scores = self._decision(self._features(texts, emb, rows=rows))
        if scores.shape[1] == 1:  # two classes: the SVM keeps one column
            scores = np.hstack([-scores, scores])
        top2 = np.sort(scores, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        if emb is not None and self._reference is not None and len(self._reference):
            sims = self._similarities(emb, row_by_row=rows)
            k = min(self.neighbours, sims.shape[1])
            near = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
            if votes:
                vote = self._vote(sims)
        else:
            near = np.zeros(len(texts))
        return scores, margin, near.astype(np.float64), vote

    def _similarities(self, emb: Array, *, row_by_row: bool = False) -> Array:
        """Cosine similarity of each message to the training examples. On a big training set
        only the examples of the SHORTLIST intents with the nearest centroids are compared
        (the rest get -1): the nearest neighbours are almost always among them, and one
        message then costs ~1,600 dot products instead of 15,000 (CLINC150), about 2 ms less
        on this CPU. Training, held-out tuning and serving all use the same rule."""
        assert self._reference is not None
        shortlist = getattr(self, "_shortlist", None)
        if shortlist is None or len(shortlist[1]) <= SHORTLIST:
            if row_by_row and 1 < len(emb) <= ONE_ROW_MAX:
                # A small batch of messages (MicroBatcher) row by row, each summed as one
                # message alone is (a batched product differs in the last bits).
                return np.vstack([np.einsum("ij,kj->ki", self._reference, emb[n : n + 1])
                                  for n in range(len(emb))])  # fmt: skip
            if len(emb) <= 8:
                # One message at a time: einsum runs on this thread; a multi-threaded BLAS
                # call costs more in hand-offs than the product itself on a busy 2-core box.
                return np.einsum("ij,kj->ki", self._reference, emb)  # type: ignore[no-any-return]
            return emb @ self._reference.T
        centroids, rows = shortlist
        if row_by_row and 1 < len(emb) <= ONE_ROW_MAX:  # as one message alone (see above)
            near = np.vstack([emb[n : n + 1] @ centroids.T for n in range(len(emb))])
        else:
            near = emb @ centroids.T
        nearest = np.argpartition(near, len(rows) - SHORTLIST, axis=1)
        sims = np.full((len(emb), len(self._reference)), -1.0, dtype=np.float32)
        for n, classes in enumerate(nearest[:, -SHORTLIST:]):
            idx = np.concatenate([rows[c] for c in classes])
            sims[n, idx] = np.einsum("ij,j->i", self._reference[idx], emb[n])
        return sims

    def _vote(self, sims: npt.NDArray[np.floating[Any]]) -> F64:
        """A nearest-neighbour vote added to the SVM's scores: for each intent, the highest
        similarity among the message's `voters` nearest training examples of that intent
        (0 when none of them is). On BANKING77 it adds about 0.25 points over the SVM alone
        (bench/nlu.py); the similarities are computed for the out-of-scope signal anyway."""
        n, total = sims.shape
        k = min(self.voters, total)
        top = np.argpartition(sims, total - k, axis=1)[:, -k:]
        rows = np.repeat(np.arange(n), k)
        votes = np.zeros((n, len(self.classes)), dtype=np.float64)
        values = np.maximum(sims[rows, top.ravel()], 0.0)
        np.maximum.at(votes, (rows, self._reference_index[top.ravel()]), values)
        return votes

    def _signals(self, margin: F64, near: F64) -> F64:
        """The combined in-scope signal: standardised margin plus standardised neighbour
        similarity (higher: more clearly in scope)."""
        m_mean, m_std = self._stats["margin"]
        combined = (margin - m_mean) / m_std
        if self.uses_embeddings:
            n_mean, n_std = self._stats["near"]
            combined = combined + (near - n_mean) / n_std
        return combined

    def _held_out(
        self,
        texts: Sequence[str],
        intents: Sequence[str],
        emb: Array | None,
        oos: Sequence[str],
        oos_emb: Array | None,
    ) -> dict[str, Any]:
        scores, margin, near, votes = self._parts(texts, emb)
        held: dict[str, Any] = {
            "scores": scores,
            "votes": votes,
            "labels": [self.classes.index(i) if i in self.classes else -1 for i in intents],
            "margin": margin,
            "near": near,
        }
        if oos:
            _, o_margin, o_near = self._raw(oos, oos_emb)
            held["oos_margin"], held["oos_near"] = o_margin, o_near
        return held

    def _cross_validate(
        self,
        texts: Sequence[str],
        labels: npt.NDArray[Any],
        emb: Array | None,
        oos: Sequence[str],
        oos_emb: Array | None,
        folds: int,
        note: Progress,
    ) -> dict[str, Any]:
        smallest = int(np.unique(labels, return_counts=True)[1].min())
        folds = max(2, min(folds, smallest))
        if smallest < 2:
            # Too few examples to hold any out: calibrate on the training scores (over-confident,
            # and the ECE says so).
            self._fit_core(texts, labels, emb)
            held = self._held_out(texts, list(labels), emb, oos, oos_emb)
            held["votes"] = None  # each example would vote for itself: no tuning on these
            return held
        parts: list[dict[str, Any]] = []
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=13)
        classes = sorted({str(x) for x in labels})
        oos_parts = np.array_split(np.arange(len(oos)), folds) if oos else []
        for n, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
            note(f"cross-validation fold {n + 1}/{folds}")
            sub = [texts[i] for i in train_idx]
            self._fit_core(sub, labels[train_idx], None if emb is None else emb[train_idx])
            o_idx = oos_parts[n] if oos else np.arange(0)
            part = self._held_out(
                [texts[i] for i in test_idx],
                [str(x) for x in labels[test_idx]],
                None if emb is None else emb[test_idx],
                [oos[i] for i in o_idx],
                None if oos_emb is None else oos_emb[o_idx],
            )
            # Scores of a fold model line up with the full class list (every class is in every
            # training fold because the split is stratified and folds <= smallest class).
            assert self.classes == classes
            parts.append(part)
        merged: dict[str, Any] = {
            "scores": np.vstack([p["scores"] for p in parts]),
            "votes": (
                None
                if any(p["votes"] is None for p in parts)
                else np.vstack([p["votes"] for p in parts])
            ),
            "labels": [label for p in parts for label in p["labels"]],
            "margin": np.concatenate([p["margin"] for p in parts]),
            "near": np.concatenate([p["near"] for p in parts]),
        }
        if oos:
            merged["oos_margin"] = np.concatenate([p.get("oos_margin", []) for p in parts])
            merged["oos_near"] = np.concatenate([p.get("oos_near", []) for p in parts])
        return merged

    def _finish(self, held: dict[str, Any]) -> None:
        labels = np.asarray(held["labels"], dtype=np.int64)
        known = labels >= 0
        scores = held["scores"][known]
        labels = labels[known]
        votes = held.get("votes")
        if getattr(self, "vote_setting", 0.0) is None:
            self.vote_weight = 0.0
            if votes is not None and len(labels):
                votes = votes[known]
                # The weight with the best held-out accuracy; on a tie, the smaller one.
                hits = [((scores + w * votes).argmax(axis=1) == labels).sum() for w in VOTE_WEIGHTS]
                self.vote_weight = VOTE_WEIGHTS[int(np.argmax(hits))]
        if votes is not None and self.vote_weight:
            scores = scores + self.vote_weight * votes
        self.temperature = fit_temperature(scores, labels) if len(labels) else 1.0
        probs = _softmax(scores / self.temperature)
        predicted = probs.argmax(axis=1)
        confidence = probs.max(axis=1)
        correct = predicted == labels
        margin, near = held["margin"][known], held["near"][known]
        self._stats = {
            "margin": (float(margin.mean()), float(margin.std() or 1.0)),
            "near": (float(near.mean()), float(near.std() or 1.0)),
        }
        in_scope = self._signals(margin, near)
        oos = (
            self._signals(held["oos_margin"], held["oos_near"])
            if "oos_margin" in held and len(held["oos_margin"])
            else np.zeros(0)
        )
        self.threshold = tune_threshold(in_scope, correct, oos)
        accepted = in_scope >= self.threshold
        self.metrics = {
            "held_out_examples": len(labels),
            "held_out_accuracy": round(float(correct.mean()), 4),
            "ece": round(expected_calibration_error(confidence, correct), 4),
            "ece_uncalibrated": round(
                expected_calibration_error(_softmax(scores).max(axis=1), correct), 4
            ),
            "temperature": round(self.temperature, 4),
            "vote_weight": self.vote_weight,
            "oos_threshold": round(self.threshold, 4),
            "in_scope_accuracy_with_rejection": round(float((correct & accepted).mean()), 4),
            "in_scope_rejected": round(float((~accepted).mean()), 4),
        }
        if len(oos):
            self.metrics["oos_examples"] = len(oos)
            self.metrics["oos_recall"] = round(float((oos < self.threshold).mean()), 4)

    # -- prediction --------------------------------------------------------------------------

    def predict_batch(
        self, texts: Sequence[str], *, embeddings: Array | None = None
    ) -> list[IntentPrediction]:
        if self._svm is None:
            raise ModelNotTrainedError("the intent classifier has not been trained")
        emb = self._embeddings(texts, embeddings)
        scores, margin, near = self._raw(texts, emb, rows=True)
        probs = _softmax(scores / self.temperature)
        combined = self._signals(margin, near)
        threshold = self.threshold if self.threshold_override is None else self.threshold_override
        results = []
        for row, signal in zip(probs, combined, strict=True):
            order = np.argsort(row)[::-1][:5]
            ranking = [(self.classes[i], round(float(row[i]), 6)) for i in order]
            # A probability-like view of the signal: 0.5 exactly at the threshold.
            oos_score = 1.0 / (1.0 + math.exp(max(-50.0, min(50.0, 2.0 * (signal - threshold)))))
            results.append(
                IntentPrediction(
                    name=ranking[0][0],
                    confidence=ranking[0][1],
                    ranking=ranking,
                    out_of_scope=bool(signal < threshold),
                    oos_score=round(oos_score, 4),
                )
            )
        return results

    def oos_signal(self, texts: Sequence[str], *, embeddings: Array | None = None) -> F64:
        """The combined in-scope signal itself (for benchmarks that sweep the threshold)."""
        emb = self._embeddings(texts, embeddings)
        _, margin, near = self._raw(texts, emb)
        return self._signals(margin, near)

    def signal_parts(
        self, texts: Sequence[str], *, embeddings: Array | None = None
    ) -> dict[str, F64]:
        """Each out-of-scope signal alone, standardised as in the combination (for ablations)."""
        emb = self._embeddings(texts, embeddings)
        _, margin, near = self._raw(texts, emb)
        (m_mean, m_std), (n_mean, n_std) = self._stats["margin"], self._stats["near"]
        return {"margin": (margin - m_mean) / m_std, "neighbours": (near - n_mean) / n_std}

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        embedder, self.embedder = self.embedder, None
        try:
            joblib.dump(self, path)
        finally:
            self.embedder = embedder

    @classmethod
    def load(cls, path: Path, embedder: TextEmbedder | None) -> HybridIntentClassifier:
        # Only files this workspace wrote itself are loaded (joblib unpickles).
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} does not hold an intent classifier")
        if model.uses_embeddings and embedder is None:
            raise ValueError(f"{path} needs the embedding model, which is unavailable")
        model.embedder = embedder
        return model
