"""Intent classification with TF-IDF word and character n-grams and logistic regression.

Small, fast to train on a laptop CPU (well under a second for a few hundred examples), and
gives probabilities. The understanding issue replaces it with a stronger default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from frontdesk.errors import ModelNotTrainedError
from frontdesk.types import IntentPrediction


class TfidfIntentClassifier:
    name = "tfidf"

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        self._pipeline = pipeline

    @property
    def intents(self) -> list[str]:
        if self._pipeline is None:
            return []
        return [str(label) for label in self._pipeline.classes_]

    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> TfidfIntentClassifier:
        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ),
            ]
        )
        pipeline = Pipeline(
            [("features", features), ("model", LogisticRegression(C=20.0, max_iter=2000))]
        )
        pipeline.fit(list(texts), list(intents))
        self._pipeline = pipeline
        return self

    def predict(self, text: str) -> IntentPrediction:
        if self._pipeline is None:
            raise ModelNotTrainedError("the intent classifier has not been trained")
        probabilities = self._pipeline.predict_proba([text])[0]
        order = np.argsort(probabilities)[::-1]
        labels = self.intents
        ranking = [(labels[i], float(probabilities[i])) for i in order[:5]]
        return IntentPrediction(name=ranking[0][0], confidence=ranking[0][1], ranking=ranking)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self._pipeline, path)

    @classmethod
    def load(cls, path: Path) -> TfidfIntentClassifier:
        # Only files this workspace wrote itself are loaded (joblib unpickles).
        return cls(joblib.load(path))
