"""Entity extraction, k-fold, on any NLU folder (a workspace's nlu/ or a Rasa project's data/).

The folds are `frontdesk evaluate nlu`'s (StratifiedKFold by intent, shuffled, seed 7, over
the in-scope examples); each fold trains `CrfEntityExtractor` on the other folds with the
data's lookup tables, regexes and declared synonyms as features, and scores the
`EntityPipeline` (rules of `rule_extractor` + the CRF) on exact (type, start, end) spans of
the annotated types, as `evaluate nlu` does. Only the entity model is trained (no intent
model, no embedder), so it runs in seconds.

    .venv/bin/python bench/entity_folds.py ../shared/datasets/rasa_bots/helpdesk-assistant/data
    .venv/bin/python bench/entity_folds.py src/frontdesk/demo/workspace/nlu --extract-lookups

`--no-features`: the CRF without lookups, regexes and synonyms (annotated values only).
`--extract-lookups` / `--extract-regexes`: every lookup table / regex also extracts (as
`nlu.extractors` naming them all). `--json PATH` writes the figures.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from frontdesk.config.settings import NluSettings
from frontdesk.nlu.crf_entities import CrfEntityExtractor
from frontdesk.nlu.entities import EntityPipeline, rule_extractor
from frontdesk.nlu.training_data import load_training_data

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nlu", type=Path, help="a folder of NLU files")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-features", action="store_true")
    parser.add_argument("--extract-lookups", action="store_true")
    parser.add_argument("--extract-regexes", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    data = load_training_data(args.nlu)
    settings = NluSettings(
        entity_patterns={},
        extractors={
            "lookup": sorted(data.lookups) if args.extract_lookups else [],
            "regex": sorted(data.regexes) if args.extract_regexes else [],
        },
    )
    rules = rule_extractor(settings, data)
    in_scope = data.in_scope
    labels = np.asarray([e.intent for e in in_scope])
    types = set(data.entity_types)
    counts: dict[str, Counter[str]] = {t: Counter() for t in sorted(types)}
    splitter = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=7)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
        train = [in_scope[i] for i in train_idx]
        if args.no_features:
            crf = CrfEntityExtractor().fit(train)
        else:
            crf = CrfEntityExtractor().fit(
                train, lookups=data.lookups, regexes=data.regexes,
                synonyms=data.declared_synonyms,
            )  # fmt: skip
        pipeline = EntityPipeline(rules, crf, data.synonyms)
        for i in test_idx:
            example = in_scope[i]
            gold = {(s.type, s.start, s.end) for s in example.entities}
            found = {
                (e.type, e.start, e.end)
                for e in pipeline.extract(example.text, now=NOW)
                if e.type in types
            }
            for kind, _, _ in gold & found:
                counts[kind]["tp"] += 1
            for kind, _, _ in found - gold:
                counts[kind]["fp"] += 1
            for kind, _, _ in gold - found:
                counts[kind]["fn"] += 1

    def scores(c: Counter[str]) -> dict[str, float | int]:
        p = c["tp"] / max(1, c["tp"] + c["fp"])
        r = c["tp"] / max(1, c["tp"] + c["fn"])
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3),
                "support": c["tp"] + c["fn"]}  # fmt: skip

    table = {kind: scores(c) for kind, c in counts.items()}
    table["micro"] = scores(sum(counts.values(), Counter()))
    print(f"{'entity':<18} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for kind, s in table.items():
        print(f"{kind:<18} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
              f"{s['support']:>8}")  # fmt: skip
    print(f"{args.folds}-fold, {len(in_scope)} in-scope examples, features: "
          f"{'none' if args.no_features else 'lookups, regexes, synonyms'}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"nlu": str(args.nlu), "folds": args.folds,
                                         "entities": table}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
