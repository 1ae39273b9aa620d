"""`frontdesk serve` on PostgreSQL starts without a traceback in its log (issue 21): its
pre-flight check opened the runtime in one event loop and closed it in another, and asyncpg
complained that its connections were attached to a different loop, at every start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import serve_process


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.services)], indirect=True
)
def test_serve_on_postgresql_logs_no_traceback(
    workspace: Path, runtime_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", runtime_database_url)
    with serve_process(workspace, ready_within=240) as (_process, port, log):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    logged = log.read_text()
    assert "frontdesk serving" in logged
    assert "Traceback" not in logged, logged[-3000:]
    assert "different loop" not in logged
