"""Guardrail benchmark: prompt-injection recall and false positives, and PII recall.

    nice -n 10 .venv/bin/python bench/guard.py [--data ../shared/datasets] [--threshold 0.5]
        [--names-model]

Injection (the shipped screen: rules + the TF-IDF model trained from `guard/data`):
- deepset/prompt-injections *test* split (116 rows, 60 injections; never in the training data);
- Giskard's 35 attacks (recall only: no benign rows);
- false positives on ordinary customer messages: BANKING77 test (3,080) and CLINC150 test
  (4,500 in-scope + 1,000 out-of-scope). Only *train* rows of those sets are shipped.
The threshold is the policy default (0.5), fixed before looking at the test split; a sweep is
printed beside it.

The deepset figure is also given without the rule patterns that fire on no injection of
deepset's train split (`without_unsupported_rules`), to show how much it leans on them.

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
import time
from pathlib import Path
from typing import Any

from frontdesk.guard.injection import (
    RULE_WEIGHT,
    RULES,
    InjectionModel,
    InjectionScreen,
    _typo_tolerant,
    training_examples,
)
from frontdesk.guard.pii import PiiDetector, PiiKind, SpacyNames

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "guard.json"


# ---------------------------------------------------------------------------- injection


def rates(scores: list[float], labels: list[int], threshold: float) -> dict[str, float]:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    recall = sum(s >= threshold for s in pos) / len(pos) if pos else float("nan")
    fpr = sum(s >= threshold for s in neg) / len(neg) if neg else float("nan")
    return {"recall": recall, "fpr": fpr}


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


def injection_bench(data: Path, threshold: float) -> dict[str, Any]:
    texts, labels = training_examples()
    began, began_cpu = time.perf_counter(), time.process_time()
    model = InjectionModel().fit(texts, labels)
    train_s = time.perf_counter() - began
    train_cpu_s = time.process_time() - began_cpu  # wall time depends on the machine's load
    full = InjectionScreen(model)
    model_only = InjectionScreen(model, use_rules=False)
    sets = load_injection_sets(data)
    # Rule patterns that fire on no injection of deepset's *train* split have no support in
    # that split; the test-split figure without them shows how much of it leans on patterns
    # that only the test split (or the hand-written curated set) exemplifies.
    deepset_train = [
        json.loads(line)
        for line in (data / "prompt_injection" / "deepset_train.jsonl").read_text().splitlines()
    ]
    attacks = [_typo_tolerant(r["text"]) for r in deepset_train if int(r["label"]) == 1]
    trained = [
        (name, i, p)
        for name, patterns in RULES.items()
        for i, p in enumerate(patterns)
        if any(p.search(t) for t in attacks)
    ]
    untrained = [
        f"{name}[{i}]"
        for name, patterns in RULES.items()
        for i, _ in enumerate(patterns)
        if not any((name, i) == (n, j) for n, j, _ in trained)
    ]
    out: dict[str, Any] = {
        "rule_patterns": sum(len(p) for p in RULES.values()),
        "rule_patterns_unsupported_by_deepset_train": untrained,
        "train_rows": len(texts),
        "train_seconds": round(train_s, 2),
        "train_cpu_seconds": round(train_cpu_s, 2),
    }
    for name, (items, ys) in sets.items():
        began = time.perf_counter()
        verdicts = full.score_many(items)
        per_text_ms = (time.perf_counter() - began) * 1000 / len(items)
        scores = [v.score for v in verdicts]
        model_scores = [v.model_score for v in model_only.score_many(items)]
        rule_scores = [1.0 if v.rules else 0.0 for v in verdicts]
        supported = [
            max(m, RULE_WEIGHT if any(p.search(_typo_tolerant(t)) for _, _, p in trained) else 0.0)
            for t, m in zip(items, model_scores, strict=True)
        ]
        at = rates(scores, ys, threshold)
        out[name] = {
            "rows": len(items),
            **at,
            "model_only": rates(model_scores, ys, threshold),
            "rules_only": rates(rule_scores, ys, 0.5),
            "without_unsupported_rules": rates(supported, ys, threshold),
            "sweep": {f"{t:.1f}": rates(scores, ys, t) for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)},
            "ms_per_text": round(per_text_ms, 3),
        }
        if name == "deepset_test":
            rows = list(zip(items, scores, ys, strict=True))
            out[name]["missed"] = [t[:160] for t, s, y in rows if y and s < threshold]
            out[name]["false_positives"] = [t[:160] for t, s, y in rows if not y and s >= threshold]
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
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--names-model", action="store_true", help="use spaCy names if installed")
    args = parser.parse_args()

    injection = injection_bench(args.data, args.threshold)
    pii = pii_bench(args.names_model)
    pii["support_messages_flagged"] = support_pii_flag_rate(args.data)
    pii["nlupp_person_names"] = nlupp_names(args.data, args.names_model)
    deepset = injection["deepset_test"]
    result = {
        "injection_recall": deepset["recall"],
        "injection_fpr": deepset["fpr"],
        "pii_recall": pii["pii_recall"],
        "threshold": args.threshold,
        "giskard_recall": injection["giskard"]["recall"],
        "support_fpr_banking77": injection["banking77_test"]["fpr"],
        "support_fpr_clinc150": injection["clinc150_test"]["fpr"],
        "injection": injection,
        "pii": pii,
    }
    print(f"injection model: {injection['train_rows']} rows, trained in "
          f"{injection['train_seconds']} s ({injection['train_cpu_seconds']} s CPU); "
          f"threshold {args.threshold}")  # fmt: skip
    print(f"{'set':<16}{'rows':>6}{'recall':>9}{'FPR':>9}{'model R/FPR':>16}{'rules R/FPR':>16}")
    for name in ("deepset_test", "giskard", "banking77_test", "clinc150_test"):
        row = injection[name]

        def pair(d: dict[str, float]) -> str:
            return f"{d['recall']:.3f}/{d['fpr']:.3f}".replace("nan", "-")

        recall = "-" if row["recall"] != row["recall"] else f"{row['recall']:.3f}"
        fpr = "-" if row["fpr"] != row["fpr"] else f"{row['fpr']:.4f}"
        print(f"{name:<16}{row['rows']:>6}{recall:>9}{fpr:>9}"
              f"{pair(row['model_only']):>16}{pair(row['rules_only']):>16}")  # fmt: skip
    print("deepset sweep:", {t: f"{v['recall']:.3f}/{v['fpr']:.3f}" for t, v in
                             deepset["sweep"].items()})  # fmt: skip
    print(f"PII recall {pii['pii_recall']:.3f}; per kind "
          + ", ".join(f"{k} {v:.2f}" for k, v in pii["per_kind"].items()))  # fmt: skip
    print(f"BANKING77 test messages with a PII detection: {pii['support_messages_flagged']:.4f}")
    for label, row in pii["nlupp_person_names"].items():
        print(f"NLU++ person names ({label}): recall {row['recall']:.3f} of {row['spans']}; "
              f"messages without a name flagged {row['flagged_without_name']:.4f}")  # fmt: skip
    plain = deepset["without_unsupported_rules"]
    unsupported = injection["rule_patterns_unsupported_by_deepset_train"]
    print(f"deepset test without the {len(unsupported)} rule "
          f"patterns no deepset-train injection fires: recall {plain['recall']:.3f}, "
          f"FPR {plain['fpr']:.3f}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_no_nan(result), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
