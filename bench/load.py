"""Fault scenarios of the load suite (issue 21, point 7), with real `frontdesk serve` processes
on loopback and httpx clients (one message in flight per conversation, an Idempotency-Key on
every message, retried with the same key on a cut connection, a 409, a 429 or a 503):

- kill: the server is SIGKILLed mid-run on SQLite and started again; counted: messages lost,
  customer messages stored twice (duplicated), and for each message that was retried, how
  long after the new server was ready it got its answer (max_recovery_s).
- db_loss: PostgreSQL reached through a TCP proxy this script cuts mid-run for --outage-s
  seconds (connections reset, new ones refused), then restores; counted: responses other
  than 2xx or 503 (a 500, a connection closed with no response), and how long after the
  restore the first message was answered again.

- throughput: a fresh demo workspace (SQLite, and PostgreSQL with --database postgresql),
  one `frontdesk serve` (--workers N: N processes, limits in the local Redis, measured once
  every worker has started, responses counted per worker; other arguments with --serve-arg),
  then for each concurrency (--concurrency 1,16,64) --conversations conversations of
  --messages messages
  (texts from the demo's training and golden NLU files), at most that many conversations in
  flight, one message in flight per conversation, an Idempotency-Key on each, 429/503 retried
  with the same key. Reported per level: messages a second, latency p50/p95/p99 (send to 200,
  retries included), the server's CPU time per message (its processes' threads, from
  /proc), the load average; and lost (never answered), duplicated (a customer message stored
  twice in its conversation) and server_errors (5xx or a connection closed with no answer).
  The workspace raises the rate limits and `limits.tenant_concurrency` (to 128) so that they
  do not shape the figures.

Writes bench/results/load.json: each scenario its own keys (kill.*, db_loss.*; throughput:
<database>.c<N>.*, c1_p95_ms, lost, duplicated, server_errors), others left as they were.

    .venv/bin/python bench/load.py                      # kill and db_loss
    .venv/bin/python bench/load.py --scenario kill --conversations 16 --messages 8
    .venv/bin/python bench/load.py --scenario throughput --database sqlite \
        --conversations 500 --messages 20 --concurrency 1,16,64    # the issue's figures
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.tcp_proxy import TcpProxy  # noqa: E402  (a proxy the scenario can cut)

RESULTS = ROOT / "bench" / "results" / "load.json"
RETRIED = (409, 429, 503)  # a client retries these with the same key
LIMITS = (
    "\nlimits:\n  per_key: 1000000/minute\n  per_conversation: 1000000/minute\n"
    "  conversations_per_key: 1000000/minute\n  reads_per_key: 1000000/minute\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def frontdesk(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "frontdesk", *args], capture_output=True,
                          text=True, check=True, env={**os.environ, **(env or {})})  # fmt: skip
    return done.stdout.strip()


class Server:
    """`frontdesk serve` on a fixed port, its output appended to `log`."""

    def __init__(self, workspace: Path, port: int, log: Path, env: dict[str, str]) -> None:
        self.workspace, self.port, self.log, self.env = workspace, port, log, env
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.serve_args: list[str] = []  # more `frontdesk serve` arguments (--workers 2)

    def start(self, ready_within: float = 600) -> float:
        """Start and wait until /readyz answers 200 and, with `--workers N`, every worker has
        started (a worker listens only once it has); returns when it did (monotonic)."""
        workers = (
            int(self.serve_args[self.serve_args.index("--workers") + 1])
            if "--workers" in self.serve_args
            else 1
        )
        before = self._started()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "frontdesk", "serve", "-w", str(self.workspace),
                 "--port", str(self.port), *self.serve_args],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            )  # fmt: skip
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped; see {self.log}")
            with suppress(httpx.TransportError):
                if (workers == 1 or self._started() - before >= workers) and httpx.get(
                    self.url + "/readyz", timeout=5
                ).status_code == 200:
                    return time.monotonic()
            time.sleep(0.2)
        raise SystemExit(f"the server did not get ready; see {self.log}")

    def _started(self) -> int:
        """Processes of this log that have finished starting their app."""
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count("Application startup complete")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Clients:
    """Conversations run side by side in a thread of their own, each sending its messages
    one after another, each message retried with its key until it is answered."""

    def __init__(self, url: str, token: str, conversations: int, messages: int) -> None:
        self.url, self.token = url, token
        self.conversations, self.messages = conversations, messages
        self.answered: dict[str, float] = {}  # key -> when it was answered
        self.retried: set[str] = set()
        self.outcomes: Counter[str] = Counter()  # status codes, "dropped" for a cut connection
        self.give_up_at = time.monotonic() + 3600
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http:
            await asyncio.gather(*(self._conversation(http, c) for c in range(self.conversations)))

    async def _send(self, http: httpx.AsyncClient, method: str, path: str,
                    **kwargs: Any) -> httpx.Response | None:  # fmt: skip
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.TransportError:
            self.outcomes["dropped"] += 1
            return None
        self.outcomes[str(response.status_code)] += 1
        return response

    async def _conversation(self, http: httpx.AsyncClient, c: int) -> None:
        cid = None
        while cid is None and time.monotonic() < self.give_up_at:
            created = await self._send(http, "POST", "/v1/conversations", json={})
            if created is not None and created.status_code == 201:
                cid = created.json()["id"]
            else:
                await asyncio.sleep(0.2)
        for i in range(self.messages):
            key = f"c{c}-m{i}"
            body = {"text": f"Where is my parcel KP-2048{c:02d}{i:02d}? ({key})"}
            tries = 0
            while time.monotonic() < self.give_up_at:
                tries += 1
                sent = await self._send(http, "POST", f"/v1/conversations/{cid}/messages",
                                        json=body, headers={"Idempotency-Key": key})  # fmt: skip
                if sent is not None and sent.status_code == 200:
                    self.answered[key] = time.monotonic()
                    break
                if sent is not None and sent.status_code not in RETRIED:
                    break  # counted in outcomes; not retried
                await asyncio.sleep(0.2)
            if tries > 1:
                self.retried.add(key)

    @property
    def keys(self) -> set[str]:
        return {f"c{c}-m{i}" for c in range(self.conversations) for i in range(self.messages)}


def stored_customer_texts(database_url: str) -> list[str]:
    from sqlalchemy import select

    from frontdesk.storage.db import Database
    from frontdesk.storage.models import Message

    async def read() -> list[str]:
        db = Database(database_url)
        try:
            async with db.unscoped_session() as session:
                rows = await session.scalars(select(Message.text).where(Message.role == "customer"))
                return list(rows)
        finally:
            await db.dispose()

    return asyncio.run(read())


def kill_scenario(work: Path, conversations: int, messages: int, kill_at: float) -> dict[str, Any]:
    workspace = work / "kill"
    frontdesk("init", str(workspace))
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(LIMITS)
    server = Server(workspace, free_port(), work / "kill.log", {})
    server.start()  # the first start trains and indexes the demo
    token = frontdesk("keys", "create", "-w", str(workspace))
    clients = Clients(server.url, token, conversations, messages)
    clients.thread.start()
    total = conversations * messages
    while len(clients.answered) < kill_at * total:
        time.sleep(0.05)
    killed = time.monotonic()
    server.kill()
    answered_before = len(clients.answered)
    restarted = server.start()
    clients.give_up_at = restarted + 120
    clients.thread.join(timeout=180)
    server.stop()
    texts = stored_customer_texts(
        f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}"
    )
    counts = Counter(texts)
    recovery = [clients.answered[k] - restarted for k in clients.retried if k in clients.answered]
    return {
        "messages": total,
        "answered_before_kill": answered_before,
        "restart_s": round(restarted - killed, 2),
        "retried": len(clients.retried),
        "lost": len(clients.keys - set(clients.answered)),
        "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "max_recovery_s": round(max(recovery), 2) if recovery else None,
        "outcomes": dict(clients.outcomes),
    }


async def _admin(url: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def db_loss_scenario(work: Path, admin_url: str, clients_n: int, outage_s: float) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"frontdesk_load_{os.getpid()}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    proxy = TcpProxy(admin.port or 5432, admin.host or "127.0.0.1")  # the tests' own proxy
    proxy.start()
    user = admin.username or "postgres"
    url = f"postgresql://{user}@127.0.0.1:{proxy.port}/{name}"
    env = {"FRONTDESK_DATABASE_URL": url}
    workspace = work / "db_loss"
    frontdesk("init", str(workspace))
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(LIMITS)
    log = work / "db_loss.log"
    server = Server(workspace, free_port(), log, env)
    try:
        server.start()
        token = frontdesk("keys", "create", "-w", str(workspace), env=env)
        clients = Clients(server.url, token, clients_n, 10_000)
        clients.thread.start()
        time.sleep(3)
        before = Counter(clients.outcomes)
        proxy.drop()
        time.sleep(outage_s)
        answered = len(clients.answered)
        proxy.restore()
        restored = time.monotonic()
        while len(clients.answered) == answered and time.monotonic() < restored + 60:
            time.sleep(0.05)
        recovered = time.monotonic() - restored
        time.sleep(3)
        clients.give_up_at = 0  # the clients stop after their message in flight
        clients.thread.join(timeout=120)
        alive = server.process is not None and server.process.poll() is None
    finally:
        server.stop()
        proxy.close()
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    outcomes = dict(clients.outcomes)
    bad = sum(
        n for status, n in outcomes.items() if not (status.startswith("2") or status == "503")
    )
    logged = log.read_text(errors="replace")
    return {
        "outage_s": outage_s,
        "outcomes_before_outage": dict(before),
        "outcomes": outcomes,
        "non_503_errors": bad,
        "recovery_s": round(recovered, 2),
        "restarted": not alive,
        "tracebacks_logged": logged.count("Traceback"),
        "outage_log_lines": sum("database unavailable" in x for x in logged.splitlines()),
    }


def demo_texts() -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from frontdesk.nlu.training_data import load_yaml

    demo = ROOT / "src" / "frontdesk" / "demo" / "workspace"
    texts: list[str] = []
    for path in (*sorted((demo / "nlu").glob("*.yml")), demo / "golden" / "nlu.yml"):
        texts.extend(example.text for example in load_yaml(path).examples)
    return list(dict.fromkeys(texts))  # each once: a conversation's messages differ


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process, its threads and its child processes (workers), from /proc."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        with suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with suppress(OSError, ValueError):
                    total += int((task / "schedstat").read_text().split()[0])
                with suppress(OSError, ValueError):
                    stack += [int(c) for c in (task / "children").read_text().split()]
    return total / 1e9


class Throughput:
    """`conversations` conversations, at most `concurrency` in flight, one message at a time."""

    def __init__(self, url: str, token: str, texts: list[str], conversations: int,
                 messages: int, concurrency: int, tag: str) -> None:  # fmt: skip
        self.url, self.token, self.texts, self.tag = url, token, texts, tag
        self.conversations, self.messages, self.concurrency = conversations, messages, concurrency
        self.latencies: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.answered: set[str] = set()
        self.sent: dict[str, tuple[str, str]] = {}  # key -> (conversation id, text)
        self.per_worker: Counter[str] = Counter()  # responses by X-Frontdesk-Worker

    async def run(self) -> float:
        limits = httpx.Limits(max_connections=self.concurrency + 4,
                              max_keepalive_connections=self.concurrency + 4)  # fmt: skip
        queue: asyncio.Queue[int] = asyncio.Queue()
        for c in range(self.conversations):
            queue.put_nowait(c)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120,
                                     limits=limits) as http:  # fmt: skip
            began = time.perf_counter()

            async def worker() -> None:
                while not queue.empty():
                    await self._conversation(http, queue.get_nowait())

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            return time.perf_counter() - began

    async def _post(
        self, http: httpx.AsyncClient, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        for _ in range(200):
            try:
                response = await http.post(path, **kwargs)
            except httpx.TransportError:
                self.outcomes["dropped"] += 1
                await asyncio.sleep(0.2)
                continue
            self.outcomes[str(response.status_code)] += 1
            if "x-frontdesk-worker" in response.headers:  # serve --workers N
                self.per_worker[response.headers["x-frontdesk-worker"]] += 1
            if response.status_code not in RETRIED:
                return response
            await asyncio.sleep(float(response.headers.get("Retry-After", "0.1") or 0.1) / 10)
        return None

    async def _conversation(self, http: httpx.AsyncClient, c: int) -> None:
        created = await self._post(http, "/v1/conversations", json={})
        if created is None or created.status_code != 201:
            return
        cid = created.json()["id"]
        for i in range(self.messages):
            text = self.texts[(c * self.messages + i) % len(self.texts)]
            key = f"{self.tag}-c{c}-m{i}"
            self.sent[key] = (cid, text)
            began = time.perf_counter()
            path = f"/v1/conversations/{cid}/messages"
            sent = await self._post(
                http, path, json={"text": text}, headers={"Idempotency-Key": key}
            )
            if sent is not None and sent.status_code == 200:
                self.latencies.append((time.perf_counter() - began) * 1000)
                self.answered.add(key)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def stored_customer_messages(database_url: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from frontdesk.storage.db import Database
    from frontdesk.storage.models import Message

    async def read() -> list[tuple[str, str]]:
        db = Database(database_url)
        try:
            async with db.unscoped_session() as session:
                rows = await session.execute(
                    select(Message.conversation_id, Message.text).where(Message.role == "customer")
                )
                return [(str(a), str(b)) for a, b in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def throughput_scenario(work: Path, database: str, admin_url: str, levels: list[int],
                        conversations: int, messages: int, serve_args: list[str],
                        env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    from sqlalchemy.engine import make_url

    workspace = work / f"throughput-{database}"
    frontdesk("init", str(workspace))
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(LIMITS.replace("limits:\n", "limits:\n  tenant_concurrency: 128\n"))
    name = None
    env = dict(env)
    if database == "postgresql":
        admin = make_url(admin_url)
        name = f"frontdesk_throughput_{os.getpid()}"
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
        env["FRONTDESK_DATABASE_URL"] = admin.set(database=name).render_as_string(False)
    url = env.get("FRONTDESK_DATABASE_URL",
                  f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")  # fmt: skip
    server = Server(workspace, free_port(), work / f"throughput-{database}.log", env)
    server.serve_args = serve_args
    texts = demo_texts()
    levels_out: dict[str, Any] = {}
    all_runs: list[Throughput] = []
    try:
        server.start()
        token = frontdesk("keys", "create", "-w", str(workspace), env=env)
        assert server.process is not None
        for level in levels:
            run = Throughput(server.url, token, texts, conversations, messages, level, f"c{level}")
            cpu = tree_cpu_s(server.process.pid)
            load = os.getloadavg()[0]
            client_cpu = time.process_time()
            elapsed = asyncio.run(run.run())
            client_cpu = time.process_time() - client_cpu
            cpu = tree_cpu_s(server.process.pid) - cpu
            answered = len(run.answered)
            all_runs.append(run)
            levels_out[f"c{level}"] = {
                "messages": conversations * messages,
                "answered": answered,
                "seconds": round(elapsed, 2),
                "msgs_per_s": round(answered / elapsed, 1) if elapsed else None,
                "p50_ms": _pct(run.latencies, 0.5),
                "p95_ms": _pct(run.latencies, 0.95),
                "p99_ms": _pct(run.latencies, 0.99),
                "max_ms": _pct(run.latencies, 1.0),
                "server_cpu_ms_per_msg": round(cpu * 1000 / answered, 2) if answered else None,
                "client_cpu_ms_per_msg": (
                    round(client_cpu * 1000 / answered, 2) if answered else None
                ),
                "outcomes": dict(run.outcomes),
                "responses_per_worker": dict(sorted(run.per_worker.items())),
                "load_average_start": round(load, 2),
                "load_average_end": round(os.getloadavg()[0], 2),
            }
            row = levels_out[f"c{level}"]
            print(f"{database} c{level}: {row['msgs_per_s']} msg/s, p50 {row['p50_ms']} / p95 "
                  f"{row['p95_ms']} / p99 {row['p99_ms']} ms, server CPU "
                  f"{row['server_cpu_ms_per_msg']} ms/msg, load {row['load_average_start']}"
                  f"-{row['load_average_end']}, {row['outcomes']}", flush=True)  # fmt: skip
    finally:
        server.stop()
    try:
        stored = Counter(stored_customer_messages(url))
    finally:
        if name is not None:
            asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    sent = Counter(pair for run in all_runs for pair in run.sent.values())
    return {
        "levels": levels_out,
        "lost": sum(len(set(run.sent) - run.answered) for run in all_runs),
        "duplicated": sum(max(0, n - sent[pair]) for pair, n in stored.items()),
        "server_errors": sum(n for run in all_runs for status, n in run.outcomes.items()
                             if (status.startswith("5") and status != "503")
                             or status == "dropped"),
        "answered_503": sum(run.outcomes.get("503", 0) for run in all_runs),
        "serve_args": serve_args,
        "cpus": os.cpu_count(),
    }  # fmt: skip


def throughput_main(args: argparse.Namespace, results: dict[str, Any], output: Path) -> None:
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    env = dict(item.split("=", 1) for item in args.env)
    if args.workers > 1:  # several workers share their limits through Redis
        args.serve_arg += ["--workers", str(args.workers)]
        env.setdefault("FRONTDESK_LIMITS__STORAGE_URL", args.redis)
    work = Path(tempfile.mkdtemp(prefix="frontdesk-load-"))
    try:
        for database in databases:
            out = throughput_scenario(work, database, args.postgres, levels,
                                      args.conversations or 500, args.messages or 20,
                                      args.serve_arg, env)  # fmt: skip
            results.setdefault("throughput", {})[database] = out
            for level, row in out["levels"].items():
                results[f"{database}.{level}.msgs_per_s"] = row["msgs_per_s"]
                results[f"{database}.{level}.p95_ms"] = row["p95_ms"]
            if "c1" in out["levels"]:
                results["c1_p95_ms"] = out["levels"]["c1"]["p95_ms"]
    finally:
        if args.keep:
            print(f"workspaces and servers' logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for key in ("lost", "duplicated", "server_errors"):  # over the databases run
        results[key] = sum(results["throughput"][db][key] for db in databases)
    results.pop("throughput_note", None)
    results["throughput_run_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["kill", "db_loss", "all", "throughput"],
                        default="all")  # fmt: skip
    parser.add_argument("--conversations", type=int, default=None,
                        help="kill: 16; throughput: 500 per level")  # fmt: skip
    parser.add_argument("--messages", type=int, default=None, help="kill: 8; throughput: 20")
    parser.add_argument("--concurrency", default="1,16,64", help="throughput: levels to run")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite",
                        help="throughput: which database(s)")  # fmt: skip
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="throughput: an extra `frontdesk serve` argument")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1,
                        help="throughput: serve --workers N (limits in --redis)")  # fmt: skip
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0",
                        help="throughput: limits.storage_url when --workers is over 1")  # fmt: skip
    parser.add_argument("--env", action="append", default=[],
                        help="throughput: NAME=VALUE for the server (repeatable)")  # fmt: skip
    parser.add_argument("--kill-at", type=float, default=0.3, help="share answered at the kill")
    parser.add_argument("--db-clients", type=int, default=8)
    parser.add_argument("--outage-s", type=float, default=5.0)
    parser.add_argument("--keep", action="store_true", help="keep the workspaces and logs")
    parser.add_argument("--postgres", default=os.environ.get(
        "FRONTDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))  # fmt: skip
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON file to update")
    args = parser.parse_args()
    output: Path = args.results
    results: dict[str, Any] = json.loads(output.read_text()) if output.exists() else {}
    if args.scenario == "throughput":
        throughput_main(args, results, output)
        return
    args.conversations = args.conversations or 16
    args.messages = args.messages or 8
    for key in (
        "sqlite.c64.msgs_per_s",
        "sqlite.c64.p95_ms",
        "postgresql.c64.msgs_per_s",
        "postgresql.c64.p95_ms",
        "c1_p95_ms",
        "lost",
        "duplicated",
        "server_errors",
    ):
        results.setdefault(key, None)  # fmt: skip
    results.setdefault("throughput_note", "throughput keys: not measured by the fault scenarios")
    work = Path(tempfile.mkdtemp(prefix="frontdesk-load-"))
    rows = []
    try:
        if args.scenario in ("kill", "all"):
            kill = kill_scenario(work, args.conversations, args.messages, args.kill_at)
            results["kill"] = kill
            results["kill.duplicated"] = kill["duplicated"]
            results["kill.lost"] = kill["lost"]
            results["kill.max_recovery_s"] = kill["max_recovery_s"]
            rows.append(("kill (SQLite)", kill["lost"], kill["duplicated"],
                         kill["max_recovery_s"], kill["outcomes"]))  # fmt: skip
        if args.scenario in ("db_loss", "all"):
            loss = db_loss_scenario(work, args.postgres, args.db_clients, args.outage_s)
            results["db_loss"] = loss
            results["db_loss.non_503_errors"] = loss["non_503_errors"]
            rows.append(("db_loss (PostgreSQL)", "-", "-", loss["recovery_s"], loss["outcomes"]))
    except BaseException:
        print(f"failed; the servers' logs are in {work}", file=sys.stderr)
        raise
    if args.keep:
        print(f"workspaces and servers' logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    results["fault_run_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'scenario':<22} {'lost':>5} {'dup':>5} {'recovery s':>11}  outcomes")
    for name, lost, dup, recovery, outcomes in rows:
        print(f"{name:<22} {lost!s:>5} {dup!s:>5} {recovery!s:>11}  {outcomes}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
