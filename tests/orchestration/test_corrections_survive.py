"""Issue 22's target: agents' corrections survive everything that trains or restarts the
model. Through real `frontdesk serve` processes: corrections made in the console, then
`frontdesk retrain`, a knowledge re-index, `frontdesk train` and a server restart; after
each, every correction is in the active model's training data and the running server gives
the corrected intent. Two server processes in all (the second is the restart)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from frontdesk.cli import nlu_commands
from frontdesk.cli.main import app
from frontdesk.embedding import CachingEmbedder
from frontdesk.nlu.model_store import ModelStore
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user
from tests.conftest import serve_process, workspace_key

PASSWORD = "correct horse battery"
# Messages the demo's model reads wrongly (checked below), with what an agent says they are.
CORRECTIONS = {
    "the tracking page hasn't changed in four days": "late_delivery",
    "the app keeps logging me out": "account_security",
    "my parcel says delivered but it isn't here": "lost_parcel",
}


def _agent(workspace: Path) -> None:
    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            tenant = await ensure_tenant(db, "default")
            await create_user(db, tenant.id, email="ana@kestrel.test", password=PASSWORD,
                              role=Role.AGENT)  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(run())


def _intents(http: httpx.Client, key: str) -> dict[str, tuple[str, str]]:
    """Each correction's text, said in a new conversation: (intent, turn id)."""
    auth = {"Authorization": f"Bearer {key}"}
    seen = {}
    for text in CORRECTIONS:
        conversation = http.post("/v1/conversations", headers=auth).json()["id"]
        reply = http.post(f"/v1/conversations/{conversation}/messages", headers=auth,
                          json={"text": text})  # fmt: skip
        assert reply.status_code == 200, reply.text
        seen[text] = (reply.json()["intent"], reply.json()["turn_id"])
    return seen


def _lost(http: httpx.Client, key: str, workspace: Path, *, wait: float = 15.0) -> list[str]:
    """Corrections the serving model does not know: not in the active version's training
    data, or read with another intent by the running server (which swaps in a newly
    promoted version within seconds)."""
    store = ModelStore(workspace / ".frontdesk" / "models" / "nlu")
    deadline = time.monotonic() + wait
    while True:
        version = store.active_version()
        assert version is not None
        trained_on = {c["text"] for c in store.manifest(version).get("corrections", [])}
        served = _intents(http, key)
        lost = [
            f"{text!r}: {'in' if text in trained_on else 'not in'} {version}, "
            f"served as {served[text][0]}"
            for text, intent in CORRECTIONS.items()
            if text not in trained_on or served[text][0] != intent
        ]
        if not lost or time.monotonic() > deadline:
            return lost
        time.sleep(1.0)


def _relabel(http: httpx.Client, turns: dict[str, tuple[str, str]]) -> None:
    signed_in = http.post("/console/login", data={"email": "ana@kestrel.test",
                                                  "password": PASSWORD})  # fmt: skip
    assert signed_in.status_code == 303, signed_in.text
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', http.get("/console").text)
    assert csrf
    for text, intent in CORRECTIONS.items():
        saved = http.post(f"/console/turns/{turns[text][1]}/relabel",
                          data={"csrf": csrf.group(1), "intent": intent})  # fmt: skip
        assert "Saved" in saved.headers["location"], saved.headers["location"]


def _reindex(http: httpx.Client, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    job = http.post("/v1/knowledge/reindex", headers=auth)
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 60
    while http.get(f"/v1/jobs/{job.json()['job_id']}", headers=auth).json()["status"] != "done":
        assert time.monotonic() < deadline, "the re-index did not finish"
        time.sleep(0.5)


def test_no_correction_is_lost_across_retrain_reindex_train_and_restart(
    workspace: Path, embedder: CachingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI commands run in this process: they get the session's embedder (same model, the
    # demo's examples already embedded) instead of loading their own, to keep this test cheap.
    monkeypatch.setattr(nlu_commands, "_embedder", lambda settings: embedder)
    _agent(workspace)
    key = workspace_key(workspace)
    runner = CliRunner()
    lost: dict[str, list[str]] = {}
    with (
        serve_process(workspace, ready_within=240) as (_process, port, _log),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        before = _intents(http, key)
        wrong = [t for t, (intent, _) in before.items() if intent == CORRECTIONS[t]]
        assert not wrong, f"the model already reads these right: {wrong}"
        _relabel(http, before)

        retrained = runner.invoke(app, ["retrain", "-w", str(workspace)])
        assert retrained.exit_code == 0, retrained.output
        assert "3 corrections" in retrained.output
        lost["retrain"] = _lost(http, key, workspace)

        _reindex(http, key)
        lost["re-index"] = _lost(http, key, workspace, wait=0)

        trained = runner.invoke(app, ["train", "-w", str(workspace)])
        assert trained.exit_code == 0, trained.output
        lost["train"] = _lost(http, key, workspace)
    with (
        serve_process(workspace, ready_within=240) as (_process, port, _log),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        lost["restart"] = _lost(http, key, workspace, wait=0)
    assert not any(lost.values()), json.dumps(lost, indent=2)
