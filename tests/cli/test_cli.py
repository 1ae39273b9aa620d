from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.storage.migrate import head_revision
from tests.conftest import demo_copy, free_port, serve_process

runner = CliRunner()


def test_init_creates_a_workspace_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "frontdesk.yaml").is_file()
    assert len(list((target / "knowledge").glob("*.md"))) >= 30

    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1
    assert "exists and is not empty" in again.output
    assert "Traceback" not in again.output


def test_db_commands(workspace: Path) -> None:
    ws = str(workspace)
    up = runner.invoke(app, ["db", "upgrade", "-w", ws])
    assert up.exit_code == 0, up.output
    assert f"database at revision {head_revision()}" in up.output
    current = runner.invoke(app, ["db", "current", "-w", ws])
    assert "up to date" in current.output
    down = runner.invoke(app, ["db", "downgrade", "base", "-w", ws])
    assert down.exit_code == 0
    assert "base (empty)" in down.output
    assert "behind" in runner.invoke(app, ["db", "current", "-w", ws]).output
    unknown = runner.invoke(app, ["db", "upgrade", "--revision", "zzz", "-w", ws])
    assert unknown.exit_code == 1
    assert "migration to 'zzz' failed" in unknown.output
    assert "Traceback" not in unknown.output


def test_keys_create(workspace: Path) -> None:
    result = runner.invoke(app, ["keys", "create", "-w", str(workspace), "--scope", "admin"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("fd_")
    bad = runner.invoke(app, ["keys", "create", "-w", str(workspace), "--scope", "root"])
    assert bad.exit_code == 1
    assert "unknown scope 'root'" in bad.output


def test_keys_and_users_refuse_an_unknown_tenant(workspace: Path) -> None:
    ws = str(workspace)
    typo = runner.invoke(app, ["keys", "create", "-w", ws, "--tenant", "nosuch"])
    assert typo.exit_code == 1
    assert "no tenant 'nosuch' in this workspace (known: default)" in typo.output
    assert "--new-tenant" in typo.output
    assert typo.stdout.strip() == ""  # no key printed
    user = runner.invoke(
        app,
        ["users", "create", "-w", ws, "--email", "a@b.test", "--tenant", "nosuch"],
        env={"FRONTDESK_PASSWORD": "x" * 12},
    )
    assert user.exit_code == 1
    assert "no tenant 'nosuch'" in user.output
    made = runner.invoke(app, ["keys", "create", "-w", ws, "--tenant", "nosuch", "--new-tenant"])
    assert made.exit_code == 0, made.output
    assert "tenant 'nosuch'" in made.output
    again = runner.invoke(app, ["keys", "create", "-w", ws, "--tenant", "nosuch"])  # exists now
    assert again.exit_code == 0, again.output


def test_outside_a_workspace_the_hint_names_the_one_below(
    tmp_path: Path, prepared_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the repository root after `make run`, a command without -w says what to add."""
    demo_copy(tmp_path / "workspace", prepared_state)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FRONTDESK_WORKSPACE", raising=False)
    result = runner.invoke(app, ["keys", "create"])
    assert result.exit_code == 1
    assert "not a frontdesk workspace" in result.output
    assert "add `-w workspace` to the command" in result.output
    assert "Traceback" not in result.output


def test_chat_in_the_terminal(workspace: Path) -> None:
    result = runner.invoke(
        app, ["chat", "-w", str(workspace)], input="I want a refund for order KP-20481736\nexit\n"
    )
    assert result.exit_code == 0, result.output
    assert "intent=request_refund" in result.output
    assert "route=answer -> billing" in result.output
    assert re.search(r"\[\d\] Requesting a refund", result.output)  # the cited source


def test_user_mistakes_are_one_readable_line(tmp_path: Path, workspace: Path) -> None:
    missing = runner.invoke(app, ["chat", "-w", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert "workspace directory not found" in missing.output
    assert "Traceback" not in missing.output

    (workspace / "frontdesk.yaml").write_text("server:\n  port: lots\n")
    bad = runner.invoke(app, ["serve", "-w", str(workspace)])
    assert bad.exit_code == 1
    assert "frontdesk.yaml:2: server.port" in bad.output
    assert "Traceback" not in bad.output


def test_unreachable_database_is_one_line(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    result = runner.invoke(app, ["db", "upgrade", "-w", str(workspace)])
    assert result.exit_code == 1
    assert result.output.startswith("error: database error:")
    assert "Traceback" not in result.output
    serve = runner.invoke(app, ["serve", "-w", str(workspace)])
    assert serve.exit_code == 1
    assert "cannot open the database postgresql+asyncpg://nobody@" in serve.output


def test_serve_starts_a_real_server(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    settings = config.read_text()
    assert "max_body_bytes: 65536" in settings
    config.write_text(settings.replace("max_body_bytes: 65536", "max_body_bytes: 4096"))
    with serve_process(workspace) as (_process, port, log):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        # The workspace's body limit holds under serve (it kept the default 64 KiB before).
        url = f"http://127.0.0.1:{port}/v1/conversations"
        refused = httpx.post(url, content=b"x" * 10_000)
        assert refused.status_code == 413
        assert refused.json()["error"] == {
            "code": "payload_too_large",
            "message": "request body is larger than 4096 bytes (server.max_body_bytes)",
        }
        assert httpx.post(url, content=b"x" * 4000).status_code == 401  # under it: no key
    # The line README.md shows, on one line however narrow the terminal.
    assert f"frontdesk serving {workspace} on http://127.0.0.1:{port}  (docs: /docs)\n" in (
        log.read_text()
    )


def test_serve_on_a_busy_port_says_so_at_once(workspace: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = runner.invoke(app, ["serve", "-w", str(workspace), "--port", str(port)])
        elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot serve on http://127.0.0.1:{port}: address")
    assert "--port N" in result.output
    assert "serving" not in result.output
    assert elapsed < 5  # before the models load


def test_kb_ingest_keeps_pypdf_noise_out(
    workspace: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken PDF is reported once, in frontdesk's words; pypdf's own "EOF marker not
    found" log line does not print beside it."""
    import logging

    from tests.knowledge.files import pdf_bytes

    docs = tmp_path / "manuals"
    docs.mkdir()
    broken = pdf_bytes(["Returns", "Mugs go back free."]).replace(b"startxref", b"startxrex")
    (docs / "broken.pdf").write_bytes(broken.replace(b"%%EOF", b""))
    (docs / "fine.txt").write_text("Mugs go back free within 30 days.\n")
    logging.getLogger("pypdf").setLevel(logging.NOTSET)  # as a fresh process has it
    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    assert "manuals/broken.pdf: unreadable PDF" in result.output
    assert "EOF marker" not in result.output
    # Under pytest the root logger has a handler; in a terminal Python's last-resort handler
    # would print the record to stderr.
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_serve_shows_frontdesks_own_info_lines() -> None:
    """`serve` logs with uvicorn's configuration plus frontdesk's INFO lines, so a model that
    `frontdesk train` swaps in says so in the server's output."""
    import logging

    from frontdesk.cli.main import _log_config

    config = _log_config()
    assert config["loggers"]["frontdesk"] == {
        "handlers": ["default"], "level": "INFO", "propagate": False
    }  # fmt: skip
    assert "uvicorn.access" in config["loggers"]
    assert logging.getLogger("frontdesk").handlers == []  # building it configures nothing
