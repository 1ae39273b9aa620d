"""Quick cross-validation sweep of injection-model variants (issue 17, round 4), on train data
only: deepset train, 5 folds of one shuffle (seed 0; near duplicates grouped as in guard.py),
the other training files always in the training part, and the 4,000 held-out BANKING77 /
CLINC150 train messages scored by the fold models. Per variant: the operating point (the
higher of deepset train's 3% and the support messages' 0.5% threshold), the model's own recall
there (`model_at_t`, the round-3/4 criterion), rules + model, support flagged, CPU and wall
seconds. Reads no test split. A scratch screen: what it favours goes to bench/guard.py's full
protocol (3 shuffles, both constraints, then one test figure).

    nice -n 5 .venv/bin/python bench/guard_sweep.py [NAME,NAME...] [SEEDS]

Appends one JSON line per variant to bench/results/guard_sweep.jsonl (the round-4 run's
lines are committed there; MiniLM variants embed every augmented text once, minutes).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dataclasses import replace

from make_guard_data import held_out_support
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_union

from frontdesk.guard.injection import SHIPPED_CONFIG, augment, glossed, rule_hits, training_examples
from guard import BOTH, DEEPSET_TRAIN, FOLDS, near_duplicate_groups, rates, threshold_for

EMB = None


def emb(texts):
    global EMB
    if EMB is None:
        from frontdesk.embedding.minilm import MiniLMEmbedder

        EMB = MiniLMEmbedder()
    todo = [t for t in dict.fromkeys(texts) if t not in MEMO]
    if todo:
        for t, v in zip(todo, EMB.embed_array(todo), strict=True):
            MEMO[t] = v
    return np.stack([MEMO[t] for t in texts])


MEMO = {}


def build(spec, texts, labels, n_main=0):
    cfg = replace(SHIPPED_CONFIG, **spec.get("cfg", {}))
    tx, ys = augment(texts, labels, cfg)
    prep = (lambda L: [glossed(t) for t in L]) if spec.get("gloss") else (lambda L: list(L))
    parts = []
    for an, rng in spec.get("tfidf", [("char_wb", (1, 3)), ("word", (1, 2))]):
        parts.append(
            TfidfVectorizer(
                analyzer=an,
                ngram_range=rng,
                sublinear_tf=True,
                strip_accents=spec.get("strip"),
                min_df=spec.get("min_df", 1),
            )
        )
    feats = make_union(*parts)
    X = feats.fit_transform(prep(tx))
    r = None
    if spec.get("nb"):
        yy = np.asarray(ys)
        pos = np.asarray(X[yy == 1].sum(0)).ravel() + 1.0
        neg = np.asarray(X[yy == 0].sum(0)).ravel() + 1.0
        r = np.log((pos / pos.sum()) / (neg / neg.sum()))
        from scipy.sparse import diags

        R = diags(r)
        X = X @ R
    w = spec.get("emb", 0.0)
    if w:
        X = hstack([X, csr_matrix(emb(tx) * w)]).tocsr()
    clf = LogisticRegression(
        C=spec.get("C", 10.0),
        class_weight="balanced",
        solver="liblinear",
        max_iter=2000,
        random_state=0,
    ).fit(
        X, ys, sample_weight=np.array([spec.get("dw", 1.0)] * n_main + [1.0] * (len(ys) - n_main))
    )

    def proba(L):
        if spec.get("seg"):
            import re

            pieces, owner = [], []
            for i, t in enumerate(L):
                pieces.append(t)
                owner.append(i)
                segs = [
                    x.strip()
                    for x in re.split(r"(?<=[.!?:;])\s+|\n+", t)
                    if len(x.split()) >= spec["seg"]
                ]
                if len(segs) > 1:
                    for x in segs:
                        pieces.append(x)
                        owner.append(i)
            pp = proba0(pieces)
            out = np.zeros(len(L))
            for o, p in zip(owner, pp, strict=True):
                out[o] = max(out[o], p)
            return out
        return proba0(L)

    def proba0(L):
        Z = feats.transform(prep(L))
        if r is not None:
            Z = Z @ R
        if w:
            Z = hstack([Z, csr_matrix(emb(L) * w)]).tocsr()
        return clf.predict_proba(Z)[:, 1]

    return proba


def run(name, spec, shuffles=(0,)):
    texts, labels = training_examples((DEEPSET_TRAIN,))
    et, el = training_examples(BOTH if not spec.get("files") else spec["files"])
    groups = near_duplicate_groups(texts)
    ruled = [bool(rule_hits(t)) for t in texts]
    sup = held_out_support()
    support = sup["banking77_train"] + sup["clinc150_train"]
    sruled = [bool(rule_hits(t)) for t in support]
    res = []
    t0 = time.process_time()
    w0 = time.perf_counter()
    for seed in shuffles:
        oof = np.zeros(len(texts))
        sp = []
        for fit, held in StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed).split(
            texts, labels, groups
        ):
            proba = build(
                spec, [texts[i] for i in fit] + et, [labels[i] for i in fit] + el, len(fit)
            )
            oof[held] = proba([texts[i] for i in held])
            sp += list(proba(support))
        oof = list(oof)
        td = threshold_for(oof, ruled, labels)
        ts = threshold_for(sp, sruled * FOLDS, [0] * len(sp), 0.005)
        t = max(td, ts)
        tm = threshold_for(oof, [False] * len(texts), labels)
        res.append(
            dict(
                t=t,
                td=td,
                ts=ts,
                model=rates([p >= t for p in oof], labels)["recall"],
                both=rates([r or p >= t for p, r in zip(oof, ruled, strict=True)], labels),
                model3=rates([p >= tm for p in oof], labels)["recall"],
                sup=float(np.mean([r or p >= t for p, r in zip(sp, sruled * FOLDS, strict=True)])),
            )
        )

    def m(k):
        return round(statistics.fmean(r[k] for r in res), 4)

    out = dict(
        name=name,
        t=m("t"),
        td=m("td"),
        ts=m("ts"),
        model_at_t=m("model"),
        model_3pct=m("model3"),
        both_recall=round(statistics.fmean(r["both"]["recall"] for r in res), 4),
        both_fpr=round(statistics.fmean(r["both"]["fpr"] for r in res), 4),
        sup=m("sup"),
        cpu=round(time.process_time() - t0, 1),
        wall=round(time.perf_counter() - w0, 1),
    )
    print(json.dumps(out), flush=True)
    with (Path(__file__).resolve().parent / "results" / "guard_sweep.jsonl").open("a") as h:
        h.write(json.dumps({**out, "spec": repr(spec), "shuffles": list(shuffles)}) + "\n")
    return out


SPECS = {
    "base": {},
    "char14": {"tfidf": [("char", (1, 4)), ("word", (1, 2))]},
    "char25": {"tfidf": [("char", (2, 5)), ("word", (1, 2))]},
    "wb15w13": {"tfidf": [("char_wb", (1, 5)), ("word", (1, 3))]},
    "base_C3": {"C": 3.0},
    "base_C30": {"C": 30.0},
    "base_strip": {"strip": "unicode"},
    "base_emb1": {"emb": 1.0},
    "base_emb2": {"emb": 2.0},
    "gloss": {"gloss": True},
    "dw2": {"dw": 2.0},
    "seg3": {"seg": 3},
    "plain": {
        "files": (
            "curated.jsonl",
            "written.jsonl",
            "support_benign.jsonl",
            "support_more.jsonl",
            "support_written.jsonl",
            "written_plain.jsonl",
        )
    },
    "plain_14": {
        "tfidf": [("char_wb", (1, 4)), ("word", (1, 2))],
        "files": (
            "curated.jsonl",
            "written.jsonl",
            "support_benign.jsonl",
            "support_more.jsonl",
            "support_written.jsonl",
            "written_plain.jsonl",
        ),
    },
    "plain_seg3": {
        "seg": 3,
        "files": (
            "curated.jsonl",
            "written.jsonl",
            "support_benign.jsonl",
            "support_more.jsonl",
            "support_written.jsonl",
            "written_plain.jsonl",
        ),
    },
    "seg2": {"seg": 2},
    "seg3_dw3": {"seg": 3, "dw": 3.0},
    "nb": {"nb": True},
    "nb_C1": {"nb": True, "C": 1.0},
    "nowritten": {"files": ("support_benign.jsonl", "support_more.jsonl", "support_written.jsonl")},
    "nosupport_more": {
        "files": ("curated.jsonl", "written.jsonl", "support_benign.jsonl", "support_written.jsonl")
    },
    "dw3": {"dw": 3.0},
    "dw2_C3": {"dw": 2.0, "C": 3.0},
    "dw2_gloss": {"dw": 2.0, "gloss": True},
}
if __name__ == "__main__":
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else list(SPECS)
    shuffles = tuple(int(s) for s in sys.argv[2].split(",")) if len(sys.argv) > 2 else (0,)
    for n in names:
        run(n, SPECS[n], shuffles)
