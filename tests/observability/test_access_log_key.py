"""Access-log pseudonyms are keyed with a per-installation secret (issue 17): an unsalted hash
of a customer ref or e-mail address can be reversed by hashing guesses, a keyed one cannot
without the key. The key lives in the state folder (`.frontdesk/log-key`, created once,
owner-only), so pseudonyms stay the same across restarts and differ between installations."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime

EMAIL = "dana@example.com"


def _keyed(key: bytes, value: str) -> str:
    return "~" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:12]


def test_a_pseudonym_is_not_a_plain_hash_of_its_value() -> None:
    from frontdesk.observability.logs import pseudonym, use_pseudonym_key

    plain = "~" + hashlib.sha256(EMAIL.encode()).hexdigest()[:12]
    use_pseudonym_key(b"k" * 32)
    first = pseudonym(EMAIL)
    use_pseudonym_key(b"j" * 32)
    assert pseudonym(EMAIL) != first
    assert plain not in {first, pseudonym(EMAIL)}
    assert first == _keyed(b"k" * 32, EMAIL)


def test_the_installation_key_is_made_once_owner_only_and_survives_restarts(
    tmp_path: Path,
) -> None:
    from frontdesk.observability.logs import pseudonym_key

    state = tmp_path / "state"
    state.mkdir()
    key = pseudonym_key(state)
    path = state / "log-key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(key) == 32
    assert pseudonym_key(state) == key  # read back, not made again
    other = tmp_path / "other"
    other.mkdir()
    assert pseudonym_key(other) != key


async def test_the_app_keys_its_access_lines_with_the_workspace_key(
    sqlite_runtime: Runtime,
) -> None:
    from frontdesk.observability.logs import use_pseudonym_key

    access = logging.getLogger("uvicorn.access")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    path = f"/v1/admin/customers/{EMAIL.replace('@', '%40')}/export"
    try:
        for _restart in range(2):
            use_pseudonym_key(secrets.token_bytes(32))  # what another process would hold
            app = create_app(runtime=sqlite_runtime)
            async with app.router.lifespan_context(app):
                access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    key_file = sqlite_runtime.workspace.state_dir / "log-key"
    key = bytes.fromhex(key_file.read_text().strip())
    lines = [r.getMessage() for r in records]
    assert len(lines) == 2
    assert all(f"/v1/admin/customers/{_keyed(key, EMAIL)}/export" in line for line in lines)


def test_the_cli_names_a_values_pseudonym_for_a_log_search(workspace: Path) -> None:
    from typer.testing import CliRunner

    from frontdesk.cli.main import app
    from frontdesk.observability.logs import pseudonym_key

    result = CliRunner().invoke(app, ["privacy", "pseudonym", EMAIL, "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    key = pseudonym_key(workspace / ".frontdesk")
    assert result.stdout.strip() == _keyed(key, EMAIL)
