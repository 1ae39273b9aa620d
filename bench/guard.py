"""Guardrail benchmark: prompt-injection recall and false positives, and PII recall.

    nice -n 10 taskset -c 1 .venv/bin/python bench/guard.py [--data ../shared/datasets]
        [--only-shipped] [--names-model]

Injection, measured blind:
1. Every approach in `APPROACHES` (a model configuration and its training files) is
   cross-validated on deepset/prompt-injections' *train* split only: stratified 5-fold, with
   near-duplicate rows (character 3-5-gram cosine > 0.6) kept in one fold, repeated with 3
   shuffles. The other training files (curated, written, support messages) are always in the
   training part. For each shuffle the threshold is the lowest model probability at which the
   screen (rules or model) flags at most 3% of the held-out benign rows; the approach's
   operating point is the mean of the three.
2. Among the approaches whose final model flags none of `SUPPORT_CHECK` (support messages
   from frontdesk's own tests), the one with the highest cross-validated recall of the screen
   (rules + model) is chosen; the shipped `SHIPPED_CONFIG`, data files and operating point
   must equal it (`shipped_matches_chosen`). Its deepset *test* figure is `injection_recall` /
   `injection_fpr`, whatever the other approaches score on test. (The support check was
   added after the first test run, see docs/status/issue7.md.)
3. Each approach is then trained on all its data and scored once on the deepset test split
   (116 rows, 60 injections) at its own cross-validated operating point: model only, rules
   only, and both. The test split is read only here; nothing was written or tuned on it.
Also reported at the chosen operating point: Giskard's 35 attacks (recall; 6 are near
duplicates of deepset train rows) and the share of ordinary customer messages flagged
(BANKING77 test, CLINC150 test + out-of-scope test; only *train* rows of those are shipped).

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

Writes bench/results/guard.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "guard.json"

DEEPSET_TRAIN = "deepset_prompt_injections_train.jsonl"
OLD = ("curated.jsonl", "support_benign.jsonl")  # after the audit; before the written rows
WRITTEN = ("curated.jsonl", "written.jsonl", "support_benign.jsonl")
FORMER = ModelConfig()  # the configuration shipped before this benchmark chose one
C14 = replace(FORMER, char_ngrams=(1, 4))
AUG1 = {"prefixed": 1, "benign_pairs": 0.5}
AUG2 = {"prefixed": 2, "benign_pairs": 1.0}

# name -> (configuration, training files besides the deepset train split). Every approach
# tried here is listed, the losers included; approaches tried only in scratch
# cross-validation (MiniLM features, SVM, other n-gram ranges) are in docs/status/issue7.md.
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
}
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
MAX_FPR = 0.03
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


def threshold_for(probabilities: list[float], ruled: list[bool], labels: list[int]) -> float:
    """Lowest model probability at which rules-or-model flags at most MAX_FPR of the benign
    rows."""
    negatives = [p for p, r, y in zip(probabilities, ruled, labels, strict=True) if y == 0]
    allowed = int(MAX_FPR * len(negatives)) - sum(
        r for r, y in zip(ruled, labels, strict=True) if y == 0
    )
    plain = sorted((p for p, r, y in zip(probabilities, ruled, labels, strict=True)
                    if y == 0 and not r), reverse=True)  # fmt: skip
    if allowed < 0:
        return 1.0
    if allowed >= len(plain):
        return 0.0
    return min(1.0, plain[allowed] + 1e-6)


def cross_validate(config: ModelConfig, extra: tuple[str, ...]) -> dict[str, Any]:
    texts, labels = training_examples((DEEPSET_TRAIN,))
    extra_texts, extra_labels = training_examples(extra)
    groups = near_duplicate_groups(texts)
    ruled = [bool(rule_hits(t)) for t in texts]
    per_shuffle = []
    model_only = []
    for seed in SHUFFLES:
        oof = [0.0] * len(texts)
        folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
        for fit_rows, held_rows in folds.split(texts, labels, groups):
            model = InjectionModel(config).fit(
                [texts[i] for i in fit_rows] + extra_texts,
                [labels[i] for i in fit_rows] + extra_labels,
            )
            for i, p in zip(held_rows, model.probabilities([texts[i] for i in held_rows]),
                            strict=True):  # fmt: skip
                oof[int(i)] = p
        t = threshold_for(oof, ruled, labels)
        flags = [r or p >= t for p, r in zip(oof, ruled, strict=True)]
        per_shuffle.append({"threshold": t, **rates(flags, labels)})
        t_model = threshold_for(oof, [False] * len(texts), labels)
        model_only.append({"threshold": t_model, **rates([p >= t_model for p in oof], labels)})

    def mean(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 4)

    return {
        "recall": mean(per_shuffle, "recall"),
        "fpr": mean(per_shuffle, "fpr"),
        "operating_point": mean(per_shuffle, "threshold"),
        "model_only": {k: mean(model_only, k) for k in ("recall", "fpr", "threshold")},
        "rules_only_on_train": rates(ruled, labels),
        "per_shuffle": per_shuffle,
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


def injection_bench(data: Path, only_shipped: bool) -> dict[str, Any]:
    sets = load_injection_sets(data)
    deepset_texts, deepset_labels = sets["deepset_test"]
    approaches: dict[str, Any] = {}
    for name, (config, extra) in APPROACHES.items():
        if only_shipped and (config, (DEEPSET_TRAIN, *extra)) != (SHIPPED_CONFIG, DATA_FILES):
            continue
        began = time.perf_counter()
        cv = cross_validate(config, extra)
        texts, labels = training_examples((DEEPSET_TRAIN, *extra))
        model = InjectionModel(config, operating_point=cv["operating_point"]).fit(texts, labels)
        test = test_figures(model, deepset_texts, deepset_labels)
        support_flagged = [
            t
            for t, p in zip(SUPPORT_CHECK, model.probabilities(list(SUPPORT_CHECK)), strict=True)
            if rule_hits(t) or p >= model.operating_point
        ]
        approaches[name] = {"config": asdict(config), "files": [DEEPSET_TRAIN, *extra],
                            "cv_train": cv, "deepset_test": test,
                            "support_check_flagged": support_flagged}  # fmt: skip
        print(f"{name:<52} CV {cv['recall']:.3f}/{cv['fpr']:.3f} (model "
              f"{cv['model_only']['recall']:.3f}/{cv['model_only']['fpr']:.3f}) at "
              f"{cv['operating_point']:.3f} | test {test['recall']:.3f}/{test['fpr']:.3f} "
              f"(model {test['model_only']['recall']:.3f}/{test['model_only']['fpr']:.3f}, "
              f"rules {test['rules_only']['recall']:.3f}/{test['rules_only']['fpr']:.3f}) "
              f"support check flagged {len(support_flagged)} "
              f"[{time.perf_counter() - began:.0f} s]", flush=True)  # fmt: skip
    # The choice: among approaches that flag no SUPPORT_CHECK message, the highest
    # cross-validated recall (rules + model) on the train split; ties go to the approach
    # listed first. Test figures play no part in it.
    eligible = [n for n in approaches if not approaches[n]["support_check_flagged"]] or list(
        approaches
    )
    chosen_name = max(eligible, key=lambda n: approaches[n]["cv_train"]["recall"])
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
        "method": "choose on deepset train cross-validation (5 folds x 3 shuffles, near "
        "duplicates grouped), threshold at <= 3% held-out false positives; then one "
        "deepset test figure per approach",
        "chosen": chosen_name,
        "shipped_matches_chosen": shipped_matches,
        "operating_point": SHIPPED_OPERATING_POINT,
        "rule_patterns": sum(len(p) for p in RULES.values()),
        "train_rows": len(texts),
        "train_seconds": round(train_s, 2),
        "train_cpu_seconds": round(train_cpu_s, 2),
        "cv_train": chosen["cv_train"],
        "approaches": approaches,
    }
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
    rows = [
        row
        for path in sorted((data / "nlupp").glob("*/fold*.json"))
        for row in json.loads(path.read_text(encoding="utf-8"))
    ]
    out: dict[str, Any] = {}
    models: dict[str, Any] = {"rules": None}
    if name_model and SpacyNames.available():
        models["rules+spacy"] = SpacyNames()
    for label, model in models.items():
        detector = PiiDetector({PiiKind.NAME}, name_model=model)
        found = total = flagged = plain = 0
        for row in rows:
            spans = detector.find(row["text"])
            slot = row.get("slots", {}).get("person_name")
            if slot is None:
                plain += 1
                flagged += bool(spans)
                continue
            start, end = slot["span"]
            total += 1
            found += any(s.start < end and s.end > start for s in spans)
        out[label] = {"recall": found / total, "spans": total,
                      "flagged_without_name": flagged / plain}  # fmt: skip
    return out


def support_pii_flag_rate(data: Path) -> float:
    """Share of BANKING77 test messages with any detection (they hold almost no PII, so this
    is close to a false-positive rate)."""
    with (data / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    detector = PiiDetector()
    return sum(bool(detector.find(t)) for t in texts) / len(texts)


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
                        help="cross-validate only the shipped approach (quick)")  # fmt: skip
    parser.add_argument("--names-model", action="store_true", help="use spaCy names if installed")
    args = parser.parse_args()

    injection = injection_bench(args.data, args.only_shipped)
    pii = pii_bench(args.names_model)
    pii["support_messages_flagged"] = support_pii_flag_rate(args.data)
    pii["nlupp_person_names"] = nlupp_names(args.data, args.names_model)
    chosen = injection["approaches"][injection["chosen"]]
    result = {
        "injection_recall": chosen["deepset_test"]["recall"],
        "injection_fpr": chosen["deepset_test"]["fpr"],
        "injection_cv_train_recall": chosen["cv_train"]["recall"],
        "injection_cv_train_fpr": chosen["cv_train"]["fpr"],
        "pii_recall": pii["pii_recall"],
        "threshold": 0.5,
        "giskard_recall": injection["giskard"]["recall"],
        "support_fpr_banking77": injection["banking77_test"]["fpr"],
        "support_fpr_clinc150": injection["clinc150_test"]["fpr"],
        "injection": injection,
        "pii": pii,
    }
    print(f"chosen on train CV: {injection['chosen']}; shipped matches it: "
          f"{injection['shipped_matches_chosen']}")  # fmt: skip
    cv = chosen["cv_train"]
    print(f"  CV on deepset train: rules+model {cv['recall']:.3f}/{cv['fpr']:.3f}, model only "
          f"{cv['model_only']['recall']:.3f}/{cv['model_only']['fpr']:.3f}, rules only (not "
          f"held out) {cv['rules_only_on_train']['recall']:.3f}/"
          f"{cv['rules_only_on_train']['fpr']:.3f}; "
          f"operating point {cv['operating_point']}")  # fmt: skip
    print(f"shipped screen: {injection['train_rows']} rows, trained in "
          f"{injection['train_seconds']} s ({injection['train_cpu_seconds']} s CPU), "
          f"model probability {injection['operating_point']} -> score 0.5")  # fmt: skip
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
