"""Names in customer messages: recall and precision of the name redaction on a small set
written for it (tests/guard/data/names_eval.jsonl, committed before the rules were changed).

    .venv/bin/python bench/pii_names.py [--data ../shared/datasets] [--out FILE]

66 messages hold a name (10 after a cue, capitalised; 22 after a cue, lower case; 10 without
a cue, capitalised; 10 without a cue, lower case; 14 non-English names or cues) and 73 hold
none (product names, places, "I'm fine", "this is urgent", "call me back"). Each detector is
the rules alone and the rules with spaCy's small English model (the `ner` extra).

- recall: share of the names whose every character lies in a detected name span;
- precision: share of the detected name spans that overlap a name;
- flagged_without_name: share of the 73 messages without a name in which a name was found.

The set was written by the author of the rules, who then tuned the rules' word lists on it,
so these figures are a regression check, not an estimate on real traffic. With `--data`, two
checks on text written by others: the 102 `person_name` spans of NLU++ (PolyAI, CC BY 4.0;
banking and hotel messages, mostly lower case, without a cue) and the share of BANKING77 test
messages (which hold almost no names) with a name found.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

from frontdesk.guard.pii import NameModel, PiiDetector, PiiKind, SpacyNames

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "guard" / "data" / "names_eval.jsonl"
RESULTS = ROOT / "bench" / "results" / "pii_names.json"


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(rows: list[dict[str, Any]], model: NameModel | None) -> dict[str, Any]:
    detector = PiiDetector({PiiKind.NAME}, name_model=model)
    names = found = spans_total = spans_right = flagged = plain = 0
    per_group: dict[str, list[int]] = {}
    misses: list[str] = []
    wrong: list[str] = []
    began = time.perf_counter()
    for row in rows:
        text: str = row["text"]
        spans = [(s.start, s.end) for s in detector.find(text)]
        gold = [(text.index(n), text.index(n) + len(n)) for n in row["names"]]
        if not gold:
            plain += 1
            flagged += bool(spans)
            wrong.extend(text[s:e] for s, e in spans)
        for start, end in gold:
            covered = all(
                text[i].isspace() or any(s <= i < e for s, e in spans) for i in range(start, end)
            )
            names += 1
            found += covered
            per_group.setdefault(row["group"], []).append(int(covered))
            if not covered:
                misses.append(text[start:end])
        for s, e in spans:
            spans_total += 1
            right = any(s < ge and e > gs for gs, ge in gold)
            spans_right += right
            if gold and not right:
                wrong.append(text[s:e])
    elapsed_ms = (time.perf_counter() - began) * 1000 / len(rows)
    return {
        "recall": round(found / names, 3),
        "precision": round(spans_right / spans_total, 3) if spans_total else None,
        "flagged_without_name": round(flagged / plain, 3),
        "names": names,
        "messages_without_name": plain,
        "recall_by_group": {g: round(sum(v) / len(v), 3) for g, v in sorted(per_group.items())},
        "ms_per_message": round(elapsed_ms, 3),
        "missed": misses,
        "wrongly_redacted": wrong,
    }


def nlupp_counts(data: Path, model: NameModel | None) -> dict[str, Any]:
    """NLU++'s `person_name` spans (PolyAI, CC BY 4.0), found when a detected name overlaps
    one; `flagged_without_name`: the share of the other messages with a name found."""
    rows = [
        row
        for path in sorted((data / "nlupp").glob("*/fold*.json"))
        for row in json.loads(path.read_text(encoding="utf-8"))
    ]
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
    return {"recall": found / total, "spans": total, "flagged_without_name": flagged / plain}


def nlupp(data: Path, model: NameModel | None) -> dict[str, Any]:
    counts = nlupp_counts(data, model)
    return {"recall": round(counts["recall"], 3), "spans": counts["spans"],
            "flagged_without_name": round(counts["flagged_without_name"], 4)}  # fmt: skip


def banking77_flagged(data: Path, model: NameModel | None) -> float:
    with (data / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    detector = PiiDetector({PiiKind.NAME}, name_model=model)
    return round(sum(bool(detector.find(t)) for t in texts) / len(texts), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--data", type=Path, help="datasets folder (NLU++, BANKING77)")
    args = parser.parse_args()
    rows = load()
    detectors: dict[str, NameModel | None] = {"rules": None}
    if SpacyNames.available():
        model = SpacyNames()
        model.names("warm up")  # loading the model is not part of the per-message time
        detectors["rules+spacy"] = model
    result: dict[str, Any] = {label: score(rows, model) for label, model in detectors.items()}
    print(f"{'detector':<12} {'recall':>7} {'precision':>9} {'flagged w/o name':>16}")
    for label, figures in result.items():
        print(f"{label:<12} {figures['recall']:>7.3f} {figures['precision'] or 0:>9.3f} "
              f"{figures['flagged_without_name']:>16.3f}")  # fmt: skip
        print(f"  by group: {figures['recall_by_group']}")
    if args.data is not None:
        for label, model in detectors.items():
            real = nlupp(args.data, model)
            real["banking77_test_flagged"] = banking77_flagged(args.data, model)
            result[label]["real_data"] = real
            print(
                f"{label:<12} NLU++ recall {real['recall']:.3f} of {real['spans']}, "
                f"flagged without a name {real['flagged_without_name']:.4f}; "
                f"BANKING77 test flagged {real['banking77_test_flagged']:.4f}"
            )
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
