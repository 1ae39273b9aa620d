"""Answer right, or say so and hand off: whole turns against golden answers, no LLM.

Every case goes through the real pipeline (screen, understand, retrieve, answerability, rules,
extractive reply, output screen) in a conversation of its own, scored from the outside:
facts in the reply, the cited atom, abstained-and-handed-off when the knowledge base cannot
answer, hand-off precision and recall (a hand-off to the wrong team counts as a miss), and
ordinary messages refused by the input screen.

Data, and what was tuned on what:
- `demo`: the packaged demo; its golden answers were written independently, but the demo's
  rules and the default answerability model were fitted and adjusted on it (tuned on).
- `second_workspace`: examples/energy-utility, golden answers committed before any tuning;
  its failures were read while building the answerer (seen, not fitted on).
- `heldout_workspace`: examples/heldout-saas, written independently and never looked at
  while building: only these aggregate numbers were read.
- `clapnq_test`: CLAPNQ (answer or abstain) test split, 200 + 200; the calibration is fitted
  on its dev split (`clapnq_dev`).
- `clapnq_test_at_target_citation`: the same model with the threshold chosen on dev for the
  issue's pair of targets: the highest threshold at which dev's answerable questions are still
  answered with the gold passage cited at least TARGET_CITED of the time (dev answered once
  with every question judged answerable, so each one's citation is known). It says how many
  unanswerable questions this signal can decline while keeping the citation target.

Each workspace is reported with the shipped default model, and with a calibration fitted on
its own golden answers, cross-validated: each fifth of the cases is answered by a model
calibrated on the other four fifths (what an operator gets from `evaluate answers
--calibrate`, measured on cases the calibration did not see).

    .venv/bin/python bench/answers.py [--data PATH] [--skip-clapnq]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_runs import AT, ROOT, clock_for
from clapnq_workspace import DEFAULT_DATA, DEFAULT_OUT, build

from frontdesk.config.workspace import Workspace
from frontdesk.evaluation.answers import (
    AnswerGolden,
    AnswersReport,
    evaluate_answers,
    load_answer_golden,
)
from frontdesk.evaluation.calibration import calibrate
from frontdesk.evaluation.scratch import scratch_workspace
from frontdesk.orchestration.runtime import Runtime, open_runtime

RESULTS = ROOT / "bench" / "results" / "answers.json"
TARGET_CITED = 0.85  # issue 16: answerable CLAPNQ questions answered with the gold passage
KEYS = ("answer_hit", "right_citation", "abstain_handoff", "handoff_precision",
        "handoff_recall", "refused_ordinary")  # fmt: skip
WORKSPACES = {
    "demo": ROOT / "src" / "frontdesk" / "demo" / "workspace",
    "second_workspace": ROOT / "examples" / "energy-utility",
    "heldout_workspace": ROOT / "examples" / "heldout-saas",
}


async def run(runtime: Runtime, golden: AnswerGolden) -> AnswersReport:
    return await evaluate_answers(runtime.assistant, runtime.db, runtime.tenant.id, golden)


async def with_cross_validated_calibration(
    runtime: Runtime, golden: AnswerGolden, first: AnswersReport
) -> AnswersReport:
    """Each fold's cases answered by a calibration fitted on the other folds' cases."""
    default = runtime.assistant.deps.answerability
    assert default is not None
    cases = golden.cases
    labels = [int(c.answerable and not c.must_hand_off) for c in cases]
    merged: dict[str, Any] = {}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    try:
        for train, test in folds.split(cases, labels):
            fitted = calibrate([first.results[i] for i in train], default, source="fold")
            runtime.assistant.deps.answerability = fitted.model
            part = await run(runtime, AnswerGolden(cases=[cases[i] for i in test]))
            merged.update({r.id: r for r in part.results})
    finally:
        runtime.assistant.deps.answerability = default
    return AnswersReport([merged[c.id] for c in cases])


def summary(report: AnswersReport) -> dict[str, Any]:
    found = report.summary()
    picked = {k: found[k] for k in (*KEYS, "cases", "answerable", "unanswerable",
                                    "must_hand_off", "intent_accuracy", "passed")}  # fmt: skip
    timings = [r.answerability["ms"] for r in report.results
               if r.answerability and "ms" in r.answerability]  # fmt: skip
    picked["answerability_ms"] = timings
    return picked


async def workspace_rows(name: str, root: Path) -> dict[str, Any]:
    workspace = Workspace.at(root)
    golden = load_answer_golden(workspace.root / "golden" / "answers.yaml")
    moment = clock_for(workspace.root, AT)
    with scratch_workspace(workspace) as copy:
        runtime = await open_runtime(copy, clock=lambda: moment)
        try:
            began = time.perf_counter()
            default = await run(runtime, golden)
            seconds = time.perf_counter() - began
            calibrated = await with_cross_validated_calibration(runtime, golden, default)
        finally:
            await runtime.close()
    print(f"{name}: {len(golden.cases)} cases in {seconds:.0f} s")
    return {name: summary(default), f"{name}_calibrated_cv": summary(calibrated)}


async def clapnq_rows(data: Path) -> dict[str, Any]:
    root = build(data, DEFAULT_OUT)
    dev = load_answer_golden(root / "golden" / "answers-dev.yaml")
    test = load_answer_golden(root / "golden" / "answers-test.yaml")
    moment = clock_for(root, AT)
    runtime = await open_runtime(root, clock=lambda: moment)  # in place: indexed once, kept
    try:
        default = runtime.assistant.deps.answerability
        assert default is not None
        dev_report = await run(runtime, dev)
        test_default = await run(runtime, test)
        fitted = calibrate(dev_report.results, default, source="CLAPNQ dev")
        runtime.assistant.deps.answerability = fitted.model
        test_calibrated = await run(runtime, test)
        runtime.assistant.deps.answerability = dataclasses.replace(default, threshold=0.0)
        dev_open = await run(runtime, dev)  # every question answered: each one's citation
        threshold = threshold_for_citation(dev_open, TARGET_CITED)
        runtime.assistant.deps.answerability = dataclasses.replace(default, threshold=threshold)
        test_at_target = await run(runtime, test)
    finally:
        runtime.assistant.deps.answerability = default
        await runtime.close()
    print(f"clapnq: calibrated on dev, threshold {fitted.model.threshold:.3f}; "
          f"at {TARGET_CITED} cited on dev, threshold {threshold:.4f}")  # fmt: skip
    return {
        "clapnq_dev": summary(dev_report),
        "clapnq_test_default_model": summary(test_default),
        "clapnq_test": summary(test_calibrated),
        "clapnq_test_at_target_citation": summary(test_at_target) | {"threshold": threshold},
    }


def threshold_for_citation(report: AnswersReport, target: float) -> float:
    """The highest answerability threshold at which at least `target` of the answerable cases
    would still be answered citing the gold passage (scores from a run that answered all)."""
    answerable = [r for r in report.results if r.answerable and r.answerability]
    scores = sorted({float(r.answerability["score"]) for r in answerable if r.answerability})
    best = 0.0
    for cut in scores:
        kept = sum(
            bool(r.right_citation) and r.answerability["score"] >= cut
            for r in answerable
            if r.answerability
        )
        if kept / len(answerable) >= target:
            best = cut
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-clapnq", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    async def everything() -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for name, root in WORKSPACES.items():
            rows |= await workspace_rows(name, root)
        if not args.skip_clapnq:
            rows |= await clapnq_rows(args.data)
        return rows

    rows = asyncio.run(everything())
    timings = [ms for row in rows.values() for ms in row.pop("answerability_ms")]
    p95 = statistics.quantiles(timings, n=20, method="inclusive")[-1] if len(timings) > 1 else 0
    header = f"{'set':34s} " + " ".join(f"{k[:16]:>16s}" for k in KEYS)
    print(header)
    for name, row in rows.items():
        print(f"{name:34s} " + " ".join(f"{row[k]:>16}" for k in KEYS))
    print(f"answerability p95: {p95:.3f} ms over {len(timings)} turns")
    result = {
        **rows,
        "answerability_p95_ms": round(p95, 3),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python bench/answers.py",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
