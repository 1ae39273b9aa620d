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

Writes bench/results/load.json (only its fault keys: the throughput keys are left as another
run wrote them, or null with a reason).

    .venv/bin/python bench/load.py                      # both scenarios
    .venv/bin/python bench/load.py --scenario kill --conversations 16 --messages 8
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

    def start(self, ready_within: float = 600) -> float:
        """Start and wait until /readyz answers 200; returns when it did (monotonic)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "frontdesk", "serve", "-w", str(self.workspace),
                 "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            )  # fmt: skip
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped; see {self.log}")
            with suppress(httpx.TransportError):
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return time.monotonic()
            time.sleep(0.2)
        raise SystemExit(f"the server did not get ready; see {self.log}")

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["kill", "db_loss", "all"], default="all")
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share answered at the kill")
    parser.add_argument("--db-clients", type=int, default=8)
    parser.add_argument("--outage-s", type=float, default=5.0)
    parser.add_argument("--keep", action="store_true", help="keep the workspaces and logs")
    parser.add_argument("--postgres", default=os.environ.get(
        "FRONTDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
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
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'scenario':<22} {'lost':>5} {'dup':>5} {'recovery s':>11}  outcomes")
    for name, lost, dup, recovery, outcomes in rows:
        print(f"{name:<22} {lost!s:>5} {dup!s:>5} {recovery!s:>11}  {outcomes}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
