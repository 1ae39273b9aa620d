"""Memory of `frontdesk serve --workers N` (issue 21, point 3): each worker loads its own
models, so memory grows with N. For N in --workers (default 1,2,4): a fresh demo workspace
(prepared once), `serve --workers N` on loopback (Redis limits when N > 1), every worker
warmed by a few messages, then each process's RSS and PSS (proportional set size: shared
pages split between the processes that share them, so PSS adds up to what the machine
really spends) read from /proc. Writes bench/results/workers_memory.json.

    .venv/bin/python bench/workers_memory.py
    .venv/bin/python bench/workers_memory.py --workers 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "workers_memory.json"
REDIS = os.environ.get("FRONTDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def frontdesk(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "frontdesk", *args], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS of one process, in MiB."""
    values: dict[str, float] = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in {"Rss", "Pss"}:
                values[name.lower()] = round(int(rest.split()[0]) / 1024, 1)
    return values


def measure(workspace: Path, workers: int, log: Path) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ}
    if workers > 1:
        env["FRONTDESK_LIMITS__STORAGE_URL"] = REDIS
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "serve", "-w", str(workspace), "--port",
             str(port), "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while log.read_text(errors="replace").count("Application startup complete") < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {log}")
            time.sleep(0.5)
        token = frontdesk("keys", "create", "-w", str(workspace))
        seen = asyncio.run(_warm(url, token, workers))
        time.sleep(2)
        if workers == 1:
            pids = {"worker 0": process.pid}
        else:
            started = re.findall(r"worker (\d) started \[(\d+)\]", log.read_text())
            pids = {"parent": process.pid, **{f"worker {w}": int(p) for w, p in started}}
        per_process = {name: memory_mb(pid) for name, pid in pids.items()}
        return {
            "workers": workers,
            "processes": per_process,
            "rss_total_mb": round(sum(m.get("rss", 0) for m in per_process.values()), 1),
            "pss_total_mb": round(sum(m.get("pss", 0) for m in per_process.values()), 1),
            "warm_requests_per_worker": seen,
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


async def _warm(url: str, token: str, workers: int) -> dict[str, int]:
    """Messages over many connections until every worker has answered a few turns."""
    seen: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120,
                                 limits=limits) as http:  # fmt: skip

        async def conversation() -> None:
            cid = (await http.post("/v1/conversations", json={})).json()["id"]
            for text in ("Where is my parcel KP-204811?", "How do I return an item?"):
                sent = await http.post(f"/v1/conversations/{cid}/messages", json={"text": text})
                worker = sent.headers.get("x-frontdesk-worker", "0")
                seen[worker] = seen.get(worker, 0) + 1

        for _ in range(10):
            await asyncio.gather(*(conversation() for _ in range(16)))
            if len(seen) == workers and min(seen.values()) >= 4:
                break
    return dict(sorted(seen.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="frontdesk-workers-memory-"))
    workspace = work / "ws"
    frontdesk("init", str(workspace))
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write("\nlimits:\n  per_key: 1000000/minute\n  per_conversation: 1000000/minute\n")
    rows = []
    try:
        for n in (int(w) for w in args.workers.split(",")):
            rows.append(measure(workspace, n, work / f"serve-{n}.log"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "runs": rows,
        "load_1min": round(os.getloadavg()[0], 2),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python bench/workers_memory.py --workers " + args.workers,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'workers':>7} {'RSS total MiB':>14} {'PSS total MiB':>14}  per process (RSS/PSS MiB)")
    for row in rows:
        each = ", ".join(f"{name} {m.get('rss')}/{m.get('pss')}"
                         for name, m in row["processes"].items())  # fmt: skip
        print(f"{row['workers']:>7} {row['rss_total_mb']:>14} {row['pss_total_mb']:>14}  {each}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
