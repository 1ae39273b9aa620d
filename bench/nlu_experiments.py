"""Side experiments behind the NLU defaults (issue 4): what else was tried on BANKING77 and
CLINC150, with the same features as `HybridIntentClassifier`. Not the benchmark (bench/nlu.py
is); a record of the alternatives and how to re-run them. Embeddings come from bench/.cache.

    nice -n 10 .venv/bin/python bench/nlu_experiments.py banking   # ~15 min on 2 busy cores
    nice -n 10 .venv/bin/python bench/nlu_experiments.py clinc     # ~10 min

BANKING77: hyper-parameters and ensembles chosen on a stratified 10% validation split of
train (seed 7), then the default and the ensembles on test. CLINC150: out-of-scope signals
(classifier margin, mean cosine of the 5 nearest / the nearest training example,
Mahalanobis distance to the class means with a shared covariance, the raw top score) alone and
combined (z-scored on val), each at three thresholds tuned on val; and `oos_train` as a 151st
class. Results print as they come and go to bench/.cache/nlu-experiments-<which>.json.
"""

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _embcache import CACHE, DATA, cached
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from frontdesk.embedding import MiniLMEmbedder

which = sys.argv[1]
emb_model = MiniLMEmbedder(threads=2, batch_size=64)
out = {}


def log(k, v):
    out[k] = v
    print(k, v, flush=True)
    (CACHE / f"nlu-experiments-{which}.json").write_text(json.dumps(out, indent=1))


def feats(train, *others, min_df=2, char_range=(2, 5)):
    w = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train)
    c = TfidfVectorizer(
        analyzer="char_wb", ngram_range=char_range, sublinear_tf=True, min_df=min_df
    ).fit(train)
    return [sparse.hstack([w.transform(t), c.transform(t)], format="csr") for t in (train, *others)]


def combo(tf, e, weight):
    return sparse.hstack([tf, sparse.csr_matrix(e * weight)], format="csr")


def knn_scores(e, ref, ref_y, classes, k=10):
    sims = e @ ref.T
    idx = np.argpartition(-sims, k, axis=1)[:, :k]
    out = np.zeros((len(e), len(classes)))
    cls_index = {c: i for i, c in enumerate(classes)}
    yi = np.array([cls_index[y] for y in ref_y])
    for r in range(len(e)):
        for j in idx[r]:
            out[r, yi[j]] = max(out[r, yi[j]], sims[r, j])
    return out


if which == "banking":
    rows = {
        s: list(csv.DictReader((DATA / "banking77" / f"{s}.csv").read_text().splitlines()))
        for s in ("train", "test")
    }
    T = {s: [r["text"] for r in v] for s, v in rows.items()}
    Y = {s: np.array([r["category"] for r in v]) for s, v in rows.items()}
    E = {s: cached(T[s], emb_model) for s in T}
    idx = np.arange(len(T["train"]))
    tr, va = train_test_split(idx, test_size=0.1, stratify=Y["train"], random_state=7)
    splits = {"val": (tr, None), "test": (idx, None)}
    for split in ("val", "test"):
        if split == "val":
            a_t = [T["train"][i] for i in tr]
            a_y = Y["train"][tr]
            a_e = E["train"][tr]
            b_t = [T["train"][i] for i in va]
            b_y = Y["train"][va]
            b_e = E["train"][va]
        else:
            a_t, a_y, a_e = T["train"], Y["train"], E["train"]
            b_t, b_y, b_e = T["test"], Y["test"], E["test"]
        t0 = time.time()
        ftr, fte = feats(a_t, b_t)
        log(f"{split}/tfidf_seconds", round(time.time() - t0, 1))
        grid = (
            [(0.5, 3.0), (0.3, 3.0), (1.0, 3.0), (0.5, 2.0), (0.5, 4.0)]
            if split == "val"
            else [(0.5, 3.0)]
        )
        best_svm = None
        for c, wt in grid:
            t0 = time.time()
            svm = LinearSVC(C=c).fit(combo(ftr, a_e, wt), a_y)
            s = svm.decision_function(combo(fte, b_e, wt))
            acc = float((svm.classes_[s.argmax(1)] == b_y).mean())
            log(f"{split}/svm C={c} w={wt}", [round(acc * 100, 2), round(time.time() - t0, 1)])
            if (c, wt) == (0.5, 3.0):
                best_svm, best_s = svm, s
        classes = best_svm.classes_
        kn = knn_scores(b_e, a_e, a_y, classes)
        for beta in (0.5, 1.0, 2.0, 4.0):
            acc = float((classes[(best_s + beta * kn).argmax(1)] == b_y).mean())
            log(f"{split}/svm+knn beta={beta}", round(acc * 100, 2))
        # separate heads: embedding LR + tfidf SVM
        t0 = time.time()
        lr = LogisticRegression(C=20, max_iter=300).fit(a_e, a_y)
        pe = lr.predict_log_proba(b_e)
        log(
            f"{split}/emb LR C=20",
            [
                round(float((classes[pe.argmax(1)] == b_y).mean()) * 100, 2),
                round(time.time() - t0, 1),
            ],
        )
        for beta in (0.5, 1.0, 2.0):
            acc = float((classes[(best_s + beta * pe / 10).argmax(1)] == b_y).mean())
            log(f"{split}/svm+embLR beta={beta}", round(acc * 100, 2))
        if split == "val":
            t0 = time.time()
            lrall = LogisticRegression(C=50, max_iter=200).fit(combo(ftr, a_e, 3.0), a_y)
            acc = float((lrall.predict(combo(fte, b_e, 3.0)) == b_y).mean())
            log(f"{split}/LR all features C=50", [round(acc * 100, 2), round(time.time() - t0, 1)])
else:
    raw = json.loads((DATA / "clinc150" / "data_full.json").read_text())
    T = {k: [t for t, _ in v] for k, v in raw.items()}
    Y = {k: np.array([y for _, y in v]) for k, v in raw.items()}
    E = {k: cached(T[k], emb_model) for k in T}
    ftr, fva, fte, fov, fot, fotr = feats(
        T["train"], T["val"], T["test"], T["oos_val"], T["oos_test"], T["oos_train"]
    )
    wt = 3.0
    t0 = time.time()
    svm = LinearSVC(C=0.5).fit(combo(ftr, E["train"], wt), Y["train"])
    log("fit_seconds", round(time.time() - t0, 1))
    classes = svm.classes_
    S = {
        k: svm.decision_function(combo(f, E[k], wt))
        for k, f in (("val", fva), ("test", fte), ("oos_val", fov), ("oos_test", fot))
    }
    ok = {k: classes[S[k].argmax(1)] == Y[k] for k in ("val", "test")}
    log("raw test acc", round(float(ok["test"].mean()) * 100, 2))

    # candidate signals (higher = more in scope)
    def margin(s):
        t = np.sort(s, 1)[:, -2:]
        return t[:, 1] - t[:, 0]

    ref = E["train"]

    def nn(e, k=5):
        sims = e @ ref.T
        return np.sort(sims, 1)[:, -k:].mean(1)

    mu = np.stack([E["train"][Y["train"] == c].mean(0) for c in classes])
    cen = E["train"] - mu[np.searchsorted(classes, Y["train"])]
    cov = cen.T @ cen / len(cen) + 1e-3 * np.eye(384)
    P = np.linalg.inv(cov)
    L = np.linalg.cholesky(P)
    muL = mu @ L

    def maha(e):
        x = e @ L
        d = ((x[:, None, :] - muL[None]) ** 2).sum(-1)
        return -d.min(1)

    def maxprob(s, T=0.19):
        z = s / T
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(1, keepdims=True)).max(1)

    sig = {}
    for k in ("val", "test", "oos_val", "oos_test"):
        e = E[k]
        sig[k] = {
            "margin": margin(S[k]),
            "nn5": nn(e),
            "nn1": nn(e, 1),
            "maha": maha(e),
            "maxscore": S[k].max(1),
        }

    def z(name, k):
        m, sd = sig["val"][name].mean(), sig["val"][name].std()
        return (sig[k][name] - m) / sd

    combos = {
        "margin": ["margin"],
        "nn5": ["nn5"],
        "maha": ["maha"],
        "margin+nn5": ["margin", "nn5"],
        "margin+maha": ["margin", "maha"],
        "margin+nn5+maha": ["margin", "nn5", "maha"],
        "maxscore+maha": ["maxscore", "maha"],
        "nn1": ["nn1"],
        "margin+nn1": ["margin", "nn1"],
    }
    from frontdesk.nlu.intent_classifier import tune_threshold

    for name, parts in combos.items():
        v = sum(z(p, "val") for p in parts)
        ov = sum(z(p, "oos_val") for p in parts)
        t = sum(z(p, "test") for p in parts)
        ot = sum(z(p, "oos_test") for p in parts)
        res = {}
        th = tune_threshold(v, ok["val"], ov)
        res["balanced"] = [
            round(float((ok["test"] & (t >= th)).mean()) * 100, 2),
            round(float((ot < th).mean()) * 100, 2),
        ]
        for target in (0.8, 0.85):
            cands = np.sort(np.unique(np.concatenate([v, ov])))
            th = next(float(x) for x in cands if (ov < x).mean() >= target)
            res[f"val recall>={target}"] = [
                round(float((ok["test"] & (t >= th)).mean()) * 100, 2),
                round(float((ot < th).mean()) * 100, 2),
            ]
        log(f"oos/{name}", res)
    # oos_train as an extra class, plus the margin+nn5 threshold on top
    t0 = time.time()
    X2 = sparse.vstack([combo(ftr, E["train"], wt), combo(fotr, E["oos_train"], wt)], format="csr")
    y2 = np.concatenate([Y["train"], ["oos"] * len(T["oos_train"])])
    svm2 = LinearSVC(C=0.5).fit(X2, y2)
    log("oos-class fit_seconds", round(time.time() - t0, 1))
    c2 = svm2.classes_
    S2 = {
        k: svm2.decision_function(combo(f, E[k], wt))
        for k, f in (("val", fva), ("test", fte), ("oos_val", fov), ("oos_test", fot))
    }
    p2 = {k: c2[S2[k].argmax(1)] for k in S2}
    ok2 = {k: p2[k] == Y[k] for k in ("val", "test")}
    log(
        "oos-class/no threshold",
        [
            round(float(ok2["test"].mean()) * 100, 2),
            round(float((p2["oos_test"] == "oos").mean()) * 100, 2),
        ],
    )
    for name, parts in (
        ("margin+nn5", ["margin", "nn5"]),
        ("margin+maha", ["margin", "maha"]),
        ("nn5", ["nn5"]),
    ):
        v = sum(z(p, "val") for p in parts)
        ov = sum(z(p, "oos_val") for p in parts)
        t = sum(z(p, "test") for p in parts)
        ot = sum(z(p, "oos_test") for p in parts)
        # rejected = predicted oos OR signal below threshold
        res = {}
        for target in (0.8, 0.85):
            cands = np.sort(np.unique(np.concatenate([v, ov])))
            th = next(
                float(x) for x in cands if ((ov < x) | (p2["oos_val"] == "oos")).mean() >= target
            )
            acc = float((ok2["test"] & (t >= th)).mean())
            rec = float(((ot < th) | (p2["oos_test"] == "oos")).mean())
            res[f"val recall>={target}"] = [round(acc * 100, 2), round(rec * 100, 2)]
        log(f"oos-class+{name}", res)
