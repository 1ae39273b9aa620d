from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.storage.db import Database
from frontdesk.storage.users import login

runner = CliRunner()


def test_users_create_then_login(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_PASSWORD", "a long enough password")
    result = runner.invoke(
        app, ["users", "create", "-w", str(workspace), "--email", "Ops@Kestrel.example",
              "--role", "admin"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "admin ops@kestrel.example created" in result.output

    async def sign_in() -> object:
        ws = Workspace.at(workspace)
        db = Database(load_settings(ws).resolved_database_url(ws.root))
        try:
            return await login(db, "default", "ops@kestrel.example", "a long enough password")
        finally:
            await db.dispose()

    assert asyncio.run(sign_in()) is not None


def test_users_create_errors_are_one_line(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_PASSWORD", "short")
    result = runner.invoke(app, ["users", "create", "-w", str(workspace), "--email", "a@b.example"])
    assert result.exit_code == 1
    assert "at least 10" in result.output
    bad = runner.invoke(app, ["users", "create", "-w", str(workspace), "--email", "a@b.example",
                              "--role", "boss"])  # fmt: skip
    assert bad.exit_code == 1
    assert "expected agent, admin or operator" in bad.output


def test_privacy_purge_without_retention(workspace: Path) -> None:
    result = runner.invoke(app, ["privacy", "purge", "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "no tenant has a retention period" in result.output


def test_privacy_purge_with_retention(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_PRIVACY__RETENTION_DAYS", "30")
    result = runner.invoke(app, ["privacy", "purge", "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "done {'purged': 0, 'retention_days': 30}" in result.output


def test_keys_revoke_and_users_disable(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = runner.invoke(app, ["keys", "create", "-w", str(workspace), "--name", "shop"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    prefix = "_".join(token.split("_")[:2])  # fd_<prefix>; the secret may hold "_" too
    listed = runner.invoke(app, ["keys", "list", "-w", str(workspace)])
    assert f"{prefix}  service  'shop'  active" in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", prefix, "-w", str(workspace)])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(app, ["keys", "list", "-w", str(workspace)]).output
    unknown = runner.invoke(app, ["keys", "revoke", "fd_nothing", "-w", str(workspace)])
    assert unknown.exit_code == 1
    assert "no key 'fd_nothing' in this tenant" in unknown.output

    monkeypatch.setenv("FRONTDESK_PASSWORD", "a long enough password")
    runner.invoke(app, ["users", "create", "-w", str(workspace), "--email", "ana@kestrel.example"])
    disabled = runner.invoke(app, ["users", "disable", "Ana@kestrel.example", "-w", str(workspace)])
    assert disabled.exit_code == 0, disabled.output
    assert "ana@kestrel.example is disabled" in disabled.output
    users = runner.invoke(app, ["users", "list", "-w", str(workspace)]).output
    assert "ana@kestrel.example  agent  disabled" in users
    enabled = runner.invoke(app, ["users", "enable", "ana@kestrel.example", "-w", str(workspace)])
    assert enabled.exit_code == 0, enabled.output
    assert "ana@kestrel.example can sign in again" in enabled.output
    users = runner.invoke(app, ["users", "list", "-w", str(workspace)]).output
    assert "ana@kestrel.example  agent  active" in users
    nobody = runner.invoke(app, ["users", "disable", "bob@kestrel.example", "-w", str(workspace)])
    assert nobody.exit_code == 1
    assert "no user 'bob@kestrel.example'" in nobody.output
