"""Fit the default answerability model (frontdesk/knowledge/answerability.py DEFAULT_MODEL).

Every golden case goes through the real pipeline; its turn records the answerability signals
(`decision.answerability.signals`). A logistic regression on them is fitted on the *training*
sets and printed as the coefficients to paste into DEFAULT_MODEL. To choose which signals get
weight, each candidate set is also scored leave-one-set-out (fit on the others, AUROC on the
one left out): a signal earns weight only if it helps on data it was not fitted on.

Training sets: the demo workspace's golden answers and CLAPNQ dev. Also scored (never fitted
on): the second example workspace (examples/energy-utility). CLAPNQ test and the held-out
workspace are left to bench/answers.py.

    .venv/bin/python bench/answerability_fit.py [--data PATH] [--output JSON]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_runs import ROOT, run_golden
from clapnq_workspace import DEFAULT_DATA, DEFAULT_OUT, build

from frontdesk.knowledge.answerability import SIGNALS

RESULTS = ROOT / "bench" / "results" / "answerability_fit.json"
TRAIN = ("demo", "clapnq_dev")
CANDIDATES = {
    "dense": ["dense"],
    "dense+gap": ["dense", "dense_gap"],
    "dense+gap+coverage": ["dense", "dense_gap", "coverage", "sentence"],
    "all": list(SIGNALS),
    "lexical only": ["coverage", "sentence", "keyword", "missing", "unknown"],
}


async def collect(data: Path) -> dict[str, tuple[list[dict[str, float]], list[int]]]:
    clapnq = build(data, DEFAULT_OUT)
    runs = {
        "demo": (ROOT / "src" / "frontdesk" / "demo" / "workspace", None, False),
        "clapnq_dev": (clapnq, clapnq / "golden" / "answers-dev.yaml", True),
        "energy": (ROOT / "examples" / "energy-utility", None, False),
    }
    found = {}
    for name, (root, golden, in_place) in runs.items():
        report = await run_golden(root, golden, in_place=in_place)
        signals, labels = [], []
        for result in report.results:
            if result.answerability:  # refused by the screen: no retrieval
                signals.append(result.answerability["signals"])
                labels.append(int(result.answerable))
        found[name] = (signals, labels)
        print(f"{name}: {len(labels)} cases with signals ({sum(labels)} answerable)")
    return found


def matrix(rows: list[dict[str, float]], names: list[str]) -> np.ndarray:
    return np.array([[row.get(n, 0.0) for n in names] for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sets = asyncio.run(collect(args.data))
    result: dict[str, Any] = {"leave_one_set_out_auroc": {}, "signals_auroc": {}}
    print("\nAUROC of each signal alone:")
    for name, (rows, labels) in sets.items():
        aurocs = {s: round(roc_auc_score(labels, matrix(rows, [s])[:, 0]), 3) for s in SIGNALS}
        result["signals_auroc"][name] = aurocs
        print(f"  {name:11s} " + " ".join(f"{k} {v:.3f}" for k, v in aurocs.items()))
    print("\nLeave one set out (fit on the others, AUROC on the one left out):")
    for label, names in CANDIDATES.items():
        scores = {}
        for held in sets:
            fit_on = [n for n in sets if n != held]
            x = np.vstack([matrix(sets[n][0], names) for n in fit_on])
            y = np.concatenate([sets[n][1] for n in fit_on])
            model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
            p = model.predict_proba(matrix(sets[held][0], names))[:, 1]
            scores[held] = round(roc_auc_score(sets[held][1], p), 3)
        result["leave_one_set_out_auroc"][label] = scores
        print(f"  {label:20s} " + " ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    chosen = CANDIDATES["dense+gap"]
    x = np.vstack([matrix(sets[n][0], chosen) for n in TRAIN])
    y = np.concatenate([sets[n][1] for n in TRAIN])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    weights = {n: round(float(w), 3) for n, w in zip(chosen, model.coef_[0], strict=True)}
    bias = round(float(model.intercept_[0]), 3)
    result["default_model"] = {"weights": weights, "bias": bias, "trained_on": list(TRAIN)}
    print(f"\nDEFAULT_MODEL (fitted on {', '.join(TRAIN)}): weights={weights} bias={bias}")
    for name, (rows, labels) in sets.items():
        p = model.predict_proba(matrix(rows, chosen))[:, 1]
        y_set = np.array(labels)
        declined = float((p[y_set == 0] < 0.5).mean())
        kept = float((p[y_set == 1] >= 0.5).mean())
        result.setdefault("at_0_5", {})[name] = {
            "auroc": round(roc_auc_score(y_set, p), 3),
            "unanswerable_declined": round(declined, 3),
            "answerable_kept": round(kept, 3),
        }
        print(
            f"  {name:11s} at 0.5: unanswerable declined {declined:.2f}, answerable kept {kept:.2f}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
