"""Which pieces the extractive answerer quotes, measured on the passages search really returns.

Every golden case of the tuning sets (the demo, examples/energy-utility and CLAPNQ dev) goes
through the real pipeline once; the passages each turn retrieved are recorded. Then, for
every answerable case, whatever the rules decided, each way of weighing passages picks its
pieces from those same passages, and the reply is scored as `evaluate answers` scores it:
every required fact present and the right atom (CLAPNQ: the gold passage) cited.

- `order`: the place in search's fused order, each counting half the one before (the
  answerer before; still used when passages carry no embedding cosine);
- `cosine`: the passage's embedding cosine to the question, relative to the closest passage
  (`extractive.passage_weights`, what ships).

Reports also how often anything was quoted for an answerable question (`quoted`) and for an
unanswerable one (`unanswerable_quoted`: there, quoting nothing means handing off), and the
answerability judgement's cost per turn in CPU time (thread time: on a shared machine the
wall-clock p95 of bench/answers.py measures the other processes as much as the judgement).
CLAPNQ test and the held-out workspace are not read here (bench/answers.py reports them).

    .venv/bin/python bench/answer_selection.py [--data PATH] [--output JSON]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_runs import ROOT, run_golden
from clapnq_workspace import DEFAULT_DATA, DEFAULT_OUT, build

import frontdesk.orchestration.stages as stages
from frontdesk.evaluation.answers import cites_one_of, load_answer_golden, missing_facts
from frontdesk.llm import extractive
from frontdesk.llm.quotable import is_staff_only
from frontdesk.types import Passage

RESULTS = ROOT / "bench" / "results" / "answer_selection.json"
CPU_MS: list[float] = []  # the answerability judgement's CPU time, turn by turn


def by_order(passages: Sequence[Passage]) -> list[float]:
    return [extractive.RANK_WEIGHT**n for n in range(len(passages))]


WEIGHINGS: dict[str, Callable[[Sequence[Passage]], list[float]]] = {
    "order": by_order,
    "cosine": extractive.passage_weights,
}


async def collect(root: Path, golden: Path | None, in_place: bool) -> list[dict[str, Any]]:
    """Each case with the passages its turn put before the answerer."""
    seen: dict[str, list[Passage]] = {}
    judge = stages.judge_answerability

    def recording(turn: Any, deps: Any, model: Any, passages: list[Passage]) -> Any:
        seen[turn.text] = [p.model_copy() for p in turn.passages if not is_staff_only(p)]
        began = time.thread_time()  # CPU time: what the judgement costs, whatever else runs
        judged = judge(turn, deps, model, passages)
        CPU_MS.append((time.thread_time() - began) * 1000)
        return judged

    stages.judge_answerability = recording  # type: ignore[assignment]
    try:
        await run_golden(root, golden, in_place=in_place)
    finally:
        stages.judge_answerability = judge  # type: ignore[assignment]
    cases = load_answer_golden(golden or root / "golden" / "answers.yaml").cases
    return [
        {"case": case, "passages": seen[case.message]} for case in cases if case.message in seen
    ]


def score(rows: list[dict[str, Any]], weighing: str) -> dict[str, Any]:
    extractive.passage_weights = WEIGHINGS[weighing]  # type: ignore[assignment]
    try:
        model = extractive.ExtractiveChatModel()
        hits = cited_right = with_cite = quoted = answerable = unanswered_quoted = 0
        for row in rows:
            case, passages = row["case"], row["passages"]
            units = model.select(case.message, passages)
            if not case.answerable:
                unanswered_quoted += bool(units)
                continue
            answerable += 1
            quoted += bool(units)
            cited = [passages[n - 1] for n in dict.fromkeys(u.passage for u in units)]
            text = " ".join(u.text for u in units)
            right = (
                cites_one_of([p.title for p in cited], [p.source for p in cited], case.cite)
                if case.cite
                else None
            )
            missing = missing_facts(text, case.facts) if case.facts else []
            hits += not missing and right is not False
            with_cite += right is not None
            cited_right += bool(right)
    finally:
        extractive.passage_weights = WEIGHINGS["cosine"]  # type: ignore[assignment]
    unanswerable = len(rows) - answerable
    return {
        "answerable": answerable,
        "facts_and_citation": round(hits / answerable, 3),
        "right_citation": round(cited_right / with_cite, 3) if with_cite else None,
        "quoted": round(quoted / answerable, 3),
        "unanswerable_quoted": round(unanswered_quoted / unanswerable, 3) if unanswerable else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    clapnq = build(args.data, DEFAULT_OUT)
    sets = {
        "demo": (ROOT / "src" / "frontdesk" / "demo" / "workspace", None, False),
        "energy": (ROOT / "examples" / "energy-utility", None, False),
        "clapnq_dev": (clapnq, clapnq / "golden" / "answers-dev.yaml", True),
    }
    result: dict[str, Any] = {}
    for name, (root, golden, in_place) in sets.items():
        rows = asyncio.run(collect(root, golden, in_place))
        result[name] = {weighing: score(rows, weighing) for weighing in WEIGHINGS}
        for weighing, row in result[name].items():
            print(f"{name:11s} {weighing:7s} " + " ".join(f"{k} {v}" for k, v in row.items()))
    p95 = statistics.quantiles(CPU_MS, n=20, method="inclusive")[-1]
    result["answerability_cpu_ms"] = {"turns": len(CPU_MS), "p95": round(p95, 3),
                                      "median": round(statistics.median(CPU_MS), 3)}  # fmt: skip
    print(f"answerability CPU time: p95 {p95:.3f} ms, median "
          f"{statistics.median(CPU_MS):.3f} ms over {len(CPU_MS)} turns")  # fmt: skip
    result["command"] = "python bench/answer_selection.py"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
