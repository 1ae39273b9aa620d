"""A workspace's own answerability calibration, from its golden answers.

The cosine that separates answered from unanswered questions moves from one knowledge base to
the next, so the default model's threshold is only a start. Here its logit is rescaled (Platt
scaling: two numbers) and a threshold chosen on the workspace's golden cases: answerable ones
that need no person against the ones the knowledge base does not answer. How well that
carries to new questions is estimated by 5-fold cross-validation, reported beside the default
model's figures on the same cases; the calibration itself is fitted on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from frontdesk.errors import ConfigError
from frontdesk.evaluation.answers import CaseResult
from frontdesk.knowledge.answerability import AnswerabilityModel

MIN_PER_CLASS = 5


@dataclass(frozen=True)
class Rates:
    answerable_kept: float  # answerable questions judged answerable
    unanswerable_declined: float  # unanswerable ones judged not

    def as_dict(self) -> dict[str, float]:
        return {
            "answerable_kept": round(self.answerable_kept, 4),
            "unanswerable_declined": round(self.unanswerable_declined, 4),
        }


@dataclass(frozen=True)
class Calibration:
    model: AnswerabilityModel
    cases: int
    before: Rates  # the model as it was, on these cases
    cross_validated: Rates  # the calibration, fitted without the case it judges


def labelled(results: Sequence[CaseResult], model: AnswerabilityModel
             ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(logit, answerable) of the cases that say something about answerability."""
    logits, labels = [], []
    for result in results:
        if not result.answerability:
            continue  # refused by the screen: nothing was retrieved
        if result.answerable and result.must_hand_off:
            continue  # "answerable, but a person must take it": not a question to judge
        logits.append(model.logit(result.answerability.get("signals", {})))
        labels.append(int(result.answerable))
    return np.array(logits), np.array(labels)


def calibrate(
    results: Sequence[CaseResult], model: AnswerabilityModel, *, source: str
) -> Calibration:
    logits, labels = labelled(results, model)
    answerable, unanswerable = int(labels.sum()), int(len(labels) - labels.sum())
    if answerable < MIN_PER_CLASS or unanswerable < MIN_PER_CLASS:
        raise ConfigError(
            f"calibration needs at least {MIN_PER_CLASS} answerable and {MIN_PER_CLASS} "
            f"unanswerable golden cases with a search result; found {answerable} and "
            f"{unanswerable} (add cases to golden/answers.yaml)"
        )
    threshold_logit = float(np.log(model.threshold / (1 - model.threshold)))
    before = _rates(logits >= threshold_logit, labels)
    predicted = np.zeros(len(labels), dtype=bool)
    folds = StratifiedKFold(n_splits=min(5, answerable, unanswerable), shuffle=True, random_state=0)
    for train, test in folds.split(logits.reshape(-1, 1), labels):
        scale, shift, threshold = _fit(logits[train], labels[train])
        predicted[test] = _prob(logits[test], scale, shift) >= threshold
    scale, shift, threshold = _fit(logits, labels)
    return Calibration(
        model=model.recalibrated(scale, shift, threshold, source),
        cases=len(labels),
        before=before,
        cross_validated=_rates(predicted, labels),
    )


def _fit(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Platt scaling, then the threshold with the best balanced accuracy (the mean of the two
    rates), midway between two cases; ties go to the higher threshold: declining is the
    safer mistake. Chosen on the calibrated logit, which does not saturate as the
    probability does."""
    platt = LogisticRegression(C=10.0, max_iter=1000).fit(logits.reshape(-1, 1), labels)
    scale, shift = float(platt.coef_[0][0]), float(platt.intercept_[0])
    z = np.clip(scale * logits + shift, -30, 30)
    values = np.unique(z)
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2])
    best, best_score = 0.0, -1.0
    for cut in candidates:
        rates = _rates(z >= cut, labels)
        score = (rates.answerable_kept + rates.unanswerable_declined) / 2
        if score >= best_score:
            best, best_score = float(cut), score
    return scale, shift, float(1.0 / (1.0 + np.exp(-best)))


def _prob(logits: np.ndarray, scale: float, shift: float) -> np.ndarray:
    z = np.clip(scale * logits + shift, -30, 30)
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _rates(judged_answerable: np.ndarray, labels: np.ndarray) -> Rates:
    positives, negatives = labels == 1, labels == 0
    return Rates(
        answerable_kept=float(judged_answerable[positives].mean()) if positives.any() else 0.0,
        unanswerable_declined=(
            float((~judged_answerable[negatives]).mean()) if negatives.any() else 0.0
        ),
    )
