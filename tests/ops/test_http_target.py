"""The HTTP target against a fake REST service on 127.0.0.1 (tests/ops/fake_target_service)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import TargetSystem
from frontdesk.ops.http_target import HttpTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.storage.db import Database
from tests.ops import target_contract
from tests.ops.conftest import tree_bytes
from tests.ops.fake_target_service import TOKEN, serving


async def test_contract(target_dir: Path) -> None:
    before = tree_bytes(target_dir)
    async with serving(target_dir) as url, httpx.AsyncClient(timeout=10) as client:
        target = HttpTarget(url, client=client, token=TOKEN)
        assert isinstance(target, TargetSystem)
        await target_contract.check_reading(target)
        await target_contract.check_validation(target)
        await target_contract.check_apply_and_rollback(target)
        await target_contract.check_events_and_metrics(target)
    assert tree_bytes(target_dir) == before


async def test_errors_keep_their_codes(target_dir: Path) -> None:
    async with serving(target_dir) as url, httpx.AsyncClient(timeout=10) as client:
        wrong = HttpTarget(url, client=client, token="nope")
        with pytest.raises(FrontdeskError) as refused:
            await wrong.kinds()
        assert refused.value.code == "unauthorized"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=2) as client:
        gone = HttpTarget(f"http://127.0.0.1:{port}", client=client)
        with pytest.raises(FrontdeskError) as down:
            await gone.kinds()
    assert down.value.code == "target_unavailable"
    assert down.value.status_code == 503


async def test_a_plan_through_the_http_target(
    target_dir: Path, db: Database, tenant_id: str
) -> None:
    """Plans work the same on a REST target: plan, approve, apply, roll back to the bytes."""
    before = tree_bytes(target_dir)
    async with serving(target_dir) as url, httpx.AsyncClient(timeout=10) as client:
        plans = ChangePlans(db, HttpTarget(url, client=client, token=TOKEN, name="http:fake"))
        plan = await plans.make(tenant_id, "remove Fastway from D03, D04 and D09", actor="t")
        assert plan.patches["D09"] == [{"op": "remove", "path": "/carriers/0"}]
        assert "-carriers: [C-FASTWAY, C-ANPOST, C-DPD]\n+carriers: [C-ANPOST, C-DPD]" in plan.diff
        await plans.approve(tenant_id, plan.id, actor="t")
        applied = await plans.apply(tenant_id, plan.id, actor="t")
        assert applied.applied_version == 1
        assert "C-FASTWAY" not in (target_dir / "elements/depots/D09.yaml").read_text()
        await plans.rollback(tenant_id, plan.id, actor="t")
    assert tree_bytes(target_dir) == before
