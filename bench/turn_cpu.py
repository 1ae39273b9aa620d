"""CPU time per turn without an LLM (issue 21 point 1): the demo workspace's Assistant on SQLite,
in process, and optionally a `frontdesk serve` process over HTTP on loopback.

Messages: the demo's training and golden NLU examples (nlu/*.yml, golden/nlu.yml), in a
fixed shuffled order, five to a conversation. One turn at a time, so a turn's process CPU
time (time.process_time, every thread of the process: the encoder runs on worker threads) is
that turn's alone, and each stage's is measured the same way around it. The first 20 turns
warm caches and are not counted. HTTP: the server's CPU per message from its threads'
/proc/<pid>/task/*/schedstat (nanoseconds), read before and after each request.

--profile runs the turns once more under cProfile with the thread hops run inline (so the
encoder's work is in the profile) and prints the top functions by cumulative and own time;
encoder passes and texts per turn are counted. The messages are the ones the classifier was
trained on, so the embedding cache (CachingEmbedder) would hold them: it is emptied before
each turn, so that every message costs what a new customer's does (--keep-cache: not).

Prints a table and writes bench/results/turn_cpu.json.

    nice -n 5 .venv/bin/python bench/turn_cpu.py [--turns 300] [--http] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from frontdesk.nlu.training_data import load_yaml
from frontdesk.orchestration.assistant import Assistant, Stage
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.runtime import open_runtime
from frontdesk.orchestration.turn import Turn
from frontdesk.storage.conversations import create_conversation
from frontdesk.types import InboundMessage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
RESULTS = ROOT / "bench" / "results" / "turn_cpu.json"
WARM_UP = 20
PER_CONVERSATION = 5


def messages(workspace: Path, count: int) -> list[str]:
    texts: list[str] = []
    for path in (*sorted((workspace / "nlu").glob("*.yml")), workspace / "golden" / "nlu.yml"):
        texts.extend(example.text for example in load_yaml(path).examples)
    random.Random(21).shuffle(texts)
    return [texts[i % len(texts)] for i in range(count)]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "mean_ms": round(statistics.fmean(values), 3),
            "p50_ms": round(statistics.median(values), 3), "p95_ms": round(_p(values, 0.95), 3),
            "max_ms": round(max(values), 3)}  # fmt: skip


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what asyncio hands to a thread at once, on the caller's thread (for cProfile)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def timed(stage: Stage, spent: dict[str, float]) -> Stage:
    async def run(turn: Turn, deps: Deps) -> None:
        began = time.process_time()
        try:
            await stage(turn, deps)
        finally:
            spent[stage.__name__] = spent.get(stage.__name__, 0.0) + time.process_time() - began

    run.__name__ = stage.__name__
    return run


class CountingEmbedder:
    """Counts the encoder's calls and texts (wrapped around the runtime's embedder)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls, self.texts = inner, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: Any) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed(texts)  # type: ignore[no-any-return]


async def in_process(
    workspace: Path, texts: list[str], profile: bool, keep_cache: bool
) -> dict[str, Any]:
    runtime = await open_runtime(workspace)
    embedder = runtime.embedder
    inner = getattr(embedder, "inner", None)  # CachingEmbedder -> the model itself
    counter = CountingEmbedder(inner) if inner is not None else None
    if counter is not None:
        embedder.inner = counter  # type: ignore[union-attr]
    items = getattr(embedder, "_items", None)  # CachingEmbedder's
    forget = items.clear if items is not None and not keep_cache else None
    spent: dict[str, float] = {}
    assistant = Assistant(
        runtime.assistant.deps, [timed(s, spent) for s in runtime.assistant.stages]
    )
    tenant = runtime.tenant.id
    turn_cpu: list[float] = []
    turn_wall: list[float] = []
    per_stage: dict[str, list[float]] = {}
    encoder: list[tuple[int, int]] = []
    actions: Counter[str] = Counter()

    async def run_turns(batch: list[str], record: bool) -> None:
        conversation = None
        for n, text in enumerate(batch):
            if n % PER_CONVERSATION == 0:
                async with runtime.db.session(tenant) as session:
                    conversation = await create_conversation(session, channel="api")
                    await session.commit()
            assert conversation is not None
            message = InboundMessage(tenant_id=tenant, conversation_id=conversation.id, text=text)
            spent.clear()
            if forget is not None:
                forget()  # a message never seen: the encoder runs as for a new customer's
            calls = (counter.calls, counter.texts) if counter else (0, 0)
            wall, cpu = time.perf_counter(), time.process_time()
            reply = await assistant.handle(message)
            cpu_ms = (time.process_time() - cpu) * 1000
            if not record:
                continue
            turn_cpu.append(cpu_ms)
            turn_wall.append((time.perf_counter() - wall) * 1000)
            stages_ms = {name: seconds * 1000 for name, seconds in spent.items()}
            stages_ms["record+overhead"] = cpu_ms - sum(stages_ms.values())
            for name, ms in stages_ms.items():
                per_stage.setdefault(name, []).append(ms)
            if counter:
                encoder.append((counter.calls - calls[0], counter.texts - calls[1]))
            actions[reply.route.action.value if reply.route else "none"] += 1

    profile_text = ""
    try:
        await run_turns(texts[:WARM_UP], record=False)
        await run_turns(texts[WARM_UP:], record=True)
        if profile:
            loop = asyncio.get_running_loop()
            loop.set_default_executor(InlineExecutor())
            profiler = cProfile.Profile()
            profiler.enable()
            await run_turns(texts[WARM_UP:], record=False)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            profile_text = out.getvalue()
    finally:
        await runtime.close()
    result: dict[str, Any] = {
        "turn_cpu": row(turn_cpu),
        "turn_wall": row(turn_wall),
        "stages_cpu": {name: row(values) for name, values in per_stage.items()},
        "actions": dict(actions),
    }
    if encoder:
        result["encoder_calls_per_turn"] = round(statistics.fmean(c for c, _ in encoder), 3)
        result["encoder_texts_per_turn"] = round(statistics.fmean(t for _, t in encoder), 3)
    if profile_text:
        result["profile"] = profile_text
    return result


def _server_cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total


def _frontdesk(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "frontdesk", *args], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def over_http(workspace: Path, texts: list[str]) -> dict[str, Any]:
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write("\nlimits:\n  per_key: 1000000/minute\n  per_conversation: 1000000/minute\n"
                     "  conversations_per_key: 1000000/minute\n")  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log = workspace / "serve.log"
    with log.open("ab") as out:
        server = subprocess.Popen([sys.executable, "-m", "frontdesk", "serve", "-w",
                                   str(workspace), "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"the server stopped; see {log}")
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        token = _frontdesk("keys", "create", "-w", str(workspace))
        cpu: list[float] = []
        wall: list[float] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as http:  # fmt: skip
            cid = ""
            for n, text in enumerate(texts):
                if n % PER_CONVERSATION == 0:
                    cid = http.post("/v1/conversations", json={}).json()["id"]
                before, began = _server_cpu_ns(server.pid), time.perf_counter()
                response = http.post(f"/v1/conversations/{cid}/messages", json={"text": text})
                elapsed = time.perf_counter() - began
                response.raise_for_status()
                if n >= WARM_UP:
                    cpu.append((_server_cpu_ns(server.pid) - before) / 1e6)
                    wall.append(elapsed * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"server_cpu": row(cpu), "wall": row(wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--http", action="store_true", help="also through `frontdesk serve`")
    parser.add_argument("--profile", action="store_true", help="cProfile the turns (inline)")
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="keep the embedding cache between turns (the texts were trained on)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        texts = messages(workspace, args.turns + WARM_UP)
        print("preparing the demo workspace (indexing, training)...", flush=True)
        result = asyncio.run(in_process(workspace, texts, args.profile, args.keep_cache))
        if args.http:
            result["http"] = over_http(workspace, texts)
    profile = result.pop("profile", "")
    if profile:
        print(profile)
    print(f"\n{'measure (ms)':<26}{'n':>6}{'mean':>9}{'p50':>9}{'p95':>9}{'max':>9}")
    lines = [("turn CPU", result["turn_cpu"]), ("turn wall", result["turn_wall"])]
    lines += [(f"  {name} CPU", values) for name, values in result["stages_cpu"].items()]
    if "http" in result:
        lines += [("HTTP server CPU", result["http"]["server_cpu"]),
                  ("HTTP wall", result["http"]["wall"])]  # fmt: skip
    for name, values in lines:
        print(f"{name:<26}{values['n']:>6}{values['mean_ms']:>9.3f}{values['p50_ms']:>9.3f}"
              f"{values['p95_ms']:>9.3f}{values['max_ms']:>9.3f}")  # fmt: skip
    if "encoder_calls_per_turn" in result:
        print(f"encoder passes per turn {result['encoder_calls_per_turn']}, texts per turn "
              f"{result['encoder_texts_per_turn']}")  # fmt: skip
    result.update(
        load_average=[round(started_load, 2), round(os.getloadavg()[0], 2)],
        cpus=os.cpu_count(),
        commit=subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
        run_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    print(f"load average {result['load_average']} (start, end) on {result['cpus']} CPUs")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
