"""Trained models live under the workspace's state folder, named by the data they came from,
so a change to the examples retrains and an unchanged set loads in milliseconds."""

from __future__ import annotations

import logging
from pathlib import Path

from frontdesk.nlu.tfidf_classifier import TfidfIntentClassifier
from frontdesk.nlu.training_data import TrainingData

log = logging.getLogger(__name__)


def load_or_train(data: TrainingData, models_dir: Path) -> TfidfIntentClassifier:
    path = models_dir / f"intent-tfidf-{data.fingerprint()}.joblib"
    if path.is_file():
        try:
            return TfidfIntentClassifier.load(path)
        except Exception:  # a corrupt or incompatible file: retrain rather than fail
            log.warning("could not load %s; retraining", path.name)
    classifier = TfidfIntentClassifier().fit(
        [e.text for e in data.examples], [e.intent for e in data.examples]
    )
    classifier.save(path)
    return classifier
