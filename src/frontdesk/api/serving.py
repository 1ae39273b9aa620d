"""`frontdesk serve --workers N` (`server.workers`): N processes serving one address.

- The start-up work is done once, here in the parent, before any worker starts: migrations,
  the knowledge sync, start-up training, the chat page's widget key and the log key. The
  workers then only load (`FRONTDESK_PREPARED`), so N processes never race to do it.
- Each worker gets a listening socket of its own, all bound to the address with
  SO_REUSEPORT: the kernel hashes each new connection to one of them, so a client's many
  keep-alive connections spread over the workers. (uvicorn's `--workers` shares one socket,
  and whichever worker is idle when connections arrive accepts them: with keep-alive one
  worker can end up with all of them.)
- A worker's socket starts listening when its app is ready, so connections go only to
  workers that can answer. The parent keeps the sockets: a worker that dies is started again
  on the same socket, and connections hashed to it meanwhile wait in its backlog (until the
  new worker has loaded, tens of seconds) rather than being refused.
- SIGTERM or SIGINT: every worker is told to stop (each finishes its open requests within
  the grace period, then its jobs are drained), then the parent exits.
- Workers are spawned, not forked: each loads its own models (see the README for the memory
  this costs), and nothing opened by the parent (database pools, event loops) is shared.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from frontdesk.config.settings import Settings
from frontdesk.errors import ConfigError, install_extra

log = logging.getLogger("frontdesk.serve")

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker whose app could not start
# A worker that keeps dying is not restarted forever: more than this many restarts within
# RESTART_WINDOW_S stops the server.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
# After the grace period for requests, a worker still drains its jobs and closes its pools.
SHUTDOWN_EXTRA_S = 20.0

PREPARED_ENV = "FRONTDESK_PREPARED"  # the parent did the start-up work
WORKER_ENV = "FRONTDESK_WORKER"  # this worker's number, 0..N-1
WORKERS_ENV = "FRONTDESK_WORKERS"
SERVE_ID_ENV = "FRONTDESK_SERVE_ID"  # one per `serve --workers` run: its workers' shared keys


def redis_scheme(url: str) -> bool:
    return url.removeprefix("async+").split("://", 1)[0] in {"redis", "rediss", "redis+unix"}


def check_shared_limits(settings: Settings, workers: int, config_file: Path) -> None:
    """Several workers must count rate limits and tenant slots together: in a Redis that
    answers."""
    if workers <= 1:
        return
    if not redis_scheme(settings.limits.storage_url):
        raise ConfigError(
            f"{config_file}: server.workers is {workers}, but limits.storage_url is "
            f"{settings.limits.storage_url!r}: each worker would count rate limits and tenant "
            "slots on its own. Set limits.storage_url to a Redis the workers share "
            "(redis://127.0.0.1:6379/0, pip install 'frontdesk[redis]'), or serve one worker"
        )
    check_redis(settings.limits.storage_url)


def check_redis(url: str) -> None:
    """Say at start-up, in one line, that the limits' Redis does not answer."""
    try:
        import redis
    except ImportError:
        raise ConfigError(f"limits.storage_url needs Redis: {install_extra('redis')}") from None
    plain = url.removeprefix("async+").replace("redis+unix://", "unix://", 1)
    client = redis.Redis.from_url(plain, socket_connect_timeout=2.0, socket_timeout=2.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(
            f"limits.storage_url {url}: Redis does not answer ({exc}); start it, or fix the URL"
        ) from None
    finally:
        client.close()


def prepare_in_child(workspace: Path) -> None:
    """`prepare` in a process of its own, so the parent, which only watches the workers,
    does not keep the models it loads (~300 MB); its error is raised here."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_prepare, args=(workspace, sending), name="frontdesk-prepare")
    process.start()
    sending.close()
    try:
        outcome = receiving.recv() if receiving.poll(None) else None
    except EOFError:
        outcome = "the start-up process ended without a word (see the lines above)"
    except KeyboardInterrupt:
        process.terminate()
        process.join()
        raise
    process.join()
    if outcome is not None:
        raise ConfigError(str(outcome))


def _prepare(workspace: Path, sending: Any) -> None:
    import asyncio

    from frontdesk.errors import FrontdeskError

    os.umask(0o077)  # like the CLI: the files written hold customers' words
    try:
        asyncio.run(prepare(workspace))
        sending.send(None)
    except KeyboardInterrupt:
        sending.send("interrupted")
    except FrontdeskError as exc:
        sending.send(exc.message)
    except Exception as exc:
        logging.getLogger(__name__).exception("start-up failed")
        sending.send(f"start-up failed: {type(exc).__name__}: {exc}")


async def prepare(workspace: Path) -> None:
    """The start-up work, once, before the workers start; a bad configuration fails here
    with a readable line."""
    from frontdesk.api.widget_key import ensure_widget_key
    from frontdesk.observability.logs import pseudonym_key
    from frontdesk.orchestration.runtime import open_runtime

    runtime = await open_runtime(workspace)
    try:
        pseudonym_key(runtime.workspace.state_dir)
        if runtime.settings.web.enabled:
            await ensure_widget_key(runtime)
    finally:
        await runtime.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """One worker's socket on host:port, sharing the port with its siblings' (SO_REUSEPORT:
    the kernel hashes each connection to one socket)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        # Not listening yet: the worker listens once its app has started (uvicorn does, after
        # the lifespan), and the kernel hands connections only to listening sockets, so none
        # wait on a worker still loading its models.
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def run_worker(index: int, sock: socket.socket, log_config: dict[str, Any], grace_s: int) -> None:
    """A worker process: the app, served by uvicorn on its own socket."""
    import uvicorn

    os.environ[WORKER_ENV] = str(index)
    try:
        config = uvicorn.Config(
            "frontdesk.api.app:create_app_from_env",
            factory=True,
            log_level="info",
            log_config=log_config,
            timeout_graceful_shutdown=grace_s,
        )
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C while loading: the parent stops everything anyway
        return
    if not server.started and not server.should_exit:
        sys.exit(STARTUP_FAILURE)


class Supervisor:
    """Starts the workers, starts again one that dies, stops them all on SIGTERM/SIGINT."""

    def __init__(
        self,
        sockets: list[socket.socket],
        log_config: dict[str, Any],
        grace_s: int,
        *,
        target: Callable[..., None] = run_worker,
    ) -> None:
        self.sockets = sockets
        self.log_config = log_config
        self.grace_s = grace_s
        self.target = target
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.restarts: list[float] = []
        self.stop = threading.Event()
        self.failed = False

    def _start(self, index: int) -> BaseProcess:
        process = self.context.Process(
            target=self.target,
            args=(index, self.sockets[index], self.log_config, self.grace_s),
            name=f"frontdesk-worker-{index}",
        )
        process.start()
        log.info("worker %d started [%d]", index, process.pid)
        return process

    def run(self) -> int:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, lambda *_: self.stop.set())
        try:
            self.processes = [self._start(i) for i in range(len(self.sockets))]
            while not self.stop.wait(0.5):
                self._keep_alive()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if self.failed else 0

    def _keep_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.stop.is_set():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %d [%s] could not start (see above); stopping the server",
                          index, process.pid)  # fmt: skip
                self.failed = True
                self.stop.set()
                return
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                log.error("workers died %d times within %.0f s; stopping the server",
                          len(self.restarts), RESTART_WINDOW_S)  # fmt: skip
                self.failed = True
                self.stop.set()
                return
            log.warning("worker %d [%s] exited with code %s; starting another on its socket",
                        index, process.pid, process.exitcode)  # fmt: skip
            self.processes[index] = self._start(index)

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s + SHUTDOWN_EXTRA_S
        for index, process in enumerate(self.processes):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker %d [%s] did not stop in time; killed", index, process.pid)
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()
        log.info("all %d workers stopped", len(self.processes))


def serve_workers(
    workspace: Path, host: str, port: int, workers: int, log_config: dict[str, Any], grace_s: int
) -> int:
    """Serve with `workers` processes until SIGTERM/SIGINT; the exit code (1: a worker could
    not start). `prepare` has been run."""
    logging.config.dictConfig(log_config)
    os.environ["FRONTDESK_WORKSPACE"] = str(workspace)
    os.environ[PREPARED_ENV] = "1"
    os.environ[WORKERS_ENV] = str(workers)
    os.environ[SERVE_ID_ENV] = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(listening_socket(host, port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return Supervisor(sockets, log_config, grace_s).run()


class WorkerMetrics:
    """`/metrics` of every worker, answered by any of them: each worker keeps its latest
    exposition in a Redis hash of this server's (`SERVE_ID_ENV`), refreshed every
    `every_s` and at each scrape; a scrape reads them all and labels each sample `worker`."""

    def __init__(self, url: str, serve_id: str, worker: int, *, every_s: float = 5.0) -> None:
        from redis.asyncio import Redis

        plain = url.removeprefix("async+").replace("redis+unix://", "unix://", 1)
        self._redis = Redis.from_url(plain, socket_connect_timeout=2.0, socket_timeout=2.0)
        self.key = f"frontdesk:metrics:{serve_id}"
        self.worker = str(worker)
        self.every_s = every_s

    async def publish(self, exposition: bytes) -> None:
        await self._redis.hset(self.key, self.worker, exposition)
        # Gone an hour after the server stops; a live one rewrites it every few seconds.
        await self._redis.expire(self.key, 3600)

    async def all(self, own: bytes) -> bytes:
        """Every worker's metrics; this worker's alone (labelled) if Redis does not answer."""
        from frontdesk.observability.metrics import merge_by_worker

        def text(value: bytes | str) -> str:
            return value.decode() if isinstance(value, bytes) else value

        try:
            await self.publish(own)
            stored = await self._redis.hgetall(self.key)
        except Exception as exc:
            log.warning("other workers' metrics unavailable: %s: %s", type(exc).__name__, exc)
            stored = {self.worker: own}
        return merge_by_worker({text(k): text(v).encode() for k, v in stored.items()})

    async def keep_publishing(self, render: Callable[[], bytes]) -> None:
        import asyncio

        while True:
            try:
                await self.publish(render())
            except Exception as exc:  # the next round tries again
                log.debug("could not publish this worker's metrics: %s", exc)
            await asyncio.sleep(self.every_s)

    async def close(self) -> None:
        await self._redis.aclose()
