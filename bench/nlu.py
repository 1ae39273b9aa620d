"""Understanding benchmark: BANKING77, CLINC150 (with out-of-scope), NLU++ slots, latency.

Runs frontdesk's own classifier (`HybridIntentClassifier`: MiniLM int8 embeddings + TF-IDF
word and character n-grams, LinearSVC plus a nearest-neighbour vote, temperature scaling,
margin + nearest-neighbour out-of-scope signal) and entity extractor (`CrfEntityExtractor`)
on the public data sets in ../shared/datasets, prints our numbers beside the published ones
from the datasets README, and writes bench/results/nlu.json.

- BANKING77: train on train.csv (calibration by 3-fold cross-validation, as `frontdesk
  train` does), accuracy on test.csv.
- CLINC150 ("Full"): train on `train`; calibration and the out-of-scope threshold tuned on
  `val` + `oos_val`; in-scope accuracy (a rejected in-scope query counts as wrong) and
  out-of-scope recall on `test` + `oos_test`. Two operating points are reported: the
  production rule (`tune_threshold`: best mean of accuracy and recall, at most 5% of in-scope
  flagged) and a recall target (the fewest in-scope rejections that reach 85% OOS recall on
  val). Ablations: each signal alone, and no rejection.
- NLU++ banking, 'large' protocol: 10 rotations, each training on 18 folds and testing on 2
  (folds 2i and 2i+1); micro slot F1 over exact (slot, start, end) matches.
- Latency: one message through intent + entities + sentiment, with the real embedder (no
  cache), CLINC model (150 intents); p50/p95 over 300 test queries, 2 threads.

Embeddings are cached in bench/.cache (see bench/_embcache.py). Run with nice:

    nice -n 10 .venv/bin/python bench/nlu.py [--data ../shared/datasets] [--skip-latency]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import joblib
from _embcache import CACHE, DATA, cached, embed_seconds

from frontdesk.embedding import MiniLMEmbedder, limit_blas_threads
from frontdesk.nlu.crf_entities import CrfEntityExtractor
from frontdesk.nlu.entities import EntityPipeline, RuleEntityExtractor
from frontdesk.nlu.intent_classifier import HybridIntentClassifier
from frontdesk.nlu.message import understand_message
from frontdesk.nlu.sentiment import default_sentiment
from frontdesk.nlu.training_data import EntitySpan, Example

RESULTS = Path(__file__).resolve().parent / "results" / "nlu.json"

PUBLISHED = {
    "banking77_accuracy": "BERT-large tuned 93.66; ConvFiT 94.35; USE+ConveRT 93.36 "
    "(Casanueva et al. 2020, secondary); baseline here (TF-IDF + MiniLM LinearSVC) 94.1",
    "clinc150": "BERT oos-threshold 96.2 / 52.3, oos-train 96.9 / 40.3; MLP (USE) 93.4 / 49.1; "
    "Rasa 90.9 / 31.2 (Larson et al. 2019, Table 2, Full); baseline here 94.0 / 75.2",
    "nlupp_slot_f1": "none quoted in the datasets README",
}


def _banking(data: Path, embedder: MiniLMEmbedder) -> dict[str, Any]:
    rows = {}
    for split in ("train", "test"):
        with open(data / "banking77" / f"{split}.csv", encoding="utf-8") as handle:
            rows[split] = list(csv.DictReader(handle))
    texts = {k: [r["text"] for r in v] for k, v in rows.items()}
    labels = {k: [r["category"] for r in v] for k, v in rows.items()}
    emb = {k: cached(texts[k], embedder) for k in texts}
    started = time.perf_counter()
    model = HybridIntentClassifier(embedder).fit(
        texts["train"], labels["train"], embeddings=emb["train"], folds=3
    )
    fit_seconds = time.perf_counter() - started
    predictions = model.predict_batch(texts["test"], embeddings=emb["test"])
    accuracy = float(
        np.mean([p.name == y for p, y in zip(predictions, labels["test"], strict=True)])
    )
    svm_only = _without_vote(model, texts["test"], emb["test"], labels["test"])
    embed = embed_seconds(texts["train"], embedder)
    if embed is None:  # cache made before timings were kept: time a sample and scale
        sample = texts["train"][:500]
        t = time.perf_counter()
        embedder.embed_array(sample)
        embed = (time.perf_counter() - t) * len(texts["train"]) / len(sample)
    # The n-grams alone, for the table of approaches.
    tfidf = HybridIntentClassifier(None).fit(texts["train"], labels["train"], folds=2)
    tfidf_acc = float(
        np.mean(
            [
                p.name == y
                for p, y in zip(tfidf.predict_batch(texts["test"]), labels["test"], strict=True)
            ]
        )
    )
    return {
        "accuracy": accuracy,
        "svm_without_vote_accuracy": svm_only,
        "vote_weight": model.vote_weight,
        "tfidf_only_accuracy": tfidf_acc,
        "fit_seconds": fit_seconds,
        "embed_seconds": embed,
        "ece_held_out": model.metrics["ece"],
        "ece_uncalibrated": model.metrics["ece_uncalibrated"],
    }


def _without_vote(
    model: HybridIntentClassifier, texts: list[str], emb: np.ndarray, labels: list[str]
) -> float:
    """Accuracy of the same model with the nearest-neighbour vote switched off (the vote is
    added at prediction time, so no second fit is needed)."""
    weight, model.vote_weight = model.vote_weight, 0.0
    try:
        predictions = model.predict_batch(texts, embeddings=emb)
    finally:
        model.vote_weight = weight
    return float(np.mean([p.name == y for p, y in zip(predictions, labels, strict=True)]))


def _rates(
    correct: np.ndarray, signal: np.ndarray, oos_signal: np.ndarray, threshold: float
) -> tuple[float, float]:
    return float((correct & (signal >= threshold)).mean()), float((oos_signal < threshold).mean())


def _clinc(
    data: Path, embedder: MiniLMEmbedder
) -> tuple[dict[str, Any], HybridIntentClassifier, list[str]]:
    raw = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    texts = {k: [t for t, _ in v] for k, v in raw.items()}
    labels = {k: [y for _, y in v] for k, v in raw.items()}
    emb = {k: cached(texts[k], embedder) for k in texts}
    started = time.perf_counter()
    model = HybridIntentClassifier(embedder).fit(
        texts["train"],
        labels["train"],
        embeddings=emb["train"],
        held_out=(texts["val"], labels["val"], texts["oos_val"]),
        held_out_embeddings=(emb["val"], emb["oos_val"]),
    )
    fit_seconds = time.perf_counter() - started
    svm_only = _without_vote(model, texts["test"], emb["test"], labels["test"])

    def run(split: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        preds = model.predict_batch(texts[split], embeddings=emb[split])
        correct = np.asarray([p.name == y for p, y in zip(preds, labels[split], strict=True)])
        parts = model.signal_parts(texts[split], embeddings=emb[split])
        return correct, model.oos_signal(texts[split], embeddings=emb[split]), parts

    val_ok, val_sig, val_parts = run("val")
    _, oval_sig, oval_parts = run("oos_val")
    test_ok, test_sig, test_parts = run("test")
    _, otest_sig, otest_parts = run("oos_test")

    def recall_target(v_sig: np.ndarray, ov_sig: np.ndarray, target: float = 0.85) -> float:
        # The lowest threshold (fewest in-scope rejections) with val OOS recall >= target.
        for threshold in np.sort(np.unique(np.concatenate([v_sig, ov_sig]))):
            if (ov_sig < threshold).mean() >= target:
                return float(threshold)
        return float(np.max(v_sig))

    from frontdesk.nlu.intent_classifier import tune_threshold

    rows: dict[str, dict[str, float]] = {}
    signals = {
        "margin + neighbours (default)": (val_sig, oval_sig, test_sig, otest_sig),
        "margin alone": (
            val_parts["margin"],
            oval_parts["margin"],
            test_parts["margin"],
            otest_parts["margin"],
        ),
        "neighbours alone": (
            val_parts["neighbours"],
            oval_parts["neighbours"],
            test_parts["neighbours"],
            otest_parts["neighbours"],
        ),
    }
    for name, (v, ov, t, ot) in signals.items():
        balanced = tune_threshold(v, val_ok, ov)
        target = recall_target(v, ov)
        for rule, threshold in (("balanced", balanced), ("recall>=0.85 on val", target)):
            acc, rec = _rates(test_ok, t, ot, threshold)
            rows[f"{name}, {rule}"] = {"inscope_accuracy": acc, "oos_recall": rec}
    rows["no rejection"] = {"inscope_accuracy": float(test_ok.mean()), "oos_recall": 0.0}
    production = rows["margin + neighbours (default), balanced"]
    target_row = rows["margin + neighbours (default), recall>=0.85 on val"]
    result = {
        "fit_seconds": fit_seconds,
        "raw_accuracy": float(test_ok.mean()),
        "raw_accuracy_without_vote": svm_only,
        "vote_weight": model.vote_weight,
        "production": production,
        "recall_target": target_row,
        "approaches": rows,
        "ece_val": model.metrics["ece"],
        "ece_val_uncalibrated": model.metrics["ece_uncalibrated"],
        "temperature": model.metrics["temperature"],
    }
    return result, model, texts["test"]


def _nlupp(data: Path) -> dict[str, Any]:
    folds = []
    for i in range(20):
        items = json.loads(
            (data / "nlupp" / "banking" / f"fold{i}.json").read_text(encoding="utf-8")
        )
        examples = []
        for n, item in enumerate(items):
            spans = tuple(
                EntitySpan(slot, s["text"], s["span"][0], s["span"][1], s["text"])
                for slot, s in sorted((item.get("slots") or {}).items())
            )
            examples.append(Example(item["text"], "x", spans, f"fold{i}", n))
        folds.append(examples)
    tp = fp = fn = 0
    started = time.perf_counter()
    per_rotation = []
    for r in range(10):
        test_ids = {2 * r, 2 * r + 1}
        train = [e for i, f in enumerate(folds) if i not in test_ids for e in f]
        test = [e for i in sorted(test_ids) for e in folds[i]]
        crf = CrfEntityExtractor().fit(train)
        r_tp = r_fp = r_fn = 0
        for example in test:
            gold = {(s.type, s.start, s.end) for s in example.entities}
            found = {(e.type, e.start, e.end) for e in crf.extract(example.text)}
            r_tp += len(gold & found)
            r_fp += len(found - gold)
            r_fn += len(gold - found)
        tp, fp, fn = tp + r_tp, fp + r_fp, fn + r_fn
        per_rotation.append(2 * r_tp / max(1, 2 * r_tp + r_fp + r_fn))
    return {
        "micro_f1": 2 * tp / max(1, 2 * tp + fp + fn),
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
        "rotation_f1_mean": statistics.mean(per_rotation),
        "seconds": time.perf_counter() - started,
        "crf": crf,
    }


def _latency(
    model: HybridIntentClassifier, texts: list[str], crf: CrfEntityExtractor, quantized: bool
) -> dict[str, float]:
    """One message's intent + entities + sentiment as the understand stage runs it
    (`understand_message`, on a worker thread off the event loop)."""
    # No cache: every message is new.
    embedder = MiniLMEmbedder(threads=2, batch_size=1, quantized=quantized)
    model.embedder = embedder
    pipeline = EntityPipeline(
        RuleEntityExtractor({"order_id": r"\bKP-\d{8}\b", "customer_id": r"\bCU-\d{6}\b"}), crf
    )
    sentiment = default_sentiment()
    now = datetime.now(UTC)
    sample = texts[::15][:300]

    async def one(text: str) -> None:
        await understand_message(
            text, now=now, classifier=model, extractor=pipeline, sentiment=sentiment
        )

    async def measure() -> list[float]:
        for text in sample[:10]:  # warm-up: load the model, fill caches, start the worker
            await one(text)
        timings = []
        for text in sample:
            t = time.perf_counter()
            await one(text)
            timings.append((time.perf_counter() - t) * 1000)
        return timings

    timings = sorted(asyncio.run(measure()))
    return {
        "p50_ms": round(timings[len(timings) // 2], 3),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 3),
        "messages": len(timings),
        # Other work on the machine inflates these: the 1-minute load average at the end.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="datasets folder")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="re-measure latency with the CLINC model a full run left in bench/.cache",
    )
    parser.add_argument(
        "--embedder",
        choices=["minilm", "minilm-packaged"],
        default="minilm",
        help="minilm: integer MatMuls derived from the packaged file (default); "
        "minilm-packaged: the file as it ships (results go to nlu-minilm-packaged.json)",
    )
    args = parser.parse_args()
    quantized = args.embedder == "minilm"
    results_file = RESULTS if quantized else RESULTS.with_stem(f"nlu-{args.embedder}")
    limit_blas_threads()  # as the server runs (frontdesk.embedding.threads)
    if not (args.data / "banking77").is_dir():
        parser.error(f"{args.data}: no banking77/ folder (point --data at the datasets)")
    embedder = MiniLMEmbedder(threads=2, batch_size=64, quantized=quantized)
    saved = CACHE / ("clinc-model.joblib" if quantized else f"clinc-model-{args.embedder}.joblib")
    if args.latency_only:
        if not saved.is_file() or not results_file.is_file():
            parser.error("run the full benchmark first")
        model, crf, test = joblib.load(saved)
        latency = _latency(model, test, crf, quantized)
        results = json.loads(results_file.read_text(encoding="utf-8"))
        results["predict_p95_ms"] = round(latency["p95_ms"], 2)
        results["details"]["latency"] = latency
        results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(
            f"p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms "
            f"(load average {latency['load_average_1m']:.2f}); wrote {results_file}"
        )
        return

    print("BANKING77 ...", flush=True)
    banking = _banking(args.data, embedder)
    print("CLINC150 ...", flush=True)
    clinc, clinc_model, clinc_test = _clinc(args.data, embedder)
    print("NLU++ ...", flush=True)
    nlupp = _nlupp(args.data)
    clinc_model.embedder = None  # saved for --latency-only runs (this machine's own file)
    joblib.dump((clinc_model, nlupp["crf"], clinc_test), saved)
    latency = (
        None if args.skip_latency else _latency(clinc_model, clinc_test, nlupp["crf"], quantized)
    )

    train_seconds = banking["fit_seconds"] + banking["embed_seconds"]
    results = {
        "banking77_accuracy": round(banking["accuracy"] * 100, 2),
        "clinc150_inscope_accuracy": round(clinc["production"]["inscope_accuracy"] * 100, 2),
        "clinc150_oos_recall": round(clinc["production"]["oos_recall"] * 100, 2),
        "nlupp_slot_f1": round(nlupp["micro_f1"] * 100, 2),
        "train_seconds": round(train_seconds, 1),
        "predict_p95_ms": None if latency is None else round(latency["p95_ms"], 2),
        "details": {
            "banking77": {
                "svm_without_vote_accuracy": round(banking["svm_without_vote_accuracy"] * 100, 2),
                "vote_weight_chosen_by_cross_validation": banking["vote_weight"],
                "tfidf_only_accuracy": round(banking["tfidf_only_accuracy"] * 100, 2),
                "fit_seconds": round(banking["fit_seconds"], 1),
                "embed_seconds": round(banking["embed_seconds"], 1),
                "ece_held_out": banking["ece_held_out"],
                "ece_uncalibrated": banking["ece_uncalibrated"],
            },
            "clinc150": {
                "raw_accuracy_no_rejection": round(clinc["raw_accuracy"] * 100, 2),
                "raw_accuracy_without_vote": round(clinc["raw_accuracy_without_vote"] * 100, 2),
                "vote_weight_chosen_on_val": clinc["vote_weight"],
                "recall_target_operating_point": {
                    k: round(v * 100, 2) for k, v in clinc["recall_target"].items()
                },
                "approaches": {
                    name: {k: round(v * 100, 2) for k, v in row.items()}
                    for name, row in clinc["approaches"].items()
                },
                "fit_seconds": round(clinc["fit_seconds"], 1),
                "ece_val": clinc["ece_val"],
                "ece_val_uncalibrated": clinc["ece_val_uncalibrated"],
                "temperature": clinc["temperature"],
            },
            "nlupp_banking_large": {
                "precision": round(nlupp["precision"] * 100, 2),
                "recall": round(nlupp["recall"] * 100, 2),
                "rotation_f1_mean": round(nlupp["rotation_f1_mean"] * 100, 2),
                "seconds_10_rotations": round(nlupp["seconds"], 1),
                "extractor": "CRF (sklearn-crfsuite), word features, BIO",
            },
            "latency": latency,
            "published": PUBLISHED,
            "machine": f"{os.cpu_count()} CPUs visible; embedder threads 2",
            "embedding_model": embedder.name,
            "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    print()
    print(f"{'benchmark':34} {'frontdesk':>12}  published / baseline")
    details = results["details"]
    published = PUBLISHED["banking77_accuracy"]
    print(f"{'BANKING77 accuracy':34} {results['banking77_accuracy']:>12}  {published}")
    no_vote = details["banking77"]["svm_without_vote_accuracy"]
    print(f"{'  without the neighbour vote':34} {no_vote:>12}")
    print(f"{'  TF-IDF n-grams alone':34} {details['banking77']['tfidf_only_accuracy']:>12}")
    pair = f"{results['clinc150_inscope_accuracy']} / {results['clinc150_oos_recall']}"
    print(f"{'CLINC150 in-scope / OOS recall':34} {pair:>12}  {PUBLISHED['clinc150']}")
    for name, row in results["details"]["clinc150"]["approaches"].items():
        print(f"{'  ' + name:60} {row['inscope_accuracy']:6} / {row['oos_recall']}")
    published = PUBLISHED["nlupp_slot_f1"]
    print(f"{'NLU++ banking slot F1 (large)':34} {results['nlupp_slot_f1']:>12}  {published}")
    print(f"{'train seconds (BANKING77)':34} {results['train_seconds']:>12}  target <= 900")
    if latency:
        print(
            f"{'intent+entities+sentiment p95 ms':34} {results['predict_p95_ms']:>12}  "
            f"target <= 10 (p50 {latency['p50_ms']:.2f})"
        )
    print(f"\nwrote {results_file}")


if __name__ == "__main__":
    main()
