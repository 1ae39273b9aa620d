"""Jobs on Celery workers (`jobs.broker_url`): the server records the job and sends its id
through Redis; a `frontdesk worker` process runs it. Real Redis, a real worker process, real
HTTP on loopback, SQLite shared by both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import demo_copy, require_redis, serving, workspace_key

BROKER = "redis://127.0.0.1:6379/14"  # a database of its own, emptied first


@contextmanager
def _worker(workspace: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "worker", "-w", str(workspace)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _until(check: Callable[[], Any], within_s: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + within_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    return found


@pytest.mark.services
def test_jobs_wait_for_a_worker_and_run_there(tmp_path: Path, prepared_state: Path) -> None:
    require_redis()
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    workspace = demo_copy(tmp_path / "ws", prepared_state)
    with (workspace / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(
            f"\njobs:\n  broker_url: {BROKER}\n  heartbeat_s: 0.5\n  abandoned_after_s: 2\n"
        )
    admin = {"Authorization": f"Bearer {workspace_key(workspace)}"}
    log = tmp_path / "worker.log"

    with serving(workspace) as url, httpx.Client(base_url=url, headers=admin, timeout=30) as http:
        reindex = http.post("/v1/knowledge/reindex")
        assert reindex.status_code == 202, reindex.text
        files = [
            ("files", ("gift-wrapping.md", b"# Gift wrapping\n\nThree euros.\n", "text/markdown"))
        ]
        upload = http.post("/v1/knowledge/documents", files=files)
        assert upload.status_code == 202, upload.text
        ids = [reindex.json()["job_id"], upload.json()["job_id"]]

        def status(job_id: str) -> dict[str, Any]:
            return dict(http.get(f"/v1/jobs/{job_id}").json())

        time.sleep(3)  # the server does not run them itself, even after a take-over round
        assert [status(i)["status"] for i in ids] == ["queued", "queued"]

        with _worker(workspace, log) as worker:
            for job_id in ids:
                _until(lambda j=job_id: status(j)["status"] == "done", 90,
                       f"job {job_id} was not run by the worker", log)  # fmt: skip
            assert worker.poll() is None  # still serving
        done = [status(i) for i in ids]
    assert "unchanged" in done[0]["result"]  # the workspace's knowledge, re-read
    assert done[1]["result"]["added"] == ["upload/gift-wrapping.md"]
    ran = log.read_text()
    assert f"job {ids[0]}: ran" in ran
    assert f"job {ids[1]}: ran" in ran
