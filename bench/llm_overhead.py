"""What frontdesk adds around a model, measured with a zero-latency fake provider.

1. `overhead_p95_ms`: the model part of a turn (`LlmService.answer`: the grounded prompt,
   router chain, breaker, budget check, tenacity wrapper, the support check, token
   accounting) around a provider that answers instantly, over the demo workspace's real
   retrieved passages. Target: p95 <= 10 ms. Also shown: the same with the response cache
   on (a miss: embedding the question with the packaged MiniLM), a cache hit, and the whole
   turn (`Assistant.handle`: NLU, retrieval, respond, screening, the SQLite writes) for scale.
2. `first_byte_delay_ms`: the real app served by uvicorn on 127.0.0.1, a message posted with
   `?stream=true`; from the moment the fake provider yields its first token to the moment
   the client reads the first `delta` event. Target: <= 50 ms.

Prints a table and writes bench/results/llm_overhead.json.

    nice -n 10 .venv/bin/python bench/llm_overhead.py [--turns 300] [--streams 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from frontdesk.api.app import create_app
from frontdesk.config.settings import LlmSettings
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.interfaces import ChatChunk, ChatRequest, ChatResult
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.orchestration.runtime import Runtime, open_runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.types import InboundMessage, Usage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
RESULTS = ROOT / "bench" / "results" / "llm_overhead.json"

QUESTIONS = [
    "How long does a refund take to reach my card?",
    "Can I change the delivery address after dispatch?",
    "What happens if my parcel arrives damaged?",
    "How do I reset my account password?",
    "Do you deliver on Sundays?",
    "What does a missed delivery card mean?",
    "How much does Saturday delivery cost?",
    "Can I get a refund if my parcel was late?",
]


class InstantModel:
    """Answers at once with passage [1]'s first sentence, cited; streams it in pieces and
    notes when the first piece left."""

    name = "fake:instant"

    def __init__(self) -> None:
        self.first_token_at: list[float] = []

    def _text(self, request: ChatRequest) -> str:
        if not request.passages:
            return "NO_ANSWER"
        return request.passages[0].text.split(". ")[0].strip().rstrip(".") + ". [1]"

    async def complete(self, request: ChatRequest) -> ChatResult:
        text = self._text(request)
        return ChatResult(text=text, usage=Usage(prompt_tokens=500, completion_tokens=30))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        text = self._text(request)
        words = text.split(" ")
        for i, word in enumerate(words):
            if i == 0:
                self.first_token_at.append(time.perf_counter())
            yield ChatChunk(text=word if i == 0 else " " + word)
        yield ChatChunk(
            result=ChatResult(text=text, usage=Usage(prompt_tokens=500, completion_tokens=30))
        )


def service(model: InstantModel, runtime: Runtime, *, cache: bool) -> LlmService:
    settings = LlmSettings.model_validate(
        {
            "models": {"answer": ["fake:instant"]},
            "prices": {"fake:instant": {"prompt": 0.15, "completion": 0.6}},
            "budgets": {"monthly_tokens": 10**12, "turn_tokens": 100000},
            "cache": {"enabled": cache},
        }
    )
    router = ModelRouter(settings, {"fake:instant": model})
    store = ResponseCache(settings.cache, runtime.embedder) if cache else None
    return LlmService(settings, router, cache=store, company="Kestrel Parcel")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 3),
        "p95_ms": round(pct(values, 0.95), 3),
        "max_ms": round(max(values), 3),
    }


async def measure_overhead(workspace: Path, turns: int) -> dict[str, Any]:
    runtime = await open_runtime(workspace)
    try:
        tenant = runtime.tenant.id
        passages = {}
        for q in QUESTIONS:  # the real retrieved passages for each question
            found = await runtime.assistant.deps.retriever.search(tenant, q, limit=10)
            passages[q] = found[:5]
        model = InstantModel()
        plain = service(model, runtime, cache=False)
        cached = service(model, runtime, cache=True)

        async def timed(svc: LlmService, q: str, kb: int) -> float:
            began = time.perf_counter()
            answer = await svc.answer(q, passages[q], tenant_id=tenant, kb_version=kb)
            elapsed = (time.perf_counter() - began) * 1000
            assert answer.model in ("fake:instant", "cache:fake:instant"), answer.fallback_reason
            return elapsed

        for q in QUESTIONS:  # warm-up
            await timed(plain, q, 0)
        no_cache = [await timed(plain, QUESTIONS[i % len(QUESTIONS)], 0) for i in range(turns)]
        # Every question new to the cache (a fresh KB version each time): a miss, embedded.
        misses = [
            await timed(cached, QUESTIONS[i % len(QUESTIONS)], 1000 + i)
            for i in range(min(turns, 120))
        ]
        await cached.answer(QUESTIONS[0], passages[QUESTIONS[0]], tenant_id=tenant, kb_version=1)
        hits = [await timed(cached, QUESTIONS[0], 1) for _ in range(turns)]

        runtime.assistant.deps.llm = plain
        whole: list[float] = []
        answered: set[str] = set()
        for i in range(min(turns, 80)):
            async with runtime.db.session(tenant) as session:
                conversation = await create_conversation(session, channel="api")
                await session.commit()
                cid = conversation.id
            began = time.perf_counter()
            reply = await runtime.assistant.handle(
                InboundMessage(
                    tenant_id=tenant, conversation_id=cid, text=QUESTIONS[i % len(QUESTIONS)]
                )
            )
            whole.append((time.perf_counter() - began) * 1000)
            if reply.citations:
                answered.add(QUESTIONS[i % len(QUESTIONS)])
        return {
            "answer_no_cache": summary(no_cache),
            "answer_cache_miss": summary(misses),
            "answer_cache_hit": summary(hits),
            "answered": sorted(answered),
            "whole_turn": summary(whole[5:]),
        }
    finally:
        await runtime.close()


def measure_first_byte(workspace: Path, streams: int, questions: list[str]) -> dict[str, Any]:
    port = _free_port()
    app = create_app(workspace)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    runtime: Runtime = app.state.runtime
    model = InstantModel()
    runtime.assistant.deps.llm = service(model, runtime, cache=False)
    key = asyncio.run(make_key(workspace))  # its own connection to the same SQLite file
    headers = {"Authorization": f"Bearer {key}"}
    delays: list[float] = []
    totals: list[float] = []
    skipped = 0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for i in range(streams + 3):
                cid = http.post("/v1/conversations", json={}, headers=headers).json()["id"]
                sent = time.perf_counter()
                before = len(model.first_token_at)
                first_delta = None
                with http.stream(
                    "POST",
                    f"/v1/conversations/{cid}/messages?stream=true",
                    json={"text": questions[i % len(questions)]},
                    headers=headers,
                ) as response:
                    for line in response.iter_lines():
                        if line == "event: delta" and first_delta is None:
                            first_delta = time.perf_counter()
                done = time.perf_counter()
                if first_delta is None or len(model.first_token_at) == before:
                    skipped += 1  # routed to a hand-off or a clarifying question: no model
                    continue
                if i >= 3:  # warm-up
                    delays.append((first_delta - model.first_token_at[before]) * 1000)
                    totals.append((done - sent) * 1000)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    if not delays:
        raise RuntimeError("no message was answered by the model (all routed elsewhere)")
    print(f"{skipped} streamed messages were routed away from the model", flush=True)
    return {"first_byte_delay": summary(delays), "streamed_request_total": summary(totals)}


async def make_key(workspace: Path) -> str:
    settings = load_settings(Workspace.at(workspace))
    db = Database(settings.resolved_database_url(workspace))
    try:
        tenant = await ensure_tenant(db, settings.tenant)
        return (await create_key(db, tenant.id, name="bench", scope=Scope.SERVICE)).token
    finally:
        await db.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--streams", type=int, default=40)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        print("preparing the demo workspace (indexing, training)...", flush=True)
        overhead = asyncio.run(measure_overhead(workspace, args.turns))
        # Only questions the demo's rules send to the model (others are handed off).
        answered = overhead.pop("answered")
        first_byte = measure_first_byte(workspace, args.streams, answered)
    rows = {**overhead, **first_byte}
    print(f"streamed questions: {answered}")
    print(f"\n{'measure':<26}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, row in rows.items():
        print(
            f"{name:<26}{row['n']:>6}{row['p50_ms']:>10.3f}{row['p95_ms']:>10.3f}"
            f"{row['max_ms']:>10.3f}"
        )
    result = {
        "overhead_p95_ms": overhead["answer_no_cache"]["p95_ms"],
        "overhead_target_ms": 10.0,
        "first_byte_delay_ms": first_byte["first_byte_delay"]["p95_ms"],
        "first_byte_delay_p50_ms": first_byte["first_byte_delay"]["p50_ms"],
        "first_byte_target_ms": 50.0,
        "details": rows,
        # 1/5/15-minute load averages: figures taken on a busy machine are not final.
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "command": "nice -n 10 .venv/bin/python bench/llm_overhead.py "
        f"--turns {args.turns} --streams {args.streams}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"\noverhead p95 {result['overhead_p95_ms']} ms (target <= 10); first SSE byte after "
        f"the provider's first token: p95 {result['first_byte_delay_ms']} ms (target <= 50)"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
