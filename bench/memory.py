"""What the conversation memory adds to a turn without an LLM: the running summary and the
customer profile (issue 19 target: <= 3 ms p95 per turn).

Conversations of four messages by 20 returning customers (customer_ref) go through the demo
workspace's in-process Assistant on SQLite, alternately with the memory on and off (off: no
`remember` stage, and `load_memory` only detects the language, which the rules need either
way). Reported: the memory hooks' own time per turn (profile read + summary + profile write,
measured around them: the precise figure), and the whole turn's p50/p95 with and without
(noisy on a shared machine: both are shown).

The hooks are timed in wall-clock and in process CPU time: on a loaded machine the wall
figure's tail is mostly waiting for a CPU (the load average is recorded with the result).

Prints a table and writes bench/results/memory.json.

    nice -n 10 .venv/bin/python bench/memory.py [--conversations 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from frontdesk.nlu.language import detect_language
from frontdesk.orchestration import stages
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.remembering import load_memory, remember
from frontdesk.orchestration.runtime import open_runtime
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import create_conversation
from frontdesk.types import InboundMessage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
RESULTS = ROOT / "bench" / "results" / "memory.json"
NAMES = ["Maria", "Tom", "Ines", "Olga", "Sam", "Lucia", "Jonas", "Chloe", "Giulia", "Daan"]
SCRIPT = [
    "Hi, my name is {name} and my parcel KP-2048{n:04d} is late",
    "How long does a refund take to reach my card?",
    "Can I change the delivery address after dispatch?",
    "thanks",
]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(workspace: Path, conversations: int) -> dict[str, Any]:
    runtime = await open_runtime(workspace)
    spent: dict[str, float] = {"wall": 0.0, "cpu": 0.0}  # the current turn's memory hooks

    async def timed_load(turn: Turn, deps: Deps) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        await load_memory(turn, deps)
        spent["wall"] += (time.perf_counter() - wall) * 1000
        spent["cpu"] += (time.process_time() - cpu) * 1000

    async def timed_remember(turn: Turn, deps: Deps) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        await remember(turn, deps)
        spent["wall"] += (time.perf_counter() - wall) * 1000
        spent["cpu"] += (time.process_time() - cpu) * 1000

    async def language_only(turn: Turn, deps: Deps) -> None:
        detection = deps.rules.language_detection
        turn.language = detect_language(
            turn.message.text, languages=detection.languages, min_words=detection.min_words,
            min_confidence=detection.min_confidence,
        )  # fmt: skip

    stages_on = [timed_remember if s is remember else s for s in runtime.assistant.stages]
    with_memory = Assistant(runtime.assistant.deps, stages_on)
    without = Assistant(runtime.assistant.deps, [s for s in stages_on if s is not timed_remember])
    totals: dict[str, list[float]] = {"on": [], "off": []}
    hooks: dict[str, list[float]] = {"wall": [], "cpu": []}
    try:
        tenant = runtime.tenant.id
        for index in range(conversations):
            mode = "on" if index % 2 == 0 else "off"
            stages.load_memory = timed_load if mode == "on" else language_only  # type: ignore[assignment]
            assistant = with_memory if mode == "on" else without
            async with runtime.db.session(tenant) as session:
                conversation = await create_conversation(
                    session, channel="api", customer_ref=f"bench-{index % 20}"
                )
                await session.commit()
            for text in SCRIPT:
                message = InboundMessage(
                    tenant_id=tenant, conversation_id=conversation.id,
                    text=text.format(name=NAMES[index % len(NAMES)], n=index),
                )  # fmt: skip
                spent.update(wall=0.0, cpu=0.0)
                began = time.perf_counter()
                await assistant.handle(message)
                totals[mode].append((time.perf_counter() - began) * 1000)
                if mode == "on":
                    hooks["wall"].append(spent["wall"])
                    hooks["cpu"].append(spent["cpu"])
    finally:
        stages.load_memory = load_memory  # type: ignore[assignment]
        await runtime.close()

    def row(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50_ms": round(statistics.median(values), 3),
                "p95_ms": round(_p(values, 0.95), 3), "max_ms": round(max(values), 3)}  # fmt: skip

    return {
        "memory_hooks": row(hooks["wall"]),
        "memory_hooks_cpu": row(hooks["cpu"]),
        "turn_with_memory": row(totals["on"]),
        "turn_without_memory": row(totals["off"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        print("preparing the demo workspace (indexing, training)...", flush=True)
        rows = asyncio.run(run(workspace, args.conversations))
    print(f"\n{'measure':<24}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in rows.items():
        print(f"{name:<24}{values['n']:>6}{values['p50_ms']:>10.3f}{values['p95_ms']:>10.3f}"
              f"{values['max_ms']:>10.3f}")  # fmt: skip
    added = rows["turn_with_memory"]["p95_ms"] - rows["turn_without_memory"]["p95_ms"]
    result = {**rows, "memory_p95_ms": rows["memory_hooks"]["p95_ms"],
              "memory_cpu_p95_ms": rows["memory_hooks_cpu"]["p95_ms"],
              "turn_p95_difference_ms": round(added, 3), "target_ms": 3.0,
              "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}  # fmt: skip
    print(f"\nmemory hooks p95 {result['memory_p95_ms']:.3f} ms wall, "
          f"{result['memory_cpu_p95_ms']:.3f} ms CPU (target <= 3 ms); whole turn p95 with - "
          f"without: {added:+.3f} ms (noisy); load average {result['load_average']} on "
          f"{result['cpus']} CPUs")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
