"""Files that hold customers' data are their owner's only: the SQLite database and its -wal
and -shm files (0600), the workspace's state folder (0700), and whatever the CLI writes
(umask 077), even under the usual umask 022."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from frontdesk.config.workspace import Workspace
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
async def test_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "frontdesk.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(db)
        await ensure_tenant(db, "acme")
        async with db.engine.connect() as connection:  # WAL files exist while it is open
            await connection.execute(text("SELECT count(*) FROM tenants"))
            parts = [path, tmp_path / "frontdesk.db-wal", tmp_path / "frontdesk.db-shm"]
            assert all(p.is_file() for p in parts)
            assert {p.name: mode(p) for p in parts} == {p.name: 0o600 for p in parts}
    finally:
        await db.dispose()


@pytest.mark.usefixtures("usual_umask")
async def test_a_world_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db = Database(f"sqlite:///{path}")
    await db.dispose()
    assert mode(path) == 0o600


@pytest.mark.usefixtures("usual_umask")
def test_the_state_folder_is_the_owners_only(tmp_path: Path) -> None:
    (tmp_path / "frontdesk.yaml").write_text("{}\n")
    assert mode(Workspace.at(tmp_path).state_dir) == 0o700
    (tmp_path / ".frontdesk").chmod(0o755)  # made by an older version
    assert mode(Workspace.at(tmp_path).state_dir) == 0o700


@pytest.mark.usefixtures("usual_umask")
def test_the_cli_writes_files_for_its_owner_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from frontdesk.cli.main import run

    monkeypatch.setattr(sys, "argv", ["frontdesk", "--help"])
    with pytest.raises(SystemExit):
        run()
    assert os.umask(0o022) == 0o077
