"""Two processes replacing the chat page's revoked widget key at the same moment make one key
between them, not one each (issue 17): a guard in the database, not a lock in one process.
Each process is a runtime of its own (its own engine and connections) on the same workspace
and database, as `frontdesk serve --workers 2` runs it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from frontdesk.api import widget_key
from frontdesk.api.widget_key import ensure_widget_key
from frontdesk.embedding import CachingEmbedder
from frontdesk.orchestration.runtime import Runtime, open_runtime
from frontdesk.storage.api_keys import Scope, is_revoked, replace_key, revoke_key, verify_key
from frontdesk.storage.models import ApiKey


async def _active_page_keys(runtime: Runtime) -> list[str]:
    async with runtime.db.session(runtime.tenant.id) as session:
        keys = (await session.execute(select(ApiKey).where(ApiKey.scope == "widget"))).scalars()
        return [k.prefix for k in keys if k.name == "web chat page" and not is_revoked(k)]


async def test_two_processes_replace_a_revoked_page_key_once(
    runtime: Runtime, workspace: Path, embedder: CachingEmbedder
) -> None:
    other = await open_runtime(workspace, embedder=embedder)
    try:
        token = await ensure_widget_key(runtime)
        for _ in range(3):  # a replacement is itself replaced once when it is revoked
            assert await revoke_key(runtime.db, runtime.tenant.id, token.split("_")[1])
            first, second = await asyncio.gather(
                ensure_widget_key(runtime), ensure_widget_key(other)
            )
            assert first == second != token
            assert await _active_page_keys(runtime) == [first.split("_")[1]]
            assert (workspace / ".frontdesk" / "widget-key").read_text().strip() == first
            token = first
    finally:
        await other.close()


async def test_a_replacement_nobody_wrote_down_is_revoked_and_replaced(
    runtime: Runtime, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that made the replacement and stopped before writing it to the state folder
    leaves a key whose secret nobody has: the next process revokes it and makes another."""
    monkeypatch.setattr(widget_key, "WAIT_FOR_OTHER_S", 0.2)
    token = await ensure_widget_key(runtime)
    assert await revoke_key(runtime.db, runtime.tenant.id, token.split("_")[1])
    lost = await replace_key(
        runtime.db, runtime.tenant.id, token, name="web chat page", scope=Scope.WIDGET
    )
    assert lost is not None
    assert (
        await replace_key(
            runtime.db, runtime.tenant.id, token, name="web chat page", scope=Scope.WIDGET
        )
        is None
    )  # one replacement per key
    fresh = await ensure_widget_key(runtime)
    assert fresh not in (token, lost.token)
    assert await _active_page_keys(runtime) == [fresh.split("_")[1]]
    assert await verify_key(runtime.db, lost.token) is None
