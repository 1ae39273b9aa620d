"""Change plans on the folder target: the request grammar on phrasings outside the bench's
cases, the selector ceiling, and plans stored per tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant


@pytest.fixture
def plans(db: Database, target_dir: Path) -> ChangePlans:
    return ChangePlans(db, FolderTarget(target_dir))


@pytest.mark.parametrize(
    ("request_text", "elements", "patch"),
    [
        ("switch off route R05", ["R05"], [{"op": "replace", "path": "/enabled", "value": False}]),
        ("Limerick depots: cut off 17:15", ["D16", "D17"],
         [{"op": "replace", "path": "/cutoff", "value": "17:15"}]),
        ("set the closing time to 21:00 for all depots in Connacht except D23 and D24",
         ["D25", "D26", "D27", "D28", "D29", "D30"],
         [{"op": "replace", "path": "/schedule/close", "value": "21:00"}]),
        ("R01 through R03 depart at 7:45", ["R01", "R02", "R03"],
         [{"op": "replace", "path": "/departure", "value": "07:45"}]),
        ("drop An Post from depot D30", ["D30"], [{"op": "remove", "path": "/carriers/0"}]),
    ],
)  # fmt: skip
async def test_phrasings(
    plans: ChangePlans, tenant_id: str, request_text: str, elements: list[str], patch: list[object]
) -> None:
    plan = await plans.make(tenant_id, request_text, actor="test")
    assert plan.status == "planned", plan.refusal
    assert sorted(plan.patches) == elements
    assert all(p == patch for p in plan.patches.values())


async def test_the_ceiling(db: Database, target_dir: Path, tenant_id: str) -> None:
    narrow = ChangePlans(db, FolderTarget(target_dir), max_elements=5)
    plan = await narrow.make(tenant_id, "set capacity to 1000 for all Munster depots", actor="t")
    assert (plan.status, plan.refusal_code) == ("refused", "selector_too_broad")
    assert "matches 10 depots, more than ops.max_elements (5)" in (plan.refusal or "")
    assert len(plan.patches) == 10  # still shown


async def test_unclear_requests(plans: ChangePlans, tenant_id: str) -> None:
    for text in ("", "make everything faster", "set the cut-off to 18:00"):
        with pytest.raises(FrontdeskError) as refused:
            await plans.make(tenant_id, text, actor="t")
        assert refused.value.code == "request_not_understood", text
    assert await plans.list(tenant_id) == []


async def test_plans_are_the_tenants_own(plans: ChangePlans, db: Database, tenant_id: str) -> None:
    plan = await plans.make(tenant_id, "disable depot D14", actor="t")
    other = (await ensure_tenant(db, "other")).id
    with pytest.raises(FrontdeskError) as missing:
        await plans.get(other, plan.id)
    assert missing.value.code == "plan_not_found"
    with pytest.raises(FrontdeskError):
        await plans.approve(other, plan.id, actor="t")
    assert await plans.list(other) == []


async def test_four_eyes(db: Database, target_dir: Path, tenant_id: str) -> None:
    from frontdesk.config.ops_settings import OpsSettings

    assert OpsSettings().four_eyes is True  # on unless a workspace turns it off
    plans = ChangePlans(db, FolderTarget(target_dir), four_eyes=True)
    plan = await plans.make(tenant_id, "disable depot D14", actor="user:olga")
    with pytest.raises(FrontdeskError) as own:
        await plans.approve(tenant_id, plan.id, actor="user:olga")
    assert (own.value.code, own.value.status_code) == ("approval_needs_another_person", 409)
    assert (await plans.get(tenant_id, plan.id)).status == "planned"
    approved = await plans.approve(tenant_id, plan.id, actor="user:oscar")
    assert approved.approved_by == "user:oscar"
    alone = ChangePlans(db, FolderTarget(target_dir), four_eyes=False)
    mine = await alone.make(tenant_id, "disable depot D15", actor="user:olga")
    assert (await alone.approve(tenant_id, mine.id, actor="user:olga")).status == "approved"
