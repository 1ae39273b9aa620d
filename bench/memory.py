"""What the dialogue state and the conversation memory add to a turn without an LLM: the
running summary and the customer profile (issue 19 target: <= +3 ms p95 per turn).

After 6 conversations of warm-up, conversations of four messages go through the demo
workspace's in-process Assistant on SQLite, in three arms taken in turn (one conversation
each), each arm with its own customers (customer_ref; 10 to an arm at 120 conversations, each
new in their first conversation):
- `on`: the pipeline as it runs;
- `off`: no `track` and no `remember` stage, `load_memory` only detects the language (the
  rules need it either way), and the conversation is read without its profile (as before the
  profile was joined to it). The forms stay on: without the tracker a form sees no slot, so
  it asks for the order number the first message gave (a clarify where `on` runs the tool);
- `no_forms`: `off` without the forms (deps.forms None) either: the pipeline before issue 19,
  where the first message's order number runs the parcel tool as in `on`.
`--rounds N` repeats the measured conversations N times in the one process (new customers
each round; the arms' order rotates), for the spread of the whole-turn figures.

Reported per turn with the memory on:
- `memory_hooks`: load_memory + remember, measured around them (wall and process CPU);
- `profile_sql`: the customer_profiles statements run outside the hooks (the UPDATE that
  `remember` leaves to the turn's commit), timed around the cursor;
- `state`: the dialogue state's own stages (`track`, and `settle` after the reply);
- `added` / `added_cpu`: the three summed per turn (the hooks and the state in wall-clock,
  or in process CPU time; the SQL in wall-clock in both): the figure held against the 3 ms
  target;
- `conversation_read_on` / `_off`: the turn's first query, with the profile joined to it or
  without (the join's cost, which no hook sees; compare their p50/p95);
and for every arm the whole turn (wall and process CPU), per round and pooled, the SQL
statements per turn, and per script position the mean CPU and the actions taken (the arms are
not the same work where their actions differ).

The hooks are timed in wall-clock and in process CPU time: on a loaded machine the wall
figure's tail is mostly waiting for a CPU (the load average is recorded with the result).

Prints a table and writes bench/results/memory.json.

    nice -n 10 .venv/bin/python bench/memory.py [--conversations 120] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import event

from frontdesk.nlu.language import detect_language
from frontdesk.orchestration import assistant as assistant_module
from frontdesk.orchestration import routing, stages
from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.remembering import load_memory, remember
from frontdesk.orchestration.runtime import open_runtime
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import (
    conversation_and_profile,
    create_conversation,
    get_conversation,
)
from frontdesk.types import InboundMessage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
RESULTS = ROOT / "bench" / "results" / "memory.json"
NAMES = ["Maria", "Tom", "Ines", "Olga", "Sam", "Lucia", "Jonas", "Chloe", "Giulia", "Daan"]
ARMS = ("on", "off", "no_forms")
WARM_UP = 6  # conversations, two each arm
CUSTOMERS = 10  # per arm and round
SCRIPT = [
    "Hi, my name is {name} and my parcel KP-2048{n:04d} is late",
    "How long does a refund take to reach my card?",
    "Can I change the delivery address after dispatch?",
    "thanks",
]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(workspace: Path, conversations: int, rounds: int) -> dict[str, Any]:
    runtime = await open_runtime(workspace)
    # The current turn's figures (ms): hooks wall/CPU, profile SQL outside the hooks, state.
    spent: dict[str, float] = {}
    inside = {"hooks": False}
    sql: dict[str, list[float]] = {"read": []}  # the conversation's read, this turn
    statements = {"n": 0}

    def timed(key: str, stage: Any) -> Any:
        async def run_timed(turn: Turn, deps: Deps) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            inside["hooks"] = key == "hooks"
            try:
                await stage(turn, deps)
            finally:
                inside["hooks"] = False
                spent[key] += (time.perf_counter() - wall) * 1000
                spent[f"{key}_cpu"] += (time.process_time() - cpu) * 1000

        return run_timed

    def timed_settle(turn: Turn, deps: Deps) -> None:
        began, cpu = time.perf_counter(), time.process_time()
        settle_dialogue(turn, deps)
        spent["state"] += (time.perf_counter() - began) * 1000
        spent["state_cpu"] += (time.process_time() - cpu) * 1000

    engine = runtime.db.engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_began"] = time.perf_counter()
        statements["n"] += 1

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        ms = (time.perf_counter() - conn.info.pop("bench_began", time.perf_counter())) * 1000
        if statement.startswith("SELECT conversations.id"):
            sql["read"].append(ms)
        elif "customer_profiles" in statement and not inside["hooks"]:
            spent["profile_sql"] += ms

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)

    async def without_profile(session: Any, conversation_id: str) -> Any:
        found = await get_conversation(session, conversation_id)
        return None if found is None else (found, None)

    async def language_only(turn: Turn, deps: Deps) -> None:
        detection = deps.rules.language_detection
        turn.language = detect_language(
            turn.message.text, languages=detection.languages, min_words=detection.min_words,
            min_confidence=detection.min_confidence,
        )  # fmt: skip

    timed_load = timed("hooks", load_memory)
    timed_remember, timed_track = timed("hooks", remember), timed("state", stages.track)
    settle_dialogue = routing.settle_dialogue
    swap = {remember: timed_remember, stages.track: timed_track}
    stages_on = [swap.get(stage, stage) for stage in runtime.assistant.stages]
    deps = runtime.assistant.deps
    # Off: the pipeline without issue 19's state and memory (no track, no remember).
    stages_off = [s for s in stages_on if s not in (timed_remember, timed_track)]
    assistants = {
        "on": Assistant(deps, stages_on),
        "off": Assistant(deps, stages_off),
        "no_forms": Assistant(replace(deps, forms=None), stages_off),  # before issue 19
    }
    turns: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    keys = ("hooks", "hooks_cpu", "profile_sql", "state", "state_cpu")
    rows: dict[str, list[float]] = {k: [] for k in (*keys, "added", "added_cpu")}
    reads: dict[str, list[float]] = {"on": [], "off": []}
    try:
        tenant = runtime.tenant.id
        # The first conversations warm up what a running server has warm (statements compiled
        # and cached, the first INSERT of a profile): not measured, and their customers are
        # not the measured ones (new customers' first turns are measured below).
        for round_ in range(rounds):
            for index in range(-WARM_UP if round_ == 0 else 0, conversations):
                arm = ARMS[(index + round_) % len(ARMS)]
                customer = (index // len(ARMS)) % CUSTOMERS
                stages.load_memory = timed_load if arm == "on" else language_only  # type: ignore[assignment]
                assistant_module.conversation_and_profile = (  # type: ignore[assignment]
                    conversation_and_profile if arm == "on" else without_profile
                )
                routing.settle_dialogue = timed_settle  # type: ignore[assignment]
                async with runtime.db.session(tenant) as session:
                    ref = f"bench-{round_}-{arm}-{customer}" if index >= 0 else f"warm-up-{index}"
                    conversation = await create_conversation(
                        session, channel="api", customer_ref=ref
                    )
                    await session.commit()
                for position, text in enumerate(SCRIPT):
                    message = InboundMessage(
                        tenant_id=tenant, conversation_id=conversation.id,
                        text=text.format(name=NAMES[customer % len(NAMES)], n=index % 10000),
                    )  # fmt: skip
                    spent.update({key: 0.0 for key in keys})
                    sql["read"].clear()
                    statements["n"] = 0
                    began, cpu = time.perf_counter(), time.process_time()
                    reply = await assistants[arm].handle(message)
                    cpu_ms = (time.process_time() - cpu) * 1000
                    wall_ms = (time.perf_counter() - began) * 1000
                    if index < 0:
                        continue
                    turns[arm].append({
                        "round": round_, "position": position, "wall": wall_ms, "cpu": cpu_ms,
                        "statements": statements["n"],
                        "action": reply.route.action.value if reply.route else "none",
                    })  # fmt: skip
                    if arm in reads:
                        reads[arm].append(sql["read"][0] if sql["read"] else 0.0)
                    if arm == "on":
                        for key in keys:
                            rows[key].append(spent[key])
                        rows["added"].append(spent["hooks"] + spent["profile_sql"] + spent["state"])
                        rows["added_cpu"].append(
                            spent["hooks_cpu"] + spent["profile_sql"] + spent["state_cpu"]
                        )
    finally:
        stages.load_memory = load_memory  # type: ignore[assignment]
        assistant_module.conversation_and_profile = conversation_and_profile  # type: ignore[assignment]
        routing.settle_dialogue = settle_dialogue  # type: ignore[assignment]
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        await runtime.close()

    def row(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50_ms": round(statistics.median(values), 3),
                "p95_ms": round(_p(values, 0.95), 3), "max_ms": round(max(values), 3)}  # fmt: skip

    def whole(arm: str, measure: str, round_: int | None = None) -> dict[str, float]:
        return row([t[measure] for t in turns[arm] if round_ in (None, t["round"])])

    result: dict[str, Any] = {
        "added": row(rows["added"]),
        "added_cpu": row(rows["added_cpu"]),
        "memory_hooks": row(rows["hooks"]),
        "memory_hooks_cpu": row(rows["hooks_cpu"]),
        "profile_sql": row(rows["profile_sql"]),
        "state": row(rows["state"]),
        "state_cpu": row(rows["state_cpu"]),
        "conversation_read_on": row(reads["on"]),
        "conversation_read_off": row(reads["off"]),
        "turn_with_memory": whole("on", "wall"),
        "turn_without_memory": whole("off", "wall"),
        "turn_before_issue19": whole("no_forms", "wall"),
        "turn_cpu_with_memory": whole("on", "cpu"),
        "turn_cpu_without_memory": whole("off", "cpu"),
        "turn_cpu_before_issue19": whole("no_forms", "cpu"),
        "statements_per_turn": {
            arm: round(statistics.fmean(t["statements"] for t in turns[arm]), 2) for arm in ARMS
        },
    }
    result["rounds"] = [
        {arm: {"wall_p95_ms": whole(arm, "wall", r)["p95_ms"],
               "cpu_p95_ms": whole(arm, "cpu", r)["p95_ms"],
               "cpu_p50_ms": whole(arm, "cpu", r)["p50_ms"]} for arm in ARMS}
        for r in range(rounds)
    ]  # fmt: skip
    result["by_position"] = [
        {arm: {"cpu_mean_ms": round(statistics.fmean(t["cpu"] for t in at), 3),
               "statements": round(statistics.fmean(t["statements"] for t in at), 2),
               "actions": dict(Counter(t["action"] for t in at))}
         for arm in ARMS
         if (at := [t for t in turns[arm] if t["position"] == position])}
        for position in range(len(SCRIPT))
    ]  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        print("preparing the demo workspace (indexing, training)...", flush=True)
        rows = asyncio.run(run(workspace, args.conversations, args.rounds))
    print(f"\n{'measure':<26}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in rows.items():
        if isinstance(values, dict) and "p95_ms" in values:
            print(f"{name:<26}{values['n']:>6}{values['p50_ms']:>10.3f}"
                  f"{values['p95_ms']:>10.3f}{values['max_ms']:>10.3f}")  # fmt: skip
    print(f"\nstatements per turn: {rows['statements_per_turn']}")
    print("\nper round, whole-turn p95 (wall / CPU ms) and on minus each other arm:")
    for n, round_ in enumerate(rows["rounds"]):
        on = round_["on"]
        line = "  ".join(
            f"{arm} {round_[arm]['wall_p95_ms']:.2f} / {round_[arm]['cpu_p95_ms']:.2f}"
            for arm in ARMS
        )
        diffs = "  ".join(
            f"on-{arm} {on['wall_p95_ms'] - round_[arm]['wall_p95_ms']:+.2f} / "
            f"{on['cpu_p95_ms'] - round_[arm]['cpu_p95_ms']:+.2f}"
            for arm in ARMS[1:]
        )
        print(f"  round {n}: {line}  |  {diffs}")
    print("\nper script position, mean CPU ms (statements; actions):")
    for position, arms in enumerate(rows["by_position"]):
        print(f"  {position}: " + "  ".join(
            f"{arm} {v['cpu_mean_ms']:.2f} ({v['statements']}; {v['actions']})"
            for arm, v in arms.items()))  # fmt: skip
    added = rows["turn_with_memory"]["p95_ms"] - rows["turn_without_memory"]["p95_ms"]
    result = {**rows, "added_p95_ms": rows["added"]["p95_ms"],
              "added_cpu_p95_ms": rows["added_cpu"]["p95_ms"],
              "memory_p95_ms": rows["memory_hooks"]["p95_ms"],
              "memory_cpu_p95_ms": rows["memory_hooks_cpu"]["p95_ms"],
              "turn_p95_difference_ms": round(added, 3),
              "turn_p95_difference_before_issue19_ms": round(
                  rows["turn_with_memory"]["p95_ms"] - rows["turn_before_issue19"]["p95_ms"], 3),
              "turn_cpu_p95_difference_before_issue19_ms": round(
                  rows["turn_cpu_with_memory"]["p95_ms"]
                  - rows["turn_cpu_before_issue19"]["p95_ms"], 3),
              "target_ms": 3.0,
              "load_average": [round(started_load, 2), round(os.getloadavg()[0], 2)],
              "cpus": os.cpu_count(),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                       capture_output=True, text=True, cwd=ROOT).stdout.strip(),
              "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "bench/memory.py " + " ".join(sys.argv[1:])}  # fmt: skip
    print(
        f"\nstate + memory added per turn p95 {result['added_p95_ms']:.3f} ms wall, "
        f"{result['added_cpu_p95_ms']:.3f} ms CPU (target <= 3 ms); hooks "
        f"{result['memory_p95_ms']:.3f} ms wall, {result['memory_cpu_p95_ms']:.3f} ms CPU; "
        f"whole turn p95 on - off: {added:+.3f} ms wall, on - no_forms "
        f"{result['turn_p95_difference_before_issue19_ms']:+.3f} ms wall, "
        f"{result['turn_cpu_p95_difference_before_issue19_ms']:+.3f} ms CPU (pooled rounds); "
        f"load average {result['load_average']} on {result['cpus']} CPUs"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
