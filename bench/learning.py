"""Poisoning study of the learning loop's promotion gate (issue 22).

The demo workspace's model (MiniLM + n-grams, the default) is trained once as the baseline.
Then, through the real path (`orchestration.learning.train_gated`: nlu/ plus corrections,
judged against the promoted baseline on golden/nlu.yml, which corrections never enter):

- poison: k = 1, 2, 4, 8, 16, 32 wrong corrections of one intent (messages of intent A, taken
  from nlu/ and lightly varied, relabelled as intent B), for several (A, B) pairs; reported:
  the share of runs the gate would promote, and whether the golden set lost an example;
- good: a few real mistakes fixed (messages the baseline misreads, relabelled with their true
  intent); reported: the share promoted;
- corrections lost: over every promoted run, corrections missing from the training data of
  the version that serves, after promotion and after a simulated restart (`load_or_train`
  with the start-up refresh).

    .venv/bin/python bench/learning.py [--poison-runs 3] [--good-runs 10]

Writes bench/results/learning.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from frontdesk.embedding import CachingEmbedder, MiniLMEmbedder  # noqa: E402
from frontdesk.nlu.model_store import ModelStore, load_or_train  # noqa: E402
from frontdesk.nlu.training_data import load_training_data  # noqa: E402
from frontdesk.orchestration.learning import (  # noqa: E402
    TrainingSet,
    golden_set,
    train_gated,
)
from frontdesk.storage.support_models import TrainingExample  # noqa: E402

DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
KS = (1, 2, 4, 8, 16, 32)
# (true intent, the wrong label the poison gives it)
PAIRS = [("request_refund", "billing_issue"), ("damaged_goods", "lost_parcel"),
         ("track_parcel", "late_delivery"), ("account_security", "service_outage")]  # fmt: skip
VARIATIONS = ["{}", "hi, {}", "{} please", "{} asap", "hello {}", "{} thanks"]
# Messages worded unlike nlu/ with their true intent; those the baseline misreads are the
# real mistakes agents would fix.
MISTAKE_POOL = {
    "the tracking page hasn't changed in four days": "late_delivery",
    "the app keeps logging me out": "account_security",
    "my parcel says delivered but it isn't here": "lost_parcel",
    "can i get my money back for the broken lamp": "request_refund",
    "the delivery window came and went, nobody showed": "late_delivery",
    "the van never came": "late_delivery",
    "someone changed my email address without asking": "account_security",
    "your site throws an error every time I open it": "service_outage",
    "the mug arrived with a big crack down the side": "damaged_goods",
    "could it go to my neighbour at number 12 instead": "change_delivery",
    "i was billed for a parcel i never sent": "billing_issue",
    "do you do saturday drop-offs": "delivery_options",
    "the box was crushed and the toy inside snapped": "damaged_goods",
    "it was meant to be here yesterday": "late_delivery",
    "is there a cheaper slower option": "delivery_options",
    "my card got charged but the order failed": "billing_issue",
}


def _row(text: str, intent: str, n: int) -> TrainingExample:
    return TrainingExample(id=f"bench{n:05d}", text=text, intent=intent, entities=[],
                           created_by="bench")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--poison-runs", type=int, default=3, help="Runs per k (pairs cycled).")
    parser.add_argument("--good-runs", type=int, default=10)
    parser.add_argument("--good-size", type=int, default=3, help="Mistakes fixed per run.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "learning.json")
    args = parser.parse_args()

    started = time.perf_counter()
    base = load_training_data(DEMO / "nlu")
    golden = golden_set(DEMO)
    assert golden is not None
    embedder = CachingEmbedder(MiniLMEmbedder())
    store = ModelStore(Path(tempfile.mkdtemp(prefix="learning-bench-")) / "nlu")
    first = train_gated(store, TrainingSet.build(base, [], golden), embedder, trigger="bench",
                        actor="bench")  # fmt: skip
    baseline = store.load(first.candidate, embedder)
    print(f"baseline {first.candidate} ({time.perf_counter() - started:.0f} s)", flush=True)
    known = {e.text.casefold() for e in [*base.examples, *golden.examples]}
    mistakes = {
        text: intent
        for text, intent in MISTAKE_POOL.items()
        if text.casefold() not in known and baseline.classifier.predict(text).name != intent
    }
    rng = random.Random(22)
    serial = 0
    runs: list[dict[str, Any]] = []

    def run(kind: str, k: int, rows: list[TrainingExample], detail: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        training = TrainingSet.build(base, rows, golden)
        report = train_gated(store, training, embedder, trigger="bench", actor="bench",
                             promote=False)  # fmt: skip
        record = store.gate_record(report.candidate) or {}
        passed = bool(record.get("promote"))
        golden_lost = sum(1 for f in report.flips if f["lost"] and f["kind"] == "intent")
        lost = 0
        if passed:  # as if promoted: does every correction survive a restart?
            store.promote(report.candidate, actor="bench")
            served = load_or_train(training.data, store, embedder, refresh=lambda *_: None)
            trained_on = {c["id"] for c in served.manifest.get("corrections", [])}
            lost = sum(1 for r in rows if r.id not in trained_on)
            store.promote(first.candidate, actor="bench")
        runs.append({"kind": kind, "k": k, "promoted": passed, "golden_lost": golden_lost,
                     "corrections_lost": lost, "reasons": report.reasons, **detail,
                     "seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
        print(f"{kind:6} k={k:2} {detail} promoted={passed} golden_lost={golden_lost} "
              f"({runs[-1]['seconds']} s)", flush=True)  # fmt: skip

    for k in KS:
        for r in range(args.poison_runs):
            true, wrong = PAIRS[r % len(PAIRS)]
            source = [e.text for e in base.in_scope if e.intent == true]
            rng.shuffle(source)
            texts = [VARIATIONS[i // len(source) % len(VARIATIONS)].format(source[i % len(source)])
                     for i in range(k)]  # fmt: skip
            rows = []
            for text in texts:
                serial += 1
                rows.append(_row(text, wrong, serial))
            run("poison", k, rows, {"true": true, "label": wrong})
    for _ in range(args.good_runs):
        chosen = rng.sample(sorted(mistakes), min(args.good_size, len(mistakes)))
        rows = []
        for text in chosen:
            serial += 1
            rows.append(_row(text, mistakes[text], serial))
        run("good", len(rows), rows, {"fixed": chosen})

    def share(items: list[dict[str, Any]]) -> float | None:
        return round(sum(r["promoted"] for r in items) / len(items), 3) if items else None

    table = []
    for k in KS:
        at_k = [r for r in runs if r["kind"] == "poison" and r["k"] == k]
        table.append({"k": k, "runs": len(at_k), "promoted": share(at_k),
                      "runs_golden_lost": sum(1 for r in at_k if r["golden_lost"]),
                      "promoted_where_golden_lost": sum(
                          1 for r in at_k if r["golden_lost"] and r["promoted"])})  # fmt: skip
    good = [r for r in runs if r["kind"] == "good"]
    result = {
        "poison_promoted_k2": table[1]["promoted"],
        "poison_promoted_k4": table[2]["promoted"],
        "good_promoted": share(good),
        "corrections_lost": sum(r["corrections_lost"] for r in runs),
        "poison": table,
        "good_runs": len(good),
        "mistakes_available": len(mistakes),
        "baseline": first.candidate,
        "baseline_metrics": baseline.manifest["metrics"],
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print("\n| k | runs | promoted | runs where golden lost an example | promoted of those |")
    print("|---|---|---|---|---|")
    for row in table:
        print(f"| {row['k']} | {row['runs']} | {row['promoted']} | {row['runs_golden_lost']} | "
              f"{row['promoted_where_golden_lost']} |")  # fmt: skip
    print(f"good corrections: {result['good_promoted']} of {len(good)} runs promoted; "
          f"corrections lost: {result['corrections_lost']}")  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
