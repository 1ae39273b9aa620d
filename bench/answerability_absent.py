"""Where answerability's exact checks fire: unlisted codes and years, and absent items.

The exact checks in knowledge/answerability.py (`unlisted_codes`, `absent_items`) decline a
question whatever its score, so what matters is where they fire: on an answerable question
each firing is a wrong decline, on an unanswerable one it is a decline gained where the score
alone answered. Every golden case of the demo, examples/energy-utility and CLAPNQ dev runs
through the real pipeline once, with every question judged answerable (threshold 0), and the
turn's question, index word counts and passages are recorded (cached in
bench/.cache/answerability-absent/); then each check runs on the recorded turns, and its CPU
time is taken per turn (cold: caches cleared before each pass, as for a passage seen first).

These are the sets the checks were written on (their failures were read); CLAPNQ test and the
held-out workspace are not read here (bench/answers.py gives their aggregates).

    .venv/bin/python bench/answerability_absent.py [--recollect]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_runs import ROOT, run_golden
from clapnq_workspace import DEFAULT_DATA, DEFAULT_OUT, build

import frontdesk.knowledge.answerability as answerability
import frontdesk.orchestration.stages as stages
from frontdesk.evaluation.answers import load_answer_golden
from frontdesk.text import content_words
from frontdesk.types import Passage

RESULTS = ROOT / "bench" / "results" / "answerability_absent.json"
CACHE = ROOT / "bench" / ".cache" / "answerability-absent"


async def collect_set(root: Path, golden: Path | None, in_place: bool) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    judge = stages.judge_answerability

    def recording(turn: Any, deps: Any, model: Any, passages: list[Passage]) -> Any:
        judged = judge(turn, deps, dataclasses.replace(model, threshold=0.0), passages)
        question = stages._without_identifiers(turn)
        words = sorted(content_words(question))
        counter = getattr(deps.retriever, "document_counts", None)
        seen[turn.text] = {
            "question": question,
            "words": words,
            "counts": counter(turn.message.tenant_id, words) if counter else None,
            "score": judged.score,
            "passages": [p.model_dump() for p in passages],
        }
        return judged

    stages.judge_answerability = recording  # type: ignore[assignment]
    try:
        await run_golden(root, golden, in_place=in_place)
    finally:
        stages.judge_answerability = judge  # type: ignore[assignment]
    cases = load_answer_golden(golden or root / "golden" / "answers.yaml").cases
    return [
        seen[c.message] | {"id": c.id, "answerable": c.answerable}
        for c in cases
        if c.message in seen  # refused by the screen: no retrieval
    ]


def collect(recollect: bool) -> dict[str, list[dict[str, Any]]]:
    path = CACHE / "rows.pkl"
    if path.is_file() and not recollect:
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
    clapnq = build(DEFAULT_DATA, DEFAULT_OUT)
    runs = {
        "demo": (ROOT / "src" / "frontdesk" / "demo" / "workspace", None, False),
        "energy": (ROOT / "examples" / "energy-utility", None, False),
        "clapnq_dev": (clapnq, clapnq / "golden" / "answers-dev.yaml", True),
    }
    found = {name: asyncio.run(collect_set(*run)) for name, run in runs.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(found))
    return found


def fires(rows: list[dict[str, Any]]) -> dict[str, Any]:
    model = answerability.DEFAULT_MODEL
    out: dict[str, Any] = {"cases": len(rows), "answerable": 0, "unanswerable": 0}
    for check in ("unlisted_code", "absent_item"):
        out[check] = {"on_answerable": [], "on_unanswerable_scored_answerable": [],
                      "on_unanswerable_scored_unanswerable": []}  # fmt: skip
    for row in rows:
        out["answerable" if row["answerable"] else "unanswerable"] += 1
        passages = [Passage(**p) for p in row["passages"]]
        counts = tuple(row["counts"]) if row["counts"] else None
        keys = answerability.key_words(row["question"], counts, row["words"])  # type: ignore[arg-type]
        found = {
            "unlisted_code": answerability.unlisted_codes(row["question"], passages),
            "absent_item": answerability.absent_items(row["question"], passages, keys),
        }
        scored = row["score"] >= model.threshold
        for check, hit in found.items():
            if not hit:
                continue
            where = ("on_answerable" if row["answerable"] else
                     "on_unanswerable_scored_answerable" if scored else
                     "on_unanswerable_scored_unanswerable")  # fmt: skip
            out[check][where].append({"id": row["id"], "item": hit[0][0], "others": hit[0][1]})
    return out


def cpu_ms(rows: list[dict[str, Any]], passes: int = 4) -> dict[str, Any]:
    """CPU time of a whole judgement (assess) per turn, with and without `absent_items`,
    passes interleaved (with, without, without, with), caches cleared before each pass."""
    prepared = [
        (r["question"], [Passage(**p) for p in r["passages"]],
         tuple(r["counts"]) if r["counts"] else None, r["words"])
        for r in rows
    ]  # fmt: skip
    real = answerability.absent_items
    times: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for arm in ["with", "without", "without", "with"][:passes]:
            answerability.absent_items = real if arm == "with" else (lambda *a: [])  # type: ignore[assignment]
            answerability._stems.cache_clear()
            answerability._named.cache_clear()
            for question, passages, counts, words in prepared:
                began = time.thread_time()
                answerability.assess(question, passages, counts=counts, words=words)  # type: ignore[arg-type]
                times[arm].append((time.thread_time() - began) * 1000)
    finally:
        answerability.absent_items = real  # type: ignore[assignment]
    return {
        arm: {
            "turns": len(found),
            "p50_ms": round(statistics.median(found), 3),
            "p95_ms": round(statistics.quantiles(found, n=20, method="inclusive")[-1], 3),
        }
        for arm, found in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recollect", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = collect(args.recollect)
    result: dict[str, Any] = {name: fires(rows) for name, rows in found.items()}
    result["assess_cpu"] = cpu_ms([r for rows in found.values() for r in rows])
    for name, row in result.items():
        if name == "assess_cpu":
            print(f"assess CPU per turn: {row}")
            continue
        for check in ("unlisted_code", "absent_item"):
            counts = {k: len(v) for k, v in row[check].items()}
            print(f"{name:11s} {check:14s} {counts}")
            for where, hits in row[check].items():
                for hit in hits:
                    print(f"    {where}: {hit['id']}: {hit['item']} (others {hit['others']})")
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["command"] = "python bench/answerability_absent.py"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
